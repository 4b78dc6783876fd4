"""share_transfer end to end: ground truth, determinism, a run directory that verifies."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ledger.audit.verify import verify_run
from ledgers import stored_blocks
from scenarios.runner import run_scenario

SMALL = {"investors": 60, "funds": 3, "transfers": 60, "batch": 20}


STEPS: list[int] = []  # the progress the small run reported


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "a"
    return run_dir, run_scenario("share_transfer", 11, SMALL, run_dir, progress=lambda steps, _transactions: STEPS.append(steps))


def test_every_planted_chain_violation_is_caught_with_its_reason(small_run):
    _, summary = small_run
    assert summary["planted_for_chain"] >= 13
    assert summary["caught"] == summary["planted_for_chain"], summary["missed"]
    assert summary["unexpected_refusals"] == 0
    assert summary["planted_for_regulator"] == 2


def test_ground_truth_is_written_with_outcomes(small_run):
    run_dir, summary = small_run
    truth = json.loads((run_dir / "ground_truth.json").read_text())
    assert len(truth) == summary["planted"]
    kinds = {p["kind"] for p in truth}
    assert {"unqualified_transferee", "cap_breach_nested_vehicle", "lockup_breach", "unapproved_transfer",
            "non_member_node", "revoked_node", "pooling_institution"} <= kinds
    for planted in truth:
        if planted["detect"] == "chain":
            assert planted["outcome"]["reason"] == planted["expected"]
        else:
            assert planted["outcome"] is None and planted["caught"] is None


def test_summary_counts_match_the_ledger(small_run):
    run_dir, summary = small_run
    db = sqlite3.connect(run_dir / "fund_platform" / "ledger.sqlite")
    (blocks,) = db.execute("SELECT COUNT(*) FROM blocks").fetchone()
    (txs,) = db.execute("SELECT COUNT(*) FROM transactions").fetchone()
    (refusals,) = db.execute("SELECT COUNT(*) FROM refusals").fetchone()
    db.close()
    assert summary["blocks"] == blocks == sum(STEPS)  # progress is counted in committed blocks
    assert summary["transactions"] == txs + refusals
    assert json.loads((run_dir / "run.json").read_text())["head_hash"] == summary["head_hash"]


def test_finished_run_verifies(small_run):
    run_dir, summary = small_run
    [result] = verify_run(run_dir)
    assert result.verified, result.problems
    assert result.blocks == summary["blocks"]
    assert (run_dir / "fund_platform" / "certs" / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")


def test_same_seed_same_chain_byte_for_byte(small_run, tmp_path):
    run_dir, summary = small_run
    again = run_scenario("share_transfer", 11, SMALL, tmp_path / "b")
    assert again["head_hash"] == summary["head_hash"]
    assert stored_blocks(tmp_path / "b", "fund_platform") == stored_blocks(run_dir, "fund_platform")
    assert (tmp_path / "b" / "fund_platform" / "certs" / "BJEE.pem").read_bytes() == (
        run_dir / "fund_platform" / "certs" / "BJEE.pem").read_bytes()


def test_another_seed_another_chain(small_run, tmp_path):
    _, summary = small_run
    other = run_scenario("share_transfer", 12, SMALL, tmp_path / "c")
    assert other["head_hash"] != summary["head_hash"]
    assert other["caught"] == other["planted_for_chain"]
