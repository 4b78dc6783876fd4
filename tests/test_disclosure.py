"""Disclosure on the regional equity market chain: ERC-1643-style documents with their
history, periodic deadlines set by the equity center, and overdue obligations at block time."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DAY, reverted
from ledger.chain.access import call_by_governance
from ledger.tooling.abi import to_jsonable
from ledger.errors import PilotLedgerError
from test_equity_market import CO, CO2, REASON, YEAR, Equity, build_equity, h, ok, refused

ANNUAL, SEMI_ANNUAL, AD_HOC = 0, 1, 2
AR2021 = b"annual-report-2021".ljust(32, b"\0")
AR2022 = b"annual-report-2022".ljust(32, b"\0")
SR2022 = b"semi-annual-report-2022H1".ljust(32, b"\0")
NOTICE = b"board-change-notice".ljust(32, b"\0")
HASH1, HASH2, HASH3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
URI = "ipfs://bafy-annual-2021"


@pytest.fixture
def equity(tmp_path: Path) -> Equity:
    built = build_equity(tmp_path)
    built.list()
    yield built
    built.consortium.store.close()


@pytest.fixture
def scheduled(equity: Equity):
    """CO with an annual deadline in 30 days and a semi-annual one in 200 days."""
    annual, semi = equity.now + 30 * DAY, equity.now + 200 * DAY
    ok(schedule(equity, annual, semi))
    return equity, annual, semi


def schedule(equity: Equity, annual: int, semi: int, company_id: bytes = CO, node=None):
    return equity.send(node or equity.center, equity.disclosure, "setSchedule", company_id, annual, semi)


def file(equity: Equity, name: bytes, kind: int, content: bytes = HASH1, uri: str = URI, company_id: bytes = CO,
         node=None):
    return equity.send(node or equity.company, equity.disclosure, "setDocument", company_id, name, uri, content, kind)


def remove(equity: Equity, name: bytes, company_id: bytes = CO, node=None):
    return equity.send(node or equity.company, equity.disclosure, "removeDocument", company_id, name)


def document(equity: Equity, name: bytes) -> list:
    return to_jsonable(equity.disclosure.view("getDocument", CO, name))


def names(equity: Equity) -> set[str]:
    return {h(n) for n in equity.disclosure.view("getAllDocuments", CO)}


def history(equity: Equity, name: bytes) -> list:
    return to_jsonable(equity.disclosure.view("documentHistory", CO, name))


def overdue(equity: Equity) -> list:
    return to_jsonable(equity.disclosure.view("overdueObligations", CO))


def pass_time(equity: Equity, until: int) -> None:
    """Moves the clock so that the next block is stamped just after `until`."""
    equity.consortium.advance(until - equity.consortium.time + 1)


# ---------------------------------------------------------------- schedule


def test_set_schedule_records_deadlines(equity):
    t = ok(schedule(equity, 1000, 2000))
    assert t.event("ScheduleSet") == {"companyId": h(CO), "annualDue": 1000, "semiAnnualDue": 2000,
                                      "center": h(equity.center.address)}
    assert equity.disclosure.view("schedule", CO) == (1000, 2000)
    assert equity.disclosure.view("reportingPeriod") == YEAR


def test_set_schedule_refuses_unknown_and_delisted_company(equity):
    assert reverted(schedule(equity, 1, 2, CO2), "UnknownCompany")
    ok(equity.send(equity.center, equity.market, "delistCompany", CO, REASON))
    t = schedule(equity, 1, 2)
    assert reverted(t, "CompanyNotListed") and t.detail == {"companyId": h(CO)}


def test_set_schedule_needs_equity_center_at_gateway(equity):
    assert refused(schedule(equity, 1, 2, node=equity.company), "ROLE_MISSING")


# --------------------------------------------------------------- documents


def test_set_document_files_ad_hoc_document(equity):
    t = ok(file(equity, NOTICE, AD_HOC))
    assert t.event("DocumentUpdated") == {"companyId": h(CO), "name": h(NOTICE), "kind": AD_HOC, "uri": URI,
                                          "oldHash": h(b"\0" * 32), "newHash": h(HASH1), "version": 1}
    assert [n for n, _ in t.events] == ["DocumentUpdated"]
    assert document(equity, NOTICE) == [URI, h(HASH1), equity.now, AD_HOC]
    assert names(equity) == {h(NOTICE)}


def test_replacing_a_document_keeps_its_history(equity):
    ok(file(equity, NOTICE, AD_HOC))
    first = equity.now
    t = ok(file(equity, NOTICE, AD_HOC, HASH2, "ipfs://corrected"))
    assert t.event("DocumentUpdated") == {"companyId": h(CO), "name": h(NOTICE), "kind": AD_HOC,
                                          "uri": "ipfs://corrected", "oldHash": h(HASH1), "newHash": h(HASH2),
                                          "version": 2}
    assert document(equity, NOTICE) == ["ipfs://corrected", h(HASH2), equity.now, AD_HOC]
    company = h(equity.company.address)
    assert history(equity, NOTICE) == [[URI, h(HASH1), AD_HOC, first, company],
                                       ["ipfs://corrected", h(HASH2), AD_HOC, equity.now, company]]
    assert names(equity) == {h(NOTICE)}


def test_set_document_refuses_incomplete_document(equity):
    assert reverted(file(equity, b"\0" * 32, AD_HOC), "EmptyDocumentName")
    t = file(equity, NOTICE, AD_HOC, uri="")
    assert reverted(t, "EmptyDocumentUri") and t.detail == {"name": h(NOTICE)}
    t = file(equity, NOTICE, AD_HOC, content=b"\0" * 32)
    assert reverted(t, "EmptyContentHash") and t.detail == {"name": h(NOTICE)}


def test_set_document_refuses_changing_the_kind(equity):
    ok(file(equity, AR2021, ANNUAL))
    t = file(equity, AR2021, AD_HOC, HASH2)
    assert reverted(t, "KindChanged") and t.detail == {"companyId": h(CO), "name": h(AR2021), "filedKind": ANNUAL}


def test_set_document_refuses_other_issuer_unknown_and_delisted_company(equity):
    t = file(equity, NOTICE, AD_HOC, node=equity.company2)
    assert reverted(t, "NotIssuer") and t.detail == {"companyId": h(CO), "caller": h(equity.company2.address)}
    assert reverted(file(equity, NOTICE, AD_HOC, company_id=CO2), "UnknownCompany")
    ok(equity.send(equity.center, equity.market, "delistCompany", CO, REASON))
    assert reverted(file(equity, NOTICE, AD_HOC), "CompanyNotListed")


def test_documents_need_listed_company_role_at_gateway(equity):
    assert refused(file(equity, NOTICE, AD_HOC, node=equity.center), "ROLE_MISSING")
    assert refused(remove(equity, NOTICE, node=equity.regulator), "ROLE_MISSING")


def test_remove_document_keeps_history_and_refiling_is_a_correction(scheduled):
    equity, annual, _ = scheduled
    ok(file(equity, AR2021, ANNUAL))
    ok(file(equity, NOTICE, AD_HOC, HASH3))
    t = ok(remove(equity, AR2021))
    assert t.event("DocumentRemoved") == {"companyId": h(CO), "name": h(AR2021), "uri": URI,
                                          "contentHash": h(HASH1)}
    assert names(equity) == {h(NOTICE)}
    assert document(equity, NOTICE)[1] == h(HASH3)
    with pytest.raises(PilotLedgerError, match="DocumentNotFound"):
        document(equity, AR2021)
    assert len(history(equity, AR2021)) == 1

    t = ok(file(equity, AR2021, ANNUAL, HASH2))
    assert t.event("DocumentUpdated")["oldHash"] == h(HASH1) and t.event("DocumentUpdated")["version"] == 2
    assert "PeriodicReportFiled" not in [n for n, _ in t.events]
    assert equity.disclosure.view("schedule", CO)[0] == annual + YEAR  # advanced once only
    assert names(equity) == {h(NOTICE), h(AR2021)}


def test_remove_document_refuses_unknown_or_removed_document(equity):
    t = remove(equity, NOTICE)
    assert reverted(t, "DocumentNotFound") and t.detail == {"companyId": h(CO), "name": h(NOTICE)}
    ok(file(equity, NOTICE, AD_HOC))
    ok(remove(equity, NOTICE))
    assert reverted(remove(equity, NOTICE), "DocumentNotFound")


def test_remove_document_refuses_other_issuer(equity):
    ok(file(equity, NOTICE, AD_HOC))
    assert reverted(remove(equity, NOTICE, node=equity.company2), "NotIssuer")


# ---------------------------------------------------------------- deadlines


def test_annual_report_on_time_advances_the_deadline(scheduled):
    equity, annual, semi = scheduled
    t = ok(file(equity, AR2021, ANNUAL))
    assert t.event("PeriodicReportFiled") == {"companyId": h(CO), "name": h(AR2021), "kind": ANNUAL,
                                              "due": annual, "onTime": True, "nextDue": annual + YEAR}
    assert equity.disclosure.view("schedule", CO) == (annual + YEAR, semi)


def test_late_semi_annual_report_is_recorded_late(scheduled):
    equity, annual, semi = scheduled
    pass_time(equity, semi)
    t = ok(file(equity, SR2022, SEMI_ANNUAL))
    assert t.event("PeriodicReportFiled") == {"companyId": h(CO), "name": h(SR2022), "kind": SEMI_ANNUAL,
                                              "due": semi, "onTime": False, "nextDue": semi + YEAR}
    assert equity.disclosure.view("schedule", CO) == (annual, semi + YEAR)


def test_correction_of_a_periodic_report_does_not_advance_the_deadline(scheduled):
    equity, annual, _ = scheduled
    ok(file(equity, AR2021, ANNUAL))
    t = ok(file(equity, AR2021, ANNUAL, HASH2))
    assert [n for n, _ in t.events] == ["DocumentUpdated"]
    assert equity.disclosure.view("schedule", CO)[0] == annual + YEAR


def test_each_new_annual_report_meets_one_deadline(scheduled):
    equity, annual, _ = scheduled
    ok(file(equity, AR2021, ANNUAL))
    t = ok(file(equity, AR2022, ANNUAL, HASH2))
    assert t.event("PeriodicReportFiled")["due"] == annual + YEAR
    assert equity.disclosure.view("schedule", CO)[0] == annual + 2 * YEAR


def test_periodic_report_without_schedule_tracks_nothing(equity):
    t = ok(file(equity, AR2021, ANNUAL))
    assert [n for n, _ in t.events] == ["DocumentUpdated"]
    assert equity.disclosure.view("schedule", CO) == (0, 0)


def test_overdue_obligations_at_block_time(scheduled):
    equity, annual, semi = scheduled
    assert overdue(equity) == [[], []]
    pass_time(equity, annual)
    ok(file(equity, NOTICE, AD_HOC))  # a block past the annual deadline
    assert overdue(equity) == [[ANNUAL], [annual]]
    pass_time(equity, semi)
    ok(file(equity, SR2022, SEMI_ANNUAL))  # late, but meets the semi-annual deadline
    assert overdue(equity) == [[ANNUAL], [annual]]
    ok(file(equity, AR2021, ANNUAL))
    assert overdue(equity) == [[], []]


def test_check_overdue_flags_each_missed_deadline_once(scheduled):
    equity, annual, semi = scheduled
    t = ok(equity.send(equity.regulator, equity.disclosure, "checkOverdue", CO))
    assert t.events == []
    pass_time(equity, semi)
    t = ok(equity.send(equity.regulator, equity.disclosure, "checkOverdue", CO))
    checked = equity.now
    assert [e for n, e in t.events] == [
        {"companyId": h(CO), "kind": ANNUAL, "due": annual, "checkedAt": checked},
        {"companyId": h(CO), "kind": SEMI_ANNUAL, "due": semi, "checkedAt": checked},
    ]
    t = ok(equity.send(equity.depository, equity.disclosure, "checkOverdue", CO))  # any member
    assert t.events == []
    # A late filing moves the deadline; missing the next one is flagged again, while the
    # semi-annual deadline still missed is not flagged twice.
    ok(file(equity, AR2021, ANNUAL))
    pass_time(equity, annual + YEAR)
    t = ok(equity.send(equity.regulator, equity.disclosure, "checkOverdue", CO))
    assert [(e["kind"], e["due"]) for n, e in t.events] == [(ANNUAL, annual + YEAR)]
    assert overdue(equity) == [[ANNUAL, SEMI_ANNUAL], [annual + YEAR, semi]]


def test_delisted_company_has_no_obligations(scheduled):
    equity, _, semi = scheduled
    ok(equity.send(equity.center, equity.market, "delistCompany", CO, REASON))
    pass_time(equity, semi)
    t = ok(equity.send(equity.regulator, equity.disclosure, "checkOverdue", CO))
    assert t.events == [] and overdue(equity) == [[], []]


def test_check_overdue_refuses_unknown_company(equity):
    assert reverted(equity.send(equity.regulator, equity.disclosure, "checkOverdue", CO2), "UnknownCompany")


# ---------------------------------------------------------------- the market reference


def test_the_market_is_moved_only_by_governance(equity):
    """Disclosure.market is not immutable but governance-only: the center's direct setMarket is refused;
    a passed proposal moves it, and filings are then checked against the new market's register."""
    t = equity.send(equity.center, equity.disclosure, "setMarket", equity.registry.address)
    assert refused(t, "ROLE_MISSING") and "governance" in t.detail["detail"]
    ok(schedule(equity, 1000, 2000))
    successor = equity.center.deploy("EquityMarket", equity.registry.address, equity.identities.address,
                                     equity.market.view("compliance"), 10)
    call_by_governance(equity.consortium, "Disclosure", "setMarket", successor.contract_address)
    assert equity.disclosure.view("market").lower() == h(successor.contract_address)
    t = schedule(equity, 1000, 2000)  # CO is listed on the old market; the new one never heard of it
    assert reverted(t, "UnknownCompany")
