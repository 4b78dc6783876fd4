"""warehouse_receipt end to end: ground truth, every transition, determinism, a run that verifies, the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.audit.verify import verify_run
from ledgers import stored_blocks
from scenarios.registry import get_scenario
from scenarios.runner import run_scenario

CHAIN = "receipt_platform"
SMALL = {"receipts": 30, "warehouses": 2, "traders": 4, "banks": 1, "batch": 10}
SMALL_ARGS = ["--receipts", "30", "--warehouses", "2", "--traders", "4", "--banks", "1", "--batch", "10"]
CHAIN_PLANTS = {
    "double_pledge": "AlreadyPledged",
    "over_issuance": "ExceedsDeclaredStock",
    "transfer_while_pledged": "ReceiptPledged",
    "use_after_cancellation": "ReceiptNotLive",
    "non_warehouse_issuance": "ROLE_MISSING",
    "pledged_delivery": "ReceiptPledged",
    "early_enforcement": "TermNotEnded",
    "use_after_expiry": "Expired",
    "foreign_split": "NotIssuingWarehouse",
    "cancel_without_request": "CancellationNotRequested",
}
TRANSITIONS = ("StockDeclared", "ReceiptIssued", "ReceiptRegistered", "ReceiptTransferred", "ReceiptSplit",
               "ReceiptsMerged", "Pledged", "PledgeReleased", "PledgeEnforced", "Delivered", "CancellationRequested",
               "ReceiptCancelled", "MarkedExpired", "StockInspected", "DeclarationCorrected", "StockShortfall")


def ledger(run_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(run_dir / CHAIN / "ledger.sqlite")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "a"
    steps: list[int] = []
    total: list[int] = []
    summary = run_scenario("warehouse_receipt", 11, SMALL, run_dir,
                           progress=lambda done, _transactions: steps.append(done), on_start=total.append)
    return run_dir, summary, sum(steps), total[0]


def test_every_planted_chain_violation_is_caught_with_its_reason(small_run):
    _, summary, _, _ = small_run
    assert summary["planted_for_chain"] == len(CHAIN_PLANTS)
    assert summary["caught"] == summary["planted_for_chain"], summary["missed"]
    assert summary["missed"] == []
    assert summary["unexpected_refusals"] == 0
    assert summary["planted_for_regulator"] == 2
    assert summary["refused"] == len(CHAIN_PLANTS)
    assert summary["refused_by_reason"]["gateway:ROLE_MISSING"] == 1
    assert summary["refused_by_reason"]["contract:ReceiptPledged"] == 2


def test_summary_has_the_share_transfer_keys(small_run):
    run_dir, summary, _, _ = small_run
    for key in ("scenario", "seed", "blocks", "transactions", "refused", "planted", "caught", "head_hash", "run_dir"):
        assert key in summary
    assert (summary["scenario"], summary["seed"], Path(summary["run_dir"])) == ("warehouse_receipt", 11, run_dir)
    assert summary["options"] == {**SMALL, "violations": 0}  # --violations: none planted by default
    assert json.loads((run_dir / "run.json").read_text())["head_hash"] == summary["head_hash"]


def test_ground_truth_records_each_plant_with_its_outcome(small_run):
    run_dir, summary, _, _ = small_run
    truth = json.loads((run_dir / "ground_truth.json").read_text())
    assert len(truth) == summary["planted"]
    on_chain = {p["kind"]: p for p in truth if p["detect"] == "chain"}
    assert {k: p["expected"] for k, p in on_chain.items()} == CHAIN_PLANTS
    for planted in on_chain.values():
        assert planted["outcome"]["reason"] == planted["expected"] and planted["caught"] is True
        assert planted["subject"]
    assert on_chain["non_warehouse_issuance"]["outcome"]["status"] == "refused"  # by the gateway
    assert on_chain["double_pledge"]["outcome"]["status"] == "reverted"  # by the contract
    for kind in ("double_pledge", "transfer_while_pledged", "use_after_cancellation", "use_after_expiry"):
        assert isinstance(on_chain[kind]["subject"]["receipt"], int)
        assert on_chain[kind]["subject"]["holder"].startswith("0x")


def test_regulator_plants_pass_the_chain_with_details_for_the_audit(small_run):
    run_dir, _, _, _ = small_run
    truth = json.loads((run_dir / "ground_truth.json").read_text())
    left = {p["kind"]: p for p in truth if p["detect"] == "regulator"}
    assert set(left) == {"stock_short", "double_financing"}
    for planted in left.values():
        assert planted["outcome"] is None and planted["caught"] is None and planted["expected"] is None
    phantom = left["stock_short"]["subject"]
    assert phantom["observed"] == phantom["declared"] - phantom["phantom"] < phantom["declared"]
    assert phantom["live"] > phantom["observed"] and phantom["shortfall"] == phantom["live"] - phantom["observed"]
    assert phantom["declared_block"] < phantom["inspected_block"] and phantom["receipts"]
    db = ledger(run_dir)
    try:
        [(args,)] = db.execute("SELECT args FROM events WHERE name = 'StockShortfall'").fetchall()
        inspected = [json.loads(a) for (a,) in db.execute(
            "SELECT args FROM events WHERE name = 'StockInspected' AND block_number = ?",
            (phantom["inspected_block"],))]
        issued = {json.loads(a)["id"]: json.loads(a) for (a,) in db.execute(
            "SELECT args FROM events WHERE name = 'ReceiptIssued'")}
    finally:
        db.close()
    assert json.loads(args)["warehouse"] == phantom["warehouse"]
    found = [e for e in inspected if e["warehouse"] == phantom["warehouse"] and e["observed"] < e["declared"]]
    assert len(found) == 1 and found[0]["observed"] == phantom["observed"]
    double = left["double_financing"]["subject"]
    first, second = (issued[i] for i in double["receipts"])
    assert first["inspectionCertHash"] == second["inspectionCertHash"] == double["inspection_cert"]
    assert first["warehouse"] != second["warehouse"] and len(set(double["lenders"])) == 1  # one bank in SMALL


def test_every_transition_happens(small_run):
    run_dir, _, _, _ = small_run
    db = ledger(run_dir)
    try:
        counts = dict(db.execute("SELECT name, COUNT(*) FROM events GROUP BY name").fetchall())
    finally:
        db.close()
    missing = [name for name in TRANSITIONS if not counts.get(name)]
    assert not missing, counts
    assert counts["ReceiptIssued"] >= SMALL["receipts"]


def test_summary_counts_match_the_ledger_and_the_progress_bar(small_run):
    run_dir, summary, steps, total = small_run
    db = ledger(run_dir)
    try:
        (blocks,) = db.execute("SELECT COUNT(*) FROM blocks").fetchone()
        (txs,) = db.execute("SELECT COUNT(*) FROM transactions").fetchone()
        (refusals,) = db.execute("SELECT COUNT(*) FROM refusals").fetchone()
    finally:
        db.close()
    assert summary["blocks"] == blocks == steps == total
    assert total == get_scenario("warehouse_receipt").expected_steps(SMALL)
    assert summary["transactions"] == txs + refusals


def test_finished_run_verifies(small_run):
    run_dir, summary, _, _ = small_run
    [result] = verify_run(run_dir)
    assert result.verified, result.problems
    assert result.blocks == summary["blocks"]
    assert (run_dir / CHAIN / "certs" / "SHFE.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")


def test_same_seed_same_chain_byte_for_byte(small_run, tmp_path):
    run_dir, summary, _, _ = small_run
    again = run_scenario("warehouse_receipt", 11, SMALL, tmp_path / "b")
    assert again["head_hash"] == summary["head_hash"]
    assert stored_blocks(tmp_path / "b", CHAIN) == stored_blocks(run_dir, CHAIN)
    assert (tmp_path / "b" / "ground_truth.json").read_text() == (run_dir / "ground_truth.json").read_text()
    assert (tmp_path / "b" / CHAIN / "certs" / "SHFE.pem").read_bytes() == (
        run_dir / CHAIN / "certs" / "SHFE.pem").read_bytes()


def test_another_seed_another_chain(small_run, tmp_path):
    _, summary, _, _ = small_run
    other = run_scenario("warehouse_receipt", 12, SMALL, tmp_path / "c")
    assert other["head_hash"] != summary["head_hash"]
    assert other["caught"] == other["planted_for_chain"] and other["unexpected_refusals"] == 0


def test_options_have_minimums():
    scenario = get_scenario("warehouse_receipt")
    assert scenario.resolve_options({}) == {"receipts": 300, "warehouses": 3, "traders": 12, "banks": 2, "batch": 20,
                                            "violations": 0}
    for name, value in (("receipts", 29), ("warehouses", 1), ("traders", 3), ("banks", 0), ("batch", 0)):
        with pytest.raises(Exception, match=f"--{name} must be at least"):
            scenario.resolve_options({name: value})


def test_cli_lists_the_scenario():
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "scenario", "--list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {s["name"]: s for s in json.loads(result.stdout)}
    assert listed["warehouse_receipt"]["options"]["receipts"] == 300
    result = runner.invoke(cli, ["run", "scenario", "--list"])
    assert result.exit_code == 0 and "warehouse_receipt" in result.stdout


def test_cli_runs_the_scenario_as_json(tmp_path):
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", "scenario", "warehouse_receipt", *SMALL_ARGS, "--seed", "11",
                                      "--run-dir", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in ("scenario", "seed", "blocks", "transactions", "refused", "planted", "caught", "head_hash", "run_dir"):
        assert key in summary
    assert summary["scenario"] == "warehouse_receipt" and Path(summary["run_dir"]) == run_dir
    assert summary["caught"] == summary["planted_for_chain"] > 0 and summary["unexpected_refusals"] == 0
    assert summary["planted_for_regulator"] > 0
