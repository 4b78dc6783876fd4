// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {ComplianceModule} from "./ComplianceModule.sol";
import {ComplianceParameters} from "./ComplianceParameters.sol";
import {ICompliance} from "./ICompliance.sol";
import {Movement, MovementKind} from "./IComplianceModule.sol";

/// @title LockupModule
/// @notice No transfer between investors before the asset's lock-up ends (its `lockupEnd` parameter,
/// a timestamp). Issuance and forced transfers are not transfers between investors.
contract LockupModule is ComplianceModule {
    error LockupActive(uint256 fundId, uint64 lockupEnd);

    constructor(PermissionRegistry permissions_, ICompliance compliance_) ComplianceModule(permissions_, compliance_) {}

    function check(Movement calldata m) external view {
        if (m.kind != MovementKind.Transfer) return;
        uint256 end = _parameter(m, ComplianceParameters.LOCKUP_END);
        // The token sets the parameter from a uint64 timestamp.
        if (block.timestamp < end) revert LockupActive(m.asset, uint64(end));
    }
}
