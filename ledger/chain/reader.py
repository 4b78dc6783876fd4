"""The ledger reader: one read-only API over a chain's ledger.sqlite, returning typed records.

Everything outside the store layer reads a ledger through this module, never by SQL, so the
file's schema stays the store's own business. A reader opens SQLite read-only (`mode=ro`), and
`immutable=1` where the file sits on read-only media (a read-only mount, or a folder nobody may
write): it never writes, not even the shared-memory file a WAL database would otherwise want.
Records come in chain order; those a ledger holds many of (transactions, events) are yielded
lazily. The reader reads; whether what it reads holds is ledger.audit.verify's to say."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple, Sequence

from ledger.errors import LedgerError
from ledger.tooling.files import loads
from ledger.chain.sealer import Seal, rows_digest

if TYPE_CHECKING:
    from ledger.evm import ExecutedBlock
    from ledger.chain.store import EventRecord, RefusalRecord, TxRecord

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

MAX_JSON_BYTES = 16 * 2**20


# ----------------------------------------------------------------------------------- records

class Block(NamedTuple):
    number: int
    hash: bytes
    parent_hash: bytes
    state_root: bytes
    timestamp: int
    gas_used: int
    tx_count: int
    refusals_digest: bytes
    header_rlp: bytes


class Transaction(NamedTuple):
    """A stored transaction with its receipt."""

    block_number: int
    tx_index: int
    hash: bytes
    node: str
    sender: bytes
    nonce: int
    to: bytes | None
    contract: str | None
    function: str | None
    label: str | None
    raw: bytes
    status: int
    gas_used: int
    contract_address: bytes | None
    output: bytes
    error: str | None
    error_args: str | None  # JSON text, as sealed; `detail` parses it

    @property
    def detail(self) -> dict:
        """The revert's decoded arguments ({} when there are none)."""
        return parse_json(self.error_args, "a receipt's error arguments") if self.error_args else {}


class Event(NamedTuple):
    """A stored log: its raw topics and data, and the contract, name and arguments decoded at commit."""

    block_number: int
    log_index: int
    tx_hash: bytes
    address: bytes
    contract: str | None
    name: str | None
    args_text: str | None  # JSON text, as sealed
    topics: bytes  # the topics, 32 bytes each, concatenated
    data: bytes

    @property
    def args(self) -> dict | None:
        return None if self.args_text is None else parse_json(self.args_text, "an event's arguments")

    def topic_list(self) -> tuple[bytes, ...]:
        return tuple(self.topics[i:i + 32] for i in range(0, len(self.topics), 32))


class Refusal(NamedTuple):
    seq: int
    block_number: int
    node: str
    signer: bytes
    contract: str
    function: str
    label: str | None
    reason: str
    detail: str
    digest: bytes


class DeployedContract(NamedTuple):
    address: bytes
    name: str
    block_number: int


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
    def build(cls, block: "ExecutedBlock", refusals_digest: bytes, txs: "Sequence[TxRecord]",
              events: "Sequence[EventRecord]", refusals: "Sequence[RefusalRecord]",
              contracts: Sequence[tuple[bytes, str]] = ()) -> "BlockRows":
        """The rows a block just executed is stored as."""
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


# ------------------------------------------------------------------------------------ opening

