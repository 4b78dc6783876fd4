"""PermissionRegistry: governance end to end, its events, adminCount, views and every custom error;
votes re-counted at execution, proposal expiry and the proposal lifetime set by governance."""

import pytest

from conftest import DAY, MIN, T0, reverted
from ledger.errors import PilotLedgerError
from eth_hash.auto import keccak

from ledger.chain.access import FOUNDING_DEPLOY_ROLE, adopt_declared_roles, call_by_governance
from ledger.chain.roles import GovernanceAction as A, MemberStatus, Role
from scenarios.compliance import FUND_RULES

NO_ORG = b"\0" * 32
NO_ACCOUNT = b"\0" * 20
NEWCO_ROLES = Role.ADMIN | Role.KYC_AGENT
SET_PROPOSAL_LIFETIME = A.SET_PROPOSAL_LIFETIME
DEFAULT_LIFETIME, MIN_LIFETIME, MAX_LIFETIME = 120_960, 10, 10_000_000
EXPIRES_AT = 6  # index of expiresAt in the `proposal` view




def adopted(chain) -> int:
    """Proposals the chain fixture made: one AdoptDeclaredRoles per contract it deployed that declares roles,
    then one CallTarget per compliance registration (bindToken and addModule of each of the fund's rules)."""
    return (sum(1 for c in chain.consortium.contracts.values() if "declaredRoles" in c.abi.functions)
            + 1 + len(FUND_RULES))


def hx(address: bytes) -> str:
    return "0x" + address.hex()


def refused(ticket, reason: str) -> bool:
    return ticket.status == "refused" and ticket.reason == reason


def propose(chain, action, account, org=NO_ORG, roles=0, by=None) -> int:
    t = chain.send(by or chain.platform, chain.registry, "propose", action, account, org, int(roles))
    assert t.ok, (t.reason, t.detail)
    return t.event("ProposalCreated")["id"]


def passed(chain, action, account, org=NO_ORG, roles=0, voters=None, executor=None):
    """Proposes (platform), votes (default: regulator) and executes (default: custodian); returns the execute ticket."""
    pid = propose(chain, action, account, org, roles)
    for voter in voters if voters is not None else [chain.regulator]:
        assert chain.send(voter, chain.registry, "vote", pid).ok
    return chain.send(executor or chain.custodian, chain.registry, "execute", pid)


def newcomer(chain, name="NEWCO", roles=NEWCO_ROLES):
    return chain.consortium.add_node(name, "New Co", roles, founding=False)


# ------------------------------------------------------------------ views


def test_founding_members_and_views(chain):
    reg = chain.registry
    assert reg.view("adminCount") == 3
    assert reg.view("proposalCount") == adopted(chain)  # the fixture's adoptions of its contracts' role tables
    org, roles, status = reg.view("memberOf", chain.manager.address)
    assert org == chain.manager.org_id
    assert roles == Role.FUND_MANAGER | Role.VALIDATOR
    assert status == MemberStatus.ACTIVE
    assert reg.view("hasRole", chain.platform.address, Role.ADMIN | Role.KYC_AGENT)
    assert not reg.view("hasRole", chain.manager.address, Role.ADMIN)
    assert reg.view("hasRole", chain.agent.address, 0)  # role 0: any active member
    stranger = chain.consortium.client_account("stranger").address
    assert reg.view("memberOf", stranger) == (NO_ORG, 0, MemberStatus.NONE)
    assert not reg.view("hasRole", stranger, 0)


def test_require_role_view_reverts_with_custom_errors(chain):
    chain.registry.view("requireRole", chain.custodian.address, Role.CASH_ISSUER)  # does not raise
    with pytest.raises(PilotLedgerError, match="MissingRole"):
        chain.registry.view("requireRole", chain.manager.address, Role.ADMIN)
    with pytest.raises(PilotLedgerError, match="NotActiveMember"):
        chain.registry.view("requireRole", chain.consortium.client_account("x").address, 0)


# ------------------------------------------------------------- governance


