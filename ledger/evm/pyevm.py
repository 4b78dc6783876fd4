"""The embedded engine: py-evm, one MiningChain in memory, a batch of transactions per block,
gas set explicitly on each transaction, signatures through coincurve, the faster opcode loop of
interpreter.py (same results as stock py-evm), and a permissioned network's header rules
(permissioned.py: a fixed gas limit, base fee 0).

The database keeps what the next block needs, not the chain's history (the ledger holds that):
once it has grown to twice what it held after the last pruning, it is cut back to the head's
state (the trie nodes its state root reaches, and the accounts' code) and the last 256 headers
(BLOCKHASH's reach), so memory follows the state, not the run's length. Nothing is pruned while
a snapshot() for revert() is alive. The same head state, read out with `state()`, starts an
engine at that head again (`PyEvmEngine.at_state`), checked against the head's state root."""

from __future__ import annotations

import weakref
from typing import Iterable, Sequence

from eth import constants
from eth.abc import VirtualMachineAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.db.header import _decode_block_header
from eth.db.schema import SchemaV1
from eth.exceptions import HeaderNotFound
from eth.vm.spoof import SpoofTransaction
from eth_hash.auto import keccak
import rlp

from ledger.errors import LedgerError
from ledger.evm.base import AccountChange, ExecutedBlock, Log, SignedTx, TxOutcome
from ledger.evm.interpreter import FastShanghaiVM
from ledger.evm.mpt import BLANK_ROOT, logs_bloom, receipt_rlp, state_nodes, trie_root
from ledger.evm.mpt import keccak as trie_keccak  # the faster Keccak-256 (the same hash)
from ledger.evm.permissioned import BLOCK_GAS_LIMIT, CALL_GAS, COINBASE, GENESIS_ALLOC
from ledger.evm.tries import caches_of
from ledger.evm.signing import GAS_PRICE, Eip155Signer, decode_tx

EXTRA_DATA = b"pilotledger"
ANCESTORS = 256  # the headers BLOCKHASH reaches back to, kept below the head
PRUNE_AT_LEAST = 20_000  # database entries below which pruning is not worth a walk of the state


class _Head:
    """What snapshot() gives: the head to revert() to (weakly tracked: no pruning while one is alive)."""

    __slots__ = ("header", "__weakref__")

    def __init__(self, header) -> None:
        self.header = header


