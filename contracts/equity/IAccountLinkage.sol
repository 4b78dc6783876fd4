// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IAccountLinkage
/// @notice The depository's account linkage (AccountLinkage), as compliance reads it.
interface IAccountLinkage {
    function isLinked(address account) external view returns (bool);
}
