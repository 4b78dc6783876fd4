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
from ledger.chain.reader import LedgerReader, connect_readonly
from ledger.chain.run import run_chains

INDEX_FILE = "index.sqlite"
SCHEMA_VERSION = 1

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
    chain TEXT NOT NULL, PRIMARY KEY (vehicle, investor));
"""
INDEXES = """
CREATE INDEX identities_id ON identities(id);
CREATE INDEX accounts_identity ON accounts(identity);
CREATE INDEX holdings_holder ON holdings(holder);
CREATE INDEX declarations_investor ON declarations(investor);
"""

SOURCE_CONTRACTS = ("IdentityRegistry", "PrivateFundShares", "EquityMarket", "HolderCapModule")
MARKETS = ("PrivateFundShares", "EquityMarket")  # the tokens whose holders HolderCapModule counts


def ledger_files(run_dir: Path) -> list[Path]:
    """The ledgers of the run in `run_dir` (ConfigError when there is no run there), each verified against its
    headers and seals first: the look-through reads only ledgers that hold."""
    run_chains(run_dir)
    return sealed_ledgers(Path(run_dir))


def company_label(company_id: str) -> str:
    """A company id is its code, NUL-padded to 32 bytes (`ZKXY`); anything else shows as hex."""
    raw = bytes.fromhex(company_id[2:]).rstrip(b"\0")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return company_id
    return text if text and text.isprintable() else company_id


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


def _replay_chain(chain: str, ledger_path: Path, run_dir: Path, out: dict) -> None:
    with LedgerReader(ledger_path) as ledger:
        rows = [(e.contract, e.name, e.args_text) for e in ledger.events(contracts=SOURCE_CONTRACTS)]
        markets = {"0x" + c.address.hex(): c.name for c in ledger.contracts() if c.name in MARKETS}
    identities, accounts, declarations = out["identities"], out["accounts"], out["declarations"]
    assets, balances = out["assets"], out["balances"]
    chain_accounts: dict[str, str] = {}

    def credit(asset: str, identity: str | None, amount: int) -> None:
        if identity is None:
            return
        book = balances.setdefault(asset, {})
        book[identity] = book.get(identity, 0) + amount

    def move_fund(asset: str, src: str, dst: str, amount: int) -> None:
        credit(asset, chain_accounts.get(src), -amount)
        credit(asset, chain_accounts.get(dst), amount)

    for contract, name, args_text in rows:
        if args_text is None:
            continue
        a = json.loads(args_text)
        if contract == "IdentityRegistry":
            if name == "IdentityRegistered":
                identities[(a["id"], chain)] = [a["kind"], a["qualifiedUntil"]]
            elif name == "QualificationSet":
                if (a["id"], chain) in identities:
                    identities[(a["id"], chain)][1] = a["qualifiedUntil"]
            elif name == "AccountLinked":
                chain_accounts[a["account"]] = a["id"]
                accounts[(a["account"], chain)] = a["id"]
            elif name == "InvestorsDeclared":
                declarations[a["vehicle"]] = (chain, list(zip(a["investors"], a["sharesBps"])))
        elif contract == "PrivateFundShares":
            if name == "FundCreated":
                asset = f"fund:{a['fundId']}"
                assets[asset] = {"market": "fund", "chain": chain, "label": f"fund {a['fundId']}",
                                 "cap": a["cap"], "holders_on_chain": 0}
            elif name == "Subscribed":
                asset = f"fund:{a['fundId']}"
                credit(asset, a["identity"], a["amount"])
            elif name in ("TransferSettled", "ForcedTransfer"):
                move_fund(f"fund:{a['fundId']}", a["from"], a["to"], a["amount"])
        elif contract == "EquityMarket":
            if name == "CompanyListed":
                asset = f"company:{a['companyId']}"
                assets[asset] = {"market": "company", "chain": chain, "label": company_label(a["companyId"]),
                                 "cap": a["holderCap"], "holders_on_chain": 0}
            elif name == "SharesAllotted":
                credit(f"company:{a['companyId']}", a["identity"], a["shares"])
            elif name == "SharesTransferred":
                asset = f"company:{a['companyId']}"
                credit(asset, a["fromIdentity"], -a["shares"])
                credit(asset, a["toIdentity"], a["shares"])
        elif contract == "HolderCapModule" and name in ("HolderEntered", "HolderExited"):
            market = markets.get(a["token"].lower())
            asset = f"fund:{a['asset']}" if market == "PrivateFundShares" else f"company:0x{a['asset']:064x}"
            if asset in assets:
                assets[asset]["holders_on_chain"] = a["holders"]


def write_index(path: Path, identities, accounts, assets, holdings, declarations, meta: dict) -> None:
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
        db.execute("COMMIT")
        create_indexes(db)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(tmp, path)


def build_index(run_dir: Path, path: Path | None = None) -> Path:
    """Replays every chain's events in `run_dir` and writes the index (default RUN_DIR/index.sqlite)."""
    run_dir = Path(run_dir)
    ledgers = ledger_files(run_dir)
    out: dict = {"identities": {}, "accounts": {}, "declarations": {}, "assets": {}, "balances": {}}
    for ledger in ledgers:
        _replay_chain(ledger.parent.name, ledger, run_dir, out)
    holdings, assets = [], []
    for asset, info in sorted(out["assets"].items()):
        book = {h: n for h, n in out["balances"].get(asset, {}).items() if n > 0}
        total = sum(book.values())
        holdings += [(asset, h, n, n / total) for h, n in sorted(book.items())]
        assets.append((asset, info["market"], info["chain"], info["label"], info["cap"], total,
                       info["holders_on_chain"]))
    write_index(
        path or run_dir / INDEX_FILE,
        [(i, c, k, q) for (i, c), (k, q) in sorted(out["identities"].items())],
        [(a, c, i) for (a, c), i in sorted(out["accounts"].items())],
        assets, holdings,
        [(v, inv, bps, chain) for v, (chain, pairs) in sorted(out["declarations"].items()) for inv, bps in pairs],
        {"chains": [p.parent.name for p in ledgers]},
    )
    return path or run_dir / INDEX_FILE


def open_index(run_dir: Path) -> AuditIndex:
    """The index of a run, built afresh from its ledgers (each verified first) for this answer. The index is
    a cache: one left on disk (RUN_DIR/index.sqlite) may have been edited, so it is never read back.
    Building it takes a small fraction of verifying the ledgers (bench/lookthrough.py)."""
    run_dir = Path(run_dir)
    ledger_files(run_dir)
    handle, name = tempfile.mkstemp(prefix="pilotledger-index-", suffix=".sqlite")
    os.close(handle)
    path = Path(name)
    path.unlink()
    build_index(run_dir, path)
    return AuditIndex(path, temporary=True)