class PyEvmEngine:
    """py-evm running the Shanghai rules (the artifacts' evmVersion)."""

    name = "pyevm"

    def __init__(self, chain_id: int, genesis_timestamp: int | None, vm: type[VirtualMachineAPI] = FastShanghaiVM,
                 *, prune: bool = True, _db: AtomicDB | None = None) -> None:
        """A new chain `chain_id` from its genesis at `genesis_timestamp`. With `prune` (the default) the
        database is cut back to the head's state and last headers as it grows (above); a tool that reads
        old blocks from `chain` passes prune=False."""
        self.chain_id = chain_id
        chain_class = _chain_class(vm, chain_id)
        if _db is None:
            genesis = {
                "difficulty": 0,
                "gas_limit": BLOCK_GAS_LIMIT,
                "timestamp": genesis_timestamp,
                "base_fee_per_gas": 0,
                "extra_data": EXTRA_DATA,
                "coinbase": COINBASE,
                "nonce": b"\0" * 8,
            }
            alloc = {address: {"balance": wei, "nonce": 0, "code": b"", "storage": {}}
                     for address, wei in GENESIS_ALLOC.items()}
            self._chain = chain_class.from_genesis(AtomicDB(), genesis, alloc)
        else:
            self._chain = chain_class(_db)
        self._builder = vm.get_transaction_builder()
        self._signer = Eip155Signer(chain_id)
        self._prune = prune
        self._tokens: weakref.WeakSet[_Head] = weakref.WeakSet()
        self._call_state: tuple[bytes, object] | None = None  # (head hash, its state) for call()
        self._kept = len(self._chain.chaindb.db.wrapped_db.kv_store)  # database entries after the last pruning

    @classmethod
    def at_state(cls, chain_id: int, headers: Sequence[bytes], nodes: Iterable[bytes], codes: Iterable[bytes],
                 vm: type[VirtualMachineAPI] = FastShanghaiVM) -> "PyEvmEngine":
        """An engine whose head is the last of `headers` (RLP-encoded, oldest first, each the parent of the
        next: the head and up to 256 of its ancestors, for BLOCKHASH), with the state that the trie `nodes`
        and the contracts' `codes` hold. Each node is stored under the hash of its bytes, so the head's state
        root reaches exactly the nodes given or the state is refused (LedgerError): a node missing, changed
        (it no longer has the hash its parent names) or more than the root reaches, or code likewise."""
        try:
            decoded = [_decode_block_header(h) for h in headers]
        except (rlp.DecodingError, rlp.DeserializationError) as exc:
            raise LedgerError(f"a header of the state snapshot does not decode: {exc}") from None
        if not decoded:
            raise LedgerError("the state snapshot names no head")
        for parent, child in zip(decoded, decoded[1:]):
            if child.parent_hash != parent.hash or child.block_number != parent.block_number + 1:
                raise LedgerError(f"header {child.block_number} of the state snapshot does not follow its parent")
        head = decoded[-1]
        by_hash = {trie_keccak(n): n for n in nodes}
        code_by_hash = {trie_keccak(c): c for c in codes}
        try:
            reached, code_hashes = state_nodes(by_hash.__getitem__, head.state_root)
        except KeyError as exc:
            raise LedgerError(f"the state snapshot does not give block {head.block_number}'s state root "
                              f"0x{head.state_root.hex()}: node 0x{exc.args[0].hex()} is missing") from None
        except (ValueError, IndexError) as exc:
            raise LedgerError(f"the state snapshot holds a node that is not a trie node: {exc}") from None
        if len(reached) != len(by_hash) or code_hashes != set(code_by_hash):
            raise LedgerError(f"the state snapshot holds more or other than block {head.block_number}'s state")
        db = AtomicDB()
        kv = db.wrapped_db.kv_store
        kv.update(by_hash)
        kv.update(code_by_hash)
        kv[BLANK_ROOT] = b"\x80"
        chaindb = _chain_class(vm, chain_id).get_chaindb_class()(db)
        if decoded[0].block_number == 0:
            chaindb.persist_header_chain(decoded)
        else:  # the oldest header kept stands in for the blocks before it
            chaindb.persist_checkpoint_header(decoded[0], decoded[0].block_number + 1)
            if len(decoded) > 1:
                chaindb.persist_header_chain(decoded[1:])
        return cls(chain_id, None, vm, _db=db)

    def state(self) -> tuple[ExecutedBlock, dict[bytes, bytes], list[bytes]]:
        """The head, the trie nodes its state root reaches (hash -> RLP) and the contracts' code: with the
        head's header and its ancestors', what at_state() starts again from."""
        kv = self._chain.chaindb.db.wrapped_db.kv_store
        head = self._chain.get_canonical_head()
        nodes, code_hashes = state_nodes(kv.__getitem__, head.state_root)
        return self._executed(head, ()), nodes, [kv[h] for h in sorted(code_hashes)]

    def _ancestry(self, head) -> list:
        """The head and up to ANCESTORS of its ancestors that the database holds, newest first."""
        chaindb = self._chain.chaindb
        headers = [head]
        while len(headers) <= ANCESTORS and headers[-1].block_number > 0:
            try:
                headers.append(chaindb.get_block_header_by_hash(headers[-1].parent_hash))
            except HeaderNotFound:
                break
        return headers

    def _maybe_prune(self) -> None:
        """Cuts the database back to the head's state and last headers once it has doubled since the last
        time (a walk of the state, so its cost is spread over as many new entries as the state holds)."""
        memory = self._chain.chaindb.db.wrapped_db
        kv = memory.kv_store
        if not self._prune or self._tokens or len(kv) < max(PRUNE_AT_LEAST, 2 * self._kept):
            return
        head = self._chain.get_canonical_head()
        keep, code_hashes = state_nodes(kv.__getitem__, head.state_root)
        for code_hash in code_hashes:
            keep[code_hash] = kv[code_hash]
        for header in self._ancestry(head):
            keep[header.hash] = kv[header.hash]
            for key in (SchemaV1.make_block_hash_to_score_lookup_key(header.hash),
                        SchemaV1.make_block_number_to_hash_lookup_key(header.block_number)):
                keep[key] = kv[key]
        for key in (BLANK_ROOT, constants.EMPTY_UNCLE_HASH):
            if key in kv:
                keep[key] = kv[key]
        keep.update((key, value) for key, value in kv.items() if key.startswith(b"v1:"))
        memory.kv_store = keep
        self._kept = len(keep)
        caches_of(self._chain.chaindb.db).forget_stale(keep)

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> SignedTx:
        fields, sender = self._signer.sign(private_key, nonce, to, data, gas)
        tx = self._builder.new_transaction(*fields)
        raw = tx.encode()
        return SignedTx(raw, keccak(raw), sender, nonce, to, data, tx)

    decode = staticmethod(decode_tx)

    def _open_block(self, timestamp: int):
        """The head, after dating the block to be built on it `timestamp` (which must be later)."""
        parent = self._chain.get_canonical_head()
        if timestamp <= parent.timestamp:
            raise LedgerError(f"block timestamp {timestamp} is not after its parent's {parent.timestamp}")
        self._chain.set_header_timestamp(timestamp)
        return parent

    def execute_block(self, txs: Sequence[SignedTx], timestamp: int, **header_fields) -> ExecutedBlock:
        """`header_fields`: other values of the block's header than this chain's own (the coinbase and
        mix_hash of another engine's block, when the audit re-executes it)."""
        chain = self._chain
        parent = self._open_block(timestamp)
        try:
            result, receipts, computations = chain.mine_all([tx.native for tx in txs], **header_fields)
        except Exception as exc:  # py-evm rejects an invalid transaction for the whole block
            chain.header = chain.create_header_from_parent(parent)
            raise LedgerError(f"engine refused the block: {exc}") from exc
        outcomes = []
        cumulative = 0
        for tx, receipt, computation in zip(txs, receipts, computations):
            gas_used, cumulative = receipt.gas_used - cumulative, receipt.gas_used
            created = computation.msg.storage_address if not tx.to and computation.is_success else None
            outcomes.append(
                TxOutcome(
                    success=computation.is_success,
                    gas_used=gas_used,
                    logs=tuple(
                        Log(log.address, tuple(t.to_bytes(32, "big") for t in log.topics), log.data)
                        for log in receipt.logs
                    ),
                    output=computation.output,
                    contract_address=created,
                )
            )
        block = self._executed(result.imported_block.header, tuple(outcomes))
        self._maybe_prune()
        return block

    def record_block(self, txs: Sequence[SignedTx], timestamp: int, outcomes: Sequence[TxOutcome],
                     changes: Iterable[AccountChange]) -> ExecutedBlock:
        """A block another EVM executed (the anvil engine's), made as this chain makes its own: the state
        changes it reported applied to the parent's state, the transactions, receipts and header built as
        execute_block builds them, so the same block executed here would have the same hash."""
        chain = self._chain
        self._open_block(timestamp)
        vm = chain.get_vm(chain.header)
        state = vm.state
        for change in changes:
            if change.deleted:
                state.delete_account(change.address)
                continue
            if change.balance is not None:
                state.set_balance(change.address, change.balance)
            if change.nonce is not None:
                state.set_nonce(change.address, change.nonce)
            if change.code is not None:
                state.set_code(change.address, change.code)
            for slot, value in change.storage.items():
                state.set_storage(change.address, slot, value)
        state.lock_changes()
        state.persist()
        receipts, cumulative, logs = [], 0, []
        for outcome in outcomes:
            cumulative += outcome.gas_used
            block_logs = [(log.address, log.topics, log.data) for log in outcome.logs]
            receipts.append(receipt_rlp(outcome.success, cumulative, block_logs))
            logs += block_logs
        index_keys = [rlp.encode(i) for i in range(len(txs))]
        header = chain.header.copy(
            state_root=state.state_root, gas_used=cumulative, bloom=int.from_bytes(logs_bloom(logs), "big"),
            transaction_root=trie_root(zip(index_keys, (tx.raw for tx in txs))),
            receipt_root=trie_root(zip(index_keys, receipts)))
        # Only the header is kept (the ledger holds the block): what BLOCKHASH and the next block read.
        chain.chaindb.persist_header(header)
        chain.header = chain.create_header_from_parent(header)
        executed = self._executed(header, tuple(outcomes))
        self._maybe_prune()
        return executed

    def call(self, to: bytes, data: bytes, sender: bytes = constants.ZERO_ADDRESS) -> tuple[bool, bytes]:
        """Runs a read-only call on the head state: (success, return or revert data)."""
        head = self._chain.get_canonical_head()
        if self._call_state is None or self._call_state[0] != head.hash:
            # Like eth_call on "latest": the head's state and the head's timestamp, never the wall clock.
            # One state per head, each call undone after it (warm accounts and slots included): its
            # caches serve the calls that follow, several times faster than a state made for each.
            header = self._chain.create_header_from_parent(head, timestamp=head.timestamp)
            self._call_state = (head.hash, self._chain.get_vm(header).state)
        state = self._call_state[1]
        checkpoint = state.snapshot()
        try:
            unsigned = self._builder.create_unsigned_transaction(
                nonce=state.get_nonce(sender), gas_price=GAS_PRICE, gas=CALL_GAS, to=to, value=0,
                data=data)
            computation = state.costless_execute_transaction(SpoofTransaction(unsigned, from_=sender))
        finally:
            state.revert(checkpoint)
        return computation.is_success, computation.output

    def head(self) -> ExecutedBlock:
        return self._executed(self._chain.get_canonical_head(), ())

    def snapshot(self) -> object:
        token = _Head(self._chain.get_canonical_head())
        self._tokens.add(token)
        return token

    def holds_snapshots(self) -> bool:
        """Whether a snapshot() is still alive (for revert())."""
        return bool(self._tokens)

    def revert(self, snapshot: object) -> None:
        """Makes the snapshot's header the head again. The database is content-addressed and nothing is
        pruned while the snapshot is alive, so that block's state is still there: only the head pointer
        moves back. (The number index above it keeps the forgotten blocks until new ones replace them;
        execution reads ancestors by hash.)"""
        header = snapshot.header
        self._chain.chaindb.db[SchemaV1.make_canonical_head_hash_lookup_key()] = header.hash
        self._chain.header = self._chain.create_header_from_parent(header)

    @property
    def chain(self) -> MiningChain:
        """The underlying py-evm chain (for baselines and tools that need py-evm itself)."""
        return self._chain

    @staticmethod
    def _executed(header, outcomes: tuple[TxOutcome, ...]) -> ExecutedBlock:
        header_rlp = rlp.encode(header)
        return ExecutedBlock(
            number=header.block_number,
            hash=header.hash,
            parent_hash=header.parent_hash,
            state_root=header.state_root,
            timestamp=header.timestamp,
            gas_used=header.gas_used,
            header_rlp=header_rlp,
            outcomes=outcomes,
        )


def _chain_class(vm: type[VirtualMachineAPI], chain_id: int) -> type[MiningChain]:
    return MiningChain.configure(
        __name__="PilotLedgerChain", vm_configuration=((constants.GENESIS_BLOCK_NUMBER, vm),), chain_id=chain_id
    )
