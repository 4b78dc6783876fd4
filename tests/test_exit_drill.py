"""The exit drill: pause, a final snapshot of every holding signed by the platform node,
the register exported, and no investor's holding lost."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from ledger.trust.keys import recover_address
from scenarios.runner import run_scenario
from scenarios.share_exit import canonical

CHAIN = "fund_platform"


@pytest.fixture(scope="module")
def drilled(tmp_path_factory) -> tuple[dict, Path]:
    run_dir = tmp_path_factory.mktemp("exit") / "run"
    summary = run_scenario("share_transfer", 4, {"investors": 60, "transfers": 80, "exit_drill": 1}, run_dir)
    return summary, run_dir


def platform_address(run_dir: Path) -> str:
    db = sqlite3.connect(run_dir / CHAIN / "ledger.sqlite")
    founders = json.loads(db.execute("SELECT value FROM meta WHERE key = 'founders'").fetchone()[0])
    db.close()
    return next(f["address"] for f in founders if f["org_id"] == "0x" + b"BJEE".ljust(32, b"\0").hex())


def test_nothing_lost_and_trading_refused_after_the_pause(drilled) -> None:
    summary, _ = drilled
    drill = summary["exit_drill"]
    assert drill["lost"] == [] and drill["holdings"] > 40 and drill["snapshot_signed_by_platform"]
    assert summary["caught"] == summary["planted_for_chain"] and summary["unexpected_refusals"] == 0
    assert summary["refused_by_reason"]["contract:PlatformPaused"] == 1


def test_snapshot_is_signed_by_the_platform_and_matches_the_ledger(drilled) -> None:
    _, run_dir = drilled
    signed = json.loads((run_dir / CHAIN / "exit" / "snapshot.json").read_text())
    digest = keccak(canonical(signed["snapshot"]))
    assert "0x" + digest.hex() == signed["digest"]
    signer = recover_address(digest, bytes.fromhex(signed["signature"][2:]))
    assert "0x" + signer.hex() == signed["signer"] == platform_address(run_dir)
    db = sqlite3.connect(run_dir / CHAIN / "ledger.sqlite")
    block_hash = db.execute("SELECT hash FROM blocks WHERE number = ?", (signed["snapshot"]["block"],)).fetchone()[0]
    db.close()
    assert "0x" + block_hash.hex() == signed["snapshot"]["block_hash"]
    for fund in signed["snapshot"]["funds"]:
        assert fund["held"] == fund["total_shares"] > 0
    tampered = json.loads(json.dumps(signed["snapshot"]))
    tampered["holdings"][0]["shares"] += 1
    assert recover_address(keccak(canonical(tampered)), bytes.fromhex(signed["signature"][2:])) != signer


def test_register_export_lists_every_holding(drilled) -> None:
    summary, run_dir = drilled
    with open(run_dir / CHAIN / "exit" / "register.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    snapshot = json.loads((run_dir / CHAIN / "exit" / "snapshot.json").read_text())["snapshot"]
    assert len(rows) == summary["exit_drill"]["holdings"]
    assert sum(int(r["shares"]) for r in rows) == sum(f["total_shares"] for f in snapshot["funds"])
    assert {r["identity"] for r in rows} <= {h["identity"] for h in snapshot["holdings"]}
