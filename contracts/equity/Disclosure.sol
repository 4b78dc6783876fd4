// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {EquityMarket} from "./EquityMarket.sol";

/// @title Disclosure
/// @notice Information disclosure (信息披露) of the companies listed on an EquityMarket, in
/// the manner of ERC-1643: each company's documents by name, with a URI, a content hash,
/// a kind (annual, semi-annual, ad hoc) and the time filed. Filing again under a name
/// replaces the current version but keeps every earlier one on chain.
///
/// Periodic obligations. The equity center sets, per company, the next annual and the
/// next semi-annual deadline (0: none tracked). The first filing under a new name of an
/// annual or semi-annual report meets the current deadline of its kind: it records whether
/// it came on time (at or before the deadline) and moves the deadline `reportingPeriod`
/// later. Replacements (corrections), including a refiling after removal, do not count
/// again. A deadline passed without a filing is overdue; anyone may call `checkOverdue`,
/// which emits DisclosureOverdue once per missed deadline. A company that is no longer
/// listed has no obligations.
contract Disclosure is AccessManaged {
    enum Kind { Annual, SemiAnnual, AdHoc }

    struct Document {
        string uri;
        bytes32 contentHash;
        Kind kind;
        uint64 filedAt;
        address filer;
    }

    /// @notice The market whose company register says who files; changed only by governance.
    EquityMarket public market;
    uint64 public immutable reportingPeriod;

    mapping(bytes32 => mapping(bytes32 => Document[])) private _versions;
    mapping(bytes32 => bytes32[]) private _names;
    mapping(bytes32 => mapping(bytes32 => uint256)) private _nameSlot; // index + 1 in _names
    mapping(bytes32 => uint64[2]) private _due; // by Kind.Annual, Kind.SemiAnnual
    mapping(bytes32 => uint64[2]) private _flagged; // the deadline last reported overdue

    event ScheduleSet(bytes32 indexed companyId, uint64 annualDue, uint64 semiAnnualDue, address center);
    event DocumentUpdated(
        bytes32 indexed companyId,
        bytes32 indexed name,
        Kind kind,
        string uri,
        bytes32 oldHash,
        bytes32 newHash,
        uint256 version
    );
    event DocumentRemoved(bytes32 indexed companyId, bytes32 indexed name, string uri, bytes32 contentHash);
    event PeriodicReportFiled(
        bytes32 indexed companyId, bytes32 indexed name, Kind kind, uint64 due, bool onTime, uint64 nextDue
    );
    event DisclosureOverdue(bytes32 indexed companyId, Kind kind, uint64 due, uint64 checkedAt);
    event MarketChanged(address indexed market);

    error CompanyNotListed(bytes32 companyId);
    error NotIssuer(bytes32 companyId, address caller);
    error EmptyDocumentName();
    error EmptyDocumentUri(bytes32 name);
    error EmptyContentHash(bytes32 name);
    error KindChanged(bytes32 companyId, bytes32 name, Kind filedKind);
    error DocumentNotFound(bytes32 companyId, bytes32 name);

    /// @param permissions_ The business chain's PermissionRegistry.
    /// @param market_ The EquityMarket whose company register says who files for a company.
    /// @param reportingPeriod_ How far a periodic deadline moves once met (a year: 365 days).
    constructor(PermissionRegistry permissions_, EquityMarket market_, uint64 reportingPeriod_)
        AccessManaged(permissions_)
    {
        market = market_;
        reportingPeriod = reportingPeriod_;
        emit MarketChanged(address(market_));
    }

    /// @notice The role table this contract asks governance to adopt (see AccessManaged).
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](5);
        t[0] = FunctionRole(this.setSchedule.selector, Roles.EQUITY_CENTER);
        t[1] = FunctionRole(this.setDocument.selector, Roles.LISTED_COMPANY);
        t[2] = FunctionRole(this.removeDocument.selector, Roles.LISTED_COMPANY);
        t[3] = FunctionRole(this.checkOverdue.selector, 0); // anyone's check: any member may submit it
        t[4] = FunctionRole(this.setMarket.selector, Roles.GOVERNANCE);
    }

    /// @notice Reads companies from another market; governance-only (see Roles.GOVERNANCE).
    function setMarket(EquityMarket next) external restricted {
        market = next;
        emit MarketChanged(address(next));
    }

    // --------------------------------------------------------------- schedule

    /// @notice The equity center sets the next annual and semi-annual deadlines of a listed
    /// company (unix times; 0 stops tracking that kind).
    function setSchedule(bytes32 companyId, uint64 annualDue, uint64 semiAnnualDue) external restricted {
        _requireListed(companyId);
        _due[companyId] = [annualDue, semiAnnualDue];
        emit ScheduleSet(companyId, annualDue, semiAnnualDue, msg.sender);
    }

    /// @notice The current annual and semi-annual deadlines of company `companyId` (0: none).
    function schedule(bytes32 companyId) external view returns (uint64 annualDue, uint64 semiAnnualDue) {
        uint64[2] storage due = _due[companyId];
        return (due[0], due[1]);
    }

    /// @notice The periodic obligations of company `companyId` overdue at the current block time.
    function overdueObligations(bytes32 companyId) public view returns (Kind[] memory kinds, uint64[] memory dues) {
        uint256 count;
        Kind[2] memory found;
        uint64[2] memory when;
        if (market.company(companyId).status == EquityMarket.CompanyStatus.Listed) {
            for (uint256 k = 0; k < 2; k++) {
                uint64 due = _due[companyId][k];
                if (due != 0 && due < block.timestamp) {
                    (found[count], when[count]) = (Kind(k), due);
                    count++;
                }
            }
        }
        kinds = new Kind[](count);
        dues = new uint64[](count);
        for (uint256 i = 0; i < count; i++) {
            (kinds[i], dues[i]) = (found[i], when[i]);
        }
    }

    /// @notice Emits DisclosureOverdue for each overdue obligation of company `companyId` not
    /// reported before; anyone (typically the regulator) may call it.
    /// @return flagged How many obligations were newly reported overdue.
    function checkOverdue(bytes32 companyId) external returns (uint256 flagged) {
        (Kind[] memory kinds, uint64[] memory dues) = overdueObligations(companyId);
        for (uint256 i = 0; i < kinds.length; i++) {
            uint256 k = uint256(kinds[i]);
            if (_flagged[companyId][k] == dues[i]) continue;
            _flagged[companyId][k] = dues[i];
            flagged++;
            emit DisclosureOverdue(companyId, kinds[i], dues[i], uint64(block.timestamp));
        }
    }

    // -------------------------------------------------------------- documents

    /// @notice The company's issuer files or replaces document `name` (ERC-1643 setDocument).
    /// @param kind Annual or semi-annual reports meet the deadline of their kind on first filing.
    function setDocument(bytes32 companyId, bytes32 name, string calldata uri, bytes32 contentHash, Kind kind)
        external
        restricted
    {
        _onlyIssuer(companyId);
        if (name == bytes32(0)) revert EmptyDocumentName();
        if (bytes(uri).length == 0) revert EmptyDocumentUri(name);
        if (contentHash == bytes32(0)) revert EmptyContentHash(name);
        Document[] storage versions = _versions[companyId][name];
        bytes32 oldHash;
        if (versions.length != 0) {
            Document storage last = versions[versions.length - 1];
            if (last.kind != kind) revert KindChanged(companyId, name, last.kind);
            oldHash = last.contentHash;
        } else if (kind != Kind.AdHoc) {
            _meetDeadline(companyId, name, kind);
        }
        versions.push(Document(uri, contentHash, kind, uint64(block.timestamp), msg.sender));
        if (_nameSlot[companyId][name] == 0) {
            _names[companyId].push(name);
            _nameSlot[companyId][name] = _names[companyId].length;
        }
        emit DocumentUpdated(companyId, name, kind, uri, oldHash, contentHash, versions.length);
    }

    /// @notice The company's issuer withdraws document `name` (ERC-1643 removeDocument); its
    /// versions stay in the history.
    function removeDocument(bytes32 companyId, bytes32 name) external restricted {
        _onlyIssuer(companyId);
        uint256 slot = _nameSlot[companyId][name];
        if (slot == 0) revert DocumentNotFound(companyId, name);
        bytes32[] storage names = _names[companyId];
        bytes32 moved = names[names.length - 1];
        names[slot - 1] = moved;
        _nameSlot[companyId][moved] = slot;
        names.pop();
        delete _nameSlot[companyId][name];
        Document[] storage versions = _versions[companyId][name];
        Document storage last = versions[versions.length - 1];
        emit DocumentRemoved(companyId, name, last.uri, last.contentHash);
    }

    /// @notice The current version of document `name` (ERC-1643 getDocument, plus its kind).
    function getDocument(bytes32 companyId, bytes32 name)
        external
        view
        returns (string memory uri, bytes32 contentHash, uint256 filedAt, Kind kind)
    {
        if (_nameSlot[companyId][name] == 0) revert DocumentNotFound(companyId, name);
        Document[] storage versions = _versions[companyId][name];
        Document storage d = versions[versions.length - 1];
        return (d.uri, d.contentHash, d.filedAt, d.kind);
    }

    /// @notice The names of the company's current documents (ERC-1643 getAllDocuments).
    function getAllDocuments(bytes32 companyId) external view returns (bytes32[] memory) {
        return _names[companyId];
    }

    /// @notice Every version ever filed under `name`, oldest first, removed ones included.
    function documentHistory(bytes32 companyId, bytes32 name) external view returns (Document[] memory) {
        return _versions[companyId][name];
    }

    // --------------------------------------------------------------- internal

    function _meetDeadline(bytes32 companyId, bytes32 name, Kind kind) private {
        uint64[2] storage due = _due[companyId];
        uint64 current = due[uint256(kind)];
        if (current == 0) return;
        uint64 next = current + reportingPeriod;
        due[uint256(kind)] = next;
        emit PeriodicReportFiled(companyId, name, kind, current, block.timestamp <= current, next);
    }

    /// @dev The caller's LISTED_COMPANY role is checked by `restricted`; this is the business check.
    function _onlyIssuer(bytes32 companyId) private view {
        EquityMarket.Company memory c = _requireListed(companyId);
        if (c.issuer != msg.sender) revert NotIssuer(companyId, msg.sender);
    }

    function _requireListed(bytes32 companyId) private view returns (EquityMarket.Company memory c) {
        c = market.company(companyId);
        if (c.status != EquityMarket.CompanyStatus.Listed) revert CompanyNotListed(companyId);
    }
}
