"""The regulator's audit of one copy of a chain's ledger.

On top of verify.py's checks (hash chain, refusal digests, seals by the validators
in force), an audit re-executes every block from genesis on a fresh engine (for a
chain run on a node: reads every block and receipt back from that node) and
compares block hashes, state roots, receipts and events with the copy; checks
that every transaction's signature recovers its recorded sender and that its
submitting node was an active member holding the role the call needs at that
height; and, where the run has a regulatory chain, that the copy still matches
the anchors its platform sent there. It stops at the first bad block and names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .anchoring import anchors_on, check_anchors
from .chain import LEDGER_FILE
from .engine import make_engine
from .errors import LedgerError, PilotLedgerError
from .membership import Membership
from .policy import required_role
from .roles import MemberStatus
from .store import LedgerStore
from .verify import verify_store


@dataclass
class Audit:
    chain: str
    copy: str
    blocks: int = 0
    transactions: int = 0
    anchors_checked: int = 0
    problems: list[str] = field(default_factory=list)
    replayed: str = "re-executed from genesis"  # or, for a chain run on a node, "re-read from the node"

    @property
    def verified(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"chain": self.chain, "copy": self.copy, "verified": self.verified, "blocks": self.blocks,
                "transactions": self.transactions, "anchors_checked": self.anchors_checked,
                "replayed": self.replayed, "problems": self.problems}


def audit_ledger(path: Path, chain: str, regulatory: Path | None = None,
                 progress: Callable[[int], None] | None = None) -> Audit:
    """Audits the ledger file at `path`, a copy of chain `chain`; `regulatory` is the
    regulatory chain's ledger, if the run has one."""
    result = Audit(chain, str(path))
    store = LedgerStore(path)
    try:
        verification = verify_store(store, chain)
        result.problems += verification.problems
        if not result.problems:
            _reexecute(store, result, progress or (lambda _: None))
        if not result.problems and regulatory is not None:
            regulatory_store = LedgerStore(regulatory)
            try:
                result.problems += check_anchors(store, chain, regulatory_store)[:1]  # the first bad one
                result.anchors_checked = len(anchors_on(regulatory_store, chain))
            finally:
                regulatory_store.close()
    finally:
        store.close()
    return result


def _reexecute(store: LedgerStore, result: Audit, progress: Callable[[int], None]) -> None:
    meta = store.meta()
    if meta["engine"] == "rpc":
        decode, replay, skipped = _node_replay(meta)
        result.replayed = f"re-read from the node at {meta['rpc_url']}"
    else:
        engine = make_engine(str(meta["engine"]), int(meta["chain_id"]), int(meta["genesis_time"]))
        if "0x" + engine.head().hash.hex() != meta["genesis_hash"]:
            result.problems.append("genesis: a fresh engine does not produce the recorded genesis block")
            return
        decode, replay, skipped = engine.decode, lambda _number, txs, timestamp: engine.execute_block(
            txs, timestamp), None
    membership = Membership.from_genesis(meta)
    for number, block_hash, _parent, state_root, timestamp, _digest, _header in store.blocks():
        where = f"block {number}"
        rows = store.query(
            "SELECT t.hash, t.node, t.sender, t.contract, t.function, t.raw, r.status, r.gas_used, r.output "
            "FROM transactions t JOIN receipts r ON r.tx_hash = t.hash WHERE t.block_number = ? ORDER BY t.tx_index",
            (number,))
        txs = []
        for tx_hash, node, sender, contract, function, raw, *_ in rows:
            try:
                tx = decode(raw)
            except Exception as exc:  # a damaged raw transaction no longer decodes or recovers
                result.problems.append(f"{where}: transaction {tx_hash.hex()} does not decode: {exc}")
                return
            if tx.hash != tx_hash or tx.sender != sender:
                result.problems.append(f"{where}: transaction {tx_hash.hex()}'s signature does not recover "
                                       "its recorded hash and sender")
                return
            problem = _permission_problem(membership, node, sender, contract, function)
            if problem:
                result.problems.append(f"{where}: transaction {tx_hash.hex()}: {problem}")
                return
            txs.append(tx)
        if replay is None:  # signatures and permissions only
            progress(1)
            continue
        try:
            executed = replay(number, txs, timestamp)
        except LedgerError as exc:
            result.problems.append(f"{where}: {exc}")
            return
        if executed.state_root != state_root:
            result.problems.append(f"{where}: re-execution gives a different state root")
            return
        if executed.hash != block_hash:
            result.problems.append(f"{where}: re-execution gives a different block hash")
            return
        for (tx_hash, *_, status, gas_used, output), outcome in zip(rows, executed.outcomes):
            if (int(outcome.success), outcome.gas_used, outcome.output) != (status, gas_used, output):
                result.problems.append(f"{where}: transaction {tx_hash.hex()}'s receipt differs from re-execution")
                return
        logs = [log for outcome in executed.outcomes for log in outcome.logs]
        stored = store.query("SELECT address, topics, data FROM events WHERE block_number = ? ORDER BY log_index",
                             (number,))
        if [(log.address, b"".join(log.topics), log.data) for log in logs] != [tuple(row) for row in stored]:
            result.problems.append(f"{where}: events differ from re-execution")
            return
        membership.apply(
            (contract, name, json.loads(args)) for contract, name, args in store.query(
                "SELECT contract, name, args FROM events WHERE block_number = ? AND name IS NOT NULL "
                "ORDER BY log_index", (number,)))
        result.blocks += 1
        result.transactions += len(rows)
        progress(1)
    if skipped:
        result.problems.append(f"re-execution skipped: {skipped}; the hash chain, seals, signatures and "
                               "permissions were checked")


