"""What every engine offers: execute a batch of signed transactions as one block (or, on a node that
mines on its own clock, as the blocks the node made of it: execute_batch),
read state, and go back to an earlier head. Scenario code never sees an engine; the
Consortium does. tests/test_engines.py holds every engine to this contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


@dataclass(frozen=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class TxOutcome:
    """What executing one transaction produced."""

    success: bool
    gas_used: int
    logs: tuple[Log, ...]
    output: bytes  # return data, or revert data when not successful
    contract_address: bytes | None


@dataclass(frozen=True)
class ExecutedBlock:
    number: int
    hash: bytes
    parent_hash: bytes
    state_root: bytes
    timestamp: int
    gas_used: int
    header_rlp: bytes
    outcomes: tuple[TxOutcome, ...]
    # The hashes of the block's transactions, in the block's order, one per outcome; None: the batch's own
    # transactions in the order given (an engine that makes one block per batch need not say).
    tx_hashes: tuple[bytes, ...] | None = None


@dataclass(frozen=True)
class AccountChange:
    """What one transaction changed of one account: each field None where unchanged; storage holds the
    changed slots with their new values (0: cleared)."""

    address: bytes
    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    storage: dict[int, int] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction in its wire form, with the fields the ledger records."""

    raw: bytes
    hash: bytes
    sender: bytes
    nonce: int
    to: bytes  # b"" for a deployment
    data: bytes
    native: object  # the engine's own transaction object, to avoid decoding raw again


class Engine(Protocol):
    name: str
    chain_id: int

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> SignedTx: ...

    def decode(self, raw: bytes) -> SignedTx: ...

    def execute_block(self, txs: Sequence[SignedTx], timestamp: int) -> ExecutedBlock: ...

    def call(self, to: bytes, data: bytes, sender: bytes = b"\0" * 20) -> tuple[bool, bytes]: ...

    def head(self) -> ExecutedBlock: ...

    def snapshot(self) -> object:
        """A token for the current head and its state, for revert()."""
        ...

    def revert(self, snapshot: object) -> None:
        """Makes the snapshot's head the head again, with its state; later blocks are forgotten."""
        ...

    # Optional: take(tx) hands a node a transaction queued for the next block as soon as it is signed, so
    # that the node works on it while the next is prepared (the anvil engine); execute_block gets it again.


def execute_batch(engine: Engine, txs: Sequence[SignedTx], timestamp: int) -> list[ExecutedBlock]:
    """A batch executed: the blocks recorded for it, in order. An engine on a node that mines on its own
    clock (rpc) may find the batch spread over several blocks, with empty ones among them; it offers
    `execute(txs, timestamp) -> list[ExecutedBlock]`, each block naming its transactions (tx_hashes) and
    the last one holding the batch's last transaction. Any other engine makes the batch one block with
    execute_block, and needs nothing more."""
    execute = getattr(engine, "execute", None)
    return list(execute(txs, timestamp)) if execute is not None else [engine.execute_block(txs, timestamp)]
