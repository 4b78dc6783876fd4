"""A run's chains read for the market queries: each chain's decoded events and reverted
transactions, in order, straight from RUN_DIR/<chain>/ledger.sqlite (read-only)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import ConfigError
from ledger.chain.store import connect_readonly
from ledger.supervision.lookthrough.index import company_label, ledger_files


def text32(value: str) -> str:
    """A NUL-padded bytes32 as text when it is printable ASCII, else the hex."""
    return company_label(value) if isinstance(value, str) and value.startswith("0x") else str(value)


@dataclass
class Event:
    chain: str
    block: int
    log_index: int
    time: int
    tx: str
    contract: str
    name: str
    args: dict


@dataclass
class Revert:
    chain: str
    block: int
    time: int
    tx: str
    sender: str
    node: str
    contract: str | None
    function: str | None
    error: str
    args: dict


@dataclass
class Chain:
    name: str
    head_block: int = 0
    head_time: int = 0
    events: list[Event] = field(default_factory=list)
    reverts: list[Revert] = field(default_factory=list)


def _hex(b: bytes | None) -> str | None:
    return None if b is None else "0x" + bytes(b).hex()


def load_chains(run_dir: Path, contracts: tuple[str, ...] | None = None) -> list[Chain]:
    """Every chain's decoded events (of `contracts`, or all) and reverted transactions, in order."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    ledgers = ledger_files(run_dir)
    if not ledgers:
        raise ConfigError(f"{run_dir} holds no ledger")
    chains = []
    for path in ledgers:
        chain = Chain(path.parent.name)
        db = connect_readonly(path)
        try:
            times = dict(db.execute("SELECT number, timestamp FROM blocks"))
            if times:
                chain.head_block = max(times)
                chain.head_time = times[chain.head_block]
            where, params = "", ()
            if contracts:
                where, params = f"WHERE e.contract IN ({','.join('?' * len(contracts))})", contracts
            for block, idx, tx, contract, name, args in db.execute(
                    f"SELECT e.block_number, e.log_index, e.tx_hash, e.contract, e.name, e.args FROM events e "
                    f"{where} ORDER BY e.block_number, e.log_index", params):
                if args is None:
                    continue
                chain.events.append(Event(chain.name, block, idx, times.get(block, 0), _hex(tx), contract, name,
                                          json.loads(args)))
            for block, tx, sender, node, contract, function, error, eargs in db.execute(
                    "SELECT t.block_number, t.hash, t.sender, t.node, t.contract, t.function, r.error, r.error_args "
                    "FROM receipts r JOIN transactions t ON t.hash = r.tx_hash WHERE r.status = 0 "
                    "ORDER BY t.block_number, t.tx_index"):
                chain.reverts.append(Revert(chain.name, block, times.get(block, 0), _hex(tx), _hex(sender), node,
                                            contract, function, error or "", json.loads(eargs) if eargs else {}))
        finally:
            db.close()
        chains.append(chain)
    return chains


def where(e: Event | Revert) -> dict:
    return {"chain": e.chain, "block": e.block, "time": e.time, "tx_hash": e.tx}


def org_names(chains: list[Chain]) -> dict[str, str]:
    """Member account -> its organisation's code (PermissionRegistry.MemberAdded orgId), any chain."""
    out = {}
    for chain in chains:
        for e in chain.events:
            if e.contract == "PermissionRegistry" and e.name == "MemberAdded":
                out[e.args["account"]] = text32(e.args["orgId"])
    return out
