"""The regulator's audit of a chain and of every member's copy of it.

One pass, block by block, so that the first bad block is named whatever is wrong with
it: verify.py's checks (header, roots, refusals, seals by the validators in force, every
row covered by the seals); every transaction's signature recovers its recorded sender
and its submitting node was an active member holding the role the call needs at that
height; the block re-executes on another EVM implementation than the one that made it
(revm through Anvil for a chain of the embedded py-evm engine, py-evm for one of the
anvil engine: a bug of one implementation must not reproduce itself; for a py-evm chain
where Anvil is not installed, stock py-evm, never the embedded engine's faster loop) to
the same hash, state root, receipts and raw logs; and the decoded columns (event names and arguments, revert reasons, contract
names) equal what the raw data gives. A chain run on an rpc node is re-read from that
node instead. Where the run has a regulatory chain, the ledger must still match the
anchors its platform sent there. The run-level audit also compares every member's copy
with the chain, naming each node whose copy differs and where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import rlp
from eth_hash.auto import keccak

from ledger.tooling.abi import ContractABI, decode_error
from ledger.tooling.artifacts import ContractType, chain_contract
from ledger.chain.run import LEDGER_FILE, chain_names
from ledger.evm import SignedTx
from ledger.evm.permissioned import PermissionedShanghaiVM
from ledger.errors import ArtifactError, LedgerError, PilotLedgerError
from ledger.chain.membership import Membership
from ledger.chain.access import may_submit
from ledger.chain.reader import LedgerReader
from ledger.audit.verify import (NODES_DIR, BadBlock, Findings, SealedBlock, apply_pins, check_anchored, check_ledger,
                                 check_member_copies, regulatory_ledger, sealed_blocks)



@dataclass
class Audit(Findings):
    copy: str
    node: str | None = None  # whose copy, or None for the chain's own ledger
    blocks: int = 0
    transactions: int = 0
    anchors_checked: int = 0
    replayed: str = "re-executed from genesis on stock py-evm"  # or on revm; for a chain run on a node, re-read from it

    def to_json(self) -> dict:
        return {"chain": self.chain, "copy": self.copy, "node": self.node, "verified": self.verified,
                "blocks": self.blocks, "transactions": self.transactions, "anchors_checked": self.anchors_checked,
                "replayed": self.replayed, "problems": self.problems, "first_bad_block": self.first_bad_block,
                "notes": self.notes}


def audit_ledger(path: Path, chain: str, regulatory: Path | None = None,
                 progress: Callable[[int], None] | None = None, chain_dir: Path | None = None,
                 node: str | None = None, on: str | None = None) -> Audit:
    """Audits the ledger file at `path`, a copy of chain `chain` whose public files (genesis record,
    certificates, pilot teams' artifacts) are in `chain_dir`; `regulatory` is the regulatory chain's
    ledger, if the run has one. `on`: the EVM to re-execute on, "pyevm" or "anvil" (by default the
    other one than the chain's: reexecutor_for)."""
    chain_dir = chain_dir or path.parent
    result = Audit(chain, str(path), node)

    def check(store: LedgerReader, genesis: dict | None, membership: Membership) -> None:
        _audit_blocks(store, genesis, chain_dir, result, membership, progress or (lambda _: None), on)
        if regulatory is not None:
            result.anchors_checked = check_anchored(store, chain, regulatory, result)

    return check_ledger(chain_dir, path, result, check)


def _audit_blocks(store: LedgerReader, genesis: dict | None, chain_dir: Path, result: Audit,
                  membership: Membership, progress: Callable[[int], None], on: str | None) -> None:
    if genesis is None:
        return  # nothing is re-executed against a genesis record nobody published (check_public_files says so)
    known = _KnownContracts(chain_dir)
    replayer: _Replayer | None = None
    try:
        for block in sealed_blocks(store, genesis, membership):
            # Made once the genesis record and the first block's seals hold: a node named in a forged record
            # is never contacted.
            replayer = replayer or _Replayer(store.meta(), result, on)
            txs = _check_transactions(block, replayer)
            replayer.replay(block, txs)
            known.check_decoded(block, txs)
            result.blocks += 1
            result.transactions += len(block.rows.transactions)
            progress(1)
    except BadBlock as bad:
        result.fail(bad.number, str(bad))
        return
    finally:
        if replayer:
            replayer.close()
    if replayer and replayer.skipped:
        result.problems.append(f"re-execution skipped: {replayer.skipped}; the hash chain, seals, signatures "
                               "and permissions were checked")


class _Replayer:
    """Re-executes blocks on the other EVM than the one that made the chain (revm, through Anvil, for a
    chain made by py-evm, when Anvil is installed; py-evm for one made on Anvil, with the embedded engine's
    faster loop, held to stock py-evm by tests/test_engine.py; stock py-evm for a py-evm chain otherwise),
    or re-reads them from the rpc node a chain ran on. Both engines build the same headers (the anvil
    engine builds them as py-evm does), so the same block has the same hash on either."""

    def __init__(self, meta: dict, result: Audit, on: str | None = None) -> None:
        self.skipped: str | None = None
        self._close = lambda: None
        self.chain_id = meta.get("chain_id")
        made_by = meta.get("engine")
        if made_by == "rpc":
            self.decode, self._execute, self.skipped = _node_replay(meta)
            result.replayed = f"re-read from the node at {meta.get('rpc_url')}"
            return
        on = on or reexecutor_for(made_by)
        try:
            chain_id, genesis_time = int(meta["chain_id"]), int(meta["genesis_time"])
        except (KeyError, ValueError, TypeError) as exc:
            raise BadBlock(0, f"the genesis record cannot start a chain: {exc}") from None
        if on == "anvil":
            from ledger.evm.anvil import AnvilEngine

            try:
                engine = AnvilEngine(chain_id, genesis_time)
            except PilotLedgerError as exc:
                raise BadBlock(0, f"cannot start Anvil to re-execute on revm: {exc}") from None
            self._close = engine.close
            result.replayed = "re-executed from genesis on revm (Anvil)"
        else:
            from ledger.evm.pyevm import PyEvmEngine

            if made_by == "anvil":  # py-evm's faster loop is an implementation of its own, apart from revm
                engine = PyEvmEngine(chain_id, genesis_time)
                result.replayed = "re-executed from genesis on py-evm"
            else:
                engine = PyEvmEngine(chain_id, genesis_time, vm=PermissionedShanghaiVM)
        if "0x" + engine.head().hash.hex() != meta.get("genesis_hash"):
            self.close()
            raise BadBlock(0, "a fresh engine does not produce the recorded genesis block")
        self.decode = engine.decode
        self._execute = lambda _number, txs, timestamp: engine.execute_block(txs, timestamp)

    def close(self) -> None:
        self._close()

    def replay(self, block: SealedBlock, txs: list[SignedTx]) -> None:
        """Re-executes `block`, whose transactions `txs` are already decoded, and compares."""
        if self._execute is None:
            return
        try:
            executed = self._execute(block.number, txs, block.timestamp)
        except LedgerError as exc:
            raise BadBlock(block.number, str(exc)) from None
        if executed.state_root != block.state_root:
            raise BadBlock(block.number, "re-execution gives a different state root")
        if executed.hash != block.hash:
            raise BadBlock(block.number, "re-execution gives a different block hash")
        for (tx_hash, status, gas_used, created, output, *_), outcome in zip(block.rows.receipts, executed.outcomes):
            if (int(outcome.success), outcome.gas_used, outcome.output, outcome.contract_address) != (
                    status, gas_used, output, created):
                raise BadBlock(block.number, f"transaction {tx_hash.hex()}'s receipt differs from re-execution")
        logs = [(log.address, log.topics, log.data) for outcome in executed.outcomes for log in outcome.logs]
        if logs != [(log.address, log.topics, log.data) for log in block.logs]:
            raise BadBlock(block.number, "events differ from re-execution")


def reexecutor_for(made_by: str | None) -> str:
    """The EVM the audit re-executes a chain on by default: the other one than the chain's own."""
    from ledger.evm import devnode

    if made_by == "anvil" or devnode.missing(anvil=True):
        return "pyevm"
    return "anvil"


def _check_transactions(block: SealedBlock, replayer: _Replayer) -> list[SignedTx]:
    """The block's transactions, decoded once: each signature recovers its recorded sender, and each
    submitting node could submit its call at that height."""
    decoded = []
    for tx_hash, _, _, node, sender, nonce, to, contract, function, _, raw in block.rows.transactions:
        try:
            tx = replayer.decode(raw)
        except Exception as exc:  # a damaged raw transaction no longer decodes or recovers
            raise BadBlock(block.number, f"transaction {tx_hash.hex()} does not decode: {exc}") from None
        if (tx.hash, tx.sender, tx.nonce, tx.to or None) != (tx_hash, sender, nonce, to):
            raise BadBlock(block.number, f"transaction {tx_hash.hex()}'s signature does not recover its "
                                         "recorded hash, sender, nonce and recipient")
        signed_for = getattr(tx.native, "chain_id", None)
        if signed_for != replayer.chain_id:  # a transaction of another chain (or of none) replayed on this one
            raise BadBlock(block.number, f"transaction {tx_hash.hex()} is signed for chain id {signed_for}, not "
                                         f"this chain's {replayer.chain_id}")
        admission = may_submit(block.membership, node, block.membership.address_of(node), f"{contract}.{function}",
                               tx.to, tx.data, sender)
        if not admission.admitted:
            raise BadBlock(block.number, f"transaction {tx_hash.hex()}: {node} could not submit it at this height "
                                         f"({admission.reason}: {admission.detail})")
        decoded.append(tx)
    return decoded


class _KnownContracts:
    """Which contract is at which address, from the deployments themselves: a deployment's code must begin
    with its named artifact's creation code (the project's; a pilot team's, kept with the chain, only for a
    name the project does not use). The decoded columns are a cache, recomputed from the raw data and
    compared."""

    def __init__(self, chain_dir: Path) -> None:
        self._chain_dir = chain_dir
        self._at: dict[bytes, ContractABI] = {}
        self._errors: dict = {}

    def _type(self, name: str) -> ContractType | None:
        try:
            kind = chain_contract(self._chain_dir, name)
        except ArtifactError:
            return None
        return kind if kind.bytecode else None

    def check_decoded(self, block: SealedBlock, txs: list[SignedTx]) -> None:
        created = {}
        for (tx_hash, _, _, _, sender, nonce, to, contract, function, _, _), receipt, tx in zip(
                block.rows.transactions, block.rows.receipts, txs):
            if not to and receipt[1]:  # a deployment, whatever its recorded function
                address = keccak(rlp.encode([sender, nonce]))[-20:]
                kind = self._type(contract or "")
                data = tx.data
                if kind is None or not data.startswith(kind.bytecode):
                    raise BadBlock(block.number, f"transaction {tx_hash.hex()} deploys code that is not "
                                                 f"the {contract} artifact's")
                created[address] = contract
                self._at[address] = kind.abi
                self._errors.update(kind.abi.errors)
        if created != {a: name for a, name, _ in block.rows.contracts}:
            raise BadBlock(block.number, "the contracts recorded differ from the block's deployments")
        for (tx_hash, status, _, _, output, error, error_args) in block.rows.receipts:
            decoded = (None, None) if status else _error_columns(decode_error(output, self._errors))
            if (error, error_args) != decoded:
                raise BadBlock(block.number, f"transaction {tx_hash.hex()}'s revert reason differs from its output")
        for row, log in zip(block.rows.events, block.logs):
            abi = self._at.get(log.address)
            named = abi.decode_event(log.topics, log.data) if abi else None
            expected = (None, None) if named is None else (named[0], json.dumps(named[1]))
            if (row[5], row[6]) != expected:
                raise BadBlock(block.number, f"event {log.log_index}'s decoded name or arguments differ "
                                             "from its raw log")


def _error_columns(error) -> tuple[str | None, str | None]:
    return error.name, None if error.args is None else json.dumps(error.args)


def _node_replay(meta: dict) -> tuple[Callable, Callable | None, str | None]:
    """For a chain run on a node: (decode, replay, why replay is impossible). The embedded engine cannot
    rebuild another network's genesis, so each block and receipt is read back from the node instead and
    compared with the copy, as long as the node answers and still holds the chain."""
    from ledger.evm.rpc import RpcEngine
    from ledger.evm.signing import decode_tx

    url, genesis = str(meta.get("rpc_url")), int(meta.get("genesis_number", 0))
    try:
        node = RpcEngine(url, None)
        held = node.block_hash(genesis)
    except PilotLedgerError as exc:
        return decode_tx, None, f"the node the chain ran on does not answer ({exc})"
    if held is None or "0x" + held.hex() != meta.get("genesis_hash"):
        return decode_tx, None, f"the node at {url} no longer holds this chain (its block {genesis} differs)"
    return decode_tx, lambda number, txs, _timestamp: node.read_block(number, [tx.hash for tx in txs]), None


# ------------------------------------------------------------------------------------------- a run

def ledger_copies(run_dir: Path, node: str | None = None) -> list[tuple[str, Path, int]]:
    """(chain, ledger file, blocks) of each chain's ledger in a run, or of `node`'s copies."""
    copies = []
    for chain in chain_names(run_dir):
        copy = run_dir / chain / (LEDGER_FILE if node is None else Path(NODES_DIR, node, LEDGER_FILE))
        if copy.exists():
            copies.append((chain, copy, _block_count(copy)))
    return copies


def _block_count(path: Path) -> int:
    try:
        store = LedgerReader(path)
    except LedgerError:
        return 0
    try:
        return store.block_count()
    finally:
        store.close()


def audit_run(run_dir: Path, node: str | None = None, progress: Callable[[int], None] | None = None,
              pins: Path | None = None, on: str | None = None) -> list[Audit]:
    """Audits every chain of a run and checks every member's copy against it; or audits only the copies
    held by `node`, in full; with `pins`, each chain against the genesis the regulator pinned for it; `on`:
    the EVM to re-execute on (audit_ledger)."""
    audits = []
    for chain, path, _ in ledger_copies(run_dir, node):
        try:
            regulatory = regulatory_ledger(run_dir, chain)
        except LedgerError as exc:
            audit = Audit(chain, str(path), node)
            audit.fail(0, str(exc))
            audits.append(audit)
            continue
        audit = audit_ledger(path, chain, regulatory, progress, run_dir / chain, node, on)
        if node is None:
            check_member_copies(run_dir / chain, audit)
        audits.append(audit)
    return apply_pins(run_dir, audits, pins, lambda chain: None if node else Audit(chain, str(run_dir / chain)))
