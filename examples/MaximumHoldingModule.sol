// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// The project's contracts are imported under pilotledger/ (their paths under contracts/).
import {PermissionRegistry} from "pilotledger/access/PermissionRegistry.sol";
import {Roles} from "pilotledger/access/Roles.sol";
import {ComplianceModule} from "pilotledger/compliance/ComplianceModule.sol";
import {ICompliance} from "pilotledger/compliance/ICompliance.sol";
import {Movement, MovementKind} from "pilotledger/compliance/IComplianceModule.sol";

/// @title MaximumHoldingModule
/// @notice A pilot team's own rule: no identity may come to hold more than a maximum of any one asset
/// of a token (a concentration limit), the maximum set per token by an ADMIN. One module, registered
/// for a token by governance (ModularCompliance.addModule is governance-only); nothing in the token changes.
contract MaximumHoldingModule is ComplianceModule {
    /// @notice The most one identity may hold of any asset of `token` (0: no limit).
    mapping(address => uint256) public maximumHolding;

    event MaximumHoldingSet(address indexed token, uint256 maximum);

    error AboveMaximumHolding(bytes32 identity, uint256 wouldHold, uint256 maximum);

    constructor(PermissionRegistry permissions_, ICompliance compliance_) ComplianceModule(permissions_, compliance_) {}

    /// @notice Sets the most one identity may hold of an asset of `token`.
    function setMaximumHolding(address token, uint256 maximum) external restricted {
        maximumHolding[token] = maximum;
        emit MaximumHoldingSet(token, maximum);
    }

    /// @notice The role table governance adopts for this module.
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](2);
        t[0] = FunctionRole(this.setCompliance.selector, Roles.GOVERNANCE);
        t[1] = FunctionRole(this.setMaximumHolding.selector, Roles.ADMIN);
    }

    /// @notice A forced transfer under a legal order is not held to it, nor a move within one identity.
    function check(Movement calldata m) external view {
        if (m.kind == MovementKind.Forced || m.fromId == m.toId) return;
        uint256 maximum = maximumHolding[m.token];
        uint256 wouldHold = m.toHolding + m.amount;
        if (maximum != 0 && wouldHold > maximum) revert AboveMaximumHolding(m.toId, wouldHold, maximum);
    }
}
