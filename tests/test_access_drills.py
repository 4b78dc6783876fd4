"""Drills against the on-chain permissions, as a member who knows the code would try them: the gateway's
mirror must follow the chain's one registry, and every deployment is a recorded contract whatever the
call was named, so the audit checks its code."""

from __future__ import annotations

from ledger.audit.reexecute import audit_ledger
from ledger.chain.calls import Call
from ledger.chain.membership import membership_at
from ledger.chain.roles import Role


def test_the_gateway_mirrors_the_chains_first_registry_only(chain):
    """A second PermissionRegistry, founded with whatever members its deployer likes, must not rewrite the
    gateway's view of who may do what: the live view stays the one the audit replays from the first
    registry, and the chain's registry handle stays the first one."""
    c, agent = chain.consortium, chain.agent
    first = c.contract("PermissionRegistry").address
    every = int(Role.ADMIN | Role.PLATFORM | Role.REGULATOR | Role.VALIDATOR | Role.FUND_MANAGER)
    second = chain.platform.deploy("PermissionRegistry", [agent.address], [agent.org_id], [every])
    c.commit()
    assert second.ok and second.contract_address != first
    assert c.contract("PermissionRegistry").address == first
    assert c.membership.get(agent.address).roles == membership_at(c.store).get(agent.address).roles \
        == Role.INVESTOR_AGENT | Role.KYC_AGENT
    assert agent.deploy("SettlementCash", chain.registry.address, chain.identities.address).reason \
        == "ROLE_MISSING"


def test_a_deployment_is_recorded_whatever_its_call_is_named(chain):
    """Code deployed by a call named anything but a deployment is still a recorded contract, so the audit
    holds it to the artifact of the name it was recorded under (here none matches: the audit fails)."""
    c = chain.consortium
    runtime = bytes.fromhex("60006000fd")  # a contract that always reverts
    ticket = chain.platform.send(Call("SettlementCash", "notADeploy", b"", bytes.fromhex(
        "6005600c60003960056000f3") + runtime, 500_000))
    block = c.commit()
    assert ticket.ok
    created = block.outcomes[0].contract_address
    assert created in [address for address, _, _ in c.store.block_rows(block.number).contracts]
    audit = audit_ledger(c.store.path, c.name)
    assert not audit.verified
    assert any("is not the SettlementCash artifact's" in problem for problem in audit.problems)
