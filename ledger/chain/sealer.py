"""Validator seals, QBFT-style: at least two thirds of the validators in force sign
each block. A seal covers the chain's genesis record, the block hash, the running
digest of refusals and the digest of every row stored with the block, so neither a
block, nor the record of what the gateway refused, nor any stored column (who
submitted a transaction, its decoded events, its revert reason) can change unseen."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Sequence

from eth_hash.auto import keccak

from ledger.trust.keys import Account, recover_address

SEAL_DOMAIN = b"pilotledger/seal/v2"


def quorum(validator_count: int) -> int:
    """The least number of seals that makes a block final: ceil(2n/3)."""
    return (2 * validator_count + 2) // 3


def genesis_id(genesis: dict) -> bytes:
    """The hash of a chain's genesis record (founders, CA, chain id, time): what every seal is bound to."""
    return keccak(json.dumps(genesis, sort_keys=True, separators=(",", ":")).encode())


def link_refusal(previous_digest: bytes, row: Sequence[object]) -> bytes:
    """The running digest of refusals after one more: `row` is every field of the refusal but its block
    (the block whose seals cover the digest says which) and the digest itself: seq, node, signer, contract,
    function, label, reason, detail."""
    return keccak(previous_digest + rows_digest([row]))


def rows_digest(rows: Iterable[Sequence[object]]) -> bytes:
    """One SHA-256 over table rows, every column included, in the order given. Each value is tagged with
    its type and length, so that None, '', b'' and 0 all differ and no two rows run into each other."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(b"R%d;" % len(row))
        for value in row:
            if value is None:
                digest.update(b"N")
                continue
            if isinstance(value, int):
                tag, raw = b"I", str(value).encode()
            elif isinstance(value, str):
                tag, raw = b"S", value.encode()
            elif isinstance(value, (bytes, bytearray, memoryview)):
                tag, raw = b"B", bytes(value)
            else:  # what the ledger never stores (a REAL from SQLite): digested as itself, so it matches nothing
                tag, raw = b"X", repr(value).encode()
            digest.update(b"%s%d:" % (tag, len(raw)))
            digest.update(raw)
    return digest.digest()


def seal_message(genesis: bytes, block_hash: bytes, refusals_digest: bytes, records_digest: bytes) -> bytes:
    return keccak(SEAL_DOMAIN + genesis + block_hash + refusals_digest + records_digest)


@dataclass(frozen=True)
class Seal:
    validator: bytes
    signature: bytes


def make_seals(message: bytes, signers: Iterable[Account]) -> list[Seal]:
    return [Seal(a.address, a.sign_hash(message)) for a in signers]


def check_seals(message: bytes, seals: Sequence[Seal], validators: Sequence[bytes]) -> str | None:
    """None when the seals over `message` reach a quorum of `validators`, else what is wrong."""
    in_force = set(validators)
    good = set()
    for seal in seals:
        try:
            signer = recover_address(message, seal.signature)
        except Exception:
            return f"seal by 0x{seal.validator.hex()} is not a valid signature"
        if signer != seal.validator:
            return f"seal claims 0x{seal.validator.hex()} but was signed by 0x{signer.hex()}"
        if signer not in in_force:
            return f"seal by 0x{signer.hex()}, who is not a validator at this height"
        if signer in good:
            return f"two seals by 0x{signer.hex()}"
        good.add(signer)
    needed = quorum(len(in_force))
    if len(good) < needed:
        return f"{len(good)} valid seals, {needed} needed of {len(in_force)} validators"
    return None
