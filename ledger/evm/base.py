"""What every engine offers: execute a batch of signed transactions as one block,
read state, and go back to an earlier head. Scenario code never sees an engine; the
Consortium does. tests/test_engines.py holds every engine to this contract."""

from __future__ import annotations

from dataclasses import dataclass
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
