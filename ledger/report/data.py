"""Reading a run directory: each chain's blocks, refusals, members and holding events,
the node views as the regulator sees them, and the audit."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ledger.audit.reexecute import Audit, audit_run
from ledger.chain.run import ledger_path, run_chains, sub_runs
from ledger.errors import ConfigError, PilotLedgerError
from ledger.audit.verify import membership_at_head, pins_from_env
from ledger.chain.roles import MemberStatus, Role
from ledger.chain.reader import LedgerReader
from ledger.audit.views import NOBODY, node_view
from ledger.report.text import bytes32_text, pairs
from ledger.tooling.files import loads

TRUTH_FILE = "ground_truth.json"  # a run's ground truth: what was planted

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
    store = LedgerReader(ledger_path(run_dir, name))
    try:
        meta = store.meta()
        blocks = {b.number: [b.number, b.timestamp, 0, 0, 0] for b in store.blocks()}
        refusals, senders = [], {}
        for tx in store.transactions():
            row = blocks.setdefault(tx.block_number, [tx.block_number, None, 0, 0, 0])
            row[2 if tx.status else 3] += 1
            senders["0x" + tx.sender.hex()] = tx.node
            if not tx.status:
                refusals.append({"block": tx.block_number, "node": tx.node, "call": f"{tx.contract}.{tx.function}",
                                 "where": "contract", "reason": tx.error or "revert", "detail": _detail(tx.error_args)})
        gateway = []
        for r in store.refusals():
            blocks.setdefault(r.block_number, [r.block_number, None, 0, 0, 0])[4] += 1
            gateway.append({"block": r.block_number, "node": r.node, "call": f"{r.contract}.{r.function}",
                            "where": "gateway", "reason": r.reason, "detail": r.detail})
        refusals = sorted(gateway + refusals, key=lambda r: r["block"])
        membership = membership_at_head(store)
        members = {"0x" + a.hex(): Member(bytes32_text(m.org_id), m.roles, m.status) for a, m in membership.members()}
        events = [(e.contract, e.name, e.args) for e in store.events(contracts=HOLDING_CONTRACTS, decoded=True)]
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
        value = loads(args)
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
        return loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None


@dataclass
class RunData:
    summary: dict                            # run.json
    planted: list[dict]                      # ground_truth.json
    chains: list[ChainData]


NUMBER = (int, float)
# What the report reads of a run.json, by type: a file a run did not write this way is refused in one line
# rather than drawn wrong or crashed on (an absent field is fine: the report works it out from the ledgers).
SUMMARY_FIELDS: dict[str, type | tuple] = {
    "scenario": str, "seed": int, "engine": str, "options": dict, "blocks": int, "transactions": int,
    "committed": int, "refused": int, "refused_by_reason": dict, "unexpected_refusals": int, "head_hash": str,
    "alerts": list, "chains": dict, "missed": list, "elapsed_seconds": NUMBER, "tx_per_second": (*NUMBER, type(None)),
}
CHAIN_FIELDS = {"blocks": int, "committed": int, "reverted": int, "gateway_refused": int, "head_hash": str}
ALERT_FIELDS = {"rule": str, "chain": str, "block": int, "time": int, "severity": str, "message": str,
                "subject": (str, dict, type(None)), "detail": (str, type(None)), "values": dict}
PLANT_FIELDS = {"id": int, "kind": str, "detect": str, "expected": (str, type(None)), "description": str,
                "outcome": (dict, type(None)), "caught": (bool, type(None)), "subject": (dict, type(None)),
                "scenario": str}


def _check_fields(value: object, fields: dict, where: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a JSON object; this run's files were not written by a run")
    for key, kind in fields.items():
        if key in value and (not isinstance(value[key], kind) or isinstance(value[key], bool) and kind in (int, NUMBER)):
            raise ConfigError(f"{where}: {key!r} is {json.dumps(value[key])[:40]}, not what a run writes there")


def checked_summary(summary: object, path: Path) -> dict:
    """`summary` (read from `path`, a run.json) if it has the shape a run writes; ConfigError naming the field
    otherwise."""
    _check_fields(summary, SUMMARY_FIELDS, str(path))
    for reason, count in summary.get("refused_by_reason", {}).items():
        if not isinstance(count, int) or isinstance(count, bool):
            raise ConfigError(f"{path}: refused_by_reason {reason!r} is not a count")
    for chain, figures in summary.get("chains", {}).items():
        _check_fields(figures, CHAIN_FIELDS, f"{path}: chains.{chain}")
    for alert in summary.get("alerts", []):
        _check_fields(alert, ALERT_FIELDS, f"{path}: an alert")
    return summary


def checked_planted(planted: object, path: Path) -> list[dict]:
    """`planted` (read from `path`, a ground_truth.json) if it is a list of planted violations as a run writes."""
    if not isinstance(planted, list):
        raise ConfigError(f"{path} must be a JSON list of planted violations")
    for plant in planted:
        _check_fields(plant, PLANT_FIELDS, f"{path}: a planted violation")
    return planted


def load_run(run_dir: Path) -> RunData:
    """A run's summary, planted violations and chains, each with its node views."""
    names = run_chains(run_dir)
    summary = checked_summary(read_json(run_dir / "run.json", {}), run_dir / "run.json")
    planted = checked_planted(read_json(run_dir / TRUTH_FILE, []), run_dir / TRUTH_FILE)
    subs = sub_runs(run_dir)
    if subs:
        summary, planted = merge_sub_runs(summary, planted, subs)
    try:
        chains = [load_chain(run_dir, n) for n in names]
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{run_dir} holds a ledger that is not a readable SQLite file: {exc}") from None
    for chain in chains:
        load_views(run_dir, chain)
    return RunData(summary, planted, chains)


SUMMED = ("blocks", "transactions", "committed", "refused", "unexpected_refusals")


def merge_sub_runs(summary: dict, planted: list[dict], subs: list[Path]) -> tuple[dict, list[dict]]:
    """A run of sub-runs (`run scenario all`: one per scenario) as one: the sub-runs' figures summed, their
    chains, alerts and options under their run names (`share_transfer/fund_platform`), and their planted
    violations, each with its `scenario`, after the run's own."""
    merged = {**summary, "chains": dict(summary.get("chains", {})), "alerts": list(summary.get("alerts", [])),
              "options": dict(summary.get("options", {})), "refused_by_reason": {}}
    planted = list(planted)
    for sub in subs:
        name = sub.name
        s = checked_summary(read_json(sub / "run.json", {}), sub / "run.json")
        for key in SUMMED:
            if isinstance(s.get(key), int):
                merged[key] = merged.get(key, 0) + s[key]
        for reason, count in s.get("refused_by_reason", {}).items():
            merged["refused_by_reason"][reason] = merged["refused_by_reason"].get(reason, 0) + count
        merged["chains"].update({f"{name}/{chain}": figures for chain, figures in s.get("chains", {}).items()})
        merged["alerts"] += [{**a, "chain": f"{name}/{a['chain']}"} if a.get("chain") else a
                             for a in s.get("alerts", [])]
        merged["options"].update({f"{name}.{k}": v for k, v in s.get("options", {}).items()})
        planted += [{**p, "scenario": name} for p in checked_planted(read_json(sub / TRUTH_FILE, []), sub / TRUTH_FILE)]
    return merged, planted
