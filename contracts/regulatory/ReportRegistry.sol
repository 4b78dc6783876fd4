// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";

/// @title ReportRegistry
/// @notice The regulatory chain's (监管链) record of the business chains (业务链) it supervises,
/// in the CSRC two-layer design for regional equity markets. The regulator registers each
/// business chain under a bytes32 id with the account that reports for it; that reporter
/// (a member holding PLATFORM or EQUITY_CENTER on the regulatory chain) then anchors
/// checkpoints of the business chain, at strictly increasing heights, and files periodic
/// reports. An audit compares a business chain's blocks with its anchors to show that its
/// history was not rewritten.
contract ReportRegistry is AccessManaged {
    enum ReportKind { UserRegistration, AssetRegistration, TransferSummary, SettlementSummary }

    struct BusinessChain {
        address reporter;
        uint64 registeredAt;
    }

    struct Anchor {
        uint64 blockNumber;
        uint64 anchoredAt;
        bytes32 blockHash;
        bytes32 stateRoot;
        bytes32 eventDigest;
    }

    struct Report {
        ReportKind kind;
        uint64 periodEnd;
        uint64 reportedAt;
        uint256 count;
        bytes32 digest;
        string uri;
    }

    mapping(bytes32 => BusinessChain) private _chains;
    mapping(bytes32 => Anchor[]) private _anchors;
    mapping(bytes32 => Report[]) private _reports;
    mapping(bytes32 => uint64[4]) private _lastPeriodEnd; // by ReportKind

    event ChainRegistered(bytes32 indexed chainId, address indexed reporter, address regulator);
    event ReporterChanged(
        bytes32 indexed chainId, address indexed previous, address indexed reporter, address regulator
    );
    event Anchored(
        bytes32 indexed chainId,
        uint256 indexed index,
        uint64 blockNumber,
        bytes32 blockHash,
        bytes32 stateRoot,
        bytes32 eventDigest,
        address reporter
    );
    event Reported(
        bytes32 indexed chainId,
        uint256 indexed index,
        ReportKind indexed kind,
        uint64 periodEnd,
        uint256 count,
        bytes32 digest,
        string uri
    );

    error InvalidChainId();
    error ChainExists(bytes32 chainId);
    error UnknownChain(bytes32 chainId);
    error NotReporterMember(address reporter);
    error NotReporter(bytes32 chainId, address caller);
    error EmptyBlockHash(bytes32 chainId, uint64 blockNumber);
    error AnchorNotAfterLatest(bytes32 chainId, uint64 blockNumber, uint64 latest);
    error NoAnchors(bytes32 chainId);
    error AnchorIndexOutOfRange(bytes32 chainId, uint256 index, uint256 count);
    error NoAnchorAt(bytes32 chainId, uint64 blockNumber);
    error PeriodNotEnded(uint64 periodEnd, uint256 blockTime);
    error PeriodNotAfterLatest(bytes32 chainId, ReportKind kind, uint64 periodEnd, uint64 latest);
    error ReportIndexOutOfRange(bytes32 chainId, uint256 index, uint256 count);

    /// @param permissions_ The regulatory chain's own PermissionRegistry.
    constructor(PermissionRegistry permissions_) AccessManaged(permissions_) {}

    /// @notice The role table this contract asks governance to adopt (see AccessManaged).
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](4);
        t[0] = FunctionRole(this.registerChain.selector, Roles.REGULATOR);
        t[1] = FunctionRole(this.setReporter.selector, Roles.REGULATOR);
        // Any member may submit these; the contract lets only the chain's registered reporter through.
        t[2] = FunctionRole(this.anchor.selector, 0);
        t[3] = FunctionRole(this.report.selector, 0);
    }

    // ----------------------------------------------------------------- chains

    /// @notice The regulator registers business chain `chainId`, reported for by `reporter`,
    /// a regulatory-chain member holding PLATFORM or EQUITY_CENTER.
    function registerChain(bytes32 chainId, address reporter) external restricted {
        if (chainId == bytes32(0)) revert InvalidChainId();
        if (_chains[chainId].reporter != address(0)) revert ChainExists(chainId);
        _checkReporterMember(reporter);
        _chains[chainId] = BusinessChain(reporter, uint64(block.timestamp));
        emit ChainRegistered(chainId, reporter, msg.sender);
    }

    /// @notice The regulator hands reporting for `chainId` to another account (key rotation).
    function setReporter(bytes32 chainId, address reporter) external restricted {
        BusinessChain storage c = _chain(chainId);
        _checkReporterMember(reporter);
        address previous = c.reporter;
        c.reporter = reporter;
        emit ReporterChanged(chainId, previous, reporter, msg.sender);
    }

    /// @notice The registration of business chain `chainId`.
    function chain(bytes32 chainId) external view returns (BusinessChain memory) {
        return _chain(chainId);
    }

    // ---------------------------------------------------------------- anchors

    /// @notice The chain's reporter anchors its block `blockNumber`: block hash, state root and
    /// the digest of the block's events. Heights strictly increase per chain.
    /// @return index The anchor's index in the chain's anchor list.
    function anchor(bytes32 chainId, uint64 blockNumber, bytes32 blockHash, bytes32 stateRoot, bytes32 eventDigest)
        external
        returns (uint256 index)
    {
        _onlyReporter(chainId);
        if (blockHash == bytes32(0)) revert EmptyBlockHash(chainId, blockNumber);
        Anchor[] storage anchors = _anchors[chainId];
        index = anchors.length;
        if (index != 0) {
            uint64 latest = anchors[index - 1].blockNumber;
            if (blockNumber <= latest) revert AnchorNotAfterLatest(chainId, blockNumber, latest);
        }
        anchors.push(Anchor(blockNumber, uint64(block.timestamp), blockHash, stateRoot, eventDigest));
        emit Anchored(chainId, index, blockNumber, blockHash, stateRoot, eventDigest, msg.sender);
    }

    /// @notice How many anchors business chain `chainId` has.
    function anchorCount(bytes32 chainId) external view returns (uint256) {
        return _anchors[chainId].length;
    }

    /// @notice The anchor at position `index` (0 = first) of business chain `chainId`.
    function anchorAt(bytes32 chainId, uint256 index) external view returns (Anchor memory) {
        Anchor[] storage anchors = _anchors[chainId];
        if (index >= anchors.length) revert AnchorIndexOutOfRange(chainId, index, anchors.length);
        return anchors[index];
    }

    /// @notice The highest anchor of business chain `chainId`.
    function latestAnchor(bytes32 chainId) external view returns (Anchor memory) {
        Anchor[] storage anchors = _anchors[chainId];
        if (anchors.length == 0) revert NoAnchors(chainId);
        return anchors[anchors.length - 1];
    }

    /// @notice The anchor of block `blockNumber` of business chain `chainId` (binary search).
    function anchorFor(bytes32 chainId, uint64 blockNumber) external view returns (Anchor memory) {
        Anchor[] storage anchors = _anchors[chainId];
        uint256 low = 0;
        uint256 high = anchors.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (anchors[mid].blockNumber < blockNumber) low = mid + 1;
            else high = mid;
        }
        if (low == anchors.length || anchors[low].blockNumber != blockNumber) revert NoAnchorAt(chainId, blockNumber);
        return anchors[low];
    }

    // ---------------------------------------------------------------- reports

    /// @notice The chain's reporter files a report for the period ending `periodEnd`: `count`
    /// records (users, assets, transfers or settlements) summarised by `digest`, full text at
    /// `uri`. Per kind, periods strictly increase and must have ended.
    /// @return index The report's index in the chain's report list.
    function report(
        bytes32 chainId,
        ReportKind kind,
        uint64 periodEnd,
        uint256 count,
        bytes32 digest,
        string calldata uri
    ) external returns (uint256 index) {
        _onlyReporter(chainId);
        if (periodEnd > block.timestamp) revert PeriodNotEnded(periodEnd, block.timestamp);
        uint64 latest = _lastPeriodEnd[chainId][uint256(kind)];
        if (periodEnd <= latest) revert PeriodNotAfterLatest(chainId, kind, periodEnd, latest);
        _lastPeriodEnd[chainId][uint256(kind)] = periodEnd;
        Report[] storage reports = _reports[chainId];
        index = reports.length;
        reports.push(Report(kind, periodEnd, uint64(block.timestamp), count, digest, uri));
        emit Reported(chainId, index, kind, periodEnd, count, digest, uri);
    }

    /// @notice How many reports business chain `chainId` has filed.
    function reportCount(bytes32 chainId) external view returns (uint256) {
        return _reports[chainId].length;
    }

    /// @notice The report at position `index` (0 = first) of business chain `chainId`.
    function reportAt(bytes32 chainId, uint256 index) external view returns (Report memory) {
        Report[] storage reports = _reports[chainId];
        if (index >= reports.length) revert ReportIndexOutOfRange(chainId, index, reports.length);
        return reports[index];
    }

    /// @notice The end of the latest period reported by `chainId` for `kind` (0: none yet).
    function lastPeriodEnd(bytes32 chainId, ReportKind kind) external view returns (uint64) {
        return _lastPeriodEnd[chainId][uint256(kind)];
    }

    // --------------------------------------------------------------- internal

    /// @dev Only the chain's registered reporter, while it holds EQUITY_CENTER or PLATFORM.
    function _onlyReporter(bytes32 chainId) private view {
        BusinessChain storage c = _chain(chainId);
        if (c.reporter != msg.sender) revert NotReporter(chainId, msg.sender);
        if (!permissions.hasRole(msg.sender, Roles.EQUITY_CENTER)) permissions.requireRole(msg.sender, Roles.PLATFORM);
    }

    function _checkReporterMember(address reporter) private view {
        if (!permissions.hasRole(reporter, Roles.EQUITY_CENTER) && !permissions.hasRole(reporter, Roles.PLATFORM)) {
            revert NotReporterMember(reporter);
        }
    }

    function _chain(bytes32 chainId) private view returns (BusinessChain storage c) {
        c = _chains[chainId];
        if (c.reporter == address(0)) revert UnknownChain(chainId);
    }
}
