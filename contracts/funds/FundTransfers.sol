// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ISettlementCash} from "../settlement/ISettlementCash.sol";
import {Movement, MovementKind} from "../compliance/IComplianceModule.sol";
import {FundEnforcement} from "./FundEnforcement.sol";

/// @title FundTransfers
/// @notice The platform's transfer workflow: a holder requests a transfer, the fund's manager approves
/// (or rejects) it, and the platform settles it delivery-versus-payment (shares against settlement
/// cash, both or neither). Every rule is checked at the request and again at settlement, since the
/// state may have moved in between.
abstract contract FundTransfers is FundEnforcement {
    enum RequestStatus { None, Requested, Approved, Rejected, Cancelled, Settled }

    /// @dev Packed into three storage slots, held while the request is open.
    struct TransferRequest {
        address from;
        uint64 fundId;
        RequestStatus status;
        address to;
        uint128 amount;
        uint128 price;
    }

    ISettlementCash public cash;
    uint256 public requestCount;
    mapping(uint256 => TransferRequest) private _requests; // the open requests
    /// @dev A closed request (rejected, cancelled, settled) keeps only its status, a byte, 32 to a slot: its
    /// parties and amounts are in its events, and the state stays the size of the open business however
    /// many transfers a market makes.
    mapping(uint256 => uint256) private _closedStatuses;

    event CashChanged(address indexed cash);
    event TransferRequested(
        uint256 indexed requestId, uint256 indexed fundId, address from, address to, uint256 amount, uint256 price
    );
    event TransferApproved(uint256 indexed requestId, address manager);
    event TransferRejected(uint256 indexed requestId, address manager, bytes32 reason);
    event TransferCancelled(uint256 indexed requestId);
    event TransferSettled(
        uint256 indexed requestId, uint256 indexed fundId, address from, address to, uint256 amount, uint256 price
    );

    error UnknownRequest(uint256 requestId);
    error NotRequester(uint256 requestId, address caller);
    error TransferNotApproved(uint256 requestId);
    error InvalidRequestStatus(uint256 requestId, RequestStatus status);

    constructor(ISettlementCash cash_) {
        cash = cash_;
        emit CashChanged(address(cash_));
    }

    /// @notice Settles the cash leg in another settlement cash contract; governance-only.
    function setCash(ISettlementCash next) external restricted {
        cash = next;
        emit CashChanged(address(next));
    }

    /// @notice Asks to transfer `amount` shares from the caller to `to` for `price` yuan.
    /// @return requestId The request, to be approved by the fund's manager.
    function requestTransfer(uint256 fundId, address to, uint128 amount, uint128 price)
        external
        returns (uint256 requestId)
    {
        _whenNotPaused();
        compliance.checkMovement(_transfer(fundId, msg.sender, to, amount));
        requestId = ++requestCount;
        // fundId fits: the fund exists, and fund ids count up from 1.
        _requests[requestId] = TransferRequest(msg.sender, uint64(fundId), RequestStatus.Requested, to, amount, price);
        emit TransferRequested(requestId, fundId, msg.sender, to, amount, price);
    }

    /// @notice The manager of the request's fund approves it for settlement.
    function approveTransfer(uint256 requestId) external restricted {
        _whenNotPaused();
        TransferRequest storage r = _request(requestId);
        if (r.status != RequestStatus.Requested) revert InvalidRequestStatus(requestId, r.status);
        _onlyManager(r.fundId);
        r.status = RequestStatus.Approved;
        emit TransferApproved(requestId, msg.sender);
    }

    /// @notice The manager of the request's fund rejects it.
    function rejectTransfer(uint256 requestId, bytes32 reason) external restricted {
        TransferRequest storage r = _open(requestId);
        _onlyManager(r.fundId);
        _close(requestId, RequestStatus.Rejected);
        emit TransferRejected(requestId, msg.sender, reason);
    }

    /// @notice The requester withdraws a request that has not settled.
    function cancelTransfer(uint256 requestId) external {
        TransferRequest storage r = _open(requestId);
        if (r.from != msg.sender) revert NotRequester(requestId, msg.sender);
        _close(requestId, RequestStatus.Cancelled);
        emit TransferCancelled(requestId);
    }

    /// @notice The platform settles an approved request: shares against cash, both or neither.
    function settleTransfer(uint256 requestId) external restricted {
        _whenNotPaused();
        TransferRequest memory r = _request(requestId);
        if (r.status == RequestStatus.Requested) revert TransferNotApproved(requestId);
        if (r.status != RequestStatus.Approved) revert InvalidRequestStatus(requestId, r.status);
        Movement memory m = _transfer(r.fundId, r.from, r.to, r.amount);
        _close(requestId, RequestStatus.Settled);
        cash.transferFrom(r.to, r.from, r.price);
        _make(m);
        emit TransferSettled(requestId, r.fundId, r.from, r.to, r.amount, r.price);
    }

    /// @notice The transfer request `requestId`; of a closed one, only its status (the rest is in its events).
    function request(uint256 requestId) external view returns (TransferRequest memory r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) {
            r.status = _closedStatus(requestId);
            if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
        }
    }

    /// @dev Reverts unless the caller manages fund `fundId`.
    function _onlyManager(uint256 fundId) internal view virtual;

    /// @dev A voluntary transfer, after the register's own checks (fund, amount, balance, freeze).
    function _transfer(uint256 fundId, address from, address to, uint256 amount)
        private
        view
        returns (Movement memory m)
    {
        _requireFund(fundId);
        m = _movement(MovementKind.Transfer, fundId, from, to, amount);
        _requireUnfrozen(fundId, from, amount);
    }

    function _open(uint256 requestId) private view returns (TransferRequest storage r) {
        r = _request(requestId);
        if (r.status != RequestStatus.Requested && r.status != RequestStatus.Approved) {
            revert InvalidRequestStatus(requestId, r.status);
        }
    }

    /// @dev The open request `requestId`; a closed one reverts with its status, an unknown one as unknown.
    function _request(uint256 requestId) private view returns (TransferRequest storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) {
            RequestStatus closed = _closedStatus(requestId);
            if (closed == RequestStatus.None) revert UnknownRequest(requestId);
            revert InvalidRequestStatus(requestId, closed);
        }
    }

    /// @dev Closes the open request `requestId` with `status`: its record goes, its status stays.
    function _close(uint256 requestId, RequestStatus status) private {
        delete _requests[requestId];
        _closedStatuses[requestId >> 5] |= uint256(status) << ((requestId & 31) * 8);
    }

    function _closedStatus(uint256 requestId) private view returns (RequestStatus) {
        return RequestStatus(uint8(_closedStatuses[requestId >> 5] >> ((requestId & 31) * 8)));
    }
}
