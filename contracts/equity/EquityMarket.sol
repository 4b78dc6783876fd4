// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {ComplianceParameters} from "../compliance/ComplianceParameters.sol";
import {CompliantRegister} from "../compliance/CompliantRegister.sol";
import {ICompliance} from "../compliance/ICompliance.sol";
import {Movement, MovementKind} from "../compliance/IComplianceModule.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {EquityRegister} from "./EquityRegister.sol";

/// @title EquityMarket
/// @notice A regional equity market (区域性股权市场监督管理试行办法, 2017): the company register,
/// offerings with subscriptions (认股) and allotment, and transfers between investors. Cash settles
/// off chain through the depository; the shareholder register is the base EquityRegister.
///
/// Rules, as enforced here:
///  - a company is listed by the equity center (the market's approval) and may then
///    be delisted; a delisted company takes no subscription, allotment or transfer;
///  - the investor rules are compliance modules (contracts/compliance/), registered for this market:
///    only a qualified identity subscribes or receives shares, only through accounts linked at the
///    depository (the seller need not be qualified any more, but must be linked), and a company's
///    holders, counted per identity, stay within its holder cap (200 by law; set as the company's
///    parameter when it is listed, and carried by CompanyListed);
///  - allocation is first come, first served: a subscription is accepted only while the
///    offering has shares left and the cap has room for the identity together with the
///    other new holders already subscribed to the same offering. Allotment then turns
///    every accepted subscription into holdings, in arrival order, after checking each
///    one again; one that fails is voided, with the selector of the error that voids it,
///    and the others are allotted.
contract EquityMarket is EquityRegister {
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

    /// @notice The holder cap each company is listed with.
    uint32 public immutable holderCap;

    uint256 public offeringCount;
    mapping(bytes32 => Company) private _companies;
    mapping(uint256 => Offering) private _offerings;
    mapping(uint256 => Subscription[]) private _subscriptions;
    /// @notice Shares subscribed to offering `offeringId` by identity `identity`.
    mapping(uint256 => mapping(bytes32 => uint256)) public subscribedBy;

    event CompanyListed(
        bytes32 indexed companyId,
        address indexed issuer,
        LegalForm legalForm,
        bytes32 dataHash,
        address center,
        uint32 holderCap
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
    error SameIdentity(bytes32 identity);

    /// @param permissions_ The business chain's PermissionRegistry.
    /// @param identities_ The IdentityRegistry: investor identities and their qualification.
    /// @param compliance_ The chain's compliance, with this market's modules registered.
    /// @param holderCap_ Most holders (identities) a company may have; 200 by the rules.
    constructor(
        PermissionRegistry permissions_,
        IIdentityRegistry identities_,
        ICompliance compliance_,
        uint32 holderCap_
    ) AccessManaged(permissions_) CompliantRegister(identities_, compliance_) {
        holderCap = holderCap_;
    }

    /// @inheritdoc AccessManaged
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](9);
        t[0] = FunctionRole(this.listCompany.selector, Roles.EQUITY_CENTER);
        t[1] = FunctionRole(this.delistCompany.selector, Roles.EQUITY_CENTER);
        t[2] = FunctionRole(this.openOffering.selector, Roles.LISTED_COMPANY);
        // Signed by the investor's own account, submitted by the investor agent holding it.
        t[3] = FunctionRole(this.subscribe.selector, Roles.INVESTOR_AGENT);
        t[4] = FunctionRole(this.transferShares.selector, Roles.INVESTOR_AGENT);
        // Open to the company's issuer or the center: checked here, no role at the gateway.
        t[5] = FunctionRole(this.allot.selector, 0);
        t[6] = FunctionRole(this.cancelOffering.selector, 0);
        t[7] = FunctionRole(this.setIdentities.selector, Roles.GOVERNANCE);
        t[8] = FunctionRole(this.setCompliance.selector, Roles.GOVERNANCE);
    }

    // -------------------------------------------------------------- companies

    /// @notice The equity center approves and lists company `companyId`, issuing through `issuer`.
    /// @param issuer The company's account; it must hold LISTED_COMPANY.
    /// @param dataHash Hash of the company's registration file, kept off chain.
    function listCompany(bytes32 companyId, address issuer, LegalForm legalForm, bytes32 dataHash)
        external
        restricted
    {
        if (companyId == bytes32(0)) revert InvalidCompanyId();
        if (_companies[companyId].status != CompanyStatus.None) revert CompanyExists(companyId);
        if (!permissions.hasRole(issuer, Roles.LISTED_COMPANY)) revert NotListedCompany(issuer);
        _companies[companyId] = Company(issuer, legalForm, CompanyStatus.Listed, uint64(block.timestamp), dataHash, 0);
        compliance.setAssetParameter(uint256(companyId), ComplianceParameters.HOLDER_CAP, holderCap);
        emit CompanyListed(companyId, issuer, legalForm, dataHash, msg.sender, holderCap);
    }

    /// @notice The equity center delists company `companyId`; its register stays readable.
    function delistCompany(bytes32 companyId, bytes32 reason) external restricted {
        _listed(companyId).status = CompanyStatus.Delisted;
        emit CompanyDelisted(companyId, reason, msg.sender);
    }

    /// @notice The record of company `companyId`.
    function company(bytes32 companyId) external view returns (Company memory) {
        return _company(companyId);
    }

    // -------------------------------------------------------------- offerings

    /// @notice The company's issuer opens an offering of up to `maxShares` at `price` yuan each,
    /// taking subscriptions until `closesAt`.
    /// @return offeringId The new offering's id.
    function openOffering(bytes32 companyId, uint256 price, uint256 maxShares, uint64 closesAt)
        external
        restricted
        returns (uint256 offeringId)
    {
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
        Movement memory m = _movement(MovementKind.Issuance, companyId, address(0), msg.sender, shares);
        // The holder cap counts the other new holders this offering has accepted; an identity that
        // already subscribed to it is one of them, so it is treated as already holding.
        bytes32 id = m.toId;
        bool newHolder = m.toHolding == 0 && subscribedBy[offeringId][id] == 0;
        m.toHolding += subscribedBy[offeringId][id];
        m.reserved = o.newHolders;
        compliance.checkMovement(m);
        if (newHolder) o.newHolders++;
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
            Movement memory m = _movement(MovementKind.Issuance, companyId, address(0), s.account, s.shares);
            try compliance.recordMovement(m) {
                _apply(m);
                allotted += s.shares;
                emit SharesAllotted(offeringId, companyId, s.identity, s.account, s.shares);
            } catch (bytes memory reason) {
                voided++;
                emit SubscriptionVoided(offeringId, s.identity, s.account, s.shares, bytes4(reason));
            }
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
    /// identity of `toAccount`, within the market's compliance rules.
    /// @dev The caller is the holder's own account, submitted by its investor agent.
    function transferShares(bytes32 companyId, address toAccount, uint256 shares) external {
        _listed(companyId);
        Movement memory m = _movement(MovementKind.Transfer, companyId, msg.sender, toAccount, shares);
        if (m.fromId == m.toId) revert SameIdentity(m.fromId);
        _requireHolding(m);
        _make(m);
        emit SharesTransferred(companyId, m.fromId, m.toId, msg.sender, toAccount, shares);
    }

    // --------------------------------------------------------------- internal

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
}
