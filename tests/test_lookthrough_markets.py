"""Market look-through queries (ledger/supervision/lookthrough/: exposure, receipts, disclosures): exposure, a receipt's custody, the
receipt and disclosure anomalies, checked against the runs' events and ground truth."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from ledger.errors import ConfigError
from ledger.supervision.lookthrough import open_index, ubo
from ledger.supervision.lookthrough import disclosure_anomalies, exposure, receipt, receipt_anomalies
from scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
SEED = 11
WAREHOUSE = {"receipts": 30, "warehouses": 2, "traders": 4, "banks": 1, "batch": 10}
EQUITY = {"investors": 60, "companies": 3, "transfers": 30, "batch": 10, "cap": 10, "anchor_interval": 5}
REGULATOR_KINDS = {"double_financing", "stock_short"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)


def events(run_dir: Path, chain: str, contract: str) -> list[tuple[int, str, dict]]:
    db = sqlite3.connect(run_dir / chain / "ledger.sqlite")
    rows = [(b, n, json.loads(a)) for b, n, a in db.execute(
        "SELECT block_number, name, args FROM events WHERE contract = ? AND args IS NOT NULL "
        "ORDER BY block_number, log_index", (contract,))]
    db.close()
    return rows


def plants(run_dir: Path) -> dict[str, dict]:
    return {p["kind"]: p for p in json.loads((run_dir / "ground_truth.json").read_text())}


@pytest.fixture(scope="module")
def wr(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("markets") / "wr"
    run_scenario("warehouse_receipt", SEED, WAREHOUSE, path)
    return path


@pytest.fixture(scope="module")
def eq(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("markets") / "eq"
    run_scenario("regional_equity", SEED, EQUITY, path)
    return path


@pytest.fixture(scope="module")
def wr_anomalies(wr) -> dict:
    return receipt_anomalies(wr)


@pytest.fixture(scope="module")
def eq_anomalies(eq) -> dict:
    return disclosure_anomalies(eq)


# ------------------------------------------------------------------ receipts


def test_receipt_anomalies_match_the_regulator_plants(wr, wr_anomalies):
    """The receipt market's anomalies are the catalogue's receipt findings, one per plant, nothing unplanted."""
    truth = plants(wr)
    found = {a["rule"]: a for a in wr_anomalies["anomalies"]}
    assert sorted(a["rule"] for a in wr_anomalies["anomalies"]) == sorted(REGULATOR_KINDS)  # nothing unplanted
    df, want = found["double_financing"], truth["double_financing"]["subject"]
    assert df["subject"] == {"inspection_cert": want["inspection_cert"]}
    started = [e for e in df["evidence"] if e["what"].startswith("receipt {receipt} started")]
    assert [e["values"]["receipt"] for e in started] == want["receipts"]
    assert max(e["block"] for e in started) == want["issued_block"] == df["first_block"]
    pledged = [e for e in df["evidence"] if e["what"] == "receipt {receipt} pledged"]
    assert min(e["block"] for e in pledged) == want["pledged_block"]
    ps, want = found["stock_short"], truth["stock_short"]["subject"]
    assert ps["subject"] == {"warehouse": want["warehouse"], "commodity": want["commodity"]}
    assert ps["first_block"] == want["inspected_block"]
    for key in ("declared", "observed", "live"):
        assert ps["values"][key] == want[key], key
    assert ps["who"][0]["name"] == want["warehouse_name"]


def test_receipt_refusals_match_the_chain_plants(wr, wr_anomalies):
    truth = plants(wr)
    refused = {a["kind"]: a for a in wr_anomalies["refused_on_chain"]}
    assert set(refused) == {"double_pledge_attempt", "issuance_beyond_stock", "activity_after_cancellation"}
    for kind, plant in (("double_pledge_attempt", "double_pledge"), ("issuance_beyond_stock", "over_issuance"),
                        ("activity_after_cancellation", "use_after_cancellation")):
        outcome = truth[plant]["outcome"]
        assert refused[kind]["tx_hash"] == outcome["tx_hash"] and refused[kind]["block"] == outcome["block"]
        assert refused[kind]["error"] == outcome["reason"]
    assert refused["double_pledge_attempt"]["receipt"] == truth["double_pledge"]["subject"]["receipt"]
    assert refused["activity_after_cancellation"]["cancelled_block"] == \
        truth["use_after_cancellation"]["subject"]["cancelled_block"]
    assert refused["issuance_beyond_stock"]["declared"] == truth["over_issuance"]["subject"]["declared"]


def test_receipt_custody_follows_the_events(wr):
    evs = events(wr, "receipt_platform", "WarehouseReceipt")
    truth = plants(wr)
    rid = truth["double_financing"]["subject"]["receipts"][1]
    r = receipt(wr, str(rid))
    mine = [(b, n) for b, n, a in evs if a.get("id") == rid or rid in a.get("sources", [])]
    assert [(h["block"], h["event"]) for h in r["custody"]] == mine
    assert r["custody"][0]["what"] == "issued" and r["inspection_cert"] == truth["double_financing"]["subject"][
        "inspection_cert"]
    assert [p["lender"] for p in r["pledges"]] == [a["lender"] for _, n, a in evs if n == "Pledged" and a["id"] == rid]
    # a split part knows its parent, and its parent its parts
    split = next(a for _, n, a in evs if n == "ReceiptSplit")
    part = receipt(wr, split["parts"][0])
    assert part["parent"] == split["id"] and part["custody"][0]["what"] == "created by split"
    assert receipt(wr, split["id"])["children"] == split["parts"]
    # a cancelled receipt shows the refused use after cancellation
    cancelled = truth["use_after_cancellation"]["subject"]["receipt"]
    c = receipt(wr, cancelled)
    assert c["state"] == "Cancelled" and not c["live"]
    assert [x["error"] for x in c["refused_calls"]] == ["ReceiptNotLive"]
    with pytest.raises(ConfigError):
        receipt(wr, "99999")
    with pytest.raises(ConfigError):
        receipt(wr, "abc")


def test_exposure_of_an_account_on_the_receipt_platform(wr):
    evs = events(wr, "receipt_platform", "WarehouseReceipt")
    holder = plants(wr)["double_financing"]["subject"]["holder"]
    with open_index(wr) as index:
        x = exposure(index, wr, holder)
    pledged = [a for _, n, a in evs if n == "Pledged" and a["holder"] == holder]
    assert len([p for p in x["pledges"] if p["role"] == "holder"]) == len(pledged)
    held = {r["id"] for r in x["receipts_held"]}
    assert held and all(receipt(wr, i)["holder"] == holder for i in held)
    members = [a for _, n, a in events(wr, "receipt_platform", "PermissionRegistry") if n == "MemberAdded"]
    exchange = next(m for m in members if m["roles"] & (1 << 9))
    with open_index(wr) as index:
        roles = exposure(index, wr, exchange["account"])["roles"]
    assert roles[0]["roles_mask"] == exchange["roles"] and "FUTURES_EXCHANGE" in roles[0]["roles"]


# --------------------------------------------------------------- disclosures


def test_disclosure_anomalies_match_the_plants(eq, eq_anomalies):
    truth = plants(eq)
    found = {a["rule"]: a for a in eq_anomalies["anomalies"]}
    assert sorted(found) == ["document_mismatch", "late_disclosure", "missed_disclosure"]
    assert len(eq_anomalies["anomalies"]) == 3
    miss, want = found["missed_disclosure"], truth["missed_disclosure"]["subject"]
    assert miss["subject"] == {k: want[k] for k in ("company", "document_kind", "due")}
    assert miss["values"]["code"] == want["code"]
    late, want = found["late_disclosure"], truth["late_disclosure"]["subject"]
    assert late["subject"] == {"company": want["company"], "document": want["document"]}
    assert late["first_block"] == want["filed_block"] and late["first_time"] == want["filed_at"]
    assert late["values"]["due"] == want["due"] and late["values"]["late"] == want["filed_at"] - want["due"]
    tam, want = found["document_mismatch"], truth["document_mismatch"]["subject"]
    assert tam["subject"] == {k: want[k] for k in ("company", "document", "version")}
    for key in ("uri", "filed_hash", "content_hash"):
        assert tam["values"][key] == want[key], key
    assert tam["first_block"] == want["filed_block"]
    assert "0x" + keccak((eq / tam["values"]["uri"]).read_bytes()).hex() == tam["values"]["content_hash"]
    assert [r["error"] for r in eq_anomalies["refused_on_chain"]] == [truth["filing_for_another_company"]["outcome"][
        "reason"]]


def test_late_filings_are_the_chains_late_reports(eq, eq_anomalies):
    late = [a for _, n, a in events(eq, "equity_market", "Disclosure")
            if n == "PeriodicReportFiled" and not a["onTime"]]
    assert len(late) == sum(1 for a in eq_anomalies["anomalies"] if a["rule"] == "late_disclosure")


def test_exposure_of_an_identity_matches_its_holdings(eq):
    evs = events(eq, "equity_market", "EquityMarket")
    truth = plants(eq)["investor_cap"]["subject"]
    nominee = truth["nominees"][0]["identity"]
    book: dict[str, int] = {}
    for _, n, a in evs:
        if n == "SharesAllotted" and a["identity"] == nominee:
            book[a["companyId"]] = book.get(a["companyId"], 0) + a["shares"]
        elif n == "SharesTransferred":
            if a["fromIdentity"] == nominee:
                book[a["companyId"]] = book.get(a["companyId"], 0) - a["shares"]
            if a["toIdentity"] == nominee:
                book[a["companyId"]] = book.get(a["companyId"], 0) + a["shares"]
    with open_index(eq) as index:
        x = exposure(index, eq, nominee)
        assert {h["asset"]: h["effective_amount"] for h in x["holdings"]} == \
            {f"company:{c}": n for c, n in book.items() if n > 0}
        # one of its beneficiaries, if it declared them, holds through it
        declared = index.declared(nominee)
        if declared:
            investor, bps = declared[0]
            y = exposure(index, eq, investor)
            via = [r for r in y["routes"] if r["via"] and r["via"][0] == nominee]
            assert via and via[0]["effective_amount"] == pytest.approx(via[0]["amount"] * bps / 10_000)
        with pytest.raises(ConfigError):
            exposure(index, eq, "0x" + "ab" * 32)


def test_holders_count_the_people_behind_nominees_as_the_cap_rule_does(eq):
    """On the nominee company, `query holders` counts the people behind each nominee holder (the nominee
    declarations its KYC agent sealed, opened as the regulator opens them) instead of the nominee: the
    real holder count the plant records, over the cap though the register is within it."""
    from ledger.supervision.lookthrough import holders
    from ledger.supervision.rules import investors_behind

    subject = next(p["subject"] for p in json.loads((eq / "ground_truth.json").read_text())
                   if "nominees" in p.get("subject", {}))
    with open_index(eq) as index:
        asset = "company:" + subject["company"]
        h = holders(index, asset)
        direct = [holder for holder, _, _ in index.holdings(asset)]
        assert h["count"] == len(investors_behind(direct, index.graph[0], index.nominees(asset)))
    assert h["units_by_contract_rule"] == subject["holders_on_chain"] <= h["cap"]
    assert h["count"] == subject["real_holders"] > h["cap"] and h["breach"]
    assert h["nominees"] == sorted(({"identity": n["identity"], "people": n["people"]} for n in subject["nominees"]),
                                   key=lambda n: n["identity"])
    assert h["nominee_people"] == sum(n["people"] for n in subject["nominees"])
    rows = {c["identity"]: c for c in h["counted"]}
    for nominee in subject["nominees"]:
        assert nominee["identity"] not in rows
        for person in nominee["beneficiaries"]:
            person = person["identity"] if isinstance(person, dict) else person
            assert f"behind nominee {nominee['identity']}" in {r["reason"] for r in rows[person]["reasons"]}


@pytest.fixture(scope="module")
def funds(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("markets") / "funds"
    run_scenario("share_transfer", SEED, {"investors": 60, "transfers": 60}, path)
    return path


def test_exposure_is_ubo_in_reverse(funds):
    """Every owner's effective percentage of every fund (ubo, looked through from the fund down) is its
    exposure to that fund (looked through from the owner up), for owners reached through vehicles."""
    with open_index(funds) as index:
        assets = [a for (a,) in index.query("SELECT asset FROM assets ORDER BY asset")]
        checked = 0
        for asset in assets:
            for owner in ubo(index, asset)["owners"]:
                if owner["path_count"] == 1 and not owner["paths"][0]["via"] and checked > 3:
                    continue
                x = exposure(index, funds, owner["identity"])
                mine = {h["asset"]: h["effective_pct"] for h in x["holdings"]}
                assert mine[asset] == pytest.approx(owner["effective_pct"], abs=1e-5), (asset, owner["identity"])
                checked += 1
        assert checked > 3
        nested = [r for a in assets for o in ubo(index, a)["owners"] for r in o["paths"] if len(r["via"]) > 1]
        assert nested  # the run nests vehicles: the reverse walk went more than one level up


# ----------------------------------------------------------------------- cli


def test_cli_json_and_bad_input(wr, eq):
    out = cli("query", "receipts", str(wr), "--anomalies", "--json")
    assert out.returncode == 0, out.stderr
    assert {a["rule"] for a in json.loads(out.stdout)["anomalies"]} == REGULATOR_KINDS
    out = cli("query", "disclosures", str(eq), "--anomalies")
    assert out.returncode == 0 and "A filed document that no longer matches the chain" in out.stdout
    out = cli("query", "receipt", str(wr), "abc")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
