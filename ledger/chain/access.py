"""Who may submit which call: the registry's function-to-role map, mirrored, and the one rule that reads it.

PermissionRegistry maps (target contract, selector) to the role mask a caller needs, set only by
governance; each entry set emits FunctionRoleSet. `FunctionRoles` mirrors the map from those events
(Membership keeps one beside the members, so every replay of membership at a height has the map at
that height too). `may_submit` is the one answer to "may this node submit this call": the gateway
refuses with its reason before execution, and the audit re-asks it of every sealed transaction.

An unmapped function is closed: nobody may submit it until governance maps it. A deployment is
the map's deploy entry. A function mapped to the reserved GOVERNANCE bit (every cross-contract
reference setter) is governance-only: no node may submit it; the registry calls it when the admins
execute a passed CALL_TARGET proposal. `adopt_declared_roles` runs the governance that maps a newly
deployed contract's own declared role table; `call_by_governance` runs a governance-only call and
`calls_by_governance` several side by side in one round."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from eth_hash.auto import keccak

from ledger.chain.roles import GovernanceAction, MemberStatus, Role
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.chain.membership import Membership

REGISTRY = "PermissionRegistry"
DEPLOY = "<deploy>"  # the function name a deployment is submitted and recorded under
DEPLOY_TARGET = bytes(20)  # PermissionRegistry.DEPLOY_TARGET: with DEPLOY_SELECTOR, the deploy entry
DEPLOY_SELECTOR = bytes(4)
# PermissionRegistry.FOUNDING_DEPLOY_ROLE: who may deploy before the chain's registry exists (its own
# deployment) and until governance changes the deploy entry. tests/test_permission_registry.py holds
# the two equal.
FOUNDING_DEPLOY_ROLE = Role.PLATFORM

# Refusal reasons this rule gives (the gateway adds its certificate checks before them).
NOT_MEMBER = "NOT_MEMBER"
MEMBER_SUSPENDED = "MEMBER_SUSPENDED"
MEMBER_REVOKED = "MEMBER_REVOKED"
ROLE_MISSING = "ROLE_MISSING"
SIGNER_NOT_HELD = "SIGNER_NOT_HELD"

_STATUS_REASON = {
    MemberStatus.NONE: NOT_MEMBER,
    MemberStatus.SUSPENDED: MEMBER_SUSPENDED,
    MemberStatus.REVOKED: MEMBER_REVOKED,
}


@dataclass(frozen=True)
class Admission:
    reason: str | None
    detail: str = ""

    @property
    def admitted(self) -> bool:
        return self.reason is None


ADMITTED = Admission(None)


def entry_of(to: bytes | None, data: bytes) -> tuple[bytes, bytes]:
    """The map entry a transaction is checked against: (target, selector) from its recipient and data,
    or the deploy entry for a deployment (no recipient)."""
    if not to:
        return DEPLOY_TARGET, DEPLOY_SELECTOR
    return bytes(to), bytes(data[:4])


class FunctionRoles:
    """The registry's function-to-role map: the founding deploy entry, then every FunctionRoleSet."""

    def __init__(self) -> None:
        self._roles: dict[tuple[bytes, bytes], Role] = {(DEPLOY_TARGET, DEPLOY_SELECTOR): FOUNDING_DEPLOY_ROLE}

    def role_of(self, target: bytes, selector: bytes) -> Role | None:
        """The role mask mapped to (target, selector); None when unmapped, that is closed."""
        return self._roles.get((target, selector))

    def entries(self) -> dict[tuple[bytes, bytes], Role]:
        return dict(self._roles)

    def maps(self, target: bytes) -> bool:
        """Whether any function of `target` is mapped."""
        return any(t == target for t, _ in self._roles)

    def set(self, args: dict) -> None:
        """Applies one FunctionRoleSet event's decoded arguments."""
        key = (bytes.fromhex(args["target"][2:]), bytes.fromhex(args["selector"][2:]))
        self._roles[key] = Role(args["role"])


def may_submit(membership: "Membership", node: str, address: bytes | None, call: str, to: bytes | None,
               data: bytes, signer: bytes) -> Admission:
    """Whether node `node` (its member account `address`, None if it has none) may submit a transaction
    to `to` (empty: a deployment) with `data`, signed by `signer`, under `membership` and its function
    map: the node is an active member, holds the role mapped to the call's entry in full (an unmapped
    one is closed), and signs with its own key or one that is no other member's. `call` names the call
    for people ("Contract.function"). Whether the node holds a client's key is for the gateway to add."""
    record = membership.get(address) if address is not None else None
    status = record.status if record else MemberStatus.NONE
    if status != MemberStatus.ACTIVE:
        return Admission(_STATUS_REASON[status], f"{node} is {status.name.lower()}")
    needed = membership.functions.role_of(*entry_of(to, data))
    if needed is None:
        return Admission(ROLE_MISSING, f"{call} is closed: no role is mapped to it")
    if needed & Role.GOVERNANCE:
        return Admission(ROLE_MISSING, f"{call} is for governance: only the registry, executing a passed "
                                       "proposal, may call it")
    if record.roles & needed != needed:
        return Admission(ROLE_MISSING, f"{call} needs {'|'.join(Role.names(needed))}")
    if signer != address and membership.get(signer) is not None:
        return Admission(SIGNER_NOT_HELD, f"{node} signed with another member's key (0x{signer.hex()})")
    return ADMITTED


