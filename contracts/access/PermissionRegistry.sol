// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Roles} from "./Roles.sol";

/// @title PermissionRegistry
/// @notice Consortium membership and roles. After genesis, every change goes through
/// governance: an admin proposes, admins vote, and a strict majority of the active
/// admins lets any admin execute. Other contracts call `requireRole` before each
/// state change, so a suspended or revoked member loses its rights on chain at once.
contract PermissionRegistry {
    enum Status { None, Active, Suspended, Revoked }
    enum Action { AddMember, SetRoles, Suspend, Reactivate, Revoke }

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
        uint32 votes;
        bool executed;
    }

    mapping(address => Member) private _members;
    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => mapping(address => bool)) public hasVoted;
    uint256 public proposalCount;
    uint256 public adminCount;

    event MemberAdded(address indexed account, bytes32 indexed orgId, uint256 roles);
    event RolesChanged(address indexed account, uint256 roles);
    event StatusChanged(address indexed account, Status status);
    event ProposalCreated(
        uint256 indexed id, Action action, address indexed account, bytes32 orgId, uint256 roles, address proposer
    );
    event Voted(uint256 indexed id, address indexed voter, uint32 votes);
    event ProposalExecuted(uint256 indexed id, Action action, address indexed account);

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

    /// @notice Proposes a membership change; the proposing admin's vote is counted.
    /// @return id The new proposal's id.
    function propose(Action action, address account, bytes32 orgId, uint256 roles) external returns (uint256 id) {
        _requireRole(msg.sender, Roles.ADMIN);
        _checkTransition(action, account);
        id = ++proposalCount;
        _proposals[id] = Proposal(action, account, orgId, roles, 0, false);
        emit ProposalCreated(id, action, account, orgId, roles, msg.sender);
        _vote(id);
    }

    /// @notice Votes for proposal `id`.
    function vote(uint256 id) external {
        _requireRole(msg.sender, Roles.ADMIN);
        _openProposal(id);
        _vote(id);
    }

    /// @notice Executes proposal `id` once a strict majority of active admins voted for it.
    function execute(uint256 id) external {
        _requireRole(msg.sender, Roles.ADMIN);
        Proposal storage p = _openProposal(id);
        if (uint256(p.votes) * 2 <= adminCount) revert NoMajority(id, p.votes, adminCount);
        _checkTransition(p.action, p.account);
        p.executed = true;
        emit ProposalExecuted(id, p.action, p.account);

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
        uint32 votes = ++_proposals[id].votes;
        emit Voted(id, msg.sender, votes);
    }

    function _openProposal(uint256 id) private view returns (Proposal storage p) {
        if (id == 0 || id > proposalCount) revert UnknownProposal(id);
        p = _proposals[id];
        if (p.executed) revert AlreadyExecuted(id);
    }

    function _checkTransition(Action action, address account) private view {
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