def test_add_member_end_to_end_with_events(chain):
    reg, node = chain.registry, newcomer(chain)
    pid = adopted(chain) + 1
    t = chain.send(chain.platform, reg, "propose", A.ADD_MEMBER, node.address, node.org_id, int(NEWCO_ROLES))
    assert t.ok
    assert t.event("ProposalCreated") == {
        "id": pid, "action": A.ADD_MEMBER, "account": hx(node.address), "orgId": hx(node.org_id),
        "roles": NEWCO_ROLES, "proposer": hx(chain.platform.address),
    }
    assert t.event("Voted") == {"id": pid, "voter": hx(chain.platform.address), "votes": 1}
    assert t.event("ProposalExpiry") == {"id": pid, "expiresAt": t.block_number + DEFAULT_LIFETIME}
    assert reg.view("hasVoted", pid, chain.platform.address)
    assert not reg.view("hasVoted", pid, chain.regulator.address)

    t = chain.send(chain.regulator, reg, "vote", pid)
    assert t.event("Voted") == {"id": pid, "voter": hx(chain.regulator.address), "votes": 2}
    assert reg.view("memberOf", node.address)[2] == MemberStatus.NONE  # not before execution

    t = chain.send(chain.custodian, reg, "execute", pid)  # any admin may execute, voter or not
    assert t.ok
    assert [name for name, _ in t.events] == ["ProposalExecuted", "MemberAdded", "RolesChanged", "StatusChanged"]
    assert t.event("ProposalExecuted") == {"id": pid, "action": A.ADD_MEMBER, "account": hx(node.address)}
    assert t.event("MemberAdded") == {"account": hx(node.address), "orgId": hx(node.org_id), "roles": NEWCO_ROLES}
    assert t.event("RolesChanged") == {"account": hx(node.address), "roles": NEWCO_ROLES}
    assert t.event("StatusChanged") == {"account": hx(node.address), "status": MemberStatus.ACTIVE}

    assert reg.view("memberOf", node.address) == (node.org_id, NEWCO_ROLES, MemberStatus.ACTIVE)
    assert reg.view("adminCount") == 4
    action, account, org, roles, votes, executed, expires_at = reg.view("proposal", pid)
    assert (action, account.lower(), org, roles, votes, executed) == (
        A.ADD_MEMBER, hx(node.address), node.org_id, NEWCO_ROLES, 2, True)
    assert expires_at == reg.view("proposalLifetime") + t.block_number - 2  # proposed two blocks before
    assert [a.lower() for a in reg.view("votersOf", pid)] == [hx(chain.platform.address), hx(chain.regulator.address)]
    # the new member is admitted by the gateway from the next block on
    assert chain.send(node, chain.identities, "registerIdentity", b"n" * 32, b"\1" * 32, 1, 0).ok


def test_set_roles_suspend_reactivate_revoke_lifecycle(chain):
    reg, node = chain.registry, newcomer(chain)
    assert passed(chain, A.ADD_MEMBER, node.address, node.org_id, NEWCO_ROLES).ok
    assert reg.view("adminCount") == 4
    four_admins = [chain.regulator, node]  # with the proposer: 3 votes, 3 * 2 > 4

    t = passed(chain, A.SET_ROLES, node.address, roles=Role.KYC_AGENT, voters=four_admins)
    assert t.ok
    assert [name for name, _ in t.events] == ["ProposalExecuted", "RolesChanged"]
    assert t.event("RolesChanged") == {"account": hx(node.address), "roles": Role.KYC_AGENT}
    assert reg.view("memberOf", node.address) == (node.org_id, Role.KYC_AGENT, MemberStatus.ACTIVE)
    assert reg.view("adminCount") == 3

    t = passed(chain, A.SUSPEND, node.address)
    assert [name for name, _ in t.events] == ["ProposalExecuted", "StatusChanged"]
    assert t.event("StatusChanged")["status"] == MemberStatus.SUSPENDED
    assert not reg.view("hasRole", node.address, 0)

    t = passed(chain, A.REACTIVATE, node.address)
    assert t.event("StatusChanged")["status"] == MemberStatus.ACTIVE
    assert reg.view("hasRole", node.address, Role.KYC_AGENT)

    t = passed(chain, A.REVOKE, node.address)
    assert t.event("ProposalExecuted")["action"] == A.REVOKE
    assert t.event("StatusChanged")["status"] == MemberStatus.REVOKED
    assert reg.view("memberOf", node.address) == (node.org_id, Role.KYC_AGENT, MemberStatus.REVOKED)
    assert reg.view("proposalCount") == adopted(chain) + 5


def test_admin_count_follows_suspension_and_reactivation_of_an_admin(chain):
    reg = chain.registry
    assert passed(chain, A.SUSPEND, chain.regulator.address).ok
    assert reg.view("adminCount") == 2
    # two admins left: both must vote (2 * 2 > 2); the suspended regulator cannot
    t = passed(chain, A.REACTIVATE, chain.regulator.address, voters=[chain.custodian])
    assert t.ok
    assert reg.view("adminCount") == 3
    assert passed(chain, A.REVOKE, chain.custodian.address).ok
    assert reg.view("adminCount") == 2


def test_set_roles_granting_admin_raises_admin_count(chain):
    assert passed(chain, A.SET_ROLES, chain.manager.address, roles=Role.FUND_MANAGER | Role.ADMIN).ok
    assert chain.registry.view("adminCount") == 4
    assert chain.registry.view("hasRole", chain.manager.address, Role.ADMIN)
    # and the gateway picks up the new role: the manager may now propose
    assert chain.send(chain.manager, chain.registry, "propose", A.SUSPEND, chain.agent.address, NO_ORG, 0).ok


# ------------------------------------------------------------ errors


def test_no_majority(chain):
    pid = propose(chain, A.SUSPEND, chain.agent.address)
    t = chain.send(chain.platform, chain.registry, "execute", pid)
    assert reverted(t, "NoMajority")
    assert t.detail == {"id": pid, "votes": 1, "adminCount": 3}
    assert chain.registry.view("memberOf", chain.agent.address)[2] == MemberStatus.ACTIVE


