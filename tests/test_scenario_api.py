"""The scenario API on a real chain: contract handles, expectations, the plant schedule, KYC and what-ifs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import T0, DAY
from scenarios.api import IdentityKind, Role, ScenarioContext, ScenarioError, Schedule, identity_of

YEAR = 365 * DAY


def build_world(run_dir: Path):
    ctx = ScenarioContext(5, {}, run_dir)
    run_dir.mkdir()
    chain = ctx.open_chain("api_chain", 31339, T0, "API Test CA")
    ops = chain.add_node("OPS", "Operator", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR)
    reg = chain.add_node("REG", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
    agent = chain.add_node("AGENT", "KYC agent", Role.KYC_AGENT | Role.INVESTOR_AGENT)
    registry = ctx.deploy(ops, "PermissionRegistry", *chain.founding_members())
    identities = ctx.deploy(ops, "IdentityRegistry", registry.address)
    ctx.adopt_roles(chain)
    return ctx, chain, ops, reg, agent, identities


@pytest.fixture
def world(tmp_path: Path):
    built = build_world(tmp_path / "run")
    yield built
    built[0].close()
    built[1].store.close()


def test_functions_are_attributes_checked_against_the_abi(world):
    ctx, chain, ops, reg, agent, identities = world
    call = identities.linkAccount(b"\1" * 20, b"\2" * 32)
    assert call == identities.contract.call("linkAccount", b"\1" * 20, b"\2" * 32)
    with pytest.raises(ScenarioError, match=r"no function 'linkAcount'; did you mean linkAccount\?"):
        identities.linkAcount
    with pytest.raises(ScenarioError, match=r"linkAccount\(address account, bytes32 id\) takes 2 argument"):
        identities.linkAccount(b"\1" * 20)
    walk = identities.lookThrough(identity_of(5, "nobody"), 4, False)  # a view: read at once, a named record
    assert type(walk).__name__ == "LookThrough" and walk.units == 1 and walk.failure == 0
    assert identities.maxLookThroughDepth() == 4  # a single value stays a value


def test_expectations_are_settled_when_the_block_commits(world):
    ctx, chain, ops, reg, agent, identities = world
    desk = ctx.kyc(chain, identities, reg)
    alice = identity_of(5, "alice")
    seen = []
    ticket = desk.register(agent, "alice", alice, IdentityKind.PERSON, {"name": "Alice"}, T0 + YEAR)
    ctx.expect_ok(ticket, then=lambda t: seen.append(("registered", t.block_number)))
    assert seen == []  # nothing happens before the block commits
    chain.commit()
    assert seen == [("registered", chain.head.number)]
    # An expected refusal passes and is counted; the wrong reason stops the run, naming both.
    ctx.expect_revert(agent.send(identities.registerIdentity(alice, bytes(32), IdentityKind.PERSON, 0)),
                      "IdentityExists")
    chain.commit()
    assert ctx.expected_refusals == 1
    ctx.expect_revert(agent.send(identities.registerIdentity(identity_of(5, "bob"), bytes(32), IdentityKind.PERSON,
                                                             0)), "IdentityExists")
    with pytest.raises(ScenarioError, match="should have been refused with IdentityExists, but was committed"):
        chain.commit()
    # Ordinary business refused: the run stops with the reason.
    ctx.expect_ok(ops.send(identities.registerIdentity(identity_of(5, "carol"), bytes(32), IdentityKind.PERSON, 0)))
    with pytest.raises(ScenarioError, match="an ordinary IdentityRegistry.registerIdentity by OPS was refused: "
                                            "ROLE_MISSING"):
        chain.commit()


def test_schedule_retries_and_tells_stories():
    plan, log = Schedule("test plan"), []
    tries = iter([False, False, True])

    def stubborn():
        log.append(("stubborn", step))
        return next(tries)

    def story():
        log.append(("story begins", step))
        yield
        while step < 4:
            yield
        log.append(("story ends", step))

    plan.at(1, stubborn)
    plan.at(1, story)
    plan.at(2, lambda: log.append(("plain", step)))
    for step in range(6):
        plan.run(step)
    assert log == [("stubborn", 1), ("story begins", 1), ("plain", 2), ("stubborn", 2), ("stubborn", 3),
                   ("story ends", 4)]
    assert not plan.pending
    plan.at(9, stubborn)
    assert "stubborn" in str(plan.give_up("never ran"))


def test_what_if_forgets_whole_blocks(world, tmp_path):
    ctx, chain, ops, reg, agent, identities = world
    desk = ctx.kyc(chain, identities, reg)
    desk.register(agent, "alice", identity_of(5, "alice"), IdentityKind.PERSON, {"name": "Alice"}, T0 + YEAR)
    chain.commit()
    head, blocks, time = chain.head, chain.store.block_count(), chain.time
    steps = []
    ctx._progress = lambda done, _transactions: steps.append(done)
    with ctx.what_if(chain):
        desk.register(agent, "bob", identity_of(5, "bob"), IdentityKind.VEHICLE, {"name": "Bob LP"}, T0 + YEAR)
        ctx.plant_for_regulator("whatever", "tried, then forgotten")
        chain.commit()
        chain.advance(DAY)
        ctx.expect_revert(agent.send(identities.registerIdentity(identity_of(5, "alice"), bytes(32), 1, 0)),
                          "IdentityExists")
        chain.commit()
        assert chain.store.block_count() == blocks + 2
        assert identities.lookThrough(identity_of(5, "bob"), 4, False).failure == 2  # NoInvestors: bob exists
    assert (chain.head, chain.store.block_count(), chain.time) == (head, blocks, time)
    assert ctx.planted == [] and ctx.expected_refusals == 0 and steps == []
    assert identities.lookThrough(identity_of(5, "bob"), 4, False).failure == 0  # bob is unknown again
    # The chain goes on from the snapshot as if nothing had been tried: same nonces, same refusal chain.
    desk.register(agent, "bob", identity_of(5, "bob"), IdentityKind.PERSON, {"name": "Bob"}, T0 + YEAR)
    block = chain.commit()
    assert block.number == head.number + 1 and chain.store.block_count() == blocks + 1
    assert all(outcome.success for outcome in block.outcomes)
    # ... byte for byte: the same chain as a run that never tried.
    ctx2, chain2, _, reg2, agent2, identities2 = build_world(tmp_path / "untried")
    desk2 = ctx2.kyc(chain2, identities2, reg2)
    desk2.register(agent2, "alice", identity_of(5, "alice"), IdentityKind.PERSON, {"name": "Alice"}, T0 + YEAR)
    chain2.commit()
    desk2.register(agent2, "bob", identity_of(5, "bob"), IdentityKind.PERSON, {"name": "Bob"}, T0 + YEAR)
    assert chain2.commit().hash == block.hash
    ctx2.close()
    chain2.store.close()
