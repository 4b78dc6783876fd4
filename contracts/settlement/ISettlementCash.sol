// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title ISettlementCash
/// @notice The cash leg a market settles delivery-versus-payment against (SettlementCash, ERC-20 shaped).
interface ISettlementCash {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}