def test_already_voted_including_the_proposer(chain):
    pid = propose(chain, A.SUSPEND, chain.agent.address)
    t = chain.send(chain.platform, chain.registry, "vote", pid)
    assert reverted(t, "AlreadyVoted")
    assert t.detail == {"id": pid, "voter": hx(chain.platform.address)}
    assert chain.send(chain.regulator, chain.registry, "vote", pid).ok
    assert reverted(chain.send(chain.regulator, chain.registry, "vote", pid), "AlreadyVoted")
    assert chain.registry.view("proposal", pid)[4] == 2


def test_already_executed(chain):
    pid = propose(chain, A.SUSPEND, chain.agent.address)
    chain.send(chain.regulator, chain.registry, "vote", pid)
    assert chain.send(chain.platform, chain.registry, "execute", pid).ok
    t = chain.send(chain.custodian, chain.registry, "vote", pid)
    assert reverted(t, "AlreadyExecuted") and t.detail == {"id": pid}
    assert reverted(chain.send(chain.regulator, chain.registry, "execute", pid), "AlreadyExecuted")


def test_unknown_proposal(chain):
    for pid in (0, adopted(chain) + 1, 99):
        t = chain.send(chain.regulator, chain.registry, "vote", pid)
        assert reverted(t, "UnknownProposal") and t.detail == {"id": pid}
    assert reverted(chain.send(chain.platform, chain.registry, "execute", adopted(chain) + 7), "UnknownProposal")
    with pytest.raises(PilotLedgerError, match="UnknownProposal"):
        chain.registry.view("proposal", adopted(chain) + 1)


def test_already_member_at_propose_and_at_execute(chain):
    t = chain.send(chain.platform, chain.registry, "propose", A.ADD_MEMBER, chain.agent.address, NO_ORG, 0)
    assert reverted(t, "AlreadyMember") and t.detail == {"account": hx(chain.agent.address)}
    assert chain.registry.view("proposalCount") == adopted(chain)

    node = newcomer(chain)
    first = propose(chain, A.ADD_MEMBER, node.address, node.org_id, Role.KYC_AGENT)
    second = propose(chain, A.ADD_MEMBER, node.address, node.org_id, Role.ADMIN, by=chain.regulator)
    chain.send(chain.regulator, chain.registry, "vote", first)
    chain.send(chain.platform, chain.registry, "vote", second)
    assert chain.send(chain.custodian, chain.registry, "execute", first).ok
    assert reverted(chain.send(chain.custodian, chain.registry, "execute", second), "AlreadyMember")
    assert chain.registry.view("memberOf", node.address)[1] == Role.KYC_AGENT


def test_unknown_member(chain):
    stranger = chain.consortium.client_account("stranger").address
    for action in (A.SET_ROLES, A.SUSPEND, A.REACTIVATE, A.REVOKE):
        t = chain.send(chain.platform, chain.registry, "propose", action, stranger, NO_ORG, 0)
        assert reverted(t, "UnknownMember") and t.detail == {"account": hx(stranger)}


def test_invalid_transition_reactivate_active_and_suspend_suspended(chain):
    agent = chain.agent.address
    t = chain.send(chain.platform, chain.registry, "propose", A.REACTIVATE, agent, NO_ORG, 0)
    assert reverted(t, "InvalidTransition")
    assert t.detail == {"account": hx(agent), "status": MemberStatus.ACTIVE, "action": A.REACTIVATE}
    assert passed(chain, A.SUSPEND, agent).ok
    t = chain.send(chain.platform, chain.registry, "propose", A.SUSPEND, agent, NO_ORG, 0)
    assert reverted(t, "InvalidTransition") and t.detail["status"] == MemberStatus.SUSPENDED


def test_invalid_transition_revoke_twice_and_after_revocation(chain):
    agent = chain.agent.address
    first = propose(chain, A.REVOKE, agent)
    second = propose(chain, A.REVOKE, agent, by=chain.regulator)  # both valid while the agent is active
    chain.send(chain.regulator, chain.registry, "vote", first)
    chain.send(chain.platform, chain.registry, "vote", second)
    assert chain.send(chain.custodian, chain.registry, "execute", first).ok
    t = chain.send(chain.custodian, chain.registry, "execute", second)  # checked again at execution
    assert reverted(t, "InvalidTransition")
    assert t.detail == {"account": hx(agent), "status": MemberStatus.REVOKED, "action": A.REVOKE}
    assert chain.registry.view("proposal", second)[5] is False
    for action in (A.REVOKE, A.SET_ROLES, A.SUSPEND, A.REACTIVATE):
        t = chain.send(chain.platform, chain.registry, "propose", action, agent, NO_ORG, 0)
        assert reverted(t, "InvalidTransition"), action


def test_missing_role_on_chain_then_role_missing_at_gateway(chain):
    """Roles removed on chain: a call admitted in the same block reverts on chain; from the next
    block on the gateway's membership mirror refuses it first."""
    reg = chain.registry
    drop_admin = propose(chain, A.SET_ROLES, chain.custodian.address,
                         roles=Role.CUSTODIAN | Role.CASH_ISSUER | Role.VALIDATOR)
    chain.send(chain.regulator, reg, "vote", drop_admin)
    other = propose(chain, A.SUSPEND, chain.agent.address)

    execute = chain.platform.send(reg.call("execute", drop_admin))
    late_vote = chain.custodian.send(reg.call("vote", other))
    assert late_vote.status == "pending"  # the gateway still sees the custodian as an admin
    chain.consortium.commit()
    assert execute.ok
    assert reverted(late_vote, "MissingRole")
    assert late_vote.detail == {"account": hx(chain.custodian.address), "role": Role.ADMIN}
    assert reg.view("adminCount") == 2

    t = chain.send(chain.custodian, reg, "vote", other)
    assert refused(t, "ROLE_MISSING")
    assert reg.view("proposal", other)[4] == 1


