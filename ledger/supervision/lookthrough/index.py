"""The audit index: RUN_DIR/index.sqlite, a projection of every chain's decoded events in a run.

Tables (identity ids, accounts and company ids are 0x-prefixed lower-case hex):

    meta(key, value)                       schema version, what it was built from
    identities(id, chain, kind, qualified_until)
                                           IdentityRegistry.IdentityRegistered / QualificationSet;
                                           kind 1 person, 2 institution, 3 registered product,
                                           4 unregistered vehicle
    accounts(account, chain, identity)     IdentityRegistry.AccountLinked (the latest link)
    assets(asset, market, chain, label, cap, total, holders_on_chain)
                                           `fund:N` (PrivateFundShares.FundCreated, cap by legal form)
                                           or `company:0x..` (EquityMarket.CompanyListed, its
                                           holderCap); total = shares outstanding;
                                           holders_on_chain = the chain's own figure at the end
                                           (holders of HolderCapModule's last HolderEntered/Exited)
    holdings(asset, holder, amount, share) holder identity -> asset, replayed from Subscribed /
                                           TransferSettled / ForcedTransfer (funds) and
                                           SharesAllotted / SharesTransferred (companies);
                                           share = amount / total; only non-zero balances
    declarations(vehicle, investor, bps, chain)
                                           IdentityRegistry.InvestorsDeclared (the latest
                                           declaration of each vehicle replaces the earlier)
    events(chain, block, time, log_index, tx, function, contract, name, args)
                                           the sealed history the supervision rules read
                                           (ledger.supervision.replay.SOURCES), args as JSON
    heads(chain, block, time)              each chain's head
    nominees(asset, nominee, person)       who each nominee holder of a company holds for, from
                                           the declarations KYC agents sealed for the regulator

The snapshot tables are the state ledger.supervision.replay.World reaches at each head: the rules and
the queries read one replay.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Iterable

from ledger.audit.verify import sealed_ledgers
from ledger.chain.reader import connect_readonly
from ledger.chain.run import chain_name, run_chains
from ledger.supervision.replay import Event, Sealed, World, open_sealed, read_history

INDEX_FILE = "index.sqlite"
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE identities (id TEXT NOT NULL, chain TEXT NOT NULL, kind INTEGER NOT NULL,
    qualified_until INTEGER NOT NULL, PRIMARY KEY (id, chain));
CREATE TABLE accounts (account TEXT NOT NULL, chain TEXT NOT NULL, identity TEXT NOT NULL,
    PRIMARY KEY (account, chain));
CREATE TABLE assets (asset TEXT PRIMARY KEY, market TEXT NOT NULL, chain TEXT NOT NULL, label TEXT NOT NULL,
    cap INTEGER NOT NULL, total INTEGER NOT NULL, holders_on_chain INTEGER);
CREATE TABLE holdings (asset TEXT NOT NULL, holder TEXT NOT NULL, amount INTEGER NOT NULL, share REAL NOT NULL,
    PRIMARY KEY (asset, holder));
CREATE TABLE declarations (vehicle TEXT NOT NULL, investor TEXT NOT NULL, bps INTEGER NOT NULL,
    chain TEXT NOT NULL, PRIMARY KEY (vehicle, investor, chain));
CREATE TABLE events (chain TEXT NOT NULL, block INTEGER NOT NULL, time INTEGER NOT NULL, log_index INTEGER NOT NULL,
    tx TEXT, function TEXT, contract TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL,
    PRIMARY KEY (chain, block, log_index));
CREATE TABLE heads (chain TEXT PRIMARY KEY, block INTEGER NOT NULL, time INTEGER NOT NULL);
CREATE TABLE nominees (asset TEXT NOT NULL, nominee TEXT NOT NULL, person TEXT NOT NULL,
    PRIMARY KEY (asset, nominee, person));
"""
INDEXES = """
CREATE INDEX identities_id ON identities(id);
CREATE INDEX accounts_identity ON accounts(identity);
CREATE INDEX holdings_holder ON holdings(holder);
CREATE INDEX declarations_investor ON declarations(investor);
"""



def ledger_files(run_dir: Path, anchored: bool = True) -> list[Path]:
    """The ledgers of the run in `run_dir` (ConfigError when there is no run there), each verified against its
    headers and seals first: the look-through reads only ledgers that hold."""
    run_chains(run_dir)
    return sealed_ledgers(Path(run_dir), anchored)


