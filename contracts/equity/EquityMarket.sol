// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {IdentityRegistry} from "../identity/IdentityRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {AccountLinkage} from "./AccountLinkage.sol";

/// @title EquityMarket
/// @notice A regional equity market (区域性股权市场监督管理试行办法, 2017): the company
/// register, each company's shareholder register, offerings with subscriptions (认股) and
/// allotment, and transfers between investors. Cash settles off chain through the
/// depository; this contract keeps the register.
///
/// Rules, as enforced here:
///  - a company is listed by the equity center (the market's approval) and may then
///    be delisted; a delisted company takes no subscription, allotment or transfer;
///  - holdings are kept per identity of the IdentityRegistry, not per account, and the
///    holders of a company are counted per identity against `holderCap` (200 by law);
///  - only a qualified identity subscribes or receives shares, and only through an
///    account linked at the depository (AccountLinkage); the seller of a transfer
///    need not be qualified any more (a lapsed investor may still sell), but must be linked;
///  - allocation is first come, first served: a subscription is accepted only while the
///    offering has shares left and the cap has room for the identity together with the
///    other new holders already subscribed to the same offering. Allotment then turns
///    every accepted subscription into holdings, in arrival order, after checking each
///    one again (qualification, linkage, cap); one that fails is voided, with the
///    selector of the error that voids it, and the others are allotted.
contract EquityMarket {
    enum LegalForm { JointStock, LimitedLiability }
    enum CompanyStatus { None, Listed, Delisted }
    enum OfferingStatus { None, Open, Allotted, Cancelled }

    struct Company {
        address issuer;
        LegalForm legalForm;
        CompanyStatus status;
        uint64 listedAt;
        bytes32 dataHash;
        uint256 totalShares;
    }

    struct Offering {
        bytes32 companyId;
        uint256 price;
        uint256 maxShares;
        uint256 subscribed;
        uint256 allotted;
        uint64 closesAt;
        OfferingStatus status;
        uint32 newHolders;
    }

    struct Subscription {
        address account;
        bytes32 identity;
        uint256 shares;
    }

    PermissionRegistry public immutable permissions;
    IdentityRegistry public immutable identities;
    AccountLinkage public immutable linkage;
    uint32 public immutable holderCap;

    uint256 public offeringCount;
    mapping(bytes32 => Company) private _companies;
    mapping(uint256 => Offering) private _offerings;
    mapping(uint256 => Subscription[]) private _subscriptions;
    /// @notice Shares subscribed to offering `offeringId` by identity `identity`.
    mapping(uint256 => mapping(bytes32 => uint256)) public subscribedBy;
    /// @notice Shares of company `companyId` held by identity `identity`.
    mapping(bytes32 => mapping(bytes32 => uint256)) public holdingOf;
    mapping(bytes32 => bytes32[]) private _holders;
    mapping(bytes32 => mapping(bytes32 => uint256)) private _holderSlot; // index + 1 in _holders

    event CompanyListed(
        bytes32 indexed companyId, address indexed issuer, LegalForm legalForm, bytes32 dataHash, address center
    );
    event CompanyDelisted(bytes32 indexed companyId, bytes32 reason, address center);
    event OfferingOpened(
        uint256 indexed offeringId, bytes32 indexed companyId, uint256 price, uint256 maxShares, uint64 closesAt
    );
    event OfferingCancelled(uint256 indexed offeringId, bytes32 indexed companyId, bytes32 reason, address by);
    event Subscribed(uint256 indexed offeringId, address indexed account, bytes32 indexed identity, uint256 shares);
    event SharesAllotted(
        uint256 indexed offeringId, bytes32 indexed companyId, bytes32 indexed identity, address account, uint256 shares
    );
    event SubscriptionVoided(
        uint256 indexed offeringId, bytes32 indexed identity, address account, uint256 shares, bytes4 reason
    );
    event OfferingAllotted(uint256 indexed offeringId, bytes32 indexed companyId, uint256 allotted, uint256 voided);
    event SharesTransferred(
        bytes32 indexed companyId,
        bytes32 indexed fromIdentity,
        bytes32 indexed toIdentity,
        address from,
        address to,
        uint256 shares
    );
    event HolderEntered(bytes32 indexed companyId, bytes32 indexed identity, uint256 holders);
    event HolderExited(bytes32 indexed companyId, bytes32 indexed identity, uint256 holders);

    error InvalidCompanyId();
    error CompanyExists(bytes32 companyId);
    error UnknownCompany(bytes32 companyId);
    error CompanyNotListed(bytes32 companyId);
    error NotListedCompany(address issuer);
    error NotIssuer(bytes32 companyId, address caller);
    error UnknownOffering(uint256 offeringId);
    error OfferingNotOpen(uint256 offeringId, OfferingStatus status);
    error ClosingTimePassed(uint64 closesAt, uint256 blockTime);
    error SubscriptionPeriodOver(uint256 offeringId, uint64 closesAt);
    error OfferingStillOpen(uint256 offeringId, uint64 closesAt);
    error ExceedsSharesOffered(uint256 offeringId, uint256 remaining, uint256 requested);
    error ZeroPrice();
    error ZeroAmount();
    error UnknownAccount(address account);
    error AccountNotLinked(address account);
    error NotQualified(bytes32 identity);
    error SameIdentity(bytes32 identity);
    error InsufficientShares(bytes32 identity, uint256 available, uint256 needed);
    error HolderCapExceeded(bytes32 companyId, uint256 holders, uint32 cap);

    /// @param permissions_ The business chain's PermissionRegistry.
    /// @param identities_ The IdentityRegistry: investor identities and their qualification.
    /// @param linkage_ The AccountLinkage kept by the depository.
    /// @param holderCap_ Most holders (identities) a company may have; 200 by the rules.
    constructor(
        PermissionRegistry permissions_,
        IdentityRegistry identities_,
        AccountLinkage linkage_,
        uint32 holderCap_
    ) {
        permissions = permissions_;
        identities = identities_;
        linkage = linkage_;
        holderCap = holderCap_;
    }

    // -------------------------------------------------------------- companies

    /// @notice The equity center approves and lists company `companyId`, issuing through `issuer`.
    /// @param issuer The company's account; it must hold LISTED_COMPANY.
    /// @param dataHash Hash of the company's registration file, kept off chain.
    function listCompany(bytes32 companyId, address issuer, LegalForm legalForm, bytes32 dataHash) external {
        permissions.requireRole(msg.sender, Roles.EQUITY_CENTER);
        if (companyId == bytes32(0)) revert InvalidCompanyId();
        if (_companies[companyId].status != CompanyStatus.None) revert CompanyExists(companyId);
        if (!permissions.hasRole(issuer, Roles.LISTED_COMPANY)) revert NotListedCompany(issuer);
        _companies[companyId] = Company(issuer, legalForm, CompanyStatus.Listed, uint64(block.timestamp), dataHash, 0);
        emit CompanyListed(companyId, issuer, legalForm, dataHash, msg.sender);
    }

    /// @notice The equity center delists company `companyId`; its register stays readable.
    function delistCompany(bytes32 companyId, bytes32 reason) external {
        permissions.requireRole(msg.sender, Roles.EQUITY_CENTER);
        _listed(companyId).status = CompanyStatus.Delisted;
        emit CompanyDelisted(companyId, reason, msg.sender);
    }

    /// @notice The record of company `companyId`.
    function company(bytes32 companyId) external view returns (Company memory) {
        return _company(companyId);
    }

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

    // -------------------------------------------------------------- offerings

    /// @notice The company's issuer opens an offering of up to `maxShares` at `price` yuan each,
    /// taking subscriptions until `closesAt`.
    /// @return offeringId The new offering's id.
    function openOffering(bytes32 companyId, uint256 price, uint256 maxShares, uint64 closesAt)
        external
        returns (uint256 offeringId)
    {
        permissions.requireRole(msg.sender, Roles.LISTED_COMPANY);
        Company storage c = _listed(companyId);
        if (c.issuer != msg.sender) revert NotIssuer(companyId, msg.sender);
        if (price == 0) revert ZeroPrice();
        if (maxShares == 0) revert ZeroAmount();
        if (closesAt <= block.timestamp) revert ClosingTimePassed(closesAt, block.timestamp);
        offeringId = ++offeringCount;
        _offerings[offeringId] = Offering(companyId, price, maxShares, 0, 0, closesAt, OfferingStatus.Open, 0);
        emit OfferingOpened(offeringId, companyId, price, maxShares, closesAt);
    }

    /// @notice Subscribes the caller's identity for `shares` shares, first come, first served.
    /// @dev The caller is the investor's own account, submitted by its investor agent.
    function subscribe(uint256 offeringId, uint256 shares) external {
        Offering storage o = _offering(offeringId);
        if (o.status != OfferingStatus.Open) revert OfferingNotOpen(offeringId, o.status);
        if (block.timestamp >= o.closesAt) revert SubscriptionPeriodOver(offeringId, o.closesAt);
        bytes32 companyId = o.companyId;
        _listed(companyId);
        if (shares == 0) revert ZeroAmount();
        uint256 remaining = o.maxShares - o.subscribed;
        if (remaining < shares) revert ExceedsSharesOffered(offeringId, remaining, shares);
        bytes32 id = _identityOf(msg.sender);
        if (!identities.isQualified(id)) revert NotQualified(id);
        if (!linkage.isLinked(msg.sender)) revert AccountNotLinked(msg.sender);
        if (holdingOf[companyId][id] == 0 && subscribedBy[offeringId][id] == 0) {
            uint256 wouldBe = _holders[companyId].length + o.newHolders + 1;
            if (wouldBe > holderCap) revert HolderCapExceeded(companyId, wouldBe, holderCap);
            o.newHolders++;
        }
        o.subscribed += shares;
        subscribedBy[offeringId][id] += shares;
        _subscriptions[offeringId].push(Subscription(msg.sender, id, shares));
        emit Subscribed(offeringId, msg.sender, id, shares);
    }

    /// @notice The issuer or the equity center allots a closed (or fully subscribed) offering:
    /// each accepted subscription, checked again, becomes a holding; the rest are voided.
    /// @dev Gas grows with the number of subscriptions; a large offering needs a larger gas limit.
    function allot(uint256 offeringId) external {
        Offering storage o = _offering(offeringId);
        bytes32 companyId = o.companyId;
        Company storage c = _onlyIssuerOrCenter(companyId);
        if (o.status != OfferingStatus.Open) revert OfferingNotOpen(offeringId, o.status);
        if (c.status != CompanyStatus.Listed) revert CompanyNotListed(companyId);
        if (block.timestamp < o.closesAt && o.subscribed < o.maxShares) {
            revert OfferingStillOpen(offeringId, o.closesAt);
        }
        o.status = OfferingStatus.Allotted;
        Subscription[] storage subs = _subscriptions[offeringId];
        uint256 allotted;
        uint256 voided;
        for (uint256 i = 0; i < subs.length; i++) {
            Subscription storage s = subs[i];
            bytes4 reason = _voidReason(companyId, s.account, s.identity);
            if (reason != bytes4(0)) {
                voided++;
                emit SubscriptionVoided(offeringId, s.identity, s.account, s.shares, reason);
                continue;
            }
            _credit(companyId, s.identity, s.shares);
            allotted += s.shares;
            emit SharesAllotted(offeringId, companyId, s.identity, s.account, s.shares);
        }
        o.allotted = allotted;
        c.totalShares += allotted;
        emit OfferingAllotted(offeringId, companyId, allotted, voided);
    }

    /// @notice The issuer or the equity center cancels an open offering; nothing is allotted.
    function cancelOffering(uint256 offeringId, bytes32 reason) external {
        Offering storage o = _offering(offeringId);
        _onlyIssuerOrCenter(o.companyId);
        if (o.status != OfferingStatus.Open) revert OfferingNotOpen(offeringId, o.status);
        o.status = OfferingStatus.Cancelled;
        emit OfferingCancelled(offeringId, o.companyId, reason, msg.sender);
    }

    /// @notice The record of offering `offeringId`.
    function offering(uint256 offeringId) external view returns (Offering memory) {
        return _offering(offeringId);
    }

    /// @notice The subscriptions to offering `offeringId`, in arrival order.
    function subscriptions(uint256 offeringId) external view returns (Subscription[] memory) {
        _offering(offeringId);
        return _subscriptions[offeringId];
    }

    // -------------------------------------------------------------- transfers

    /// @notice Transfers `shares` of company `companyId` from the caller's identity to the
    /// identity of `toAccount`. Both accounts must be linked and the transferee qualified.
    /// @dev The caller is the holder's own account, submitted by its investor agent.
    function transferShares(bytes32 companyId, address toAccount, uint256 shares) external {
        _listed(companyId);
        if (shares == 0) revert ZeroAmount();
        bytes32 fromId = _identityOf(msg.sender);
        bytes32 toId = _identityOf(toAccount);
        if (fromId == toId) revert SameIdentity(fromId);
        if (!linkage.isLinked(msg.sender)) revert AccountNotLinked(msg.sender);
        if (!linkage.isLinked(toAccount)) revert AccountNotLinked(toAccount);
        if (!identities.isQualified(toId)) revert NotQualified(toId);
        uint256 balance = holdingOf[companyId][fromId];
        if (balance < shares) revert InsufficientShares(fromId, balance, shares);
        uint256 holders = _holders[companyId].length;
        if (holdingOf[companyId][toId] == 0 && balance != shares && holders >= holderCap) {
            revert HolderCapExceeded(companyId, holders + 1, holderCap);
        }
        _debit(companyId, fromId, shares);
        _credit(companyId, toId, shares);
        emit SharesTransferred(companyId, fromId, toId, msg.sender, toAccount, shares);
    }

    // --------------------------------------------------------------- internal

    /// @dev Why a subscription cannot be allotted now (the error's selector), or zero.
    function _voidReason(bytes32 companyId, address account, bytes32 id) private view returns (bytes4) {
        if (!identities.isQualified(id)) return NotQualified.selector;
        if (!linkage.isLinked(account)) return AccountNotLinked.selector;
        if (holdingOf[companyId][id] == 0 && _holders[companyId].length >= holderCap) {
            return HolderCapExceeded.selector;
        }
        return bytes4(0);
    }

    function _credit(bytes32 companyId, bytes32 id, uint256 shares) private {
        if (holdingOf[companyId][id] == 0) {
            bytes32[] storage holders = _holders[companyId];
            holders.push(id);
            _holderSlot[companyId][id] = holders.length;
            emit HolderEntered(companyId, id, holders.length);
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
        emit HolderExited(companyId, id, holders.length);
    }

    /// @dev The equity center, or the company's own issuer holding LISTED_COMPANY.
    function _onlyIssuerOrCenter(bytes32 companyId) private view returns (Company storage c) {
        c = _company(companyId);
        if (permissions.hasRole(msg.sender, Roles.EQUITY_CENTER)) return c;
        permissions.requireRole(msg.sender, Roles.LISTED_COMPANY);
        if (c.issuer != msg.sender) revert NotIssuer(companyId, msg.sender);
    }

    function _listed(bytes32 companyId) private view returns (Company storage c) {
        c = _company(companyId);
        if (c.status != CompanyStatus.Listed) revert CompanyNotListed(companyId);
    }

    function _company(bytes32 companyId) private view returns (Company storage c) {
        c = _companies[companyId];
        if (c.status == CompanyStatus.None) revert UnknownCompany(companyId);
    }

    function _offering(uint256 offeringId) private view returns (Offering storage o) {
        o = _offerings[offeringId];
        if (o.status == OfferingStatus.None) revert UnknownOffering(offeringId);
    }

    function _identityOf(address account) private view returns (bytes32 id) {
        id = identities.identityOf(account);
        if (id == bytes32(0)) revert UnknownAccount(account);
    }
}
