"""The embedded engine: py-evm, one MiningChain in memory, a batch of transactions
per block, gas set explicitly on each transaction, signatures through coincurve,
and the faster opcode loop of interpreter.py (same results as stock py-evm)."""

from __future__ import annotations

from typing import Sequence

from eth import constants
from eth.abc import VirtualMachineAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.db.schema import SchemaV1
from eth.vm.spoof import SpoofTransaction
from eth_hash.auto import keccak
import rlp

from ledger.errors import LedgerError
from ledger.evm.base import ExecutedBlock, Log, SignedTx, TxOutcome
from ledger.evm.interpreter import FastShanghaiVM
from ledger.evm.signing import GAS_PRICE, Eip155Signer, decode_tx

BLOCK_GAS_LIMIT = 2_000_000_000
EXTRA_DATA = b"pilotledger"


class PyEvmEngine:
    """py-evm running the Shanghai rules (the artifacts' evmVersion)."""

    name = "pyevm"

    def __init__(self, chain_id: int, genesis_timestamp: int, vm: type[VirtualMachineAPI] = FastShanghaiVM) -> None:
        self.chain_id = chain_id
        chain_class = MiningChain.configure(
            __name__="PilotLedgerChain", vm_configuration=((constants.GENESIS_BLOCK_NUMBER, vm),), chain_id=chain_id
        )
        genesis = {
            "difficulty": 0,
            "gas_limit": BLOCK_GAS_LIMIT,
            "timestamp": genesis_timestamp,
            "base_fee_per_gas": 0,
            "extra_data": EXTRA_DATA,
            "coinbase": constants.ZERO_ADDRESS,
            "nonce": b"\0" * 8,
        }
        self._chain = chain_class.from_genesis(AtomicDB(), genesis)
        self._builder = vm.get_transaction_builder()
        self._signer = Eip155Signer(chain_id)

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> SignedTx:
        fields, sender = self._signer.sign(private_key, nonce, to, data, gas)
        tx = self._builder.new_transaction(*fields)
        raw = tx.encode()
        return SignedTx(raw, keccak(raw), sender, nonce, to, data, tx)

    decode = staticmethod(decode_tx)

    def execute_block(self, txs: Sequence[SignedTx], timestamp: int) -> ExecutedBlock:
        chain = self._chain
        parent = chain.get_canonical_head()
        if timestamp <= parent.timestamp:
            raise LedgerError(f"block timestamp {timestamp} is not after its parent's {parent.timestamp}")
        chain.set_header_timestamp(timestamp)
        try:
            result, receipts, computations = chain.mine_all([tx.native for tx in txs])
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
        return self._executed(result.imported_block.header, tuple(outcomes))

    def call(self, to: bytes, data: bytes, sender: bytes = constants.ZERO_ADDRESS) -> tuple[bool, bytes]:
        """Runs a read-only call on the head state: (success, return or revert data)."""
        head = self._chain.get_canonical_head()
        # Like eth_call on "latest": the head's state and the head's timestamp, never the wall clock.
        header = self._chain.create_header_from_parent(head, timestamp=head.timestamp)
        state = self._chain.get_vm(header).state
        unsigned = self._builder.create_unsigned_transaction(
            nonce=state.get_nonce(sender), gas_price=GAS_PRICE, gas=BLOCK_GAS_LIMIT // 10, to=to, value=0, data=data
        )
        computation = state.costless_execute_transaction(SpoofTransaction(unsigned, from_=sender))
        return computation.is_success, computation.output

    def head(self) -> ExecutedBlock:
        return self._executed(self._chain.get_canonical_head(), ())

    def snapshot(self) -> object:
        return self._chain.get_canonical_head()

    def revert(self, snapshot: object) -> None:
        """Makes the snapshot's header the head again. The database is content-addressed, so that
        block's state is still there: only the head pointer moves back. (The number index above it
        keeps the forgotten blocks until new ones replace them; execution reads ancestors by hash.)"""
        self._chain.chaindb.db[SchemaV1.make_canonical_head_hash_lookup_key()] = snapshot.hash
        self._chain.header = self._chain.create_header_from_parent(snapshot)

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
