// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Movement} from "./IComplianceModule.sol";

/// @title ICompliance
/// @notice What a token contract asks of its compliance: may this movement happen (checkMovement),
/// it happens (recordMovement), and the rule parameters of each of its assets (a fund's cap, its
/// lock-up end, a company's holder cap...), which the modules read.
interface ICompliance {
    /// @notice Runs the caller's modules on `m`; reverts with the first rule it breaks.
    function checkMovement(Movement calldata m) external view;

    /// @notice Runs the caller's modules on `m` again and tells each that it took place.
    function recordMovement(Movement calldata m) external;

    /// @notice Sets rule parameter `key` of the caller's asset `asset` (keys: ComplianceParameters).
    function setAssetParameter(uint256 asset, bytes32 key, uint256 value) external;

    /// @notice Rule parameter `key` of asset `asset` of token `token` (0 when never set).
    function assetParameter(address token, uint256 asset, bytes32 key) external view returns (uint256);

    /// @notice How many levels of vehicles `token`'s holders are looked through (0: an identity counts one).
    function lookThroughDepth(address token) external view returns (uint8);
}