def adopt_declared_roles(consortium, *contracts: str, admins: Iterable[str] | None = None) -> list[int]:
    """Maps the role tables `contracts` (deployed names; by default every deployed contract that declares
    one and has nothing mapped yet, in deployment order) declare about themselves, by governance: one
    AdoptDeclaredRoles proposal per contract, run as `govern` runs it. The deployments are committed
    first: governance can only name a deployed contract, and the registry's own entries are in force from
    the block after it. `admins`: the admin nodes to use, by name (see `_quorum`). Returns the proposal
    ids; raises LedgerError when a step fails, naming it."""
    if consortium.pending:
        consortium.commit()
    contracts = contracts or tuple(
        name for name, c in consortium.contracts.items()
        if "declaredRoles" in c.abi.functions and not consortium.membership.functions.maps(c.address))
    if not contracts:
        return []
    proposals = [((GovernanceAction.ADOPT_DECLARED_ROLES, consortium.contract(name).address, bytes(32), 0),
                  f"adopt roles of {name}", b"") for name in contracts]
    doing = "adopting roles"
    return govern(consortium, proposals, *_quorum(consortium, admins, doing), doing)


def call_by_governance(consortium, contract: str, function: str, *args: Any,
                       admins: Iterable[str] | None = None) -> int:
    """Calls governance-only `function` of deployed contract `contract` with `args` (a cross-contract
    reference setter, say) by governance, as `calls_by_governance` runs one call. Returns the proposal
    id; raises LedgerError when a step fails (the call's own revert included), naming it."""
    return calls_by_governance(consortium, [(contract, function, args)], admins=admins)[0]


def calls_by_governance(consortium, calls: Iterable[tuple[str, str, Sequence[Any]]],
                        admins: Iterable[str] | None = None, executions: list | None = None) -> list[int]:
    """Makes `calls` ((deployed contract name, governance-only function, arguments)) by governance, side
    by side in one round: a CALL_TARGET proposal each, committing to the target, the selector and
    keccak256 of the calldata, voted and executed (`executeCall`, supplying the calldata) as `govern` runs
    them, in the order given; the registry then makes each call. `admins`: the admin nodes to use, by
    name (see `_quorum`); `executions`, when given, gets the executeCall tickets (what a caller shows).
    Returns the proposal ids; raises LedgerError when a step fails (a call's own revert included),
    naming it."""
    if consortium.pending:
        consortium.commit()
    proposals = []
    for contract, function, args in calls:
        target = consortium.contract(contract)
        data = target.abi.encode_call(function, tuple(args))
        proposals.append(((GovernanceAction.CALL_TARGET, target.address, keccak(data),
                           int.from_bytes(data[:4], "big")), f"{contract}.{function} by governance", data))
    if not proposals:
        return []
    doing = "calling " + ", ".join(dict.fromkeys(label.removesuffix(" by governance") for _, label, _ in proposals))
    return govern(consortium, proposals, *_quorum(consortium, admins, doing), doing, executions)


def govern(consortium, proposals: list[tuple[tuple, str | None, bytes]], proposer, voters, doing: str,
           executions: list | None = None) -> list[int]:
    """Runs `proposals` ((propose arguments, label, calldata for executeCall or b"" for execute)) side by
    side: `proposer` proposes each, every node of `voters` votes, `proposer` executes; each step a
    transaction through the nodes and the gateway, committed in its own block. Returns the proposal ids
    (and appends the execution tickets to `executions` when given); raises LedgerError naming the step
    (`doing`: what for, as a user reads it) when one fails."""
    registry = consortium.contract(REGISTRY)
    tickets = [proposer.send(registry.call("propose", int(action), account, org, roles), label=label)
               for (action, account, org, roles), label, _ in proposals]
    consortium.commit()
    ids = [_event(ticket, "ProposalCreated", doing)["id"] for ticket in tickets]
    if voters:
        votes = [voter.send(registry.call("vote", i)) for i in ids for voter in voters]
        consortium.commit()
        for ticket in votes:
            _event(ticket, "Voted", doing)
    executed = [proposer.send(registry.call("executeCall", i, data) if data else registry.call("execute", i))
                for i, (_, _, data) in zip(ids, proposals)]
    consortium.commit()
    if executions is not None:
        executions.extend(executed)
    for ticket in executed:
        _event(ticket, "ProposalExecuted", doing)
    return ids


def _quorum(consortium, admins: Iterable[str] | None, doing: str) -> tuple:
    """(proposer, voters): the first of `admins` (node names; by default every node that is an active
    ADMIN member and whose key is here, in name order) and the next ones up to a strict majority of the
    active admins."""
    nodes = [consortium.nodes[n] for n in admins] if admins is not None else sorted(
        (n for n in consortium.nodes.values() if _active_admin(consortium.membership, n.address)
         and getattr(n.account, "private_key", None)), key=lambda n: n.name)
    admin_count = sum(_active_admin(consortium.membership, a) for a, _ in consortium.membership.members())
    needed = admin_count // 2 + 1
    if len(nodes) < needed:
        raise LedgerError(f"{doing} on {consortium.name} needs {needed} of its {admin_count} admins; "
                          f"{len(nodes)} can sign here")
    return nodes[0], nodes[1:needed]


def _active_admin(membership: "Membership", address: bytes) -> bool:
    record = membership.get(address)
    return bool(record and record.status == MemberStatus.ACTIVE and record.roles & Role.ADMIN)


def _event(ticket, name: str, doing: str) -> dict:
    if not ticket.ok:
        raise LedgerError(f"{doing}: {ticket.node}'s {ticket.function} was {ticket.status} "
                          f"({ticket.reason} {ticket.detail})")
    return ticket.event(name)