def test_role_missing_at_gateway_for_non_admin(chain):
    t = chain.send(chain.manager, chain.registry, "propose", A.SUSPEND, chain.agent.address, NO_ORG, 0)
    assert refused(t, "ROLE_MISSING")
    assert chain.registry.view("proposalCount") == adopted(chain)


def test_not_active_member_on_chain_then_member_suspended_at_gateway(chain):
    reg = chain.registry
    suspend = propose(chain, A.SUSPEND, chain.regulator.address)
    chain.send(chain.custodian, reg, "vote", suspend)
    other = propose(chain, A.SUSPEND, chain.agent.address)

    execute = chain.platform.send(reg.call("execute", suspend))
    late_vote = chain.regulator.send(reg.call("vote", other))
    chain.consortium.commit()
    assert execute.ok
    assert reverted(late_vote, "NotActiveMember")
    assert late_vote.detail == {"account": hx(chain.regulator.address)}
    assert refused(chain.send(chain.regulator, reg, "vote", other), "MEMBER_SUSPENDED")


def test_not_active_member_for_a_client_account_signer(chain):
    """The gateway checks the submitting node; the contract checks msg.sender, a non-member here."""
    client = chain.platform.hold(chain.consortium.client_account("platform-client"))
    t = chain.send(chain.platform, chain.registry, "propose", A.SUSPEND, chain.agent.address, NO_ORG, 0,
                   signer=client)
    assert reverted(t, "NotActiveMember") and t.detail == {"account": hx(client.address)}


# ------------------------------------------- votes re-counted at execution


def suspend_agent_with_two_votes(chain) -> int:
    """A proposal (suspend the agent) voted by the platform and the regulator: 2 of 3 admins."""
    pid = propose(chain, A.SUSPEND, chain.agent.address)
    assert chain.send(chain.regulator, chain.registry, "vote", pid).ok
    assert chain.registry.view("countedVotes", pid) == 2
    return pid


def test_a_revoked_voters_vote_no_longer_carries_a_proposal(chain):
    reg = chain.registry
    pid = suspend_agent_with_two_votes(chain)
    # The regulator is revoked after voting (platform and custodian: 2 of 3).
    assert passed(chain, A.REVOKE, chain.regulator.address, voters=[chain.custodian]).ok
    assert reg.view("adminCount") == 2
    # Cast: 2 votes, which 2 * 2 > 2 would have passed; counted at execution: the platform's alone.
    assert reg.view("proposal", pid)[4] == 2 and reg.view("countedVotes", pid) == 1
    t = chain.send(chain.platform, reg, "execute", pid)
    assert reverted(t, "NoMajority") and t.detail == {"id": pid, "votes": 1, "adminCount": 2}
    assert reg.view("memberOf", chain.agent.address)[2] == MemberStatus.ACTIVE
    # A vote by an active admin carries it.
    assert chain.send(chain.custodian, reg, "vote", pid).ok
    assert chain.send(chain.custodian, reg, "execute", pid).ok
    assert reg.view("memberOf", chain.agent.address)[2] == MemberStatus.SUSPENDED
    assert len(reg.view("votersOf", pid)) == 3


def test_a_suspended_voters_vote_does_not_count_until_reactivation(chain):
    reg = chain.registry
    pid = suspend_agent_with_two_votes(chain)
    assert passed(chain, A.SUSPEND, chain.regulator.address, voters=[chain.custodian]).ok
    t = chain.send(chain.platform, reg, "execute", pid)
    assert reverted(t, "NoMajority") and t.detail == {"id": pid, "votes": 1, "adminCount": 2}
    # Counted when executed, not when cast: reactivated, the regulator's vote counts again.
    assert passed(chain, A.REACTIVATE, chain.regulator.address, voters=[chain.custodian]).ok
    assert reg.view("countedVotes", pid) == 2
    assert chain.send(chain.platform, reg, "execute", pid).ok


def test_a_voter_that_lost_admin_no_longer_counts(chain):
    reg = chain.registry
    pid = suspend_agent_with_two_votes(chain)
    assert passed(chain, A.SET_ROLES, chain.regulator.address, roles=Role.REGULATOR | Role.VALIDATOR,
                  voters=[chain.custodian]).ok
    assert reg.view("memberOf", chain.regulator.address)[2] == MemberStatus.ACTIVE  # a member, not an admin
    t = chain.send(chain.custodian, reg, "execute", pid)
    assert reverted(t, "NoMajority") and t.detail == {"id": pid, "votes": 1, "adminCount": 2}


# ------------------------------------------------------ proposal lifetime


