"""Property: no stored cell can change unseen. For every column of every table, one cell (a random row,
fixed by a seed) is edited in the chain's ledger and, separately, in a member's copy; the audit must
fail and name the block that row belongs to (0: the genesis record). No column is left out as
"not authoritative": the seals cover them all."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from ledger.audit.reexecute import audit_ledger
from ledger.chain.run import LEDGER_FILE
from ledger.chain.store import TABLES
from ledger.audit.verify import Verification, check_member_copies
from test_attack_drills import CHAIN, MEMBER, drill_run, open_writable  # noqa: F401  (drill_run: a fixture)


def columns() -> list[tuple[str, str]]:
    db = sqlite3.connect(":memory:")
    out = []
    for table, definition in TABLES.items():
        db.execute(f"CREATE TABLE {table} ({definition})")
        out += [(table, row[1]) for row in db.execute(f"PRAGMA table_info({table})")]
    return out


BLOCK_OF = {
    "meta": "0",
    "blocks": "number",
    "receipts": "(SELECT block_number FROM transactions t WHERE t.hash = tx_hash)",
}


def edit_one_cell(path: Path, table: str, column: str, rng: random.Random) -> int:
    """Changes one cell of `column` in a random row of `table`; returns the block that row belongs to."""
    db = open_writable(path)
    rows = db.execute(f"SELECT rowid, {column}, {BLOCK_OF.get(table, 'block_number')} FROM {table} "
                      "ORDER BY rowid").fetchall()
    rowid, value, block = rng.choice(rows)
    if value is None:
        changed = {"label": "x", "error": "X", "args": "{}", "error_args": "{}"}.get(column, b"\x00")
    elif isinstance(value, int):
        changed = value + 1000  # clear of the next row's key
    elif isinstance(value, str):
        changed = value + "x"
    else:
        changed = value[:-1] + bytes([value[-1] ^ 1]) if value else b"\x01"
    db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (changed, rowid))
    db.commit()
    db.close()
    return block


@pytest.mark.parametrize("table,column", columns())
@pytest.mark.parametrize("target", ["chain", "copy"])
def test_any_edited_cell_fails_the_audit_at_its_block(drill_run, tmp_path, table, column, target):
    run = tmp_path / "run"
    shutil.copytree(drill_run["run"], run)
    rng = random.Random(f"{table}.{column}.{target}")
    chain_dir = run / CHAIN
    if target == "chain":
        block = edit_one_cell(chain_dir / LEDGER_FILE, table, column, rng)
        result = audit_ledger(chain_dir / LEDGER_FILE, CHAIN, chain_dir=chain_dir)
    else:
        block = edit_one_cell(chain_dir / "nodes" / MEMBER / LEDGER_FILE, table, column, rng)
        result = Verification(CHAIN)
        check_member_copies(chain_dir, result)
    assert not result.verified, f"{table}.{column} changed unseen"
    # A surplus seal moved elsewhere leaves its block with a quorum: the first bad row is then the moved seal.
    moved = (block + 1000,) if (table, column) == ("seals", "block_number") else ()
    assert result.first_bad_block in (block, *moved), (block, result.problems)
