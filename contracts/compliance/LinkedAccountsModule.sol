// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {ComplianceModule} from "./ComplianceModule.sol";
import {ICompliance} from "./ICompliance.sol";
import {Movement, MovementKind} from "./IComplianceModule.sol";
import {IAccountLinkage} from "../equity/IAccountLinkage.sol";

/// @title LinkedAccountsModule
/// @notice Account linkage (账户对接) of a regional equity market: only accounts linked to an account at
/// the depository receive or send the asset. A forced transfer under a legal order is not held to it.
contract LinkedAccountsModule is ComplianceModule {
    IAccountLinkage public linkage;

    event LinkageChanged(address indexed linkage);

    error AccountNotLinked(address account);

    constructor(PermissionRegistry permissions_, ICompliance compliance_, IAccountLinkage linkage_)
        ComplianceModule(permissions_, compliance_)
    {
        linkage = linkage_;
        emit LinkageChanged(address(linkage_));
    }

    /// @notice Reads another account linkage; governance-only.
    function setLinkage(IAccountLinkage next) external restricted {
        linkage = next;
        emit LinkageChanged(address(next));
    }

    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](2);
        t[0] = FunctionRole(this.setCompliance.selector, Roles.GOVERNANCE);
        t[1] = FunctionRole(this.setLinkage.selector, Roles.GOVERNANCE);
    }

    function check(Movement calldata m) external view {
        if (m.kind == MovementKind.Forced) return;
        if (m.kind == MovementKind.Transfer && !linkage.isLinked(m.from)) revert AccountNotLinked(m.from);
        if (!linkage.isLinked(m.to)) revert AccountNotLinked(m.to);
    }
}