def _node_replay(meta: dict) -> tuple[Callable, Callable | None, str | None]:
    """For a chain run on a node: (decode, replay, why replay is impossible). The embedded engine cannot
    rebuild another network's genesis, so each block and receipt is read back from the node instead and
    compared with the copy, as long as the node answers and still holds the chain."""
    from .engine.rpc import RpcEngine, decode_tx

    url, genesis = str(meta["rpc_url"]), int(meta["genesis_number"])
    try:
        node = RpcEngine(url, None)
        held = node.block_hash(genesis)
    except PilotLedgerError as exc:
        return decode_tx, None, f"the node the chain ran on does not answer ({exc})"
    if held is None or "0x" + held.hex() != meta["genesis_hash"]:
        return decode_tx, None, f"the node at {url} no longer holds this chain (its block {genesis} differs)"
    return decode_tx, lambda number, txs, _timestamp: node.read_block(number, [tx.hash for tx in txs]), None


def _permission_problem(membership: Membership, node: str, signer: bytes, contract: str, function: str) -> str:
    """Why `node` could not have submitted this call at this height ('' when it could)."""
    address = membership.address_of(node)
    if address is None:
        return f"submitted by {node}, which was not a member"
    record = membership.get(address)
    if record.status != MemberStatus.ACTIVE:
        return f"submitted by {node}, whose membership was {record.status.name.lower()}"
    needed = required_role(contract, function)
    if needed and not record.roles & needed == needed:
        return f"submitted by {node} without the {needed.name} role"
    if signer != address and membership.get(signer) is not None:
        return f"signed by another member's key ({signer.hex()})"
    return ""


def regulatory_ledger(run_dir: Path, chain: str) -> Path | None:
    """The run's regulatory chain ledger (any other chain carrying a ReportRegistry), if there is one."""
    for path in sorted(run_dir.glob(f"*/{LEDGER_FILE}")):
        if path.parent.name == chain:
            continue
        store = LedgerStore(path)
        try:
            if store.query("SELECT 1 FROM contracts WHERE name = 'ReportRegistry' LIMIT 1"):
                return path
        finally:
            store.close()
    return None


def ledger_copies(run_dir: Path, node: str | None = None) -> list[tuple[str, Path, int]]:
    """(chain, ledger file, blocks) of each chain's ledger in a run, or of `node`'s copies."""
    copies = []
    for path in sorted(run_dir.glob(f"*/{LEDGER_FILE}")):
        copy = path if node is None else path.parent / "nodes" / node / LEDGER_FILE
        if copy.exists():
            store = LedgerStore(copy)
            try:
                copies.append((path.parent.name, copy, store.query("SELECT COUNT(*) FROM blocks")[0][0]))
            finally:
                store.close()
    return copies


def audit_run(run_dir: Path, node: str | None = None, progress: Callable[[int], None] | None = None) -> list[Audit]:
    """Audits every chain of a run, or only the copies held by `node`."""
    return [audit_ledger(copy, chain, regulatory_ledger(run_dir, chain), progress)
            for chain, copy, _ in ledger_copies(run_dir, node)]
