// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Roles} from "./Roles.sol";

/// @title PermissionRegistry
/// @notice Consortium membership and roles. After genesis, every change goes through
/// governance: an admin proposes, admins vote, and a strict majority of the active
/// admins lets any admin execute. Other contracts call `requireRole` before each
/// state change, so a suspended or revoked member loses its rights on chain at once.
///
/// Votes are re-checked at execution: only the votes of voters who are active admins
/// when `execute` runs are counted, so an admin revoked, suspended or stripped of ADMIN
/// after voting no longer carries a proposal. A proposal expires `proposalLifetime`
/// blocks after the block that created it; the lifetime is changed only by governance
/// (Action.SetProposalLifetime) and applies to proposals created afterwards.
contract PermissionRegistry {
    enum Status { None, Active, Suspended, Revoked }
    /// @dev SetProposalLifetime carries the new lifetime in blocks in the proposal's `roles`
    /// field; its `account` and `orgId` are unused (pass zero).
    enum Action { AddMember, SetRoles, Suspend, Reactivate, Revoke, SetProposalLifetime }

    struct Member {
        bytes32 orgId;
        uint256 roles;
        Status status;
    }

    struct Proposal {
        Action action;
        address account;
        bytes32 orgId;
        uint256 roles;
        uint32 votes; // votes cast; `execute` re-counts them (see countedVotes)
        bool executed;
        uint64 expiresAt; // the first block number at which the proposal can no longer be voted or executed
    }

    /// @notice The proposal lifetime a new registry starts with: about a week of 5-second blocks.
    uint64 public constant DEFAULT_PROPOSAL_LIFETIME = 120_960;
    /// @notice Bounds on the lifetime governance may set. The lower one keeps governance from
    /// locking itself out (every proposal expiring before its votes can land); the upper one
    /// (about 19 months of 5-second blocks) keeps stale proposals from staying open for good.
    uint64 public constant MIN_PROPOSAL_LIFETIME = 10;
    uint64 public constant MAX_PROPOSAL_LIFETIME = 10_000_000;

    mapping(address => Member) private _members;
    mapping(uint256 => Proposal) private _proposals;
    /// @notice Whether `voter` voted for proposal `id` (its vote may no longer count; see countedVotes).
    mapping(uint256 => mapping(address => bool)) public hasVoted;
    /// @dev Who voted for each proposal, so `execute` can re-count them. Each account votes once, and
    /// only while it is an active admin, so a list holds at most the accounts that were admins at some
    /// block of the proposal's bounded lifetime: the small admin committee plus the few admitted while
    /// it was open (each admission is itself a governance proposal). The re-count costs one storage read
    /// per voter.
    mapping(uint256 => address[]) private _voters;
    /// @notice Proposals made so far; ids run from 1 to proposalCount.
    uint256 public proposalCount;
    /// @notice Active members holding ADMIN now; a proposal passes with more than half of them.
    uint256 public adminCount;
    /// @notice Blocks a new proposal stays open for; changed only by governance.
    uint64 public proposalLifetime = DEFAULT_PROPOSAL_LIFETIME;

    event MemberAdded(address indexed account, bytes32 indexed orgId, uint256 roles);
    event RolesChanged(address indexed account, uint256 roles);
    event StatusChanged(address indexed account, Status status);
    event ProposalCreated(
        uint256 indexed id, Action action, address indexed account, bytes32 orgId, uint256 roles, address proposer
    );
    event Voted(uint256 indexed id, address indexed voter, uint32 votes);
    event ProposalExecuted(uint256 indexed id, Action action, address indexed account);
    /// @notice Proposal `id` can be voted and executed only in blocks before `expiresAt`.
    event ProposalExpiry(uint256 indexed id, uint64 expiresAt);
    event ProposalLifetimeChanged(uint64 previousLifetime, uint64 lifetime);

    error NotActiveMember(address account);
    error MissingRole(address account, uint256 role);
    error AlreadyMember(address account);
    error UnknownMember(address account);
    error UnknownProposal(uint256 id);
    error AlreadyVoted(uint256 id, address voter);
    error AlreadyExecuted(uint256 id);
    error NoMajority(uint256 id, uint32 votes, uint256 adminCount);
    error InvalidTransition(address account, Status status, Action action);
    error LengthMismatch();
    error ProposalExpired(uint256 id, uint64 expiredAt);
    error LifetimeOutOfRange(uint256 lifetime, uint64 min, uint64 max);

    /// @notice Creates the registry with the consortium's founding members, all active.
    constructor(address[] memory accounts, bytes32[] memory orgIds, uint256[] memory roles) {
        if (accounts.length != orgIds.length || accounts.length != roles.length) revert LengthMismatch();
        for (uint256 i = 0; i < accounts.length; i++) {
            if (_members[accounts[i]].status != Status.None) revert AlreadyMember(accounts[i]);
            _members[accounts[i]].orgId = orgIds[i];
            emit MemberAdded(accounts[i], orgIds[i], roles[i]);
            _apply(accounts[i], roles[i], Status.Active);
        }
    }

    /// @notice Reverts unless `account` is an active member holding every bit of `role`.
    function requireRole(address account, uint256 role) external view {
        _requireRole(account, role);
    }

    /// @notice True when `account` is an active member holding every bit of `role`.
    function hasRole(address account, uint256 role) external view returns (bool) {
        Member storage m = _members[account];
        return m.status == Status.Active && m.roles & role == role;
    }

    /// @notice The member record of `account` (status None when it was never a member).
    function memberOf(address account) external view returns (bytes32 orgId, uint256 roles, Status status) {
        Member storage m = _members[account];
        return (m.orgId, m.roles, m.status);
    }

    /// @notice The proposal `id`.
    function proposal(uint256 id) external view returns (Proposal memory) {
        if (id == 0 || id > proposalCount) revert UnknownProposal(id);
        return _proposals[id];
    }

    /// @notice The accounts that voted for proposal `id`, in voting order (including any no longer admins).
    function votersOf(uint256 id) external view returns (address[] memory) {
        if (id == 0 || id > proposalCount) revert UnknownProposal(id);
        return _voters[id];
    }

    /// @notice The votes for proposal `id` that `execute` would count now: those of voters who are
    /// active admins at this block.
    function countedVotes(uint256 id) external view returns (uint256) {
        if (id == 0 || id > proposalCount) revert UnknownProposal(id);
        return _countedVotes(id);
    }

    /// @notice Proposes a membership change, or a new proposal lifetime (Action.SetProposalLifetime with
    /// the lifetime in blocks as `roles`); the proposing admin's vote is counted. The proposal expires
    /// `proposalLifetime` blocks from this one.
    /// @return id The new proposal's id.
    function propose(Action action, address account, bytes32 orgId, uint256 roles) external returns (uint256 id) {
        _requireRole(msg.sender, Roles.ADMIN);
        _checkTransition(action, account, roles);
        id = ++proposalCount;
        uint64 expiresAt = uint64(block.number) + proposalLifetime;
        _proposals[id] = Proposal(action, account, orgId, roles, 0, false, expiresAt);
        emit ProposalCreated(id, action, account, orgId, roles, msg.sender);
        emit ProposalExpiry(id, expiresAt);
        _vote(id);
    }

    /// @notice Votes for proposal `id`, which must be neither executed nor expired.
    function vote(uint256 id) external {
        _requireRole(msg.sender, Roles.ADMIN);
        _openProposal(id);
        _vote(id);
    }

    /// @notice Executes proposal `id` once a strict majority of the active admins voted for it,
    /// counting only the votes of voters who are still active admins now; it must not have expired.
    function execute(uint256 id) external {
        _requireRole(msg.sender, Roles.ADMIN);
        Proposal storage p = _openProposal(id);
        uint256 counted = _countedVotes(id);
        // counted <= the voters list's length, itself bounded (see _voters), so it fits in uint32.
        if (counted * 2 <= adminCount) revert NoMajority(id, uint32(counted), adminCount);
        _checkTransition(p.action, p.account, p.roles);
        p.executed = true;
        emit ProposalExecuted(id, p.action, p.account);

        if (p.action == Action.SetProposalLifetime) {
            uint64 previous = proposalLifetime;
            proposalLifetime = uint64(p.roles); // in range: checked by _checkTransition
            emit ProposalLifetimeChanged(previous, proposalLifetime);
            return;
        }
        Member storage m = _members[p.account];
        if (p.action == Action.AddMember) {
            m.orgId = p.orgId;
            emit MemberAdded(p.account, p.orgId, p.roles);
            _apply(p.account, p.roles, Status.Active);
        } else if (p.action == Action.SetRoles) {
            _apply(p.account, p.roles, m.status);
        } else if (p.action == Action.Suspend) {
            _apply(p.account, m.roles, Status.Suspended);
        } else if (p.action == Action.Reactivate) {
            _apply(p.account, m.roles, Status.Active);
        } else {
            _apply(p.account, m.roles, Status.Revoked);
        }
    }

    function _requireRole(address account, uint256 role) private view {
        Member storage m = _members[account];
        if (m.status != Status.Active) revert NotActiveMember(account);
        if (m.roles & role != role) revert MissingRole(account, role);
    }

    function _vote(uint256 id) private {
        if (hasVoted[id][msg.sender]) revert AlreadyVoted(id, msg.sender);
        hasVoted[id][msg.sender] = true;
        _voters[id].push(msg.sender);
        uint32 votes = ++_proposals[id].votes;
        emit Voted(id, msg.sender, votes);
    }

    /// @dev Voters of `id` who are active admins now. One pass over the bounded voters list (see _voters).
    function _countedVotes(uint256 id) private view returns (uint256 counted) {
        address[] storage voters = _voters[id];
        for (uint256 i = 0; i < voters.length; i++) {
            Member storage v = _members[voters[i]];
            if (v.status == Status.Active && v.roles & Roles.ADMIN != 0) counted++;
        }
    }

    function _openProposal(uint256 id) private view returns (Proposal storage p) {
        if (id == 0 || id > proposalCount) revert UnknownProposal(id);
        p = _proposals[id];
        if (p.executed) revert AlreadyExecuted(id);
        if (block.number >= p.expiresAt) revert ProposalExpired(id, p.expiresAt);
    }

    function _checkTransition(Action action, address account, uint256 roles) private view {
        if (action == Action.SetProposalLifetime) {
            if (roles < MIN_PROPOSAL_LIFETIME || roles > MAX_PROPOSAL_LIFETIME) {
                revert LifetimeOutOfRange(roles, MIN_PROPOSAL_LIFETIME, MAX_PROPOSAL_LIFETIME);
            }
            return;
        }
        Status s = _members[account].status;
        if (action == Action.AddMember) {
            if (s != Status.None) revert AlreadyMember(account);
            return;
        }
        if (s == Status.None) revert UnknownMember(account);
        bool ok = (action == Action.SetRoles && s != Status.Revoked)
            || (action == Action.Suspend && s == Status.Active)
            || (action == Action.Reactivate && s == Status.Suspended)
            || (action == Action.Revoke && s != Status.Revoked);
        if (!ok) revert InvalidTransition(account, s, action);
    }

    /// @dev The one place a member's roles or status change, keeping adminCount exact.
    function _apply(address account, uint256 roles, Status status) private {
        Member storage m = _members[account];
        bool wasAdmin = m.status == Status.Active && m.roles & Roles.ADMIN != 0;
        bool isAdmin = status == Status.Active && roles & Roles.ADMIN != 0;
        if (wasAdmin && !isAdmin) adminCount--;
        if (!wasAdmin && isAdmin) adminCount++;
        if (m.roles != roles) {
            m.roles = roles;
            emit RolesChanged(account, roles);
        }
        if (m.status != status) {
            m.status = status;
            emit StatusChanged(account, status);
        }
    }
}
