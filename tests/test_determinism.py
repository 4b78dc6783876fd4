"""Same seed, same chain byte for byte across processes: two `run scenario` processes with different string
hashing (PYTHONHASHSEED), so set and dict orders that hashing decides cannot leak into the chain.
(tests/test_scenario.py's test_same_seed_same_chain_byte_for_byte runs twice in one process.)"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["run", "scenario", "share_transfer", "--seed", "5", "--investors", "60", "--transfers", "40", "--batch", "20",
        "--json"]
HASH_SEEDS = ("0", "12345")
TIMING = ("elapsed_seconds", "tx_per_second", "run_dir")  # run.json's fields that differ between two runs


def env_with(hash_seed: str) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": hash_seed}


def rows(ledger: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(f"{ledger.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_the_hash_seeds_differ_in_effect():
    """The two processes below really hash strings differently (else the test below proves nothing)."""
    hashes = {subprocess.run([sys.executable, "-c", "print(hash('pilotledger'))"], env=env_with(s), text=True,
                             capture_output=True, check=True).stdout for s in HASH_SEEDS}
    assert len(hashes) == 2


def test_two_processes_with_different_hash_seeds_write_the_same_chain(tmp_path):
    runs = {s: tmp_path / f"hashseed{s}" for s in HASH_SEEDS}
    procs = {s: subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *ARGS, "--run-dir", str(run_dir)], cwd=tmp_path,
                                 env=env_with(s), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s, run_dir in runs.items()}
    out = {}
    for s, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-2000:]
        out[s] = json.loads(stdout)
    a, b = (out[s] for s in HASH_SEEDS)
    assert a["head_hash"] == b["head_hash"] and a["head_hash"].startswith("0x")
    ledgers = [runs[s] / "fund_platform" / "ledger.sqlite" for s in HASH_SEEDS]
    blocks = [rows(ledger, "SELECT number, hash FROM blocks ORDER BY number") for ledger in ledgers]
    assert len(blocks[0]) == a["blocks"] > 1 and blocks[0] == blocks[1]
    assert "0x" + bytes(blocks[0][-1][1]).hex() == a["head_hash"]
    # every table, row for row (transactions, receipts, events, seals, refusals, contracts, meta)
    tables = [name for name, in rows(ledgers[0], "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    assert {"blocks", "transactions", "seals", "refusals"} <= set(tables)
    for table in tables:
        assert rows(ledgers[0], f"SELECT * FROM {table} ORDER BY rowid") == \
               rows(ledgers[1], f"SELECT * FROM {table} ORDER BY rowid"), table
    summaries = [json.loads((runs[s] / "run.json").read_text()) for s in HASH_SEEDS]
    for summary in summaries:
        assert set(TIMING) <= set(summary)
    assert {k: v for k, v in summaries[0].items() if k not in TIMING} == \
           {k: v for k, v in summaries[1].items() if k not in TIMING}
    assert (runs["0"] / "ground_truth.json").read_bytes() == (runs["12345"] / "ground_truth.json").read_bytes()
