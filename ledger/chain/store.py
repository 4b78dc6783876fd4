"""The ledger store: one SQLite file per chain, append-only and hash-chained.

Each block is written with its transactions, receipts, decoded events, seals and
the refusals recorded with it in one SQLite transaction, so a run killed at any
moment leaves whole blocks only. Triggers refuse every UPDATE and DELETE. Reading
is ledger.chain.reader's: a store is a reader that may also append."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ledger.errors import LedgerError
from ledger.chain.reader import TABLES, BlockRows, LedgerReader, schema_statements  # noqa: F401 (TABLES, BlockRows)
from ledger.chain.sealer import Seal

SQLITE_FULL = 13  # sqlite3.Error.sqlite_errorcode: the disk is full
SQLITE_WRITE_FAILED = (778, 1034, 1546)  # SQLITE_IOERR_WRITE, _FSYNC, _TRUNCATE: e.g. past the largest file allowed


class DiskFull(LedgerError):
    """A ledger write failed for want of space (or past the largest file allowed): nothing of it was stored."""


def disk_full(exc: BaseException, path: Path, what: str) -> DiskFull | None:
    """`exc` as a DiskFull naming `path` and what was being written, if it is a write that failed for want of
    space; None otherwise."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == SQLITE_FULL:
        return DiskFull(f"disk full: could not write {what} to {path}")
    if code in SQLITE_WRITE_FAILED:
        return DiskFull(f"could not write {what} to {path} (disk full, or file too large)")
    return None


# The rows of the blocks after a given one, per table (the rest name theirs by block_number).
AFTER_BLOCK = {"blocks": "number > ?",
               "receipts": "tx_hash IN (SELECT hash FROM main.transactions WHERE block_number > ?)"}


@dataclass(frozen=True)
class TxRecord:
    hash: bytes
    tx_index: int
    node: str
    sender: bytes
    nonce: int
    to: bytes
    contract: str | None
    function: str | None
    label: str | None
    raw: bytes
    status: int
    gas_used: int
    contract_address: bytes | None
    output: bytes
    error: str | None
    error_args: dict | None


@dataclass(frozen=True)
class EventRecord:
    log_index: int
    tx_hash: bytes
    address: bytes
    contract: str | None
    name: str | None
    args: dict | None
    topics: bytes
    data: bytes


@dataclass(frozen=True)
class RefusalRecord:
    seq: int
    node: str
    signer: bytes
    contract: str
    function: str
    label: str | None
    reason: str
    detail: str
    digest: bytes


class LedgerStore(LedgerReader):
    def __init__(self, path: Path, *, create: bool = False, writable: bool = False) -> None:
        """Opens the ledger at `path` read-only (a regulator's copy may sit on read-only media), or for
        appending with `writable`, or makes a new one with `create`."""
        path = Path(path)
        if not (create or writable):
            super().__init__(path)
            return
        if not create and not path.is_file():
            raise LedgerError(f"no ledger at {path}")
        self.path = path

        def connect() -> sqlite3.Connection:
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if create:
                db.executescript(schema_statements())
            return db

        self._open(connect)

    def copy_to(self, path: Path) -> None:
        """Writes a consistent copy of the whole ledger to a new file at `path`."""
        if path.exists():
            raise LedgerError(f"a ledger already exists at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(path)
        try:
            self._db.backup(target)
        except sqlite3.Error as exc:
            raise disk_full(exc, path, "a copy of the ledger") or exc
        finally:
            target.close()

    def extend_copy(self, path: Path) -> None:
        """Appends to the node copy at `path` the blocks it lacks, each with all its rows, in one SQLite
        transaction. A copy that does not end in one of this ledger's blocks is left as it is (an audit
        names where it went wrong) and raises."""
        copy = LedgerStore(path)
        try:
            their = copy.head()
        finally:
            copy.close()
        after = their[0] if their else 0
        ours = self.block(after) if their else None
        if their and (ours is None or ours.hash != their[1]):
            raise LedgerError(f"the copy at {path} does not end in block {after} of this ledger")
        self._db.execute("ATTACH DATABASE ? AS copy", (str(path),))
        try:
            with self._transaction():
                for table in TABLES:
                    if table != "meta":
                        where = AFTER_BLOCK.get(table, "block_number > ?")
                        self._db.execute(f"INSERT INTO copy.{table} SELECT * FROM main.{table} WHERE {where}",
                                         (after,))
        except sqlite3.Error as exc:
            raise disk_full(exc, path, f"the blocks after {after}") or exc
        finally:
            self._db.execute("DETACH DATABASE copy")

    # ------------------------------------------------------------------ write

    def write_meta(self, values: dict[str, object]) -> None:
        try:
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()]
                )
        except sqlite3.Error as exc:
            raise disk_full(exc, self.path, "the genesis record") or exc

    def append_block(self, rows: "BlockRows", seals: Sequence[Seal]) -> None:
        """Stores one block with all its rows and seals in one SQLite transaction (DiskFull, and nothing of the
        block stored, when the disk is full)."""
        head = self.head()
        number, parent = rows.block[0], rows.block[2]
        expected_number, expected_parent = (head[0] + 1, head[1]) if head else (number, parent)
        if number != expected_number or parent != expected_parent:
            raise LedgerError(f"block {number} does not extend the stored head {head and head[0]}")
        try:
            self._store_block(rows, seals, number)
        except sqlite3.Error as exc:
            raise disk_full(exc, self.path, f"block {number}") or exc

    def _store_block(self, rows: "BlockRows", seals: Sequence[Seal], number: int) -> None:
        with self._transaction():
            self._db.execute("INSERT INTO blocks VALUES (?,?,?,?,?,?,?,?,?)", rows.block)
            self._db.executemany("INSERT INTO transactions VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows.transactions)
            self._db.executemany("INSERT INTO receipts VALUES (?,?,?,?,?,?,?)", rows.receipts)
            self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows.events)
            self._db.executemany("INSERT INTO seals VALUES (?,?,?)",
                                 [(number, seal.validator, seal.signature) for seal in seals])
            self._db.executemany("INSERT INTO refusals VALUES (?,?,?,?,?,?,?,?,?,?)", rows.refusals)
            self._db.executemany("INSERT INTO contracts VALUES (?,?,?)", rows.contracts)

    def snapshot(self) -> sqlite3.Connection:
        """An in-memory copy of the whole ledger as it stands, for restore()."""
        copy = sqlite3.connect(":memory:")
        self._db.backup(copy)
        return copy

    def restore(self, snapshot: sqlite3.Connection) -> None:
        """Puts the ledger back as it was at `snapshot` (a scenario's what-if is forgotten): the pages are
        replaced whole, so the triggers refusing UPDATE and DELETE keep guarding every row."""
        snapshot.backup(self._db)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Raw SQL, for tests that inspect a file; the package reads through LedgerReader's methods."""
        return self._db.execute(sql, params).fetchall()

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type:
            self._db.execute("ROLLBACK")
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:  # e.g. the disk full: the transaction goes whole, not left open
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
