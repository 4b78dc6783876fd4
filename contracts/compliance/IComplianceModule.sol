// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";

/// @notice How units of an asset move: issued (subscription, allotment), transferred between
/// investors, or forced under a legal order (which passes the investor rules but is still counted).
enum MovementKind { Issuance, Transfer, Forced }

/// @notice One proposed or completed movement of `amount` units of asset `asset` of token contract
/// `token` (a fund's shares, a company's shares), as a compliance module sees it.
/// @dev The token fills everything but `token` and `entry`; the compliance contract sets those.
struct Movement {
    MovementKind kind;
    address token;
    uint256 asset; // a fund id, or a company id as uint256
    address from; // zero for an issuance
    address to;
    bytes32 fromId; // identities (IdentityRegistry) of the two accounts; fromId is zero for an issuance
    bytes32 toId;
    uint256 amount;
    uint256 fromHolding; // the identities' holdings of the asset before the movement
    uint256 toHolding;
    uint32 reserved; // holder units already promised to accepted issuances not yet made (an open offering)
    // What the receiving identity adds, resolved once by the compliance contract: for a new holder its
    // look-through units (qualification checked on the way, except for a forced movement); for one that
    // already holds 0 units and its own qualification; for a movement within one identity, nothing.
    IIdentityRegistry.LookThrough entry;
}

/// @title IComplianceModule
/// @notice One rule of a market (ERC-3643's lesson: one module per rule, shared by every token).
/// A module checks a proposed movement, reverting with the rule's own custom error, and is told
/// of every completed movement so it can keep its own state (per token and asset).
interface IComplianceModule {
    /// @notice Reverts with the rule's error when `m` would break the rule.
    function check(Movement calldata m) external view;

    /// @notice Called by the compliance contract after `m` passed every module and took place.
    function moved(Movement calldata m) external;
}
