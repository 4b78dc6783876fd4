"""Reading a run's stored ledgers in tests."""

from __future__ import annotations

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
