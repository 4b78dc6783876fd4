"""A run's chains read for the market queries: each chain's decoded events and reverted
transactions, in order, read from each RUN_DIR/<chain>/ledger.sqlite once it holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ledger.chain.reader import LedgerReader
from ledger.chain.run import chain_name
from ledger.supervision.lookthrough.index import ledger_files
from ledger.supervision.rules import text32


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
    chains = []
    for path in ledger_files(Path(run_dir)):
        chain = Chain(chain_name(Path(run_dir), path))
        with LedgerReader(path) as ledger:
            times = {b.number: b.timestamp for b in ledger.blocks()}
            if times:
                chain.head_block = max(times)
                chain.head_time = times[chain.head_block]
            for e in ledger.events(contracts=contracts or None, decoded=True):
                chain.events.append(Event(chain.name, e.block_number, e.log_index, times.get(e.block_number, 0),
                                          _hex(e.tx_hash), e.contract, e.name, e.args))
            for tx in ledger.transactions(reverted=True):
                chain.reverts.append(Revert(chain.name, tx.block_number, times.get(tx.block_number, 0), _hex(tx.hash),
                                            _hex(tx.sender), tx.node, tx.contract, tx.function, tx.error or "",
                                            tx.detail))
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
