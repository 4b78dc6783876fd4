"""Compliance as modules (contracts/compliance/): each built-in module alone on the fund platform, its
registration by governance only (no single admin may strip, weaken or jam a market's rules), and a
pilot team's own module (the README's example, examples/MaximumHoldingModule.sol) compiled, deployed,
adopted and registered as a team would.

The `chain` fixture (conftest.py) registers the fund's four rules; `only` removes all but one, so each
test shows a module enforcing its rule and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_hash.auto import keccak

from conftest import DAY, LLC, MIN, PERSON, T0, VEHICLE, reverted
from ledger.chain.access import adopt_declared_roles, call_by_governance, calls_by_governance
from ledger.chain.roles import Role
from ledger.errors import LedgerError, PilotLedgerError
from ledger.tooling.abi import ContractABI
from ledger.tooling.artifacts import ContractType
from ledger.tooling.compiler import compile_files
from scenarios.compliance import COMPLIANCE, FUND_RULES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "MaximumHoldingModule.sol"
LOCKUP = T0 + 30 * DAY


def h(raw: bytes) -> str:
    return "0x" + raw.hex()


def ok(ticket):
    assert ticket.ok, (ticket.function, ticket.status, ticket.reason, ticket.detail)
    return ticket


def compliance(chain):
    return chain.consortium.contract(COMPLIANCE)


def module(chain, name: str):
    return chain.consortium.contract(name)


def only(chain, keep: str | None) -> None:
    """Removes every registered module of the fund but `keep`, by governance (one round)."""
    calls_by_governance(chain.consortium, [(COMPLIANCE, "removeModule", (chain.shares.address,
                                                                        module(chain, name).address))
                                           for name in FUND_RULES if name != keep])
    expected = [h(module(chain, keep).address)] if keep else []
    assert [a.lower() for a in compliance(chain).view("modulesOf", chain.shares.address)] == expected


def identity(chain, label: str, qualified: bool = True) -> bytes:
    id_ = label.encode().ljust(32, b"\0")
    ok(chain.send(chain.agent, chain.identities, "registerIdentity", id_, b"\x22" * 32, PERSON,
                  T0 + 3650 * DAY if qualified else 0))
    return id_


def subscribe(chain, fund: int, account, amount: int = 2 * MIN):
    return chain.send(chain.agent, chain.shares, "subscribe", fund, amount, signer=account)


def transfer(chain, fund: int, seller, buyer, amount: int):
    """Request, approval and settlement, each in its own block; the first refusal's ticket, or the settlement's."""
    t = chain.send(chain.agent, chain.shares, "requestTransfer", fund, buyer.address, amount, 0, signer=seller)
    if not t.ok:
        return t
    rid = t.event("TransferRequested")["requestId"]
    ok(chain.send(chain.manager, chain.shares, "approveTransfer", rid))
    return chain.send(chain.platform, chain.shares, "settleTransfer", rid)


@pytest.fixture
def people(chain):
    """A contractual fund (lock-up until LOCKUP) with alice holding 3 MIN; bob qualified, carol not."""
    fund = chain.fund(lockup_end=LOCKUP)
    _, alice = chain.investor("alice")
    _, bob = chain.investor("bob")
    carol_id, carol = chain.investor("carol", qualified=False)
    ok(subscribe(chain, fund, alice, 3 * MIN))
    return fund, alice, bob, carol_id, carol


# ------------------------------------------------------------------ the compliance


def test_the_fund_runs_its_rules_in_registration_order(chain):
    modules = [a.lower() for a in compliance(chain).view("modulesOf", chain.shares.address)]
    assert modules == [h(module(chain, name).address) for name in FUND_RULES]
    assert compliance(chain).view("lookThroughDepth", chain.shares.address) == 4


def test_a_fund_sets_its_rule_parameters_in_the_compliance(chain):
    t = ok(chain.send(chain.manager, chain.shares, "createFund", LLC, chain.custodian.address, LOCKUP))
    fund = t.event("FundCreated")["fundId"]
    set_ = {e["key"]: e["value"] for n, e in t.events if n == "AssetParameterSet"}
    key = lambda name: h(name.encode().ljust(32, b"\0"))  # noqa: E731
    assert set_ == {key("holderCap"): 50, key("lockupEnd"): LOCKUP, key("minimumHolding"): MIN}
    assert all(e["token"] == h(chain.shares.address) and e["asset"] == fund
               for n, e in t.events if n == "AssetParameterSet")


def test_registration_is_for_governance_only(chain):
    """bindToken, addModule and removeModule are governance-only (ModularCompliance declares them
    Roles.GOVERNANCE): an admin's direct call is refused at the gateway, so no single admin can strip,
    weaken or jam the fund's rules; a passed proposal adds or removes a module, and a call that reverts
    names the failed step."""
    target, lockup = compliance(chain), module(chain, "LockupModule")
    for function in ("bindToken(address,uint8)", "addModule(address,address)", "removeModule(address,address)"):
        assert chain.registry.view("roleOf", target.address, keccak(function.encode())[:4]) == \
            (int(Role.GOVERNANCE), True)
    t = chain.send(chain.platform, target, "removeModule", chain.shares.address, lockup.address)
    assert t.status == "refused" and t.reason == "ROLE_MISSING" and "is for governance" in t.detail["detail"]
    t = chain.send(chain.regulator, target, "bindToken", chain.shares.address, 0)
    assert t.status == "refused" and t.reason == "ROLE_MISSING" and "is for governance" in t.detail["detail"]
    only(chain, None)
    t = chain.send(chain.regulator, target, "addModule", chain.shares.address, lockup.address)
    assert t.status == "refused" and t.reason == "ROLE_MISSING" and "is for governance" in t.detail["detail"]
    t = chain.send(chain.agent, target, "addModule", chain.shares.address, lockup.address)
    assert t.status == "refused" and t.reason == "ROLE_MISSING"
    assert not target.view("modulesOf", chain.shares.address)
    executions: list = []
    calls_by_governance(chain.consortium, [(COMPLIANCE, "addModule", (chain.shares.address, lockup.address))],
                        executions=executions)
    assert ok(executions[0]).event("ModuleAdded") == {"token": h(chain.shares.address), "module": h(lockup.address),
                                                      "position": 0}
    assert [a.lower() for a in target.view("modulesOf", chain.shares.address)] == [h(lockup.address)]
    with pytest.raises(LedgerError, match="calling ModularCompliance.addModule: .*ModuleAlreadyAdded"):
        call_by_governance(chain.consortium, COMPLIANCE, "addModule", chain.shares.address, lockup.address)
    with pytest.raises(LedgerError, match="TokenNotBound"):
        call_by_governance(chain.consortium, COMPLIANCE, "addModule", chain.cash.address, lockup.address)
    with pytest.raises(LedgerError, match="UnknownModule"):
        call_by_governance(chain.consortium, COMPLIANCE, "removeModule", chain.shares.address, chain.cash.address)
    call_by_governance(chain.consortium, COMPLIANCE, "removeModule", chain.shares.address, lockup.address)
    assert not target.view("modulesOf", chain.shares.address)


def test_a_module_is_told_of_movements_only_by_its_compliance(chain, people):
    """A module's state is written only through its compliance: `moved` from anyone else reverts
    OnlyCompliance on chain (run here as a call from a plain account), and no role is mapped to it,
    so the gateway refuses it as closed."""
    fund, alice, *_ = people
    cap = module(chain, "HolderCapModule")
    alice_id = b"alice".ljust(32, b"\0")
    forged = (0, chain.shares.address, fund, b"\0" * 20, alice.address, b"\0" * 32, alice_id, MIN, 0, 0, 0,
              (0, 100, alice_id, b"\0" * 32, 0))
    with pytest.raises(PilotLedgerError, match="OnlyCompliance"):
        cap.view("moved", forged)
    t = chain.send(chain.platform, cap, "moved", forged)
    assert t.status == "refused" and t.reason == "ROLE_MISSING"
    assert cap.view("holderUnitsOf", chain.shares.address, fund, alice_id) == 1


def test_a_module_follows_another_compliance_only_through_governance(chain, people):
    """A module's compliance reference is governance-only: an admin's direct setCompliance is refused at
    the gateway; a passed proposal moves it, and the module then answers only to the new compliance, so
    the fund's own (old) compliance can no longer tell it of a movement."""
    fund, alice, bob, *_ = people
    lockup, old = module(chain, "LockupModule"), compliance(chain)
    t = chain.send(chain.platform, lockup, "setCompliance", chain.shares.address)
    assert t.status == "refused" and t.reason == "ROLE_MISSING" and "governance" in t.detail["detail"]
    successor = chain.platform.deploy(COMPLIANCE, chain.registry.address, chain.identities.address)
    call_by_governance(chain.consortium, "LockupModule", "setCompliance", successor.contract_address)
    assert lockup.view("compliance").lower() == h(successor.contract_address)
    assert chain.shares.view("compliance").lower() == h(old.address)
    t = subscribe(chain, fund, bob)
    assert reverted(t, "OnlyCompliance") and t.detail == {"caller": h(old.address)}


