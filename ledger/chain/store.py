"""The ledger store: one SQLite file per chain, append-only and hash-chained.

Each block is written with its transactions, receipts, decoded events, seals and
the refusals recorded with it in one SQLite transaction, so a run killed at any
moment leaves whole blocks only. Triggers refuse every UPDATE and DELETE."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from ledger.evm import ExecutedBlock
from ledger.errors import LedgerError
from ledger.chain.sealer import Seal, rows_digest

TABLES = {
    "meta": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
    "blocks": """number INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, parent_hash BLOB NOT NULL,
        state_root BLOB NOT NULL, timestamp INTEGER NOT NULL, gas_used INTEGER NOT NULL,
        tx_count INTEGER NOT NULL, refusals_digest BLOB NOT NULL, header_rlp BLOB NOT NULL""",
    "transactions": """hash BLOB PRIMARY KEY, block_number INTEGER NOT NULL REFERENCES blocks(number),
        tx_index INTEGER NOT NULL, node TEXT NOT NULL, sender BLOB NOT NULL, nonce INTEGER NOT NULL,
        to_address BLOB, contract TEXT, function TEXT, label TEXT, raw BLOB NOT NULL""",
    "receipts": """tx_hash BLOB PRIMARY KEY REFERENCES transactions(hash), status INTEGER NOT NULL,
        gas_used INTEGER NOT NULL, contract_address BLOB, output BLOB NOT NULL, error TEXT, error_args TEXT""",
    "events": """block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash BLOB NOT NULL,
        address BLOB NOT NULL, contract TEXT, name TEXT, args TEXT, topics BLOB NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (block_number, log_index)""",
    "seals": """block_number INTEGER NOT NULL REFERENCES blocks(number), validator BLOB NOT NULL,
        signature BLOB NOT NULL, PRIMARY KEY (block_number, validator)""",
    "refusals": """seq INTEGER PRIMARY KEY, block_number INTEGER NOT NULL, node TEXT NOT NULL, signer BLOB NOT NULL,
        contract TEXT NOT NULL, function TEXT NOT NULL, label TEXT, reason TEXT NOT NULL, detail TEXT NOT NULL,
        digest BLOB NOT NULL""",
    "contracts": "address BLOB PRIMARY KEY, name TEXT NOT NULL, block_number INTEGER NOT NULL",
}

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


@dataclass(frozen=True)
class BlockRows:
    """Every row stored with one block, table by table, in the order the seals cover them."""

    block: tuple
    transactions: list[tuple]  # by tx_index
    receipts: list[tuple]  # in their transactions' order
    events: list[tuple]  # by log_index
    refusals: list[tuple]  # by seq
    contracts: list[tuple]  # by address

    @classmethod
    def build(cls, block: ExecutedBlock, refusals_digest: bytes, txs: Sequence[TxRecord],
              events: Sequence[EventRecord], refusals: Sequence[RefusalRecord],
              contracts: Sequence[tuple[bytes, str]] = ()) -> "BlockRows":
        n = block.number
        return cls(
            (n, block.hash, block.parent_hash, block.state_root, block.timestamp, block.gas_used, len(txs),
             refusals_digest, block.header_rlp),
            [(t.hash, n, t.tx_index, t.node, t.sender, t.nonce, t.to or None, t.contract, t.function, t.label, t.raw)
             for t in txs],
            [(t.hash, t.status, t.gas_used, t.contract_address, t.output, t.error,
              None if t.error_args is None else json.dumps(t.error_args)) for t in txs],
            [(n, e.log_index, e.tx_hash, e.address, e.contract, e.name,
              None if e.args is None else json.dumps(e.args), e.topics, e.data) for e in events],
            [(r.seq, n, r.node, r.signer, r.contract, r.function, r.label, r.reason, r.detail, r.digest)
             for r in refusals],
            sorted((a, name, n) for a, name in contracts),
        )

    def counts(self) -> dict[str, int]:
        return {"blocks": 1, "transactions": len(self.transactions), "receipts": len(self.receipts),
                "events": len(self.events), "refusals": len(self.refusals), "contracts": len(self.contracts)}

    def records_digest(self) -> bytes:
        """What a block's seals cover of its rows besides the header and the refusals (which chain on their own)."""
        return rows_digest([(rows_digest(self.transactions),), (rows_digest(self.receipts),),
                            (rows_digest(self.events),), (rows_digest(self.contracts),)])