def advance_to(chain, block: int) -> None:
    """Commits blocks of one harmless transaction each until the head is `block`."""
    while chain.consortium.head.number < block:
        assert chain.send(chain.agent, chain.identities, "registerIdentity", f"filler-{block}-{chain.consortium.head.number}"
                          .encode().ljust(32, b"\0"), b"\1" * 32, 1, 0).ok


def set_lifetime(chain, blocks: int):
    return passed(chain, SET_PROPOSAL_LIFETIME, NO_ACCOUNT, roles=blocks)


def test_lifetime_is_changed_by_governance_and_applies_to_new_proposals(chain):
    reg = chain.registry
    assert reg.view("proposalLifetime") == DEFAULT_LIFETIME
    earlier = chain.send(chain.platform, reg, "propose", A.SUSPEND, chain.agent.address, NO_ORG, 0)
    t = set_lifetime(chain, 25)
    assert t.ok
    assert [name for name, _ in t.events] == ["ProposalExecuted", "ProposalLifetimeChanged"]
    assert t.event("ProposalLifetimeChanged") == {"previousLifetime": DEFAULT_LIFETIME, "lifetime": 25}
    assert reg.view("proposalLifetime") == 25
    t = chain.send(chain.platform, reg, "propose", A.SUSPEND, chain.agent.address, NO_ORG, 0)
    assert t.event("ProposalExpiry")["expiresAt"] == t.block_number + 25
    assert reg.view("proposal", t.event("ProposalCreated")["id"])[EXPIRES_AT] == t.block_number + 25
    # A proposal made before the change keeps its expiry.
    assert reg.view("proposal", earlier.event("ProposalCreated")["id"])[EXPIRES_AT] == \
        earlier.block_number + DEFAULT_LIFETIME


def test_lifetime_out_of_range_is_refused_at_propose(chain):
    for blocks in (0, MIN_LIFETIME - 1, MAX_LIFETIME + 1):
        t = chain.send(chain.platform, chain.registry, "propose", SET_PROPOSAL_LIFETIME, NO_ACCOUNT, NO_ORG, blocks)
        assert reverted(t, "LifetimeOutOfRange")
        assert t.detail == {"lifetime": blocks, "min": MIN_LIFETIME, "max": MAX_LIFETIME}
    assert chain.registry.view("proposalCount") == adopted(chain)
    assert set_lifetime(chain, MIN_LIFETIME).ok and set_lifetime(chain, MAX_LIFETIME).ok


def test_lifetime_is_only_set_through_governance(chain):
    """No setter: a lifetime proposal needs a majority like any other."""
    pid = propose(chain, SET_PROPOSAL_LIFETIME, NO_ACCOUNT, roles=MIN_LIFETIME)
    t = chain.send(chain.platform, chain.registry, "execute", pid)
    assert reverted(t, "NoMajority")
    assert chain.registry.view("proposalLifetime") == DEFAULT_LIFETIME


def test_an_expired_proposal_cannot_be_voted_or_executed(chain):
    reg = chain.registry
    assert set_lifetime(chain, MIN_LIFETIME).ok
    t = chain.send(chain.platform, reg, "propose", A.SUSPEND, chain.agent.address, NO_ORG, 0)
    pid, expires_at = t.event("ProposalCreated")["id"], t.block_number + MIN_LIFETIME
    assert reg.view("proposal", pid)[EXPIRES_AT] == expires_at
    advance_to(chain, expires_at - 2)
    vote = chain.send(chain.regulator, reg, "vote", pid)  # in block expires_at - 1: the last open block
    assert vote.ok and vote.block_number == expires_at - 1
    execute = chain.send(chain.custodian, reg, "execute", pid)  # in block expires_at: too late
    assert execute.block_number == expires_at
    assert reverted(execute, "ProposalExpired") and execute.detail == {"id": pid, "expiredAt": expires_at}
    t = chain.send(chain.custodian, reg, "vote", pid)
    assert reverted(t, "ProposalExpired") and t.detail == {"id": pid, "expiredAt": expires_at}
    assert reg.view("memberOf", chain.agent.address)[2] == MemberStatus.ACTIVE
    assert not reg.view("proposal", pid)[5]
    # The same change proposed again goes through within its lifetime.
    assert passed(chain, A.SUSPEND, chain.agent.address).ok


# ------------------------------------------------------------- the function-to-role map

DEPLOY_ENTRY = (NO_ACCOUNT, b"\0" * 4)


def selector(contract, function: str) -> bytes:
    return contract.abi.functions[function].selector


def entry_org(sel: bytes) -> bytes:
    """A SetFunctionRole proposal carries the selector left-aligned in orgId."""
    return sel.ljust(32, b"\0")


def test_the_registry_founds_its_own_entries_and_the_deploy_entry(chain):
    reg = chain.registry
    assert reg.view("FOUNDING_DEPLOY_ROLE") == FOUNDING_DEPLOY_ROLE  # the Python mirror's founding value
    assert reg.view("roleOf", *DEPLOY_ENTRY) == (Role.PLATFORM, True)
    for function in ("propose", "vote", "execute", "executeCall"):
        assert reg.view("roleOf", reg.address, selector(reg, function)) == (Role.ADMIN, True)
    # The gateway's mirror, kept from FunctionRoleSet events, holds exactly what the registry says.
    mirror = chain.consortium.membership.functions.entries()
    assert mirror[DEPLOY_ENTRY] == Role.PLATFORM
    for (target, sel), role in mirror.items():
        assert reg.view("roleOf", target, sel) == (role, True)
    # Every function of every adopted contract's declared table, and nothing else of it, is mapped.
    for contract in (chain.identities, chain.cash, chain.shares):
        table = contract.view("declaredRoles")
        assert {(bytes.fromhex(s[2:]) if isinstance(s, str) else s, r) for s, r in table} == {
            (sel, role) for (target, sel), role in mirror.items() if target == contract.address}


