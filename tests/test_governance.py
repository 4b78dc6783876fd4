"""Membership governance through the admin nodes (scenarios.governance) on a real chain: each decision
is proposed, voted and executed as transactions, the registry applies it, and the gateway follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import T0, DAY
from ledger.chain.roles import MemberStatus
from scenarios.api import IdentityKind, Role, ScenarioContext, ScenarioError, identity_of
from scenarios.governance import Governance


@pytest.fixture
def world(tmp_path: Path):
    ctx = ScenarioContext(5, {}, tmp_path / "run")
    (tmp_path / "run").mkdir()
    chain = ctx.open_chain("gov_chain", 31340, T0, "Governance Test CA")
    ops = chain.add_node("OPS", "Operator", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR)
    reg = chain.add_node("REG", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
    bank = chain.add_node("BANK", "Custodian", Role.ADMIN | Role.CUSTODIAN | Role.VALIDATOR)
    late = chain.add_node("LATE", "Latecomer agent", Role.KYC_AGENT, founding=False)
    registry = ctx.deploy(ops, "PermissionRegistry", *chain.founding_members())
    identities = ctx.deploy(ops, "IdentityRegistry", registry.address)
    ctx.adopt_roles(chain)
    yield ctx, chain, registry, identities, Governance(ctx, ops, (reg, bank)), late
    ctx.close()
    chain.store.close()


def register(identities, node, label: str):
    return node.send(identities.registerIdentity(identity_of(5, label), bytes(32), IdentityKind.PERSON, T0 + DAY))


def test_admit_suspend_reactivate_revoke(world):
    ctx, chain, registry, identities, governance, late = world
    ctx.expect_revert(register(identities, late, "a"), "NOT_MEMBER")
    chain.commit()
    height = chain.head.number
    first = governance.admit(late)
    assert chain.head.number == height + 3  # propose, vote, execute: a block each
    assert registry.memberOf(late.address).status == MemberStatus.ACTIVE
    assert registry.memberOf(late.address).roles == Role.KYC_AGENT
    ctx.expect_ok(register(identities, late, "b"))
    chain.commit()

    assert governance.suspend(late) == first + 1
    ctx.expect_revert(register(identities, late, "c"), "MEMBER_SUSPENDED")
    chain.commit()
    governance.reactivate(late)
    ctx.expect_ok(register(identities, late, "c"))
    chain.commit()

    governance.revoke(late)
    assert registry.memberOf(late.address).status == MemberStatus.REVOKED
    ctx.expect_revert(register(identities, late, "d"), "CERT_REVOKED")
    chain.commit()
    assert ctx.expected_refusals == 3


def test_set_roles_and_a_decision_the_registry_refuses(world):
    ctx, chain, registry, identities, governance, late = world
    governance.admit(late)
    governance.set_roles(late, Role.KYC_AGENT | Role.INVESTOR_AGENT)
    assert registry.memberOf(late.address).roles == Role.KYC_AGENT | Role.INVESTOR_AGENT
    # Admitting a member twice: the proposal is refused, and the run stops naming the call.
    with pytest.raises(ScenarioError, match=r"add_member LATE: OPS.s propose was reverted \(AlreadyMember"):
        governance.admit(late)
