// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {ComplianceModule} from "./ComplianceModule.sol";
import {ComplianceParameters} from "./ComplianceParameters.sol";
import {ICompliance} from "./ICompliance.sol";
import {Movement, MovementKind} from "./IComplianceModule.sol";

/// @title MinimumHoldingModule
/// @notice After a movement, each identity involved holds none of the asset or at least its
/// `minimumHolding` parameter (1,000,000 CNY in one private fund). Counted per identity, so moving
/// units between accounts of one identity is free; a forced transfer is not held to it.
contract MinimumHoldingModule is ComplianceModule {
    error BelowMinimumHolding(bytes32 identity, uint256 remaining, uint256 minimum);

    constructor(PermissionRegistry permissions_, ICompliance compliance_) ComplianceModule(permissions_, compliance_) {}

    function check(Movement calldata m) external view {
        if (m.kind == MovementKind.Forced || m.fromId == m.toId) return;
        uint256 minimum = _parameter(m, ComplianceParameters.MINIMUM_HOLDING);
        if (m.kind == MovementKind.Transfer) {
            uint256 remaining = m.fromHolding - m.amount;
            if (remaining != 0 && remaining < minimum) revert BelowMinimumHolding(m.fromId, remaining, minimum);
        }
        uint256 received = m.toHolding + m.amount;
        if (received < minimum) revert BelowMinimumHolding(m.toId, received, minimum);
    }
}
