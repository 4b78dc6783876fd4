"""A run killed mid-way leaves a ledger that verifies and audits up to its last committed
block, and a restart with the same seed rebuilds those very blocks and finishes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ledgers import committed_blocks
from ledger.audit.reexecute import audit_run
from ledger.trust.keystore import keystore_nodes, open_keystore
from ledger.audit.verify import verify_run
from scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ["--investors", "60", "--transfers", "400", "--batch", "10"]


def test_killed_run_verifies_and_a_restart_loses_nothing(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    ledger = killed / "fund_platform" / "ledger.sqlite"
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run", "scenario", "share_transfer",
                                "--seed", "3", "--run-dir", str(killed), *OPTIONS],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(committed_blocks(ledger)) < 12 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    blocks = committed_blocks(ledger)
    assert len(blocks) >= 12
    assert not (killed / "run.json").exists()
    assert (killed / "run.started").is_file()  # marked incomplete: every command says so, --resume finishes it
    # Every key that signed a committed transaction is in its node's keystore, written as it was made.
    chain_dir = killed / "fund_platform"
    keystores = [open_keystore(chain_dir, n) for n in keystore_nodes(chain_dir)]
    held = {k.account.address for k in keystores} | {a.address for k in keystores for a in k.accounts()}
    db = sqlite3.connect(ledger)
    senders = {s for s, in db.execute("SELECT DISTINCT sender FROM transactions")}
    db.close()
    assert senders and senders <= held
    # The certificates were written before the first block, and each node's before any block after it joined.
    assert all((chain_dir / "certs" / f"{n}.pem").is_file() for n in ["ca", "crl", *keystore_nodes(chain_dir)])

    [verification] = verify_run(killed)
    assert verification.verified, verification.problems
    assert verification.blocks == len(blocks)
    [audit] = audit_run(killed)
    assert audit.verified and audit.blocks == len(blocks), audit.problems

    summary = run_scenario("share_transfer", 3, {"investors": 60, "transfers": 400, "batch": 10}, tmp_path / "again")
    again = committed_blocks(tmp_path / "again" / "fund_platform" / "ledger.sqlite")
    assert again[:len(blocks)] == blocks  # every committed block comes back, byte for byte
    assert summary["blocks"] > len(blocks) and summary["unexpected_refusals"] == 0
    assert committed_blocks(ledger) == blocks  # the killed run's ledger is left as it was
