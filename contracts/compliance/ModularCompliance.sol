// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {ICompliance} from "./ICompliance.sol";
import {IComplianceModule, Movement, MovementKind} from "./IComplianceModule.sol";

/// @title ModularCompliance
/// @notice The rules of every market on a chain, as modules (ERC-3643/T-REX's ModularCompliance, in
/// shape): each token contract (PrivateFundShares, EquityMarket, a pilot team's own) is bound here with
/// its look-through depth, and has its list of modules, run in registration order. A token asks
/// `checkMovement` before it promises a movement (a transfer request) and `recordMovement` when it
/// makes one (the rules are checked again, then every module is told). A pilot team adds a rule by
/// deploying one module and registering it: `bindToken`, `addModule` and `removeModule` are
/// governance-only (Roles.GOVERNANCE, as declared), so one admin alone cannot strip, weaken or jam a
/// market's rules: the registry makes the call when a majority of the admins pass a CALL_TARGET proposal.
///
/// Before running the modules, this contract resolves once what the receiving identity adds: a new
/// holder is looked through (IdentityRegistry.lookThrough, to the token's depth, checking qualification
/// except for a forced movement) and its units handed to every module in `Movement.entry`, so two rules
/// that need the walk (qualification, the holder cap) share one. A walk that cannot count (a vehicle
/// without investors, too deep, too large) is refused here; an unqualified identity is left to the
/// qualification module, which names it.
contract ModularCompliance is AccessManaged, ICompliance {
    /// @notice Most modules one token may have, so that a movement's checks stay within a call's gas.
    uint256 public constant MAX_MODULES = 10;
    /// @notice The deepest look-through a token may ask for (IdentityRegistry's own ceiling).
    uint8 public constant MAX_LOOK_THROUGH_DEPTH = 16;

    IIdentityRegistry public identities;
    mapping(address => bool) public isBound;
    mapping(address => uint8) public lookThroughDepth;
    mapping(address => IComplianceModule[]) private _modules;
    mapping(address => mapping(uint256 => mapping(bytes32 => uint256))) private _parameters;

    event IdentitiesChanged(address indexed identities);
    event TokenBound(address indexed token, uint8 lookThroughDepth);
    event ModuleAdded(address indexed token, address indexed module, uint256 position);
    event ModuleRemoved(address indexed token, address indexed module);
    event AssetParameterSet(address indexed token, uint256 indexed asset, bytes32 indexed key, uint256 value);

    error TokenNotBound(address token);
    error InvalidLookThroughDepth(uint8 depth);
    error ModuleAlreadyAdded(address token, address module);
    error UnknownModule(address token, address module);
    error TooManyModules(address token, uint256 max);
    error NotAContract(address account);
    error UnknownAccount(address account);
    error VehicleWithoutInvestors(bytes32 vehicle);
    error LookThroughTooDeep(bytes32 vehicle, uint8 maxDepth);
    error LookThroughTooLarge(bytes32 vehicle, uint16 maxSize);

    constructor(PermissionRegistry permissions_, IIdentityRegistry identities_) AccessManaged(permissions_) {
        identities = identities_;
        emit IdentitiesChanged(address(identities_));
    }

    /// @inheritdoc AccessManaged
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](4);
        t[0] = FunctionRole(this.bindToken.selector, Roles.GOVERNANCE);
        t[1] = FunctionRole(this.addModule.selector, Roles.GOVERNANCE);
        t[2] = FunctionRole(this.removeModule.selector, Roles.GOVERNANCE);
        t[3] = FunctionRole(this.setIdentities.selector, Roles.GOVERNANCE);
    }

    // ------------------------------------------------------------- governance

    /// @notice Binds token contract `token`, looking its holders through `depth` levels of vehicles
    /// (0: every identity counts one unit); binding again changes the depth.
    function bindToken(address token, uint8 depth) external restricted {
        if (token.code.length == 0) revert NotAContract(token);
        if (depth > MAX_LOOK_THROUGH_DEPTH) revert InvalidLookThroughDepth(depth);
        isBound[token] = true;
        lookThroughDepth[token] = depth;
        emit TokenBound(token, depth);
    }

    /// @notice Appends `module` to the rules of `token`: it runs after those already registered.
    function addModule(address token, IComplianceModule module) external restricted {
        _bound(token);
        if (address(module).code.length == 0) revert NotAContract(address(module));
        IComplianceModule[] storage modules = _modules[token];
        if (modules.length >= MAX_MODULES) revert TooManyModules(token, MAX_MODULES);
        for (uint256 i = 0; i < modules.length; i++) {
            if (modules[i] == module) revert ModuleAlreadyAdded(token, address(module));
        }
        modules.push(module);
        emit ModuleAdded(token, address(module), modules.length - 1);
    }

    /// @notice Removes `module` from the rules of `token`; the others keep their order.
    function removeModule(address token, IComplianceModule module) external restricted {
        IComplianceModule[] storage modules = _modules[token];
        for (uint256 i = 0; i < modules.length; i++) {
            if (modules[i] != module) continue;
            for (uint256 j = i; j + 1 < modules.length; j++) modules[j] = modules[j + 1];
            modules.pop();
            emit ModuleRemoved(token, address(module));
            return;
        }
        revert UnknownModule(token, address(module));
    }

    /// @notice Points compliance at another identity registry; governance-only (see Roles.GOVERNANCE).
    function setIdentities(IIdentityRegistry next) external restricted {
        identities = next;
        emit IdentitiesChanged(address(next));
    }

    /// @notice The modules of `token`, in the order they run.
    function modulesOf(address token) external view returns (IComplianceModule[] memory) {
        return _modules[token];
    }

    // ----------------------------------------------------------------- tokens

    /// @inheritdoc ICompliance
    function setAssetParameter(uint256 asset, bytes32 key, uint256 value) external {
        _bound(msg.sender);
        _parameters[msg.sender][asset][key] = value;
        emit AssetParameterSet(msg.sender, asset, key, value);
    }

    /// @inheritdoc ICompliance
    function assetParameter(address token, uint256 asset, bytes32 key) external view returns (uint256) {
        return _parameters[token][asset][key];
    }

    /// @inheritdoc ICompliance
    function checkMovement(Movement calldata m) external view {
        _check(_resolve(m));
    }

    /// @inheritdoc ICompliance
    function recordMovement(Movement calldata m) external {
        Movement memory r = _resolve(m);
        IComplianceModule[] storage modules = _check(r);
        for (uint256 i = 0; i < modules.length; i++) modules[i].moved(r);
    }

    // --------------------------------------------------------------- internal

    function _check(Movement memory m) private view returns (IComplianceModule[] storage modules) {
        modules = _modules[m.token];
        for (uint256 i = 0; i < modules.length; i++) modules[i].check(m);
    }

    /// @dev The movement as the modules see it: the calling token's, with what the receiver adds.
    function _resolve(Movement calldata m) private view returns (Movement memory r) {
        _bound(msg.sender);
        r = m;
        r.token = msg.sender;
        if (r.toId == bytes32(0)) revert UnknownAccount(r.to);
        if (r.toId == r.fromId) return r;
        bool qualify = r.kind != MovementKind.Forced;
        if (r.toHolding != 0) {
            // An existing holder adds no units; only its own qualification is looked at.
            (, bool qualified) = identities.standing(r.toId);
            if (qualify && !qualified) r.entry = _notQualified(r.toId);
            return r;
        }
        uint8 depth = lookThroughDepth[msg.sender];
        if (depth == 0) {
            (, bool qualified) = identities.standing(r.toId);
            r.entry.units = 1;
            if (qualify && !qualified) r.entry = _notQualified(r.toId);
            return r;
        }
        r.entry = identities.lookThrough(r.toId, depth, qualify);
        IIdentityRegistry.Failure failure = r.entry.failure;
        if (failure == IIdentityRegistry.Failure.NoInvestors) revert VehicleWithoutInvestors(r.entry.identity);
        // The registry never walks deeper than its ceiling, which fits in uint8.
        if (failure == IIdentityRegistry.Failure.TooDeep) revert LookThroughTooDeep(r.entry.identity, uint8(r.entry.limit));
        if (failure == IIdentityRegistry.Failure.TooLarge) revert LookThroughTooLarge(r.entry.identity, r.entry.limit);
    }

    function _notQualified(bytes32 id) private pure returns (IIdentityRegistry.LookThrough memory entry) {
        entry.failure = IIdentityRegistry.Failure.NotQualified;
        entry.identity = id;
    }

    function _bound(address token) private view {
        if (!isBound[token]) revert TokenNotBound(token);
    }
}