def test_an_unmapped_function_is_closed_to_every_caller(chain):
    """The stated default: an unmapped function is closed, for an admin too, on chain and at the gateway."""
    fresh = chain.send(chain.platform, chain.registry, "hasRole", chain.platform.address, 0)  # never mapped
    assert refused(fresh, "ROLE_MISSING") and "closed" in fresh.detail["detail"]
    reg = chain.registry
    sel = selector(reg, "hasRole")
    assert reg.view("roleOf", reg.address, sel) == (0, False)
    assert not reg.view("canCall", chain.platform.address, reg.address, sel)
    with pytest.raises(PilotLedgerError, match="FunctionClosed"):
        reg.view("requireCall", chain.platform.address, reg.address, sel)
    # A contract deployed and not yet adopted: its restricted function reverts on chain too.
    t = chain.platform.deploy("IdentityRegistry", reg.address)
    chain.consortium.commit()
    late = chain.consortium.contracts["IdentityRegistry"]
    assert t.ok and late.address != chain.identities.address
    write = chain.send(chain.agent, late, "registerIdentity", b"x" * 32, b"\1" * 32, 1, 0)
    assert refused(write, "ROLE_MISSING") and "closed" in write.detail["detail"]
    ok, output = chain.consortium.engine.call(
        late.address, late.abi.encode_call("registerIdentity", (b"x" * 32, b"\1" * 32, 1, 0)), chain.agent.address)
    assert not ok and chain.consortium.decode_error(output).name == "FunctionClosed"


def test_function_roles_are_set_only_by_governance(chain):
    reg, ids = chain.registry, chain.identities
    sel = selector(ids, "setLookThroughLimits")
    setters = [f for f in reg.abi.functions if f not in ("propose", "vote", "execute", "executeCall")
               and reg.abi.functions[f].mutating]
    assert setters == []  # no function but governance's writes the registry
    assert reg.view("roleOf", ids.address, sel) == (Role.ADMIN, True)
    t = passed(chain, A.SET_FUNCTION_ROLE, ids.address, entry_org(sel), Role.REGULATOR)
    assert t.ok, (t.reason, t.detail)
    assert t.event("FunctionRoleSet") == {"target": hx(ids.address), "selector": "0x" + sel.hex(),
                                          "role": Role.REGULATOR}
    assert reg.view("roleOf", ids.address, sel) == (Role.REGULATOR, True)
    assert reg.view("canCall", chain.regulator.address, ids.address, sel)
    assert not reg.view("canCall", chain.platform.address, ids.address, sel)
    # The gateway follows from the next block: the platform (ADMIN, not REGULATOR) is refused now.
    assert refused(chain.send(chain.platform, ids, "setLookThroughLimits", 10, 4, 60), "ROLE_MISSING")
    assert chain.send(chain.regulator, ids, "setLookThroughLimits", 10, 4, 60).ok


def test_the_registrys_own_entries_and_absent_targets_are_refused(chain):
    reg = chain.registry
    t = chain.send(chain.platform, reg, "propose", A.SET_FUNCTION_ROLE, reg.address,
                   entry_org(selector(reg, "propose")), 0)
    assert reverted(t, "RegistryFixed")
    t = chain.send(chain.platform, reg, "propose", A.ADOPT_DECLARED_ROLES, reg.address, NO_ORG, 0)
    assert reverted(t, "RegistryFixed")
    nowhere = chain.consortium.client_account("no code").address
    t = chain.send(chain.platform, reg, "propose", A.SET_FUNCTION_ROLE, nowhere, entry_org(b"\1\2\3\4"), 0)
    assert reverted(t, "NotAContract") and t.detail == {"account": hx(nowhere)}
    # address(0) is a target only with the deploy entry's selector.
    t = chain.send(chain.platform, reg, "propose", A.SET_FUNCTION_ROLE, NO_ACCOUNT, entry_org(b"\1\2\3\4"), 0)
    assert reverted(t, "NotAContract")


def test_adopting_a_contract_that_declares_no_table_fails_at_execution(chain):
    other = chain.platform.deploy("PermissionRegistry", *chain.consortium.founding_members())
    chain.consortium.commit()
    assert other.ok
    t = passed(chain, A.ADOPT_DECLARED_ROLES, other.contract_address)
    assert reverted(t, "NotManaged") and t.detail == {"target": hx(other.contract_address)}


