// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {CompliantRegister} from "../compliance/CompliantRegister.sol";
import {Movement, MovementKind} from "../compliance/IComplianceModule.sol";

/// @title EquityRegister
/// @notice The token part of a regional equity market: each company's shareholder register, kept per
/// identity of the IdentityRegistry (not per account), and the one place holdings change. Every change
/// is checked by the market's compliance modules (qualification, account linkage, holder cap) and told
/// to them, and emits ERC-1155's TransferSingle (the company id as token id, the accounts that sent and
/// received), so standard indexers can follow holdings.
abstract contract EquityRegister is CompliantRegister {
    /// @notice Shares of company `companyId` held by identity `identity`.
    mapping(bytes32 => mapping(bytes32 => uint256)) public holdingOf;
    mapping(bytes32 => bytes32[]) private _holders;
    mapping(bytes32 => mapping(bytes32 => uint256)) private _holderSlot; // index + 1 in _holders

    error InsufficientShares(bytes32 identity, uint256 available, uint256 needed);

    /// @notice The identities holding shares of company `companyId`, in no fixed order.
    function holdersOf(bytes32 companyId) external view returns (bytes32[] memory) {
        return _holders[companyId];
    }

    /// @notice How many identities hold shares of company `companyId`.
    function holderCount(bytes32 companyId) external view returns (uint256) {
        return _holders[companyId].length;
    }

    /// @notice Shares of company `companyId` held by the identity of `account` (0 without one).
    function holdingOfAccount(bytes32 companyId, address account) external view returns (uint256) {
        return holdingOf[companyId][identities.identityOf(account)];
    }

    /// @dev `shares` of company `companyId` from account `from` (zero for an allotment) to `to`, as
    /// compliance sees it; checks the seller's holding.
    function _movement(MovementKind kind, bytes32 companyId, address from, address to, uint256 shares)
        internal
        view
        returns (Movement memory m)
    {
        if (shares == 0) revert ZeroAmount();
        m.kind = kind;
        m.asset = uint256(companyId);
        m.from = from;
        m.to = to;
        m.amount = shares;
        if (kind != MovementKind.Issuance) {
            m.fromId = _identityOf(from);
            m.fromHolding = holdingOf[companyId][m.fromId];
        }
        m.toId = _identityOf(to);
        m.toHolding = holdingOf[companyId][m.toId];
    }

    /// @dev Makes movement `m` after compliance records it.
    function _make(Movement memory m) internal {
        compliance.recordMovement(m);
        _apply(m);
    }

    /// @dev Changes the register for movement `m`, which compliance has recorded.
    function _apply(Movement memory m) internal {
        bytes32 companyId = bytes32(m.asset);
        if (m.kind != MovementKind.Issuance) _debit(companyId, m.fromId, m.amount);
        _credit(companyId, m.toId, m.amount);
        emit TransferSingle(msg.sender, m.from, m.to, m.asset, m.amount);
    }

    /// @dev Reverts InsufficientShares unless the seller's identity holds `m.amount`.
    function _requireHolding(Movement memory m) internal pure {
        if (m.fromHolding < m.amount) revert InsufficientShares(m.fromId, m.fromHolding, m.amount);
    }

    function _credit(bytes32 companyId, bytes32 id, uint256 shares) private {
        if (holdingOf[companyId][id] == 0) {
            bytes32[] storage holders = _holders[companyId];
            holders.push(id);
            _holderSlot[companyId][id] = holders.length;
        }
        holdingOf[companyId][id] += shares;
    }

    function _debit(bytes32 companyId, bytes32 id, uint256 shares) private {
        uint256 left = holdingOf[companyId][id] - shares;
        holdingOf[companyId][id] = left;
        if (left != 0) return;
        bytes32[] storage holders = _holders[companyId];
        uint256 slot = _holderSlot[companyId][id];
        bytes32 last = holders[holders.length - 1];
        holders[slot - 1] = last;
        _holderSlot[companyId][last] = slot;
        holders.pop();
        delete _holderSlot[companyId][id];
    }
}