def _schema() -> str:
    statements = [f"CREATE TABLE IF NOT EXISTS {name} ({columns});" for name, columns in TABLES.items()]
    for name in TABLES:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {name}_no_{op.lower()} BEFORE {op} ON {name} "
                f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
            )
    statements.append("CREATE INDEX IF NOT EXISTS tx_block ON transactions(block_number);")
    statements.append("CREATE INDEX IF NOT EXISTS refusal_block ON refusals(block_number);")
    return "\n".join(statements)


MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 16 * 2**20


def parse_json(text: str, what: str) -> object:
    """`text` as JSON, refusing (LedgerError) what is too large or nested too deep to be a ledger's record:
    the json module would overflow the C stack on a deep enough nesting."""
    if len(text) > MAX_JSON_BYTES:
        raise LedgerError(f"{what} is larger than {MAX_JSON_BYTES} bytes")
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise LedgerError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except ValueError as exc:
        raise LedgerError(f"{what} is not JSON ({exc})") from None


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the SQLite file at `path`, by its escaped file: URI (a `#`, `?` or `%`
    in a folder name must not make SQLite open another file than the one named)."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


def _schema_objects(db: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """sqlite_master's (type, name) -> sql: the tables, indexes and triggers a file holds."""
    return {(kind, name): sql for kind, name, sql in db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex_%'")}


@lru_cache(maxsize=1)
def _expected_schema() -> dict[tuple[str, str], str]:
    """The schema objects of a new ledger."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_schema())
        return _schema_objects(db)
    finally:
        db.close()


class LedgerStore:
    def __init__(self, path: Path, *, create: bool = False, writable: bool = False) -> None:
        """Opens the ledger at `path` read-only (a regulator's copy may sit on read-only media), or for
        appending with `writable`, or makes a new one with `create`."""
        if not create and not path.is_file():
            raise LedgerError(f"no ledger at {path}")
        self.path = path
        try:
            if create or writable:
                self._db = sqlite3.connect(path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                if create:
                    self._db.executescript(_schema())
            else:
                self._db = connect_readonly(path)
            missing = set(TABLES) - {n for n, in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is not a readable ledger: {exc}") from None
        if missing:
            self._db.close()
            raise LedgerError(f"{path} is not a ledger: it has no {sorted(missing)[0]} table")

    def close(self) -> None:
        self._db.close()

    def copy_to(self, path: Path) -> None:
        """Writes a consistent copy of the whole ledger to a new file at `path`."""
        if path.exists():
            raise LedgerError(f"a ledger already exists at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(path)
        try:
            self._db.backup(target)
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
        if their and self.query("SELECT hash FROM blocks WHERE number = ?", (after,)) != [(their[1],)]:
            raise LedgerError(f"the copy at {path} does not end in block {after} of this ledger")
        self._db.execute("ATTACH DATABASE ? AS copy", (str(path),))
        try:
            with self._transaction():
                for table in TABLES:
                    if table != "meta":
                        where = AFTER_BLOCK.get(table, "block_number > ?")
                        self._db.execute(f"INSERT INTO copy.{table} SELECT * FROM main.{table} WHERE {where}",
                                         (after,))
        finally:
            self._db.execute("DETACH DATABASE copy")

    # ------------------------------------------------------------------ write

    def write_meta(self, values: dict[str, object]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()]
            )

    def append_block(self, rows: "BlockRows", seals: Sequence[Seal]) -> None:
        """Stores one block with all its rows and seals in one SQLite transaction."""
        head = self.head()
        number, parent = rows.block[0], rows.block[2]
        expected_number, expected_parent = (head[0] + 1, head[1]) if head else (number, parent)
        if number != expected_number or parent != expected_parent:
            raise LedgerError(f"block {number} does not extend the stored head {head and head[0]}")
        with self._transaction():
            self._db.execute("INSERT INTO blocks VALUES (?,?,?,?,?,?,?,?,?)", rows.block)
            self._db.executemany("INSERT INTO transactions VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows.transactions)
            self._db.executemany("INSERT INTO receipts VALUES (?,?,?,?,?,?,?)", rows.receipts)
            self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows.events)
            self._db.executemany("INSERT INTO seals VALUES (?,?,?)",
                                 [(number, seal.validator, seal.signature) for seal in seals])
            self._db.executemany("INSERT INTO refusals VALUES (?,?,?,?,?,?,?,?,?,?)", rows.refusals)
            self._db.executemany("INSERT INTO contracts VALUES (?,?,?)", rows.contracts)

    # ------------------------------------------------------------------- read

    def meta(self) -> dict[str, object]:
        what = f"{self.path}: the genesis record"
        try:
            return {k: parse_json(v, what) for k, v in self._db.execute("SELECT key, value FROM meta")}
        except TypeError as exc:
            raise LedgerError(f"{what} is not JSON ({exc})") from None

    def head(self) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return self._db.execute(sql, params).fetchall()

    def blocks(self) -> Iterator[tuple]:
        """(number, hash, parent_hash, state_root, timestamp, refusals_digest, header_rlp), in order."""
        yield from self._db.execute(
            "SELECT number, hash, parent_hash, state_root, timestamp, refusals_digest, header_rlp "
            "FROM blocks ORDER BY number"
        )

    def block_rows(self, number: int) -> BlockRows:
        """Every row stored with block `number`, in the order its seals cover them."""
        q = self._db.execute
        return BlockRows(
            q("SELECT * FROM blocks WHERE number = ?", (number,)).fetchone(),
            q("SELECT * FROM transactions WHERE block_number = ? ORDER BY tx_index", (number,)).fetchall(),
            q("SELECT r.* FROM receipts r JOIN transactions t ON t.hash = r.tx_hash WHERE t.block_number = ? "
              "ORDER BY t.tx_index", (number,)).fetchall(),
            q("SELECT * FROM events WHERE block_number = ? ORDER BY log_index", (number,)).fetchall(),
            q("SELECT * FROM refusals WHERE block_number = ? ORDER BY seq", (number,)).fetchall(),
            q("SELECT * FROM contracts WHERE block_number = ? ORDER BY address", (number,)).fetchall(),
        )

    def row_counts(self) -> dict[str, int]:
        """Every table's number of rows."""
        return {table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}

    def stray_rows(self, head: int) -> list[tuple[str, object, int]]:
        """(table, lowest block, rows) of every table's rows tied to no stored block up to `head`: rows after
        the head, of no block (NULL or not a number), or receipts of no transaction."""
        stray = []
        for table in ("transactions", "events", "seals", "refusals", "contracts"):
            low, count = self._db.execute(
                f"SELECT MIN(block_number), COUNT(*) FROM {table} WHERE block_number IS NULL OR block_number > ? "
                "OR block_number NOT IN (SELECT number FROM blocks)", (head,)).fetchone()
            if count:
                stray.append((table, low, count))
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM receipts WHERE tx_hash NOT IN (SELECT hash FROM transactions)").fetchone()
        if count:
            stray.append(("receipts", head + 1, count))
        low, count = self._db.execute("SELECT MIN(number), COUNT(*) FROM blocks WHERE number > ?", (head,)).fetchone()
        if count:
            stray.append(("blocks", low, count))
        return stray

    def schema_problem(self) -> str | None:
        """What is wrong with the file's schema or pages, if anything: every table and index must be as
        this module creates them (the triggers may be gone: they guard, they prove nothing), nothing may be
        added, and SQLite's integrity check (which compares every index with its table) must pass."""
        expected, found = _expected_schema(), _schema_objects(self._db)
        for key, sql in found.items():
            if expected.get(key) != sql:
                return f"the file holds a {key[0]} {key[1]} that is not the ledger's own"
        missing = sorted(name for (kind, name) in expected if kind != "trigger" and (kind, name) not in found)
        if missing:
            return f"the file lacks the ledger's {missing[0]}"
        (verdict,) = self._db.execute("PRAGMA integrity_check(1)").fetchone()
        return None if verdict == "ok" else f"the file is damaged: {verdict}"

    def seals(self, block_number: int) -> list[Seal]:
        rows = self._db.execute(
            "SELECT validator, signature FROM seals WHERE block_number = ? ORDER BY validator", (block_number,)
        )
        return [Seal(v, s) for v, s in rows]

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
