// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {ComplianceModule} from "./ComplianceModule.sol";
import {ICompliance} from "./ICompliance.sol";
import {Movement, MovementKind} from "./IComplianceModule.sol";

/// @title QualificationModule
/// @notice Only qualified investors receive the asset: the receiving identity and, when it becomes a
/// holder through an unregistered vehicle, every investor looked through (to the token's depth). The
/// compliance contract walks the identities once (`Movement.entry`); this module names who failed:
/// the subscriber (NotQualified), the transferee (TransfereeNotQualified), or an investor behind a
/// vehicle (UltimateInvestorNotQualified). A forced transfer under a legal order is not held to it.
contract QualificationModule is ComplianceModule {
    error NotQualified(bytes32 identity);
    error TransfereeNotQualified(bytes32 identity);
    error UltimateInvestorNotQualified(bytes32 vehicle, bytes32 investor);

    constructor(PermissionRegistry permissions_, ICompliance compliance_) ComplianceModule(permissions_, compliance_) {}

    function check(Movement calldata m) external pure {
        if (m.kind == MovementKind.Forced || m.entry.failure != IIdentityRegistry.Failure.NotQualified) return;
        if (m.entry.vehicle != bytes32(0)) revert UltimateInvestorNotQualified(m.entry.vehicle, m.entry.identity);
        if (m.kind == MovementKind.Issuance) revert NotQualified(m.entry.identity);
        revert TransfereeNotQualified(m.entry.identity);
    }
}
