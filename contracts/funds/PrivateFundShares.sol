// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {SettlementCash} from "../settlement/SettlementCash.sol";

/// @title PrivateFundShares
/// @notice Shares of private investment funds and their transfer platform
/// (私募投资基金监督管理暂行办法, 2014). One share is one yuan subscribed.
///
/// Investor cap rule, as enforced here. A fund counts "holder units":
///  - holders are counted per identity, not per account;
///  - a natural person, an institution or a registered product counts 1;
///  - an unregistered vehicle counts the sum of the units of its declared investors,
///    looked through recursively (up to `maxLookThroughDepth` levels, and up to the
///    IdentityRegistry's `maxLookThroughSize` identities, so the check's gas is bounded);
///  - an identity's units are fixed when it becomes a holder and released when its
///    balance returns to zero; overlaps between vehicles are not de-duplicated on
///    chain, so the count can only err on the strict side.
/// An identity may become a holder only if the fund's units stay within its cap, the
/// identity is qualified and, for a vehicle, every investor looked through is too.
contract PrivateFundShares {
    enum LegalForm { Contractual, JointStock, LimitedPartnership, LimitedLiabilityCompany }
    enum RequestStatus { None, Requested, Approved, Rejected, Cancelled, Settled }

    struct Fund {
        address manager;
        address custodian;
        LegalForm form;
        bool offeringOpen;
        uint32 cap;
        uint32 holderUnits;
        uint64 lockupEnd;
        uint256 totalShares;
    }

    /// @dev Packed into three storage slots: a request is written once per transfer.
    struct TransferRequest {
        address from;
        uint64 fundId;
        RequestStatus status;
        address to;
        uint128 amount;
        uint128 price;
    }

    /// @notice Freezing this amount freezes a holding whole, including shares received later.
    uint256 public constant WHOLE = type(uint256).max;

    PermissionRegistry public immutable permissions;
    IdentityRegistry public immutable identities;
    SettlementCash public immutable cash;
    uint256 public immutable minimumInvestment;
    uint8 public immutable maxLookThroughDepth;
    uint32[4] private _capByForm;

    /// @notice True once the platform winds the pilot down: business stops, the regulator's
    /// freezes and forced transfers still work, and every holding stays readable.
    bool public paused;
    uint256 public fundCount;
    uint256 public requestCount;
    mapping(uint256 => Fund) private _funds;
    mapping(uint256 => TransferRequest) private _requests;
    mapping(uint256 => mapping(address => uint256)) public balanceOf;
    mapping(uint256 => mapping(address => uint256)) public frozenOf;
    mapping(uint256 => mapping(bytes32 => uint256)) public identityBalanceOf;
    mapping(uint256 => mapping(bytes32 => uint32)) public holderUnitsOf;

    event FundCreated(
        uint256 indexed fundId, address indexed manager, address custodian, LegalForm form, uint32 cap, uint64 lockupEnd
    );
    event OfferingClosed(uint256 indexed fundId);
    event Paused(address indexed platform, bytes32 noticeHash);
    event Unpaused(address indexed platform, bytes32 noticeHash);
    event Subscribed(uint256 indexed fundId, address indexed account, bytes32 indexed identity, uint256 amount);
    event HolderEntered(uint256 indexed fundId, bytes32 indexed identity, uint32 units, uint32 fundUnits);
    event HolderExited(uint256 indexed fundId, bytes32 indexed identity, uint32 units, uint32 fundUnits);
    event TransferRequested(
        uint256 indexed requestId, uint256 indexed fundId, address from, address to, uint256 amount, uint256 price
    );
    event TransferApproved(uint256 indexed requestId, address manager);
    event TransferRejected(uint256 indexed requestId, address manager, bytes32 reason);
    event TransferCancelled(uint256 indexed requestId);
    event TransferSettled(
        uint256 indexed requestId, uint256 indexed fundId, address from, address to, uint256 amount, uint256 price
    );
    event Frozen(uint256 indexed fundId, address indexed account, uint256 frozen, bytes32 orderHash);
    event Unfrozen(uint256 indexed fundId, address indexed account, uint256 frozen, bytes32 orderHash);
    event ForcedTransfer(uint256 indexed fundId, address from, address to, uint256 amount, bytes32 orderHash);

    error UnknownFund(uint256 fundId);
    error UnknownRequest(uint256 requestId);
    error UnknownAccount(address account);
    error NotFundManager(uint256 fundId, address caller);
    error NotRequester(uint256 requestId, address caller);
    error NotCustodian(address custodian);
    error OfferingIsClosed(uint256 fundId);
    error BelowMinimumInvestment(uint256 amount, uint256 minimum);
    error BelowMinimumHolding(bytes32 identity, uint256 remaining, uint256 minimum);
    error LockupActive(uint256 fundId, uint64 lockupEnd);
    error InsufficientShares(address account, uint256 available, uint256 needed);
    error SharesFrozen(address account, uint256 frozen);
    error TransfereeNotQualified(bytes32 identity);
    error UltimateInvestorNotQualified(bytes32 vehicle, bytes32 investor);
    error VehicleWithoutInvestors(bytes32 vehicle);
    error LookThroughTooDeep(bytes32 vehicle, uint8 maxDepth);
    error LookThroughTooLarge(bytes32 vehicle, uint16 maxSize);
    error InvestorCapExceeded(uint256 fundId, uint32 cap, uint256 wouldBe);
    error TransferNotApproved(uint256 requestId);
    error InvalidRequestStatus(uint256 requestId, RequestStatus status);
    error ZeroAmount();
    error PlatformPaused();
    error PlatformNotPaused();

    /// @param capByForm Investor caps by legal form: contractual, joint-stock, LP, LLC.
    constructor(
        PermissionRegistry permissions_,
        IdentityRegistry identities_,
        SettlementCash cash_,
        uint32[4] memory capByForm,
        uint256 minimumInvestment_,
        uint8 maxLookThroughDepth_
    ) {
        permissions = permissions_;
        identities = identities_;
        cash = cash_;
        _capByForm = capByForm;
        minimumInvestment = minimumInvestment_;
        maxLookThroughDepth = maxLookThroughDepth_;
    }

    // ----------------------------------------------------------------- pause

    /// @notice The platform stops all business under a notice (its hash), e.g. to wind the pilot down.
    function pause(bytes32 noticeHash) external {
        permissions.requireRole(msg.sender, Roles.PLATFORM);
        if (paused) revert PlatformPaused();
        paused = true;
        emit Paused(msg.sender, noticeHash);
    }

    /// @notice The platform resumes business under a notice (its hash).
    function unpause(bytes32 noticeHash) external {
        permissions.requireRole(msg.sender, Roles.PLATFORM);
        if (!paused) revert PlatformNotPaused();
        paused = false;
        emit Unpaused(msg.sender, noticeHash);
    }

    // ------------------------------------------------------------------ funds

    /// @notice Creates a fund managed by the caller, with its cap set by its legal form.
    /// @return fundId The new fund's id.
    function createFund(LegalForm form, address custodian, uint64 lockupEnd) external returns (uint256 fundId) {
        _whenNotPaused();
        permissions.requireRole(msg.sender, Roles.FUND_MANAGER);
        if (!permissions.hasRole(custodian, Roles.CUSTODIAN)) revert NotCustodian(custodian);
        fundId = ++fundCount;
        uint32 cap = _capByForm[uint8(form)];
        _funds[fundId] = Fund(msg.sender, custodian, form, true, cap, 0, lockupEnd, 0);
        emit FundCreated(fundId, msg.sender, custodian, form, cap, lockupEnd);
    }

    /// @notice Ends the fund's offering; shares then change hands only by transfer.
    function closeOffering(uint256 fundId) external {
        _onlyManager(fundId).offeringOpen = false;
        emit OfferingClosed(fundId);
    }

    /// @notice The record of fund `fundId`.
    function fund(uint256 fundId) external view returns (Fund memory) {
        return _fund(fundId);
    }

    /// @notice Subscribes `amount` yuan, paid in settlement cash to the fund's custodian.
    /// The caller must have approved this contract on SettlementCash.
    function subscribe(uint256 fundId, uint256 amount) external {
        _whenNotPaused();
        Fund storage f = _fund(fundId);
        if (!f.offeringOpen) revert OfferingIsClosed(fundId);
        bytes32 id = _identityOf(msg.sender);
        if (amount < minimumInvestment) revert BelowMinimumInvestment(amount, minimumInvestment);
        uint32 units = _admit(fundId, f, id, 0);
        cash.transferFrom(msg.sender, f.custodian, amount);
        f.totalShares += amount;
        _credit(fundId, f, msg.sender, id, amount, units);
        emit Subscribed(fundId, msg.sender, id, amount);
    }

    // -------------------------------------------------------------- transfers

    /// @notice Asks to transfer `amount` shares from the caller to `to` for `price` yuan.
    /// @return requestId The request, to be approved by the fund's manager.
    function requestTransfer(uint256 fundId, address to, uint128 amount, uint128 price)
        external
        returns (uint256 requestId)
    {
        _whenNotPaused();
        _checkTransfer(fundId, msg.sender, to, amount);
        requestId = ++requestCount;
        // fundId fits: _checkTransfer found the fund, and fund ids count up from 1.
        _requests[requestId] = TransferRequest(msg.sender, uint64(fundId), RequestStatus.Requested, to, amount, price);
        emit TransferRequested(requestId, fundId, msg.sender, to, amount, price);
    }

    /// @notice The manager of the request's fund approves it for settlement.
    function approveTransfer(uint256 requestId) external {
        _whenNotPaused();
        TransferRequest storage r = _pending(requestId);
        _onlyManager(r.fundId);
        r.status = RequestStatus.Approved;
        emit TransferApproved(requestId, msg.sender);
    }

    /// @notice The manager of the request's fund rejects it.
    function rejectTransfer(uint256 requestId, bytes32 reason) external {
        TransferRequest storage r = _request(requestId);
        if (r.status != RequestStatus.Requested && r.status != RequestStatus.Approved) {
            revert InvalidRequestStatus(requestId, r.status);
        }
        _onlyManager(r.fundId);
        r.status = RequestStatus.Rejected;
        emit TransferRejected(requestId, msg.sender, reason);
    }

    /// @notice The requester withdraws a request that has not settled.
    function cancelTransfer(uint256 requestId) external {
        TransferRequest storage r = _request(requestId);
        if (r.from != msg.sender) revert NotRequester(requestId, msg.sender);
        if (r.status != RequestStatus.Requested && r.status != RequestStatus.Approved) {
            revert InvalidRequestStatus(requestId, r.status);
        }
        r.status = RequestStatus.Cancelled;
        emit TransferCancelled(requestId);
    }

    /// @notice The platform settles an approved request: shares against cash, both or neither.
    /// Every transfer rule is checked again, since the state may have moved since the request.
    function settleTransfer(uint256 requestId) external {
        _whenNotPaused();
        permissions.requireRole(msg.sender, Roles.PLATFORM);
        TransferRequest storage r = _request(requestId);
        if (r.status == RequestStatus.Requested) revert TransferNotApproved(requestId);
        if (r.status != RequestStatus.Approved) revert InvalidRequestStatus(requestId, r.status);
        (bytes32 fromId, bytes32 toId, uint32 units) = _checkTransfer(r.fundId, r.from, r.to, r.amount);
        r.status = RequestStatus.Settled;
        cash.transferFrom(r.to, r.from, r.price);
        _move(r.fundId, r.from, r.to, fromId, toId, r.amount, units);
        emit TransferSettled(requestId, r.fundId, r.from, r.to, r.amount, r.price);
    }

    /// @notice The transfer request `requestId`.
    function request(uint256 requestId) external view returns (TransferRequest memory) {
        return _request(requestId);
    }

    // ------------------------------------------------------------- regulator

    /// @notice Freezes `amount` more of a holding (WHOLE for all of it) under a legal order.
    function freeze(uint256 fundId, address account, uint256 amount, bytes32 orderHash) external {
        permissions.requireRole(msg.sender, Roles.REGULATOR);
        _fund(fundId);
        uint256 frozen = frozenOf[fundId][account];
        frozen = amount == WHOLE || WHOLE - frozen <= amount ? WHOLE : frozen + amount;
        frozenOf[fundId][account] = frozen;
        emit Frozen(fundId, account, frozen, orderHash);
    }

    /// @notice Releases `amount` of a frozen holding (WHOLE for all of it) under a legal order.
    function unfreeze(uint256 fundId, address account, uint256 amount, bytes32 orderHash) external {
        permissions.requireRole(msg.sender, Roles.REGULATOR);
        _fund(fundId);
        uint256 frozen = frozenOf[fundId][account];
        // Releasing part of a whole freeze leaves the rest of the current holding frozen.
        if (frozen == WHOLE && amount != WHOLE) frozen = balanceOf[fundId][account];
        frozen = amount >= frozen ? 0 : frozen - amount;
        frozenOf[fundId][account] = frozen;
        emit Unfrozen(fundId, account, frozen, orderHash);
    }

    /// @notice Moves shares under a legal order, past freezes, lock-up, approval and the
    /// qualification test. The transferee must be an identified account; units stay exact.
    function forcedTransfer(uint256 fundId, address from, address to, uint256 amount, bytes32 orderHash) external {
        permissions.requireRole(msg.sender, Roles.REGULATOR);
        _fund(fundId);
        if (amount == 0) revert ZeroAmount();
        uint256 balance = balanceOf[fundId][from];
        if (balance < amount) revert InsufficientShares(from, balance, amount);
        bytes32 fromId = identities.identityOf(from);
        bytes32 toId = _identityOf(to);
        uint32 units = identityBalanceOf[fundId][toId] == 0 ? _units(toId, false) : 0;
        _move(fundId, from, to, fromId, toId, amount, units);
        uint256 frozen = frozenOf[fundId][from];
        if (frozen != WHOLE && frozen > balance - amount) frozenOf[fundId][from] = balance - amount;
        emit ForcedTransfer(fundId, from, to, amount, orderHash);
    }

    // --------------------------------------------------------------- internal

    /// @dev Every rule a voluntary transfer must meet; returns both identities and the units
    /// the transferee adds.
    function _checkTransfer(uint256 fundId, address from, address to, uint256 amount)
        private
        view
        returns (bytes32 fromId, bytes32 toId, uint32 units)
    {
        Fund storage f = _fund(fundId);
        if (block.timestamp < f.lockupEnd) revert LockupActive(fundId, f.lockupEnd);
        if (amount == 0) revert ZeroAmount();
        uint256 balance = balanceOf[fundId][from];
        if (balance < amount) revert InsufficientShares(from, balance, amount);
        uint256 frozen = frozenOf[fundId][from];
        if (frozen == WHOLE || balance - amount < frozen) revert SharesFrozen(from, frozen);

        fromId = _identityOf(from);
        toId = _identityOf(to);
        if (fromId == toId) return (fromId, toId, 0);
        uint256 remaining = identityBalanceOf[fundId][fromId] - amount;
        if (remaining != 0 && remaining < minimumInvestment) {
            revert BelowMinimumHolding(fromId, remaining, minimumInvestment);
        }
        uint256 received = identityBalanceOf[fundId][toId] + amount;
        if (received < minimumInvestment) revert BelowMinimumHolding(toId, received, minimumInvestment);

        uint32 released = remaining == 0 ? holderUnitsOf[fundId][fromId] : 0;
        units = _admit(fundId, f, toId, released);
    }

    /// @dev Qualification and cap for `id` joining the fund; 0 units when it already holds.
    function _admit(uint256 fundId, Fund storage f, bytes32 id, uint32 released) private view returns (uint32 units) {
        if (identityBalanceOf[fundId][id] != 0) {
            if (!identities.isQualified(id)) revert TransfereeNotQualified(id);
            return 0;
        }
        units = _units(id, true);
        uint256 wouldBe = uint256(f.holderUnits) - released + units;
        if (wouldBe > f.cap) revert InvestorCapExceeded(fundId, f.cap, wouldBe);
    }

    /// @dev Holder units of `id`, looking through unregistered vehicles and, when asked,
    /// checking the qualification of every identity on the way. The walk runs inside the
    /// IdentityRegistry in one call (bounded by its size limit); its failures become this
    /// contract's errors.
    function _units(bytes32 id, bool qualify) private view returns (uint32) {
        IdentityRegistry.LookThrough memory r = identities.lookThrough(id, maxLookThroughDepth, qualify);
        if (r.failure == IdentityRegistry.Failure.None) return r.units;
        if (r.failure == IdentityRegistry.Failure.NotQualified) {
            if (r.vehicle == bytes32(0)) revert TransfereeNotQualified(r.identity);
            revert UltimateInvestorNotQualified(r.vehicle, r.identity);
        }
        if (r.failure == IdentityRegistry.Failure.NoInvestors) revert VehicleWithoutInvestors(r.identity);
        // The registry never walks deeper than its ceiling, which fits in uint8.
        if (r.failure == IdentityRegistry.Failure.TooDeep) revert LookThroughTooDeep(r.identity, uint8(r.limit));
        revert LookThroughTooLarge(r.identity, r.limit);
    }

    function _move(
        uint256 fundId,
        address from,
        address to,
        bytes32 fromId,
        bytes32 toId,
        uint256 amount,
        uint32 units
    ) private {
        Fund storage f = _funds[fundId];
        balanceOf[fundId][from] -= amount;
        if (toId == fromId) {
            // Between accounts of one identity: the holder and its units do not change.
            balanceOf[fundId][to] += amount;
            return;
        }
        uint256 left = identityBalanceOf[fundId][fromId] - amount;
        identityBalanceOf[fundId][fromId] = left;
        if (left == 0) {
            uint32 released = holderUnitsOf[fundId][fromId];
            delete holderUnitsOf[fundId][fromId];
            f.holderUnits -= released;
            emit HolderExited(fundId, fromId, released, f.holderUnits);
        }
        _credit(fundId, f, to, toId, amount, units);
    }

    function _credit(uint256 fundId, Fund storage f, address account, bytes32 id, uint256 amount, uint32 units)
        private
    {
        if (identityBalanceOf[fundId][id] == 0) {
            holderUnitsOf[fundId][id] = units;
            f.holderUnits += units;
            emit HolderEntered(fundId, id, units, f.holderUnits);
        }
        identityBalanceOf[fundId][id] += amount;
        balanceOf[fundId][account] += amount;
    }

    function _whenNotPaused() private view {
        if (paused) revert PlatformPaused();
    }

    function _onlyManager(uint256 fundId) private view returns (Fund storage f) {
        f = _fund(fundId);
        permissions.requireRole(msg.sender, Roles.FUND_MANAGER);
        if (f.manager != msg.sender) revert NotFundManager(fundId, msg.sender);
    }

    function _pending(uint256 requestId) private view returns (TransferRequest storage r) {
        r = _request(requestId);
        if (r.status != RequestStatus.Requested) revert InvalidRequestStatus(requestId, r.status);
    }

    function _request(uint256 requestId) private view returns (TransferRequest storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) revert UnknownRequest(requestId);
    }

    function _fund(uint256 fundId) private view returns (Fund storage f) {
        f = _funds[fundId];
        if (f.manager == address(0)) revert UnknownFund(fundId);
    }

    function _identityOf(address account) private view returns (bytes32 id) {
        id = identities.identityOf(account);
        if (id == bytes32(0)) revert UnknownAccount(account);
    }
}
