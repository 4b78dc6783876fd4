"""Validator seals, QBFT-style: at least two thirds of the validators in force sign
each block. A seal covers the block hash and the running digest of refusals, so
neither a block nor the record of what the gateway refused can change unseen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from eth_hash.auto import keccak

from .keys import Account, recover_address

SEAL_DOMAIN = b"pilotledger/seal/v1"


def quorum(validator_count: int) -> int:
    """The least number of seals that makes a block final: ceil(2n/3)."""
    return (2 * validator_count + 2) // 3


def link_refusal(previous_digest: bytes, seq: int, node: str, signer: bytes, contract: str, function: str,
                 reason: str) -> bytes:
    """The running digest of refusals after one more: what a block's seals cover of them."""
    body = f"{seq}|{node}|{signer.hex()}|{contract}|{function}|{reason}".encode()
    return keccak(previous_digest + body)


def seal_message(block_hash: bytes, refusals_digest: bytes) -> bytes:
    return keccak(SEAL_DOMAIN + block_hash + refusals_digest)


@dataclass(frozen=True)
class Seal:
    validator: bytes
    signature: bytes


def make_seals(block_hash: bytes, refusals_digest: bytes, signers: Iterable[Account]) -> list[Seal]:
    message = seal_message(block_hash, refusals_digest)
    return [Seal(a.address, a.sign_hash(message)) for a in signers]


def check_seals(
    block_hash: bytes, refusals_digest: bytes, seals: Sequence[Seal], validators: Sequence[bytes]
) -> str | None:
    """None when the seals reach a quorum of `validators`, else what is wrong."""
    message = seal_message(block_hash, refusals_digest)
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
        good.add(signer)
    needed = quorum(len(in_force))
    if len(good) < needed:
        return f"{len(good)} valid seals, {needed} needed of {len(in_force)} validators"
    return None