# ------------------------------------------------------------ each module alone


def test_lockup_module_alone(chain, people):
    fund, alice, bob, _, carol = people
    only(chain, "LockupModule")
    t = transfer(chain, fund, alice, bob, MIN)
    assert reverted(t, "LockupActive") and t.detail == {"fundId": fund, "lockupEnd": LOCKUP}
    ok(subscribe(chain, fund, carol, MIN))  # an issuance is no transfer; and nothing else is checked
    chain.consortium.advance(LOCKUP - chain.consortium.time + 1)
    ok(transfer(chain, fund, alice, bob, MIN // 2))  # past the lock-up, no minimum holding either


def test_minimum_holding_module_alone(chain, people):
    fund, alice, bob, carol_id, carol = people
    only(chain, "MinimumHoldingModule")
    alice_id = b"alice".ljust(32, b"\0")
    t = transfer(chain, fund, alice, bob, 5 * MIN // 2)
    assert reverted(t, "BelowMinimumHolding") and t.detail == {"identity": h(alice_id), "remaining": MIN // 2,
                                                               "minimum": MIN}
    t = transfer(chain, fund, alice, bob, MIN // 2)
    assert reverted(t, "BelowMinimumHolding") and t.detail["identity"] == h(b"bob".ljust(32, b"\0"))
    ok(transfer(chain, fund, alice, carol, MIN))  # in the lock-up, to an unqualified identity: not its rule
    ok(transfer(chain, fund, alice, bob, 2 * MIN))  # the whole remaining holding
    assert chain.shares.view("identityBalanceOf", fund, carol_id) == MIN


def test_qualification_module_alone(chain, people):
    fund, alice, bob, carol_id, carol = people
    only(chain, "QualificationModule")
    t = subscribe(chain, fund, carol)
    assert reverted(t, "NotQualified") and t.detail == {"identity": h(carol_id)}
    t = transfer(chain, fund, alice, carol, MIN)
    assert reverted(t, "TransfereeNotQualified") and t.detail == {"identity": h(carol_id)}
    bad = identity(chain, "bad", qualified=False)
    vid, vehicle = chain.investor("vehicle", VEHICLE)
    ok(chain.send(chain.agent, chain.identities, "declareInvestors", vid, [identity(chain, "good"), bad],
                  [5000, 5000]))
    t = subscribe(chain, fund, vehicle)
    assert reverted(t, "UltimateInvestorNotQualified") and t.detail == {"vehicle": h(vid), "investor": h(bad)}
    ok(transfer(chain, fund, alice, bob, MIN // 2))  # in the lock-up, under the minimum: not its rule


def test_holder_cap_module_alone(chain):
    """The cap counts look-through units per identity; every change of holders is an event with the cap.
    Without the qualification module, an identity whose walk stopped on an unqualified investor cannot be
    counted, so the cap refuses it (LookThroughIncomplete) rather than undercount."""
    only(chain, "HolderCapModule")
    fund = chain.fund(LLC)
    _, alice = chain.investor("alice")
    _, bob = chain.investor("bob")
    ok(subscribe(chain, fund, alice))
    persons = [identity(chain, f"p{i}") for i in range(49)]
    vid, vehicle = chain.investor("fof", VEHICLE)
    ok(chain.send(chain.agent, chain.identities, "declareInvestors", vid, persons, [10_000 // 49] * 48 +
                  [10_000 - 48 * (10_000 // 49)]))
    t = ok(subscribe(chain, fund, vehicle))
    assert t.event("HolderEntered") == {"token": h(chain.shares.address), "asset": fund, "identity": h(vid),
                                        "units": 49, "holders": 50, "cap": 50}
    t = subscribe(chain, fund, bob)
    assert reverted(t, "InvestorCapExceeded") and t.detail == {"fundId": fund, "cap": 50, "wouldBe": 51}
    t = ok(transfer(chain, fund, alice, bob, 2 * MIN))  # alice leaves as bob enters: 50 still
    assert t.event("HolderExited")["holders"] == 49 and t.event("HolderEntered")["holders"] == 50
    carol_id, carol = chain.investor("carol", qualified=False)
    t = transfer(chain, fund, bob, carol, 2 * MIN)
    assert reverted(t, "LookThroughIncomplete") and t.detail == {"identity": h(carol_id)}


def test_forced_transfer_passes_the_rules_but_is_counted(chain, people):
    fund, alice, _, carol_id, carol = people
    order = b"court order".ljust(32, b"\0")
    t = ok(chain.send(chain.regulator, chain.shares, "forcedTransfer", fund, alice.address, carol.address,
                      MIN // 2, order))  # lock-up, unqualified, under the minimum: a legal order passes them
    assert t.event("HolderEntered")["identity"] == h(carol_id) and t.event("HolderEntered")["holders"] == 2
    assert module(chain, "HolderCapModule").view("holderUnitsOf", chain.shares.address, fund, carol_id) == 1


# ------------------------------------------------------- a pilot team's own module


def test_a_pilot_team_adds_a_rule_with_one_module(chain, people):
    """The README's example: compile the team's module against the project's contracts, deploy it,
    have governance adopt its role table, set its parameter and register it for the fund by governance
    (an admin alone is refused). The token
    is not touched; its next movements obey the new rule with the module's own error."""
    fund, alice, bob, _, _ = people
    compiled = compile_files([EXAMPLE])
    assert not compiled.errors, compiled.errors
    (artifact,) = compiled.artifacts
    kind = ContractType(artifact.name, ContractABI(artifact.abi), bytes.fromhex(artifact.bytecode[2:]))
    c = chain.consortium
    deployed = c.deploy(chain.platform, "MaximumHoldingModule", chain.registry.address, compliance(chain).address,
                        contract_type=kind)
    c.commit()
    ok(deployed)
    adopt_declared_roles(c, "MaximumHoldingModule")
    limit = module(chain, "MaximumHoldingModule")
    t = chain.send(chain.agent, limit, "setMaximumHolding", chain.shares.address, 4 * MIN)
    assert t.status == "refused" and t.reason == "ROLE_MISSING"
    ok(chain.send(chain.platform, limit, "setMaximumHolding", chain.shares.address, 4 * MIN))
    t = chain.send(chain.platform, compliance(chain), "addModule", chain.shares.address, limit.address)
    assert t.status == "refused" and t.reason == "ROLE_MISSING" and "is for governance" in t.detail["detail"]
    call_by_governance(chain.consortium, COMPLIANCE, "addModule", chain.shares.address, limit.address)
    t = subscribe(chain, fund, alice, 2 * MIN)  # alice holds 3 MIN already
    assert reverted(t, "AboveMaximumHolding") and t.detail == {"identity": h(b"alice".ljust(32, b"\0")),
                                                               "wouldHold": 5 * MIN, "maximum": 4 * MIN}
    ok(subscribe(chain, fund, alice, MIN))
    ok(subscribe(chain, fund, bob, 4 * MIN))
    assert chain.shares.view("identityBalanceOf", fund, b"alice".ljust(32, b"\0")) == 4 * MIN
