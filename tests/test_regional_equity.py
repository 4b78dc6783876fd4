"""regional_equity end to end: two chains, ground truth, documents off chain, determinism, the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_hash.auto import keccak

from ledger.cli import cli
from ledger.audit.anchors import anchors_on, check_anchors
from ledger.chain.store import LedgerStore
from ledger.audit.verify import verify_run
from ledgers import stored_blocks
from scenarios.runner import run_scenario

SMALL = {"investors": 60, "companies": 3, "transfers": 30, "batch": 10, "cap": 10, "anchor_interval": 5}
SEED = 11
CHAIN_PLANTS = {  # the three, and the scenario's others
    "unqualified_subscription": "NotQualified",
    "holder_cap_breach": "HolderCapExceeded",
    "unlinked_account_trade": "AccountNotLinked",
    "agent_links_at_depository": "ROLE_MISSING",
    "filing_for_another_company": "NotIssuer",
    "rewritten_anchor": "AnchorNotAfterLatest",
}
REGULATOR_PLANTS = {"missed_disclosure", "document_mismatch", "investor_cap", "late_disclosure", "qualified_investor"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("regional") / "a"
    return run_dir, run_scenario("regional_equity", SEED, SMALL, run_dir)


def query(run_dir: Path, chain: str, sql: str, params=()) -> list[tuple]:
    db = sqlite3.connect(run_dir / chain / "ledger.sqlite")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def truth(run_dir: Path) -> dict[str, dict]:
    return {p["kind"]: p for p in json.loads((run_dir / "ground_truth.json").read_text())}


def test_every_chain_plant_is_caught_with_its_reason(small_run):
    run_dir, summary = small_run
    assert summary["planted_for_chain"] == len(CHAIN_PLANTS)
    assert summary["caught"] == summary["planted_for_chain"], summary["missed"]
    assert summary["unexpected_refusals"] == 0
    planted = truth(run_dir)
    for kind, reason in CHAIN_PLANTS.items():
        assert planted[kind]["expected"] == reason
        assert planted[kind]["outcome"]["reason"] == reason and planted[kind]["caught"] is True
    assert planted["rewritten_anchor"]["subject"]["chain"] == "regulatory"


def test_regulator_plants_pass_the_chain_and_are_marked(small_run):
    run_dir, summary = small_run
    left = [p for p in json.loads((run_dir / "ground_truth.json").read_text()) if p["detect"] == "regulator"]
    assert summary["planted_for_regulator"] == len(left) and {p["kind"] for p in left} == REGULATOR_PLANTS
    planted = truth(run_dir)
    for kind in REGULATOR_PLANTS:
        assert planted[kind]["detect"] == "regulator"
        assert planted[kind]["outcome"] is None and planted[kind]["caught"] is None


def test_both_chains_are_in_the_summary_and_verify(small_run):
    run_dir, summary = small_run
    assert list(summary["chains"]) == ["equity_market", "regulatory"]
    assert summary["head_hash"] == summary["chains"]["equity_market"]["head_hash"]
    assert summary["blocks"] == sum(c["blocks"] for c in summary["chains"].values())
    results = {r.chain: r for r in verify_run(run_dir)}
    assert set(results) == {"equity_market", "regulatory"}
    assert all(r.verified for r in results.values()), [r.problems for r in results.values()]


def test_anchors_and_reports_reach_the_regulatory_chain(small_run):
    run_dir, summary = small_run
    business = LedgerStore(run_dir / "equity_market" / "ledger.sqlite")
    regulatory = LedgerStore(run_dir / "regulatory" / "ledger.sqlite")
    try:
        anchors = anchors_on(regulatory, "equity_market")
        assert check_anchors(business, "equity_market", regulatory) == []
        assert anchors[-1].block_number == business.head()[0] == summary["anchored_height"]
    finally:
        business.close()
        regulatory.close()
    assert summary["anchors"] == len(anchors) > 1
    reports = query(run_dir, "regulatory", "SELECT args FROM events WHERE name = 'Reported'")
    assert summary["reports_filed"] == len(reports) >= 4
    for (args,) in reports:
        uri = json.loads(args)["uri"]
        report = json.loads((run_dir / uri).read_text())
        assert report["count"] == json.loads(args)["count"]


def test_documents_are_off_chain_and_match_their_hashes_but_one(small_run):
    run_dir, _ = small_run
    tampered = truth(run_dir)["document_mismatch"]["subject"]
    filed = [json.loads(a) for (a,) in query(run_dir, "equity_market",
                                             "SELECT args FROM events WHERE name = 'DocumentUpdated'")]
    mismatched = []
    for doc in filed:
        content = (run_dir / doc["uri"]).read_bytes()
        if "0x" + keccak(content).hex() != doc["newHash"]:
            mismatched.append(doc["uri"])
    assert mismatched == [tampered["uri"]]
    assert "0x" + keccak((run_dir / tampered["uri"]).read_bytes()).hex() == tampered["content_hash"]
    assert tampered["content_hash"] != tampered["filed_hash"]
    # A document replaced after filing: a second version under the same name, the first kept.
    assert any(doc["version"] == 2 and doc["oldHash"] != "0x" + "00" * 32 for doc in filed)


def test_deadlines_missed_and_late_are_as_recorded(small_run):
    run_dir, _ = small_run
    planted = truth(run_dir)
    missed, late = planted["missed_disclosure"]["subject"], planted["late_disclosure"]["subject"]
    met = [json.loads(a) for (a,) in query(run_dir, "equity_market",
                                           "SELECT args FROM events WHERE name = 'PeriodicReportFiled'")]
    assert not any(m["companyId"] == missed["company"] and m["kind"] == 1 for m in met)
    assert missed["head_time"] > missed["due"]
    [late_filing] = [m for m in met if m["companyId"] == late["company"] and m["kind"] == 0]
    assert late_filing["onTime"] is False and late["filed_at"] > late["due"]
    assert sum(1 for m in met if not m["onTime"]) == 1


def test_nominees_hide_holders_past_the_cap(small_run):
    run_dir, _ = small_run
    subject = truth(run_dir)["investor_cap"]["subject"]
    assert subject["holders_on_chain"] <= subject["cap"] < subject["real_holders"]
    assert subject["real_holders"] == subject["holders_on_chain"] - len(subject["nominees"]) + sum(
        n["people"] for n in subject["nominees"])
    entered = {a["identity"] for a in (json.loads(text) for (text,) in query(
        run_dir, "equity_market", "SELECT args FROM events WHERE name = 'HolderEntered'"))
        if a["asset"] == int(subject["company"], 16)}  # HolderCapModule's: the company id as uint256
    kinds = dict((json.loads(a)["id"], json.loads(a)["kind"]) for (a,) in query(
        run_dir, "equity_market", "SELECT args FROM events WHERE name = 'IdentityRegistered'"))
    for nominee in subject["nominees"]:
        assert nominee["identity"] in entered and kinds[nominee["identity"]] == 2  # an institution
        assert len(nominee["beneficiaries"]) == nominee["people"]


def test_investors_share_identities_with_share_transfer(small_run):
    run_dir, _ = small_run
    kinds = dict((json.loads(a)["id"], json.loads(a)["kind"]) for (a,) in query(
        run_dir, "equity_market", "SELECT args FROM events WHERE name = 'IdentityRegistered'"))
    for label in ("inv0001", "inv0037"):
        assert kinds["0x" + keccak(f"identity/{SEED}/{label}".encode()).hex()] == 1  # a natural person


def test_personal_data_is_sealed_in_the_agents_private_stores(small_run):
    run_dir, _ = small_run
    registered = query(run_dir, "equity_market", "SELECT COUNT(*) FROM events WHERE name = 'IdentityRegistered'")
    sealed = 0
    for store in (run_dir / "equity_market" / "nodes").glob("*/private.sqlite"):
        db = sqlite3.connect(store)
        try:
            sealed += db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        finally:
            db.close()
    assert sealed == registered[0][0] > 0


def test_cli_lists_it_and_runs_it_as_json_same_seed_same_chains(small_run, tmp_path):
    run_dir, summary = small_run
    runner = CliRunner()
    listed = runner.invoke(cli, ["run", "scenario", "--list", "--json"])
    assert listed.exit_code == 0
    assert "regional_equity" in [s["name"] for s in json.loads(listed.output)]
    args = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]
    result = runner.invoke(cli, ["run", "scenario", "regional_equity", "--seed", str(SEED), "--run-dir",
                                 str(tmp_path / "b"), "--json", *args])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    for key in ("scenario", "seed", "blocks", "transactions", "refused", "planted", "caught", "head_hash", "run_dir",
                "anchors", "reports_filed"):
        assert key in again
    for chain in ("equity_market", "regulatory"):
        assert again["chains"][chain]["head_hash"] == summary["chains"][chain]["head_hash"]
    assert stored_blocks(tmp_path / "b", "regulatory") == stored_blocks(run_dir, "regulatory")
    assert (tmp_path / "b" / "ground_truth.json").read_text() == (run_dir / "ground_truth.json").read_text()


def test_another_seed_other_chains(small_run, tmp_path):
    _, summary = small_run
    other = run_scenario("regional_equity", SEED + 1, SMALL, tmp_path / "c")
    for chain in ("equity_market", "regulatory"):
        assert other["chains"][chain]["head_hash"] != summary["chains"][chain]["head_hash"]
    assert other["caught"] == other["planted_for_chain"] and other["unexpected_refusals"] == 0