def test_deploy_permission_comes_from_the_chain(chain):
    """Deploying is the map's deploy entry: PLATFORM at founding, changed by governance like any entry."""
    refused_deploy = chain.agent.deploy("IdentityRegistry", chain.registry.address)
    assert refused(refused_deploy, "ROLE_MISSING") and "<deploy> needs PLATFORM" in refused_deploy.detail["detail"]
    chain.consortium.commit()
    assert passed(chain, A.SET_FUNCTION_ROLE, NO_ACCOUNT, NO_ORG, Role.KYC_AGENT).ok
    assert chain.registry.view("canCall", chain.agent.address, *DEPLOY_ENTRY)
    assert not chain.registry.view("canCall", chain.custodian.address, *DEPLOY_ENTRY)
    deployed = chain.agent.deploy("IdentityRegistry", chain.registry.address)
    custodian = chain.custodian.deploy("IdentityRegistry", chain.registry.address)
    chain.consortium.commit()
    assert deployed.ok and refused(custodian, "ROLE_MISSING")


def test_a_contract_moves_to_another_registry_only_through_governance(chain):
    ids = chain.identities
    successor = chain.platform.deploy("PermissionRegistry", *chain.consortium.founding_members())
    chain.consortium.commit()
    # No member may call setPermissions itself: it is unmapped at the gateway and reverts on chain.
    assert refused(chain.send(chain.platform, ids, "setPermissions", successor.contract_address), "ROLE_MISSING")
    ok, output = chain.consortium.engine.call(
        ids.address, ids.abi.encode_call("setPermissions", (successor.contract_address,)), chain.platform.address)
    assert not ok and chain.consortium.decode_error(output).name == "OnlyPermissions"
    t = passed(chain, A.SET_CONTRACT_REGISTRY, ids.address, roles=int.from_bytes(successor.contract_address, "big"))
    assert t.ok, (t.reason, t.detail)
    assert t.event("PermissionsChanged") == {"previous": hx(chain.registry.address),
                                             "next": hx(successor.contract_address)}
    assert ids.view("permissions").lower() == hx(successor.contract_address)
    # The successor has no entry for the identity registry: its restricted functions revert on chain.
    ok, output = chain.consortium.engine.call(
        ids.address, ids.abi.encode_call("registerIdentity", (b"y" * 32, b"\1" * 32, 1, 0)), chain.agent.address)
    assert not ok and chain.consortium.decode_error(output).name == "FunctionClosed"


def test_adopting_roles_needs_a_majority_of_admins_that_can_sign(chain):
    from ledger.chain.access import adopt_declared_roles
    from ledger.errors import LedgerError

    proposals = chain.registry.view("proposalCount")
    t = chain.platform.deploy("IdentityRegistry", chain.registry.address)
    with pytest.raises(LedgerError, match="needs 2 of its 3 admins; 1 can sign here"):
        adopt_declared_roles(chain.consortium, "IdentityRegistry", admins=["PLATFORM"])
    assert t.ok  # the deployment was committed first
    assert adopt_declared_roles(chain.consortium) == [proposals + 1]  # by default: only the new one
    late = chain.consortium.contracts["IdentityRegistry"]
    assert chain.registry.view("canCall", chain.agent.address, late.address, selector(late, "registerIdentity"))


# ------------------------------------------------- governance-only calls (cross-contract references)

REFERENCE_SETTERS = [("PrivateFundShares", "setIdentities"), ("PrivateFundShares", "setCompliance"),
                     ("PrivateFundShares", "setCash"), ("SettlementCash", "setIdentities"),
                     ("ModularCompliance", "setIdentities")]


def governance_call(chain, contract, function: str, *args):
    """A CALL_TARGET proposal's fields for `function` of `contract` with `args`, and its calldata."""
    data = contract.abi.encode_call(function, args)
    return (contract.address, keccak(data), int.from_bytes(data[:4], "big")), data


def test_reference_setters_are_governance_only_at_the_gateway_and_on_chain(chain):
    """A single admin may not repoint a contract: refused at the gateway, and reverting GovernanceOnly
    on chain; the registry alone may call them."""
    successor = chain.platform.deploy("IdentityRegistry", chain.registry.address)
    chain.consortium.commit()
    for name, function in REFERENCE_SETTERS:
        target = chain.consortium.contract(name)
        sel = selector(target, function)
        assert chain.registry.view("roleOf", target.address, sel) == (Role.GOVERNANCE, True)
        assert not chain.registry.view("canCall", chain.platform.address, target.address, sel)
        assert chain.registry.view("canCall", chain.registry.address, target.address, sel)
        t = chain.send(chain.platform, target, function, successor.contract_address)
        assert refused(t, "ROLE_MISSING") and "for governance" in t.detail["detail"], (name, function)
        ok, output = chain.consortium.engine.call(
            target.address, target.abi.encode_call(function, (successor.contract_address,)), chain.platform.address)
        assert not ok and chain.consortium.decode_error(output).name == "GovernanceOnly"
    assert chain.shares.view("identities").lower() == hx(chain.identities.address)


