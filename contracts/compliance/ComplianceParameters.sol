// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title ComplianceParameters
/// @notice The names of the per-asset rule parameters the built-in modules read; readable as text in events.
library ComplianceParameters {
    bytes32 internal constant HOLDER_CAP = "holderCap";
    bytes32 internal constant LOCKUP_END = "lockupEnd";
    bytes32 internal constant MINIMUM_HOLDING = "minimumHolding";
}
