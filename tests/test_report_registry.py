"""ReportRegistry on the regulatory chain: business chains registered by the regulator,
anchors at strictly increasing heights and periodic reports, each only from the chain's
registered reporter; every refusal reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from conftest import DAY, T0, reverted
from ledger.chain.access import adopt_declared_roles
from ledger.tooling.abi import to_jsonable
from ledger.chain.run import open_chain
from ledger.chain.consortium import Consortium, Contract, Ticket
from ledger.errors import PilotLedgerError
from ledger.chain.node import Node
from ledger.chain.roles import GovernanceAction, Role
from test_equity_market import build_equity, h, ok, refused

EQUITY = b"equity-market-chain".ljust(32, b"\0")
FUNDS = b"fund-share-chain".ljust(32, b"\0")
USERS, ASSETS, TRANSFERS, SETTLEMENTS = 0, 1, 2, 3
ZERO = b"\0" * 32


@dataclass
class Regulatory:
    consortium: Consortium
    regulator: Node
    center: Node  # reports for the equity chain (EQUITY_CENTER)
    platform: Node  # reports for the fund-share chain (PLATFORM)
    observer: Node  # a member with neither reporter role
    registry: Contract
    reports: Contract

    @property
    def now(self) -> int:
        return self.consortium.head.timestamp

    def send(self, node: Node, function: str, *args) -> Ticket:
        ticket = node.send(self.reports.call(function, *args))
        self.consortium.commit()
        return ticket

    def anchor(self, height: int, node: Node | None = None, chain_id: bytes = EQUITY, block_hash: bytes | None = None):
        block_hash = block_hash if block_hash is not None else digest("block", height)
        return self.send(node or self.center, "anchor", chain_id, height, block_hash, digest("state", height),
                         digest("events", height))

    def report(self, kind: int, period_end: int, node: Node | None = None, chain_id: bytes = EQUITY):
        return self.send(node or self.center, "report", chain_id, kind, period_end, 42, digest("report", period_end),
                         f"https://reports.example/{period_end}")


def digest(label: str, n: int) -> bytes:
    return keccak(f"{label}/{n}".encode())


def build_regulatory(run_dir: Path) -> Regulatory:
    c = open_chain(run_dir, "regulatory_chain", 11, 31339, T0)
    regulator = c.add_node("CSRC", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR | Role.PLATFORM)
    center = c.add_node("CENTER", "Regional Equity Center", Role.EQUITY_CENTER)
    platform = c.add_node("FUNDPLAT", "Fund Share Platform", Role.PLATFORM)
    observer = c.add_node("OBSERVER", "Observer", Role.KYC_AGENT)
    c.store.write_meta(c.genesis_meta())
    registry = regulator.deploy("PermissionRegistry", *c.founding_members()).contract_address
    regulator.deploy("ReportRegistry", registry)
    block = c.commit()
    assert all(o.success for o in block.outcomes)
    adopt_declared_roles(c)
    return Regulatory(c, regulator, center, platform, observer, c.contract("PermissionRegistry"),
                      c.contract("ReportRegistry"))


@pytest.fixture
def reg(tmp_path: Path) -> Regulatory:
    built = build_regulatory(tmp_path)
    yield built
    built.consortium.store.close()


@pytest.fixture
def registered(reg: Regulatory) -> Regulatory:
    ok(reg.send(reg.regulator, "registerChain", EQUITY, reg.center.address))
    ok(reg.send(reg.regulator, "registerChain", FUNDS, reg.platform.address))
    return reg


def anchors(reg: Regulatory, chain_id: bytes = EQUITY) -> list:
    return [to_jsonable(reg.reports.view("anchorAt", chain_id, i))
            for i in range(reg.reports.view("anchorCount", chain_id))]


# ------------------------------------------------------------------ chains


def test_register_chain_records_reporter(reg):
    t = ok(reg.send(reg.regulator, "registerChain", EQUITY, reg.center.address))
    assert t.event("ChainRegistered") == {"chainId": h(EQUITY), "reporter": h(reg.center.address),
                                          "regulator": h(reg.regulator.address)}
    assert to_jsonable(reg.reports.view("chain", EQUITY)) == [h(reg.center.address), reg.now]


def test_register_chain_refuses_zero_id_and_existing_chain(registered):
    reg = registered
    assert reverted(reg.send(reg.regulator, "registerChain", ZERO, reg.center.address), "InvalidChainId")
    t = reg.send(reg.regulator, "registerChain", EQUITY, reg.platform.address)
    assert reverted(t, "ChainExists") and t.detail == {"chainId": h(EQUITY)}


def test_register_chain_refuses_reporter_without_platform_or_center_role(reg):
    t = reg.send(reg.regulator, "registerChain", EQUITY, reg.observer.address)
    assert reverted(t, "NotReporterMember") and t.detail == {"reporter": h(reg.observer.address)}
    stranger = reg.consortium.client_account("stranger").address
    assert reverted(reg.send(reg.regulator, "registerChain", EQUITY, stranger), "NotReporterMember")


def test_chain_registration_needs_regulator_at_gateway(registered):
    reg = registered
    assert refused(reg.send(reg.center, "registerChain", FUNDS, reg.center.address), "ROLE_MISSING")
    assert refused(reg.send(reg.platform, "setReporter", EQUITY, reg.platform.address), "ROLE_MISSING")


def test_set_reporter_hands_over_reporting(registered):
    reg = registered
    ok(reg.anchor(10))
    t = ok(reg.send(reg.regulator, "setReporter", EQUITY, reg.platform.address))
    assert t.event("ReporterChanged") == {"chainId": h(EQUITY), "previous": h(reg.center.address),
                                          "reporter": h(reg.platform.address), "regulator": h(reg.regulator.address)}
    assert reverted(reg.anchor(11), "NotReporter")
    ok(reg.anchor(11, reg.platform))


def test_set_reporter_refuses_unknown_chain_and_reporter_without_role(registered):
    reg = registered
    t = reg.send(reg.regulator, "setReporter", b"other".ljust(32, b"\0"), reg.center.address)
    assert reverted(t, "UnknownChain")
    assert reverted(reg.send(reg.regulator, "setReporter", EQUITY, reg.observer.address), "NotReporterMember")


def test_chain_view_refuses_unknown_chain(reg):
    with pytest.raises(PilotLedgerError, match="UnknownChain"):
        reg.reports.view("chain", EQUITY)


# ----------------------------------------------------------------- anchors


def test_anchor_records_checkpoint(registered):
    reg = registered
    t = ok(reg.anchor(0))
    assert t.event("Anchored") == {"chainId": h(EQUITY), "index": 0, "blockNumber": 0,
                                   "blockHash": h(digest("block", 0)), "stateRoot": h(digest("state", 0)),
                                   "eventDigest": h(digest("events", 0)), "reporter": h(reg.center.address)}
    first = reg.now
    ok(reg.anchor(7))
    expected = [[0, first, h(digest("block", 0)), h(digest("state", 0)), h(digest("events", 0))],
                [7, reg.now, h(digest("block", 7)), h(digest("state", 7)), h(digest("events", 7))]]
    assert anchors(reg) == expected
    assert to_jsonable(reg.reports.view("latestAnchor", EQUITY)) == expected[1]
    assert reg.reports.view("anchorCount", FUNDS) == 0


def test_anchor_heights_strictly_increase_per_chain(registered):
    reg = registered
    ok(reg.anchor(5))
    t = reg.anchor(5)
    assert reverted(t, "AnchorNotAfterLatest")
    assert t.detail == {"chainId": h(EQUITY), "blockNumber": 5, "latest": 5}
    assert reverted(reg.anchor(4), "AnchorNotAfterLatest")
    ok(reg.anchor(1, reg.platform, FUNDS))  # another chain has its own heights
    ok(reg.anchor(6))
    assert [a[0] for a in anchors(reg)] == [5, 6]


def test_anchor_refuses_unknown_chain_other_reporter_and_empty_hash(registered):
    reg = registered
    assert reverted(reg.anchor(1, chain_id=b"nope".ljust(32, b"\0")), "UnknownChain")
    t = reg.anchor(1, reg.platform)
    assert reverted(t, "NotReporter") and t.detail == {"chainId": h(EQUITY), "caller": h(reg.platform.address)}
    assert reverted(reg.anchor(1, reg.regulator), "NotReporter")
    t = reg.anchor(1, block_hash=ZERO)
    assert reverted(t, "EmptyBlockHash") and t.detail == {"chainId": h(EQUITY), "blockNumber": 1}


def test_anchor_for_finds_exact_heights(registered):
    reg = registered
    for height in (3, 8, 20, 21, 40):
        ok(reg.anchor(height))
    for height in (3, 8, 20, 21, 40):
        assert reg.reports.view("anchorFor", EQUITY, height)[2] == digest("block", height)
    for height in (0, 4, 22, 41):
        with pytest.raises(PilotLedgerError, match="NoAnchorAt"):
            reg.reports.view("anchorFor", EQUITY, height)


def test_anchor_views_refuse_when_nothing_is_there(registered):
    reg = registered
    with pytest.raises(PilotLedgerError, match="NoAnchors"):
        reg.reports.view("latestAnchor", EQUITY)
    with pytest.raises(PilotLedgerError, match="NoAnchorAt"):
        reg.reports.view("anchorFor", EQUITY, 0)
    ok(reg.anchor(2))
    with pytest.raises(PilotLedgerError, match="AnchorIndexOutOfRange"):
        reg.reports.view("anchorAt", EQUITY, 1)


def test_anchors_of_a_real_business_chain(registered, tmp_path):
    reg = registered
    equity = build_equity(tmp_path / "business")
    try:
        checkpoints = []
        for step in range(2):
            equity.list(f"CO-{step}".encode().ljust(32, b"\0"))
            head = equity.consortium.head
            # The event digest stands in for the one the anchoring job computes from the store.
            checkpoints.append([head.number, h(head.hash), h(head.state_root), h(keccak(head.header_rlp))])
            ok(reg.send(reg.center, "anchor", EQUITY, head.number, head.hash, head.state_root,
                        keccak(head.header_rlp)))
    finally:
        equity.consortium.store.close()
    assert [[a[0], *a[2:]] for a in anchors(reg)] == checkpoints
    first = to_jsonable(reg.reports.view("anchorFor", EQUITY, checkpoints[0][0]))
    assert [first[0], *first[2:]] == checkpoints[0]


# ----------------------------------------------------------------- reports


def test_report_records_summary(registered):
    reg = registered
    end = reg.now
    t = ok(reg.report(USERS, end))
    assert t.event("Reported") == {"chainId": h(EQUITY), "index": 0, "kind": USERS, "periodEnd": end, "count": 42,
                                   "digest": h(digest("report", end)), "uri": f"https://reports.example/{end}"}
    assert to_jsonable(reg.reports.view("reportAt", EQUITY, 0)) == [
        USERS, end, reg.now, 42, h(digest("report", end)), f"https://reports.example/{end}"]
    assert reg.reports.view("reportCount", EQUITY) == 1
    assert reg.reports.view("lastPeriodEnd", EQUITY, USERS) == end
    assert reg.reports.view("lastPeriodEnd", EQUITY, TRANSFERS) == 0


def test_report_periods_strictly_increase_per_kind(registered):
    reg = registered
    end = reg.now
    ok(reg.report(TRANSFERS, end))
    t = reg.report(TRANSFERS, end)
    assert reverted(t, "PeriodNotAfterLatest")
    assert t.detail == {"chainId": h(EQUITY), "kind": TRANSFERS, "periodEnd": end, "latest": end}
    ok(reg.report(SETTLEMENTS, end))  # each kind has its own periods
    ok(reg.report(ASSETS, end - DAY))
    ok(reg.report(TRANSFERS, end, reg.platform, FUNDS))  # and each chain
    ok(reg.report(TRANSFERS, end + 1))
    assert reg.reports.view("reportCount", EQUITY) == 4


def test_report_refuses_period_not_yet_ended(registered):
    reg = registered
    t = reg.report(USERS, reg.now + DAY)
    assert reverted(t, "PeriodNotEnded") and t.detail["periodEnd"] > t.detail["blockTime"]


def test_report_refuses_unknown_chain_and_other_reporter(registered):
    reg = registered
    assert reverted(reg.report(USERS, reg.now, chain_id=b"x".ljust(32, b"\0")), "UnknownChain")
    assert reverted(reg.report(USERS, reg.now, reg.platform), "NotReporter")


def test_report_at_refuses_index_out_of_range(registered):
    with pytest.raises(PilotLedgerError, match="ReportIndexOutOfRange"):
        registered.reports.view("reportAt", EQUITY, 0)


# ------------------------------------------------------- reporter's membership


def propose(reg: Regulatory, action: GovernanceAction, account: bytes, roles: int = 0) -> int:
    """A proposal by the only admin: its own vote is already a majority."""
    t = reg.regulator.send(reg.registry.call("propose", action, account, ZERO, roles))
    reg.consortium.commit()
    return ok(t).event("ProposalCreated")["id"]


def test_suspended_reporter_is_refused_on_chain_then_by_gateway(registered):
    reg = registered
    pid = propose(reg, GovernanceAction.SUSPEND, reg.center.address)
    execute = reg.regulator.send(reg.registry.call("execute", pid))
    anchor = reg.center.send(reg.reports.call("anchor", EQUITY, 1, digest("b", 1), ZERO, ZERO))
    reg.consortium.commit()
    assert execute.ok
    assert reverted(anchor, "NotActiveMember") and anchor.detail == {"account": h(reg.center.address)}
    assert refused(reg.anchor(1), "MEMBER_SUSPENDED")
    assert reg.reports.view("anchorCount", EQUITY) == 0


def test_reporter_stripped_of_role_is_refused_on_chain(registered):
    reg = registered
    pid = propose(reg, GovernanceAction.SET_ROLES, reg.platform.address, roles=int(Role.KYC_AGENT))
    execute = reg.regulator.send(reg.registry.call("execute", pid))
    report = reg.platform.send(reg.reports.call("report", FUNDS, USERS, reg.now, 1, ZERO, ""))
    reg.consortium.commit()
    assert execute.ok
    assert reverted(report, "MissingRole")
    assert report.detail == {"account": h(reg.platform.address), "role": int(Role.PLATFORM)}
