// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAccessManaged} from "./IAccessManaged.sol";
import {Roles} from "./Roles.sol";

/// @title PermissionRegistry
/// @notice Consortium membership and roles. After genesis, every change goes through
/// governance: an admin proposes, admins vote, and a strict majority of the active
/// admins lets any admin execute. Other contracts ask `requireCall` (AccessManaged's
/// `restricted`) before each state change, so a suspended or revoked member loses its
/// rights on chain at once.
///
/// Votes are re-checked at execution: only the votes of voters who are active admins
/// when `execute` runs are counted, so an admin revoked, suspended or stripped of ADMIN
/// after voting no longer carries a proposal. A proposal expires `proposalLifetime`
/// blocks after the block that created it; the lifetime is changed only by governance
/// (Action.SetProposalLifetime) and applies to proposals created afterwards.
///
/// The registry also holds the consortium's function-to-role map (OpenZeppelin's AccessManager, in
/// shape): (target contract, function selector) -> the role mask a caller needs. Only governance sets
/// it, and every entry set emits FunctionRoleSet, so the gateway and the audit mirror it from sealed
/// logs. What an entry means:
/// - for a function its contract marks `restricted` (AccessManaged), the role the signer must hold,
///   checked on chain (requireCall) and, against the submitting node, at the gateway;
/// - for a function a client account signs (an investor's, held by a member node), the role the
///   submitting node must hold at the gateway; the contract checks the signer's identity itself;
/// - role 0: any active member may submit it; the contract's own check names who may call (a receipt's
///   holder) or lets anyone (markExpired).
/// An unmapped function is closed: no one may call it. (AccessManager lets its admin call an unmapped
/// function; here no single member is the admin, governance is a majority of them, so nobody may.)
/// Deploying is mapped too, as the entry (DEPLOY_TARGET, DEPLOY_SELECTOR): the role a node needs to
/// deploy any contract. A deployment never calls the registry, so the gateway and the audit enforce it.
/// It starts as FOUNDING_DEPLOY_ROLE, the role a chain's first deployment, the registry's own, was
/// admitted with before any map existed; governance may change it. The registry's own propose, vote and
/// execute are mapped to ADMIN at construction and cannot be remapped: a majority counts admins.
///
/// Governance-only functions. An entry whose role has the reserved bit Roles.GOVERNANCE (which no member
/// may ever be given: AddMember and SetRoles refuse it) is callable by the registry alone, executing a
/// passed CallTarget proposal (OpenZeppelin AccessManager's `execute`, in shape): the proposal commits to
/// the target, the selector and keccak256 of the calldata; `executeCall` supplies the calldata, checked
/// against the commitment, and the registry makes the call. Every cross-contract reference setter is
/// mapped so, so no single admin can repoint a market at another contract; the gateway refuses a node's
/// direct submission of one, and on chain it reverts GovernanceOnly.
contract PermissionRegistry {
    enum Status { None, Active, Suspended, Revoked }
    /// @dev SetProposalLifetime carries the new lifetime in blocks in the proposal's `roles` field; its
    /// `account` and `orgId` are unused (pass zero). The function-map actions carry the target contract
    /// in `account`: SetFunctionRole the selector left-aligned in `orgId` (bytes32(bytes4)) and the role
    /// mask in `roles`; AdoptDeclaredRoles nothing else (the target's declaredRoles() gives the entries);
    /// SetContractRegistry the target's new registry in `roles` (uint256(uint160(address))); CallTarget
    /// keccak256 of the calldata in `orgId` and its selector in `roles` (uint256(uint32(bytes4))), the
    /// selector being a governance-only entry of the target.
    enum Action {
        AddMember, SetRoles, Suspend, Reactivate, Revoke, SetProposalLifetime,
        SetFunctionRole, AdoptDeclaredRoles, SetContractRegistry, CallTarget
    }

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
    /// @notice The map entry that says who may deploy a contract: (DEPLOY_TARGET, DEPLOY_SELECTOR).
    address public constant DEPLOY_TARGET = address(0);
    bytes4 public constant DEPLOY_SELECTOR = 0x00000000;
    /// @notice The deploy entry a new registry starts with (see the contract's notice).
    uint256 public constant FOUNDING_DEPLOY_ROLE = Roles.PLATFORM;

    struct FunctionEntry {
        uint256 role;
        bool mapped; // unmapped functions are closed
    }

    mapping(address => Member) private _members;
    mapping(uint256 => Proposal) private _proposals;
    mapping(address => mapping(bytes4 => FunctionEntry)) private _functions;
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
    /// @notice Function `selector` of `target` is now callable by holders of every bit of `role` (see
    /// the contract's notice for what that means for each kind of function).
    event FunctionRoleSet(address indexed target, bytes4 indexed selector, uint256 role);

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
    error FunctionClosed(address target, bytes4 selector);
    error NotAContract(address account);
    error RegistryFixed(address target);
    error NotManaged(address target);
    error GovernanceOnly(address target, bytes4 selector);
    error ReservedRole(address account, uint256 roles);
    error NotGovernanceOnly(address target, bytes4 selector);
    error CallDataMismatch(uint256 id, bytes32 committed, bytes32 supplied);

    /// @notice Creates the registry with the consortium's founding members, all active.
    constructor(address[] memory accounts, bytes32[] memory orgIds, uint256[] memory roles) {
        if (accounts.length != orgIds.length || accounts.length != roles.length) revert LengthMismatch();
        for (uint256 i = 0; i < accounts.length; i++) {
            if (_members[accounts[i]].status != Status.None) revert AlreadyMember(accounts[i]);
            if (roles[i] & Roles.GOVERNANCE != 0) revert ReservedRole(accounts[i], roles[i]);
            _members[accounts[i]].orgId = orgIds[i];
            emit MemberAdded(accounts[i], orgIds[i], roles[i]);
            _apply(accounts[i], roles[i], Status.Active);
        }
        _setFunctionRole(DEPLOY_TARGET, DEPLOY_SELECTOR, FOUNDING_DEPLOY_ROLE);
        _setFunctionRole(address(this), this.propose.selector, Roles.ADMIN);
        _setFunctionRole(address(this), this.vote.selector, Roles.ADMIN);
        _setFunctionRole(address(this), this.execute.selector, Roles.ADMIN);
        _setFunctionRole(address(this), this.executeCall.selector, Roles.ADMIN);
    }

    /// @notice The role mask mapped to function `selector` of `target`, and whether it is mapped at all
    /// (an unmapped function is closed to every caller).
    function roleOf(address target, bytes4 selector) external view returns (uint256 role, bool mapped) {
        FunctionEntry storage f = _functions[target][selector];
        return (f.role, f.mapped);
    }

    /// @notice True when `caller` is an active member and function `selector` of `target` is mapped to
    /// a role it holds in full. (DEPLOY_TARGET, DEPLOY_SELECTOR): whether `caller` may deploy. A
    /// governance-only function: whether `caller` is this registry.
    function canCall(address caller, address target, bytes4 selector) external view returns (bool) {
        FunctionEntry storage f = _functions[target][selector];
        if (f.mapped && f.role & Roles.GOVERNANCE != 0) return caller == address(this);
        Member storage m = _members[caller];
        return f.mapped && m.status == Status.Active && m.roles & f.role == f.role;
    }

    /// @notice Reverts unless `caller` may call function `selector` of `target`: FunctionClosed when it is
    /// unmapped, GovernanceOnly when it is governance-only and `caller` is not this registry (executing a
    /// passed CallTarget proposal), else as requireRole with its mapped role. AccessManaged's `restricted`
    /// calls it.
    function requireCall(address caller, address target, bytes4 selector) external view {
        FunctionEntry storage f = _functions[target][selector];
        if (!f.mapped) revert FunctionClosed(target, selector);
        if (f.role & Roles.GOVERNANCE != 0) {
            if (caller != address(this)) revert GovernanceOnly(target, selector);
            return;
        }
        _requireRole(caller, f.role);
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

    /// @notice Proposes a membership change, a new proposal lifetime or a change to the function map
    /// (see Action for what each carries in which field); the proposing admin's vote is counted. The
    /// proposal expires `proposalLifetime` blocks from this one.
    /// @return id The new proposal's id.
    function propose(Action action, address account, bytes32 orgId, uint256 roles) external returns (uint256 id) {
        _requireRole(msg.sender, Roles.ADMIN);
        _checkTransition(action, account, orgId, roles);
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
    /// A CallTarget proposal is executed by `executeCall` instead, which supplies its calldata.
    function execute(uint256 id) external {
        _execute(id, "");
    }

    /// @notice Executes CallTarget proposal `id` as `execute` does, calling its target with `data`, which
    /// must hash to the proposal's commitment (CallDataMismatch otherwise); a revert of the call reverts
    /// the execution with the target's error. Any other proposal takes no calldata.
    function executeCall(uint256 id, bytes calldata data) external {
        _execute(id, data);
    }

    function _execute(uint256 id, bytes memory data) private {
        _requireRole(msg.sender, Roles.ADMIN);
        Proposal storage p = _openProposal(id);
        uint256 counted = _countedVotes(id);
        // counted <= the voters list's length, itself bounded (see _voters), so it fits in uint32.
        if (counted * 2 <= adminCount) revert NoMajority(id, uint32(counted), adminCount);
        _checkTransition(p.action, p.account, p.orgId, p.roles);
        bytes32 supplied = data.length == 0 ? bytes32(0) : keccak256(data);
        bytes32 committed = p.action == Action.CallTarget ? p.orgId : bytes32(0);
        if (supplied != committed) revert CallDataMismatch(id, committed, supplied);
        p.executed = true;
        emit ProposalExecuted(id, p.action, p.account);

        if (p.action == Action.CallTarget) {
            // The commitment fixes the selector too: the hashed calldata starts with the proposed one.
            if (bytes4(data) != bytes4(uint32(p.roles))) revert CallDataMismatch(id, committed, supplied);
            (bool ok, bytes memory returned) = p.account.call(data);
            if (!ok) {
                assembly {
                    revert(add(returned, 32), mload(returned))
                }
            }
            return;
        }

        if (p.action == Action.SetProposalLifetime) {
            uint64 previous = proposalLifetime;
            proposalLifetime = uint64(p.roles); // in range: checked by _checkTransition
            emit ProposalLifetimeChanged(previous, proposalLifetime);
            return;
        }
        if (p.action == Action.SetFunctionRole) {
            _setFunctionRole(p.account, bytes4(p.orgId), p.roles);
            return;
        }
        if (p.action == Action.AdoptDeclaredRoles) {
            IAccessManaged.FunctionRole[] memory table = _declaredRoles(p.account);
            for (uint256 i = 0; i < table.length; i++) {
                _setFunctionRole(p.account, table[i].selector, table[i].role);
            }
            return;
        }
        if (p.action == Action.SetContractRegistry) {
            IAccessManaged(p.account).setPermissions(address(uint160(p.roles)));
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

    function _checkTransition(Action action, address account, bytes32 orgId, uint256 roles) private view {
        if (action == Action.SetProposalLifetime) {
            if (roles < MIN_PROPOSAL_LIFETIME || roles > MAX_PROPOSAL_LIFETIME) {
                revert LifetimeOutOfRange(roles, MIN_PROPOSAL_LIFETIME, MAX_PROPOSAL_LIFETIME);
            }
            return;
        }
        if (action == Action.CallTarget) {
            _checkTarget(action, account, bytes4(0));
            bytes4 selector = bytes4(uint32(roles));
            if (roles > type(uint32).max || _functions[account][selector].role & Roles.GOVERNANCE == 0) {
                revert NotGovernanceOnly(account, selector);
            }
            return;
        }
        if (action == Action.SetFunctionRole || action == Action.AdoptDeclaredRoles
            || action == Action.SetContractRegistry) {
            _checkTarget(action, account, bytes4(orgId));
            if (action == Action.SetContractRegistry && address(uint160(roles)).code.length == 0) {
                revert NotAContract(address(uint160(roles)));
            }
            return;
        }
        if ((action == Action.AddMember || action == Action.SetRoles) && roles & Roles.GOVERNANCE != 0) {
            revert ReservedRole(account, roles);
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

    /// @dev A map change may not touch the registry's own functions, and (but for the deploy entry) must
    /// name a deployed contract.
    function _checkTarget(Action action, address target, bytes4 selector) private view {
        if (target == address(this)) revert RegistryFixed(target);
        if (action == Action.SetFunctionRole && target == DEPLOY_TARGET && selector == DEPLOY_SELECTOR) return;
        if (target.code.length == 0) revert NotAContract(target);
    }

    /// @dev The table `target` declares about itself; NotManaged when it declares none.
    function _declaredRoles(address target) private view returns (IAccessManaged.FunctionRole[] memory) {
        try IAccessManaged(target).declaredRoles() returns (IAccessManaged.FunctionRole[] memory table) {
            return table;
        } catch {
            revert NotManaged(target);
        }
    }

    function _setFunctionRole(address target, bytes4 selector, uint256 role) private {
        _functions[target][selector] = FunctionEntry(role, true);
        emit FunctionRoleSet(target, selector, role);
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