def parse_json(text: str, what: str) -> object:
    """`text` as JSON, refusing (LedgerError) what is too large or nested too deep to be a ledger's record:
    the json module would overflow the C stack on a deep enough nesting."""
    if not isinstance(text, str):
        raise LedgerError(f"{what} is not JSON text")
    if len(text) > MAX_JSON_BYTES:
        raise LedgerError(f"{what} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return loads(text)  # nested no deeper than any record a ledger holds
    except ValueError as exc:
        raise LedgerError(f"{what} is not JSON ({exc})") from None


def on_read_only_media(path: Path) -> bool:
    """Whether the folder holding `path` cannot be written: a read-only mount, or no write bit for anyone
    (by the mode bits, not by access(2), which says yes to root whatever the bits)."""
    folder = Path(path).resolve().parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
        return not folder.stat().st_mode & 0o222
    except OSError:
        return False


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the SQLite file at `path`, by its escaped file: URI (a `#`, `?` or `%`
    in a folder name must not make SQLite open another file than the one named). On read-only media the
    file is opened immutable, so SQLite creates no -shm or -wal beside it, unless a write-ahead log is
    already there (an unfinished write: immutable would read past it)."""
    path = Path(path).resolve()
    immutable = on_read_only_media(path) and not path.with_name(path.name + "-wal").exists()
    return sqlite3.connect(f"{path.as_uri()}?mode=ro{'&immutable=1' if immutable else ''}", uri=True,
                           isolation_level=None)


def schema_statements() -> str:
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


def _schema_objects(db: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """sqlite_master's (type, name) -> sql: the tables, indexes and triggers a file holds."""
    return {(kind, name): sql for kind, name, sql in db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex_%'")}


@lru_cache(maxsize=1)
def _expected_schema() -> dict[tuple[str, str], str]:
    """The schema objects of a new ledger."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(schema_statements())
        return _schema_objects(db)
    finally:
        db.close()


_TX_COLUMNS = ("t.block_number, t.tx_index, t.hash, t.node, t.sender, t.nonce, t.to_address, t.contract, "
               "t.function, t.label, t.raw, r.status, r.gas_used, r.contract_address, r.output, r.error, "
               "r.error_args FROM transactions t JOIN receipts r ON r.tx_hash = t.hash")


def _where(conditions: Iterable[tuple[str, object]]) -> tuple[str, list]:
    """' WHERE a AND b' and its parameters from (clause, value) pairs whose value is not None; a tuple value
    fills an IN (...) clause."""
    clauses, params = [], []
    for clause, value in conditions:
        if value is None:
            continue
        if isinstance(value, tuple):
            clause = clause.replace("(?)", f"({','.join('?' * len(value))})")
            params.extend(value)
        elif "?" in clause:
            params.append(value)
        clauses.append(clause)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _names(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else (value,) if isinstance(value, str) else tuple(value)


# ------------------------------------------------------------------------------------- reader

class LedgerReader:
    """A read-only handle on the ledger at `path` (LedgerError if there is none, or it is no ledger)."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise LedgerError(f"no ledger at {path}")
        self.path = path
        self._open(lambda: connect_readonly(path))

    def _open(self, connect) -> None:
        try:
            self._db = connect()
            tables = {n for n, in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a readable ledger: {exc}") from None
        missing = set(TABLES) - tables
        if missing:
            self._db.close()
            raise LedgerError(f"{self.path} is not a ledger: it has no {sorted(missing)[0]} table")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "LedgerReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ meta and blocks

    def meta(self) -> dict[str, object]:
        """The genesis record the ledger holds."""
        what = f"{self.path}: the genesis record"
        try:
            return {k: parse_json(v, what) for k, v in self._db.execute("SELECT key, value FROM meta")}
        except TypeError as exc:
            raise LedgerError(f"{what} is not JSON ({exc})") from None

    def head(self) -> tuple[int, bytes] | None:
        """(number, hash) of the last stored block, None before the first."""
        row = self._db.execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def head_number(self) -> int:
        """The last stored block's number, 0 before the first."""
        head = self.head()
        return head[0] if head else 0

    def block_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]

    def block_numbers(self) -> list[int]:
        """Every stored block's number, in order (as stored: a damaged file may hold other than numbers)."""
        return [n for n, in self._db.execute("SELECT number FROM blocks ORDER BY number")]

    def blocks(self) -> Iterator[Block]:
        """Every stored block, in order."""
        yield from map(Block._make, self._db.execute("SELECT * FROM blocks ORDER BY number"))

    def block(self, number: int) -> Block | None:
        row = self._db.execute("SELECT * FROM blocks WHERE number = ?", (number,)).fetchone()
        return Block._make(row) if row else None

    def seals(self, block_number: int) -> list[Seal]:
        rows = self._db.execute(
            "SELECT validator, signature FROM seals WHERE block_number = ? ORDER BY validator", (block_number,))
        return [Seal(v, s) for v, s in rows]

    # ------------------------------------------------------------ transactions and events

    def transactions(self, *, block: int | None = None, node: str | None = None,
                     reverted: bool | None = None) -> Iterator[Transaction]:
        """Stored transactions with their receipts, in chain order: of one `block`, submitted by one `node`,
        and only the reverted (or only the committed) ones, as asked."""
        status = None if reverted is None else (0 if reverted else 1)
        where, params = _where((("t.block_number = ?", block), ("t.node = ?", node), ("r.status = ?", status)))
        yield from map(Transaction._make, self._db.execute(
            f"SELECT {_TX_COLUMNS}{where} ORDER BY t.block_number, t.tx_index", params))

    def next_nonces(self) -> dict[bytes, int]:
        """Every sender's next nonce."""
        return dict(self._db.execute("SELECT sender, MAX(nonce) + 1 FROM transactions GROUP BY sender"))

    def events(self, *, contracts: str | Iterable[str] | None = None, names: str | Iterable[str] | None = None,
               after: int | None = None, upto: int | None = None, decoded: bool = False,
               address: bytes | None = None) -> Iterator[Event]:
        """Stored events in chain order: of `contracts` and named `names` (as decoded at commit), in blocks
        (after, upto], with `decoded` only those whose arguments decoded, and of the raw log `address`."""
        where, params = _where((("address = ?", address), ("contract IN (?)", _names(contracts)),
                                ("name IN (?)", _names(names)),
                                ("block_number > ?", after), ("block_number <= ?", upto),
                                ("args IS NOT NULL", True if decoded else None)))
        yield from map(Event._make, self._db.execute(
            f"SELECT * FROM events{where} ORDER BY block_number, log_index", params))

    def refusals(self, *, node: str | None = None) -> Iterator[Refusal]:
        """The gateway's refusals, in order."""
        where, params = _where((("node = ?", node),))
        yield from map(Refusal._make, self._db.execute(f"SELECT * FROM refusals{where} ORDER BY seq", params))

    def last_refusal_seq(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM refusals").fetchone()[0]

    def contracts(self, name: str | None = None) -> list[DeployedContract]:
        """The contracts deployed (of one `name`), in the order they were deployed."""
        where, params = _where((("name = ?", name),))
        return [DeployedContract._make(r) for r in self._db.execute(
            f"SELECT * FROM contracts{where} ORDER BY block_number, address", params)]

    def membership_at(self, height: int | None = None):
        """Who was a member, with which roles, after block `height` (the head by default), from the
        registry's raw logs as the seals cover them (ledger.chain.membership.membership_at)."""
        from ledger.chain.membership import membership_at  # membership reads ledgers through this reader

        return membership_at(self, height)

    # -------------------------------------------------------------- what verification reads

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
        the store creates them (the triggers may be gone: they guard, they prove nothing), nothing may be
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
