// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Roles
/// @notice Role bits held by consortium members. A member's roles are one bitmask,
/// so a check is a single AND; ledger/chain/roles.py mirrors these values.
library Roles {
    uint256 internal constant ADMIN = 1 << 0;
    uint256 internal constant VALIDATOR = 1 << 1;
    uint256 internal constant KYC_AGENT = 1 << 2;
    uint256 internal constant PLATFORM = 1 << 3;
    uint256 internal constant FUND_MANAGER = 1 << 4;
    uint256 internal constant CUSTODIAN = 1 << 5;
    uint256 internal constant INVESTOR_AGENT = 1 << 6;
    uint256 internal constant REGULATOR = 1 << 7;
    uint256 internal constant CASH_ISSUER = 1 << 8;
    uint256 internal constant FUTURES_EXCHANGE = 1 << 9;
    uint256 internal constant WAREHOUSE = 1 << 10;
    uint256 internal constant LENDER = 1 << 11;
    uint256 internal constant TRADER = 1 << 12;
    uint256 internal constant EQUITY_CENTER = 1 << 13;
    uint256 internal constant LISTED_COMPANY = 1 << 14;
    uint256 internal constant DEPOSITORY = 1 << 15;
    /// @notice Reserved: no member may ever hold it (PermissionRegistry refuses it). A function mapped to
    /// it is governance-only: only the registry itself, executing a passed CallTarget proposal, may call it.
    uint256 internal constant GOVERNANCE = 1 << 255;
}
