"""Reading a run's stored ledgers in tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.chain.run import LEDGER_FILE
from ledger.chain.store import LedgerStore


def stored_blocks(run_dir: Path, chain: str) -> list[tuple]:
    """Every stored block of `chain`: number, hash, parent, state root, timestamp, refusals digest, header."""
    store = LedgerStore(run_dir / chain / LEDGER_FILE)
    try:
        return list(store.blocks())
    finally:
        store.close()


def committed_blocks(ledger: Path) -> list[tuple[int, bytes]]:
    """(number, hash) of every block a ledger file holds, read as a running or killed run left it: [] when
    the file or its schema is not there yet."""
    if not ledger.exists():
        return []
    db = sqlite3.connect(ledger)
    try:
        return db.execute("SELECT number, hash FROM blocks ORDER BY number").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        db.close()
