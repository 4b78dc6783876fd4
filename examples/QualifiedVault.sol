// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// The project's contracts are imported under pilotledger/ (their paths under contracts/).
import {AccessManaged} from "pilotledger/access/AccessManaged.sol";
import {PermissionRegistry} from "pilotledger/access/PermissionRegistry.sol";
import {Roles} from "pilotledger/access/Roles.sol";
import {IIdentityRegistry} from "pilotledger/identity/IIdentityRegistry.sol";

/// @title QualifiedVault
/// @notice A prototype on the consortium's registries: accounts linked to a qualified investor
/// identity record commitments; a platform member closes the vault. Who may call what is the
/// registry's map: `deploy` has the admins adopt the table below by governance.
contract QualifiedVault is AccessManaged {
    IIdentityRegistry public immutable identities;
    bool public closed;
    mapping(bytes32 => uint256) public committedBy;

    event Committed(bytes32 indexed identity, address account, uint256 amount);
    event Closed(address by);

    error NotQualified(address account);
    error VaultClosed();

    constructor(PermissionRegistry permissions_, IIdentityRegistry identities_) AccessManaged(permissions_) {
        identities = identities_;
    }

    /// @notice commit is signed by an investor's own account, so its role is the submitting node's
    /// (an investor agent's), checked at the gateway; close is `restricted` to PLATFORM members.
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](2);
        t[0] = FunctionRole(this.commit.selector, Roles.INVESTOR_AGENT);
        t[1] = FunctionRole(this.close.selector, Roles.PLATFORM);
    }

    /// @notice Records `amount` against the caller's identity, which must be qualified now.
    function commit(uint256 amount) external {
        if (closed) revert VaultClosed();
        bytes32 identity = identities.identityOf(msg.sender);
        (IIdentityRegistry.Kind kind, bool qualified) = identities.standing(identity);
        if (kind == IIdentityRegistry.Kind.None || !qualified) revert NotQualified(msg.sender);
        committedBy[identity] += amount;
        emit Committed(identity, msg.sender, amount);
    }

    /// @notice Stops further commitments; only a member holding the PLATFORM role may.
    function close() external restricted {
        closed = true;
        emit Closed(msg.sender);
    }
}