def test_governance_repoints_a_fund_platform_to_a_new_identity_registry(chain):
    fund = chain.fund()
    _, alice = chain.investor("alice")
    successor = chain.platform.deploy("IdentityRegistry", chain.registry.address)
    assert adopt_declared_roles(chain.consortium, "IdentityRegistry")  # commits the deployment first
    new_ids = chain.consortium.contract("IdentityRegistry")
    assert new_ids.address == successor.contract_address
    before = chain.registry.view("proposalCount")
    assert call_by_governance(chain.consortium, "PrivateFundShares", "setIdentities", new_ids.address) == before + 1
    action, account, org, roles, votes, executed, _ = chain.registry.view("proposal", before + 1)
    data = chain.shares.abi.encode_call("setIdentities", (new_ids.address,))
    assert (action, account.lower(), org, roles, executed) == (
        A.CALL_TARGET, hx(chain.shares.address), keccak(data), int.from_bytes(data[:4], "big"), True)
    assert chain.shares.view("identities").lower() == hx(new_ids.address)
    # The fund now reads identities from the new registry, where alice is unknown...
    t = chain.send(chain.agent, chain.shares, "subscribe", fund, 2 * MIN, signer=alice)
    assert reverted(t, "UnknownAccount") and t.detail == {"account": hx(alice.address)}
    # ...until she is registered there.
    identity = b"alice".ljust(32, b"\0")
    assert chain.send(chain.agent, new_ids, "registerIdentity", identity, b"\x11" * 32, 1, T0 + 3650 * DAY).ok
    assert chain.send(chain.agent, new_ids, "linkAccount", alice.address, identity).ok
    assert chain.send(chain.agent, chain.shares, "subscribe", fund, 2 * MIN, signer=alice).ok


def test_a_call_proposal_is_executed_only_with_the_calldata_it_committed_to(chain):
    successor = chain.platform.deploy("IdentityRegistry", chain.registry.address)
    chain.consortium.commit()
    fields, data = governance_call(chain, chain.cash, "setIdentities", successor.contract_address)
    pid = propose(chain, A.CALL_TARGET, *fields)
    assert chain.send(chain.regulator, chain.registry, "vote", pid).ok
    other = chain.cash.abi.encode_call("setIdentities", (chain.shares.address,))
    t = chain.send(chain.custodian, chain.registry, "executeCall", pid, other)
    assert reverted(t, "CallDataMismatch") and t.detail["committed"] == hx(keccak(data))
    assert reverted(chain.send(chain.custodian, chain.registry, "execute", pid), "CallDataMismatch")
    assert chain.cash.view("identities").lower() == hx(chain.identities.address)  # nothing moved
    t = chain.send(chain.custodian, chain.registry, "executeCall", pid, data)
    assert t.ok, (t.reason, t.detail)
    assert t.event("IdentitiesChanged") == {"identities": hx(successor.contract_address)}
    assert chain.cash.view("identities").lower() == hx(successor.contract_address)
    # Other proposals take no calldata.
    pid = propose(chain, SET_PROPOSAL_LIFETIME, NO_ACCOUNT, roles=MIN_LIFETIME)
    assert chain.send(chain.regulator, chain.registry, "vote", pid).ok
    assert reverted(chain.send(chain.custodian, chain.registry, "executeCall", pid, data), "CallDataMismatch")


def test_a_call_proposal_may_name_only_a_governance_only_function(chain):
    ids = chain.identities
    fields, _ = governance_call(chain, ids, "setLookThroughLimits", 10, 4, 60)  # mapped to ADMIN
    t = chain.send(chain.platform, chain.registry, "propose", A.CALL_TARGET, *fields)
    assert reverted(t, "NotGovernanceOnly")
    fields, _ = governance_call(chain, chain.registry, "execute", 1)
    assert reverted(chain.send(chain.platform, chain.registry, "propose", A.CALL_TARGET, *fields), "RegistryFixed")


def test_the_reserved_governance_bit_cannot_be_granted(chain):
    node = newcomer(chain)
    t = chain.send(chain.platform, chain.registry, "propose", A.ADD_MEMBER, node.address, node.org_id,
                   int(NEWCO_ROLES | Role.GOVERNANCE))
    assert reverted(t, "ReservedRole")
    t = chain.send(chain.platform, chain.registry, "propose", A.SET_ROLES, chain.platform.address, NO_ORG,
                   int(Role.ADMIN | Role.GOVERNANCE))
    assert reverted(t, "ReservedRole") and t.detail == {"account": hx(chain.platform.address),
                                                        "roles": Role.ADMIN | Role.GOVERNANCE}
    founders = chain.consortium.founding_members()
    founders[2][0] |= Role.GOVERNANCE
    t = chain.platform.deploy("PermissionRegistry", *founders)
    chain.consortium.commit()
    assert reverted(t, "ReservedRole")
    assert not chain.registry.view("hasRole", chain.platform.address, Role.GOVERNANCE)


def test_call_by_governance_names_the_step_that_failed(chain):
    from ledger.errors import LedgerError

    with pytest.raises(LedgerError, match=r"calling IdentityRegistry.setLookThroughLimits: .*NotGovernanceOnly"):
        call_by_governance(chain.consortium, "IdentityRegistry", "setLookThroughLimits", 10, 4, 60)
    with pytest.raises(LedgerError, match="needs 2 of its 3 admins; 1 can sign here"):
        call_by_governance(chain.consortium, "SettlementCash", "setIdentities", chain.identities.address,
                           admins=["PLATFORM"])
