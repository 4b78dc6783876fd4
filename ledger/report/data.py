"""Reading a run directory: each chain's blocks, refusals, members and holding events,
the node views as the regulator sees them, and the audit."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ledger.audit.reexecute import Audit, audit_run
from ledger.chain.run import LEDGER_FILE, chain_names
from ledger.errors import ConfigError, PilotLedgerError
from ledger.audit.verify import membership_at_head, pins_from_env
from ledger.chain.roles import MemberStatus, Role
from ledger.chain.store import LedgerStore
from ledger.audit.views import NOBODY, node_view
from ledger.report.text import bytes32_text, pairs

HOLDING_CONTRACTS = ("IdentityRegistry", "PrivateFundShares", "EquityMarket", "WarehouseReceipt")
NO_VIEWER = NOBODY  # a chain without a regulator: its nodes' views open no private record


@dataclass
class Member:
    name: str
    roles: Role
    status: MemberStatus


@dataclass
class ChainData:
    name: str
    meta: dict
    blocks: list[list]                       # [number, timestamp, committed, reverted, refused at the gateway]
    refusals: list[dict]                     # block, node, call, where, reason, detail
    members: dict[str, Member]               # "0x…" address -> member
    senders: dict[str, str]                  # "0x…" address -> node that submitted its transactions
    events: list[tuple[str, str, dict]]      # (contract, event, args) of the contracts the graph reads
    nodes: list[str]                         # nodes with a copy under <chain>/nodes/
    regulator: str | None = None
    views: dict[str, dict] = field(default_factory=dict)
    view_errors: dict[str, str] = field(default_factory=dict)

    @property
    def transactions(self) -> int:
        return sum(b[2] + b[3] for b in self.blocks)


def load_chain(run_dir: Path, name: str) -> ChainData:
    store = LedgerStore(run_dir / name / LEDGER_FILE)
    try:
        meta = store.meta()
        blocks = {n: [n, ts, 0, 0, 0] for n, ts in store.query("SELECT number, timestamp FROM blocks ORDER BY number")}
        for number, ok, bad in store.query(
                "SELECT t.block_number, SUM(r.status != 0), SUM(r.status = 0) FROM transactions t "
                "JOIN receipts r ON r.tx_hash = t.hash GROUP BY t.block_number"):
            row = blocks.setdefault(number, [number, None, 0, 0, 0])
            row[2], row[3] = int(ok or 0), int(bad or 0)
        for number, count in store.query("SELECT block_number, COUNT(*) FROM refusals GROUP BY block_number"):
            blocks.setdefault(number, [number, None, 0, 0, 0])[4] = count
        refusals = [{"block": b, "node": n, "call": f"{c}.{f}", "where": "gateway", "reason": r, "detail": d}
                    for b, n, c, f, r, d in store.query(
                        "SELECT block_number, node, contract, function, reason, detail FROM refusals ORDER BY seq")]
        refusals += [{"block": b, "node": n, "call": f"{c}.{f}", "where": "contract", "reason": e or "revert",
                      "detail": _detail(a)}
                     for b, n, c, f, e, a in store.query(
                         "SELECT t.block_number, t.node, t.contract, t.function, r.error, r.error_args "
                         "FROM transactions t JOIN receipts r ON r.tx_hash = t.hash WHERE r.status = 0 "
                         "ORDER BY t.block_number, t.tx_index")]
        refusals.sort(key=lambda r: r["block"])
        membership = membership_at_head(store)
        members = {"0x" + a.hex(): Member(bytes32_text(m.org_id), m.roles, m.status) for a, m in membership.members()}
        senders = {"0x" + s.hex(): n for s, n in store.query("SELECT DISTINCT sender, node FROM transactions")}
        marks = ",".join("?" * len(HOLDING_CONTRACTS))
        events = [(c, n, json.loads(a)) for c, n, a in store.query(
            f"SELECT contract, name, args FROM events WHERE contract IN ({marks}) AND args IS NOT NULL "
            "ORDER BY block_number, log_index", HOLDING_CONTRACTS)]
    finally:
        store.close()
    nodes_dir = run_dir / name / "nodes"
    nodes = sorted(p.name for p in nodes_dir.iterdir() if p.is_dir()) if nodes_dir.is_dir() else []
    chain = ChainData(name, meta, [blocks[k] for k in sorted(blocks)], refusals, members, senders, events, nodes)
    chain.regulator = find_regulator(chain)
    return chain


def _detail(args: str | None) -> str:
    if not args:
        return ""
    try:
        value = json.loads(args)
    except ValueError:
        return args
    return pairs(value) if isinstance(value, dict) else str(value)


def find_regulator(chain: ChainData) -> str | None:
    """The active member holding the REGULATOR role, preferring one with a node copy in the run."""
    regulators = [m.name for m in chain.members.values()
                  if m.roles & Role.REGULATOR and m.status == MemberStatus.ACTIVE]
    with_copy = [r for r in regulators if r in chain.nodes]
    return (with_copy or regulators or [None])[0]


def load_views(run_dir: Path, chain: ChainData) -> None:
    viewer = chain.regulator or NO_VIEWER
    for node in chain.nodes:
        try:
            chain.views[node] = node_view(run_dir, chain.name, node, viewer)
        except PilotLedgerError as exc:
            chain.view_errors[node] = str(exc)


def run_audits(run_dir: Path, progress: Callable[[int], None] | None = None) -> tuple[list[Audit], str | None]:
    """Every chain's audit, or the error that stopped it; `progress` is called with 1 per block re-executed."""
    try:
        return audit_run(run_dir, progress=progress, pins=pins_from_env()), None
    except PilotLedgerError as exc:
        return [], str(exc)


def read_json(path: Path, default):
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None


@dataclass
class RunData:
    summary: dict                            # run.json
    planted: list[dict]                      # ground_truth.json
    chains: list[ChainData]


def load_run(run_dir: Path) -> RunData:
    """A run's summary, planted violations and chains, each with its node views."""
    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    names = chain_names(run_dir)
    if not names:
        raise ConfigError(f"{run_dir} holds no ledger")
    summary = read_json(run_dir / "run.json", {})
    planted = read_json(run_dir / "ground_truth.json", [])
    try:
        chains = [load_chain(run_dir, n) for n in names]
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{run_dir} holds a ledger that is not a readable SQLite file: {exc}") from None
    for chain in chains:
        load_views(run_dir, chain)
    return RunData(summary, planted, chains)
