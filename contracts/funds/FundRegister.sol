// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {ICompliance} from "../compliance/ICompliance.sol";
import {Movement, MovementKind} from "../compliance/IComplianceModule.sol";

/// @title FundRegister
/// @notice The token part of the fund platform: who holds how many shares of each fund, per account
/// and per identity, and the one place holdings change. Every change is checked by the platform's
/// compliance modules (qualification, holder cap, minimum holding, lock-up...) and told to them, and
/// emits ERC-1155's TransferSingle (the fund id as token id), so standard indexers can follow holdings.
abstract contract FundRegister is AccessManaged {
    IIdentityRegistry public identities;
    ICompliance public compliance;

    mapping(uint256 => mapping(address => uint256)) public balanceOf;
    mapping(uint256 => mapping(bytes32 => uint256)) public identityBalanceOf;

    /// @notice ERC-1155's event: `value` shares of fund `id` move from `from` (zero: issued) to `to`.
    event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
    event IdentitiesChanged(address indexed identities);
    event ComplianceChanged(address indexed compliance);

    error UnknownAccount(address account);
    error InsufficientShares(address account, uint256 available, uint256 needed);
    error ZeroAmount();

    constructor(IIdentityRegistry identities_, ICompliance compliance_) {
        identities = identities_;
        compliance = compliance_;
        emit IdentitiesChanged(address(identities_));
        emit ComplianceChanged(address(compliance_));
    }

    /// @notice Reads identities from another registry; governance-only (see Roles.GOVERNANCE).
    function setIdentities(IIdentityRegistry next) external restricted {
        identities = next;
        emit IdentitiesChanged(address(next));
    }

    /// @notice Checks holdings against another compliance contract; governance-only.
    function setCompliance(ICompliance next) external restricted {
        compliance = next;
        emit ComplianceChanged(address(next));
    }

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

    function _identityOf(address account) internal view returns (bytes32 id) {
        id = identities.identityOf(account);
        if (id == bytes32(0)) revert UnknownAccount(account);
    }
}