class AuditIndex:
    """A read-only handle on a built index."""

    def __init__(self, path: Path, temporary: bool = False) -> None:
        self.path = path
        self._temporary = temporary  # built for one answer: removed on close
        self.db = connect_readonly(path)
        self._declared: dict[str, list[tuple[str, int]]] = {}
        self._kinds: dict[str, int] = {}
        self._loaded = False
        self._looked: set[str] | None = None
        self._undeclared: set[str] | None = None

    def close(self) -> None:
        self.db.close()
        if self._temporary:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "AuditIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        return self.db.execute(sql, tuple(params)).fetchall()

    def accounts_of(self, identity: str) -> set[str]:
        """The accounts linked to `identity`, on any chain."""
        return {a for (a,) in self.db.execute("SELECT account FROM accounts WHERE identity = ?", (identity,))}

    def identities_of(self, account: str) -> set[str]:
        """The identities `account` is linked to, on any chain."""
        return {i for (i,) in self.db.execute("SELECT identity FROM accounts WHERE account = ?", (account,))}

    def holdings_of(self, holder: str) -> list[tuple[str, int, float]]:
        """(asset, amount, share) of every asset `holder` holds directly."""
        return self.query("SELECT asset, amount, share FROM holdings WHERE holder = ?", (holder,))

    def company_asset(self, code: str) -> str | None:
        """The asset id of the company listed as `code` (case-insensitive), if any."""
        row = self.db.execute("SELECT asset FROM assets WHERE market = 'company' AND upper(label) = upper(?)",
                              (code,)).fetchone()
        return row[0] if row else None

    def asset(self, asset: str) -> dict | None:
        row = self.db.execute("SELECT asset, market, chain, label, cap, total, holders_on_chain FROM assets "
                              "WHERE asset = ?", (asset,)).fetchone()
        if row is None:
            return None
        return dict(zip(("asset", "market", "chain", "label", "cap", "total", "holders_on_chain"), row))

    def holdings(self, asset: str) -> list[tuple[str, int, float]]:
        return self.query("SELECT holder, amount, share FROM holdings WHERE asset = ? ORDER BY holder", (asset,))

    def ids(self, accounts: bool = False) -> list[str]:
        """Every identity id and company id indexed (and every linked account): what a short id may stand for."""
        ids = [i for (i,) in self.db.execute("SELECT DISTINCT id FROM identities ORDER BY id")]
        ids += [a.partition(":")[2] for (a,) in self.db.execute(
            "SELECT asset FROM assets WHERE market = 'company' ORDER BY asset")]
        if accounts:
            ids += [a for (a,) in self.db.execute("SELECT DISTINCT account FROM accounts ORDER BY account")]
        return ids

    def identity_chains(self, identity: str) -> list[tuple[str, int]]:
        """(chain, kind) of every chain `identity` is registered on."""
        return self.query("SELECT chain, kind FROM identities WHERE id = ? ORDER BY chain", (identity,))

    def account_chains(self, account: str) -> list[str]:
        """The chains `account` is linked to an identity on."""
        return [c for (c,) in self.db.execute("SELECT chain FROM accounts WHERE account = ? ORDER BY chain",
                                              (account,))]

    def chains(self) -> list[tuple[str, int, int]]:
        """(chain, head block, head time) of every chain indexed."""
        return self.query("SELECT chain, block, time FROM heads ORDER BY chain")

    def events(self, chain: str) -> Iterable[Event]:
        """Chain `chain`'s sealed history, in order."""
        for row in self.db.execute("SELECT chain, block, time, log_index, tx, function, contract, name, args "
                                   "FROM events WHERE chain = ? ORDER BY block, log_index", (chain,)):
            yield Event(*row[:8], json.loads(row[8]))

    def nominees(self, asset: str | None = None) -> dict:
        """nominee -> the people it holds for, of company `asset` (or asset -> that, for every company)."""
        out: dict[str, dict[str, list[str]]] = {}
        for a, nominee, person in self.db.execute("SELECT asset, nominee, person FROM nominees ORDER BY 1, 2, 3"):
            out.setdefault(a, {}).setdefault(nominee, []).append(person)
        return out.get(asset, {}) if asset is not None else out

    def load_graph(self) -> None:
        """Reads every identity's kind and every declaration into memory, once."""
        if self._loaded:
            return
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_graph()
        finally:
            if enabled:
                gc.enable()

    def _load_graph(self) -> None:
        self._kinds = dict(self.db.execute("SELECT id, kind FROM identities"))
        declared: dict[str, list[tuple[str, int]]] = {}
        for vehicle, investor, bps in self.db.execute(
                "SELECT vehicle, investor, bps FROM declarations ORDER BY vehicle, investor"):
            declared.setdefault(vehicle, []).append((investor, bps))
        self._declared = declared
        self._loaded = True

    @property
    def graph(self) -> tuple[dict[str, list[tuple[str, int]]], dict[str, int]]:
        """(declarations: vehicle -> [(investor, bps)], kinds: identity -> kind), loaded once."""
        self.load_graph()
        return self._declared, self._kinds

    def vehicles_declared(self) -> set[str]:
        """Unregistered vehicles (kind 4) that declared investors."""
        self.load_graph()
        if self._looked is None:
            self._looked = {v for v in self._declared if self._kinds.get(v) == 4}
        return self._looked

    def vehicles_undeclared(self) -> set[str]:
        """Unregistered vehicles (kind 4) that declared no investors."""
        self.load_graph()
        if self._undeclared is None:
            self._undeclared = {i for i, k in self._kinds.items() if k == 4 and i not in self._declared}
        return self._undeclared

    def kind(self, identity: str) -> int | None:
        self.load_graph()
        return self._kinds.get(identity)

    def declared(self, vehicle: str) -> list[tuple[str, int]]:
        """(investor, bps) declared by `vehicle`, or [] if it declared none."""
        self.load_graph()
        return self._declared.get(vehicle, [])

    def known_identity(self, identity: str) -> bool:
        self.load_graph()
        if identity in self._kinds or identity in self._declared:
            return True
        return self.db.execute("SELECT 1 FROM holdings WHERE holder = ? LIMIT 1", (identity,)).fetchone() is not None


