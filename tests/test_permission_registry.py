"""PermissionRegistry: governance end to end, its events, adminCount, views and every custom error;
votes re-counted at execution, proposal expiry and the proposal lifetime set by governance."""

import pytest

from conftest import reverted
from ledger.errors import PilotLedgerError
from ledger.chain.roles import GovernanceAction as A, MemberStatus, Role

NO_ORG = b"\0" * 32
NO_ACCOUNT = b"\0" * 20
NEWCO_ROLES = Role.ADMIN | Role.KYC_AGENT
SET_PROPOSAL_LIFETIME = A.SET_PROPOSAL_LIFETIME
DEFAULT_LIFETIME, MIN_LIFETIME, MAX_LIFETIME = 120_960, 10, 10_000_000
EXPIRES_AT = 6  # index of expiresAt in the `proposal` view


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
    assert reg.view("proposalCount") == 0
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
    t = chain.send(chain.platform, reg, "propose", A.ADD_MEMBER, node.address, node.org_id, int(NEWCO_ROLES))
    assert t.ok
    assert t.event("ProposalCreated") == {
        "id": 1, "action": A.ADD_MEMBER, "account": hx(node.address), "orgId": hx(node.org_id),
        "roles": NEWCO_ROLES, "proposer": hx(chain.platform.address),
    }
    assert t.event("Voted") == {"id": 1, "voter": hx(chain.platform.address), "votes": 1}
    assert t.event("ProposalExpiry") == {"id": 1, "expiresAt": t.block_number + DEFAULT_LIFETIME}
    assert reg.view("hasVoted", 1, chain.platform.address)
    assert not reg.view("hasVoted", 1, chain.regulator.address)

    t = chain.send(chain.regulator, reg, "vote", 1)
    assert t.event("Voted") == {"id": 1, "voter": hx(chain.regulator.address), "votes": 2}
    assert reg.view("memberOf", node.address)[2] == MemberStatus.NONE  # not before execution

    t = chain.send(chain.custodian, reg, "execute", 1)  # any admin may execute, voter or not
    assert t.ok
    assert [name for name, _ in t.events] == ["ProposalExecuted", "MemberAdded", "RolesChanged", "StatusChanged"]
    assert t.event("ProposalExecuted") == {"id": 1, "action": A.ADD_MEMBER, "account": hx(node.address)}
    assert t.event("MemberAdded") == {"account": hx(node.address), "orgId": hx(node.org_id), "roles": NEWCO_ROLES}
    assert t.event("RolesChanged") == {"account": hx(node.address), "roles": NEWCO_ROLES}
    assert t.event("StatusChanged") == {"account": hx(node.address), "status": MemberStatus.ACTIVE}

    assert reg.view("memberOf", node.address) == (node.org_id, NEWCO_ROLES, MemberStatus.ACTIVE)
    assert reg.view("adminCount") == 4
    action, account, org, roles, votes, executed, expires_at = reg.view("proposal", 1)
    assert (action, account.lower(), org, roles, votes, executed) == (
        A.ADD_MEMBER, hx(node.address), node.org_id, NEWCO_ROLES, 2, True)
    assert expires_at == reg.view("proposalLifetime") + t.block_number - 2  # proposed two blocks before
    assert [a.lower() for a in reg.view("votersOf", 1)] == [hx(chain.platform.address), hx(chain.regulator.address)]
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
    assert reg.view("proposalCount") == 5


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
    for pid in (0, 1, 99):
        t = chain.send(chain.regulator, chain.registry, "vote", pid)
        assert reverted(t, "UnknownProposal") and t.detail == {"id": pid}
    assert reverted(chain.send(chain.platform, chain.registry, "execute", 7), "UnknownProposal")
    with pytest.raises(PilotLedgerError, match="UnknownProposal"):
        chain.registry.view("proposal", 1)


def test_already_member_at_propose_and_at_execute(chain):
    t = chain.send(chain.platform, chain.registry, "propose", A.ADD_MEMBER, chain.agent.address, NO_ORG, 0)
    assert reverted(t, "AlreadyMember") and t.detail == {"account": hx(chain.agent.address)}
    assert chain.registry.view("proposalCount") == 0

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
    assert chain.registry.view("proposalCount") == 0


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
        assert chain.send(chain.manager, chain.registry, "hasRole", chain.manager.address, 0).ok


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
    assert chain.registry.view("proposalCount") == 0
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
