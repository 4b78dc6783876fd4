// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {CompliantRegister} from "../compliance/CompliantRegister.sol";
import {Movement, MovementKind} from "../compliance/IComplianceModule.sol";

/// @title FundRegister
/// @notice The token part of the fund platform: who holds how many shares of each fund, per account
/// and per identity, and the one place holdings change. Every change is checked by the platform's
/// compliance modules (qualification, holder cap, minimum holding, lock-up...) and told to them, and
/// emits ERC-1155's TransferSingle (the fund id as token id), so standard indexers can follow holdings.
abstract contract FundRegister is CompliantRegister {
    mapping(uint256 => mapping(address => uint256)) public balanceOf;
    mapping(uint256 => mapping(bytes32 => uint256)) public identityBalanceOf;

    error InsufficientShares(address account, uint256 available, uint256 needed);

    /// @dev Reverts unless fund `fundId` exists.
    function _requireFund(uint256 fundId) internal view virtual;

    /// @dev `amount` shares of `from` (zero for an issuance) to `to`, as compliance sees it; checks the
    /// balance. Reverts UnknownAccount for an account without an identity.
    function _movement(MovementKind kind, uint256 fundId, address from, address to, uint256 amount)
        internal
        view
        returns (Movement memory m)
    {
        if (amount == 0) revert ZeroAmount();
        m.kind = kind;
        m.asset = fundId;
        m.from = from;
        m.to = to;
        m.amount = amount;
        if (kind != MovementKind.Issuance) {
            uint256 balance = balanceOf[fundId][from];
            if (balance < amount) revert InsufficientShares(from, balance, amount);
            m.fromId = kind == MovementKind.Forced ? identities.identityOf(from) : _identityOf(from);
            m.fromHolding = identityBalanceOf[fundId][m.fromId];
        }
        m.toId = _identityOf(to);
        m.toHolding = identityBalanceOf[fundId][m.toId];
    }

    /// @dev Makes movement `m` after compliance records it.
    function _make(Movement memory m) internal {
        compliance.recordMovement(m);
        if (m.kind != MovementKind.Issuance) {
            balanceOf[m.asset][m.from] -= m.amount;
            identityBalanceOf[m.asset][m.fromId] -= m.amount;
        }
        balanceOf[m.asset][m.to] += m.amount;
        identityBalanceOf[m.asset][m.toId] += m.amount;
        emit TransferSingle(msg.sender, m.from, m.to, m.asset, m.amount);
    }
}