# ------------------------------------------------------------------- build


def create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


def create_indexes(db: sqlite3.Connection) -> None:
    db.executescript(INDEXES)


def replay_chain(chain: str, ledger: Path, sealed: Sealed | None = None) -> tuple[World, list[Event], tuple[int, int]]:
    """A holding ledger's history replayed to its head, with what the regulator opens of its private stores."""
    events, head, tokens = read_history(ledger, chain)
    world = World(chain, sealed or open_sealed(ledger.parent), tokens, ledger)
    for e in events:
        world.apply(e)
    world.end_block(*head)
    return world, events, head


def write_index(path: Path, identities, accounts, assets, holdings, declarations, meta: dict, events=(), heads=(),
                nominees=()) -> None:
    """Writes a whole index to `path` (replacing it atomically) from plain rows:
    identities (id, chain, kind, qualified_until), accounts (account, chain, identity),
    assets (asset, market, chain, label, cap, total, holders_on_chain), holdings (asset, holder, amount, share),
    declarations (vehicle, investor, bps, chain)."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    db = sqlite3.connect(tmp, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        create_schema(db)
        db.execute("BEGIN")
        db.executemany("INSERT INTO meta VALUES (?, ?)",
                       [(k, json.dumps(v, sort_keys=True)) for k, v in {"schema": SCHEMA_VERSION, **meta}.items()])
        db.executemany("INSERT INTO identities VALUES (?,?,?,?)", identities)
        db.executemany("INSERT INTO accounts VALUES (?,?,?)", accounts)
        db.executemany("INSERT INTO assets VALUES (?,?,?,?,?,?,?)", assets)
        db.executemany("INSERT INTO holdings VALUES (?,?,?,?)", holdings)
        db.executemany("INSERT INTO declarations VALUES (?,?,?,?)", declarations)
        db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", events)
        db.executemany("INSERT INTO heads VALUES (?,?,?)", heads)
        db.executemany("INSERT INTO nominees VALUES (?,?,?)", nominees)
        db.execute("COMMIT")
        create_indexes(db)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(tmp, path)


def build_index(run_dir: Path, path: Path | None = None, anchored: bool = True,
                sealed: dict[str, Sealed] | None = None) -> Path:
    """Replays every chain's sealed events in `run_dir` and writes the index (default RUN_DIR/index.sqlite)."""
    run_dir = Path(run_dir)
    identities, accounts, assets, holdings, declarations, events, heads, nominees = ([] for _ in range(8))
    chains = []
    for ledger in ledger_files(run_dir, anchored):
        chain = chain_name(run_dir, ledger)
        chains.append(chain)
        world, history, head = replay_chain(chain, ledger)
        if sealed is not None:
            sealed[chain] = world.sealed
        identities += [(i, chain, r.kind, r.qualified_until) for i, r in sorted(world.identities.items())]
        accounts += [(a, chain, i) for a, i in sorted(world.accounts.items())]
        declarations += [(v, inv, bps, chain) for v, pairs in sorted(world.declared.items()) for inv, bps in pairs]
        for asset, info in sorted(world.assets.items()):
            book = {h: n for h, n in world.balances.get(asset, {}).items() if n > 0}
            total = sum(book.values())
            holdings += [(asset, h, n, n / total) for h, n in sorted(book.items())]
            assets.append((asset, info.market, chain, info.label, info.cap, total,
                           world.holders_on_chain.get(asset, 0)))
        events += [(chain, e.block, e.time, e.log_index, e.tx, e.function, e.contract, e.name,
                    json.dumps(e.args, sort_keys=True)) for e in history]
        heads.append((chain, *head))
        nominees += [(asset, nominee, person) for asset, held in sorted(world.sealed.nominees.items())
                     for nominee, people in sorted(held.items()) for person in people]
    write_index(path or run_dir / INDEX_FILE, identities, accounts, assets, holdings, declarations,
                {"chains": chains}, events, heads, nominees)
    return path or run_dir / INDEX_FILE


def open_index(run_dir: Path, anchored: bool = True, sealed: dict[str, Sealed] | None = None) -> AuditIndex:
    """The index of a run, built afresh from its ledgers (each verified first) for this answer. The index is
    a cache: one left on disk (RUN_DIR/index.sqlite) may have been edited, so it is never read back.
    Building it takes a small fraction of verifying the ledgers (bench/lookthrough.py)."""
    run_dir = Path(run_dir)
    ledger_files(run_dir, anchored)
    handle, name = tempfile.mkstemp(prefix="pilotledger-index-", suffix=".sqlite")
    os.close(handle)
    path = Path(name)
    path.unlink()
    build_index(run_dir, path, anchored, sealed)
    return AuditIndex(path, temporary=True)
