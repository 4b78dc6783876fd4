"""Deterministic secp256k1 accounts and fast recoverable signatures (coincurve)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def derive_private_key(seed: int, label: str) -> bytes:
    """A private key fixed by (seed, label): the same run seed gives every node the same key."""
    counter = 0
    while True:
        candidate = keccak(f"pilotledger/{seed}/{label}/{counter}".encode())
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_ORDER:
            return candidate
        counter += 1


def address_of_public_key(public_key: PublicKey) -> bytes:
    return keccak(public_key.format(compressed=False)[1:])[-20:]


def recover_address(message_hash: bytes, signature: bytes) -> bytes:
    """The address whose key made the 65-byte recoverable `signature` over `message_hash`."""
    return address_of_public_key(PublicKey.from_signature_and_message(signature, message_hash, hasher=None))


@dataclass(frozen=True)
class Account:
    """An EVM account with its private key."""

    private_key: bytes = field(repr=False)

    @classmethod
    def derive(cls, seed: int, label: str) -> "Account":
        return cls(derive_private_key(seed, label))

    @cached_property
    def _key(self) -> PrivateKey:
        return PrivateKey(self.private_key)

    @cached_property
    def address(self) -> bytes:
        return address_of_public_key(self._key.public_key)

    def sign_hash(self, message_hash: bytes) -> bytes:
        """A 65-byte recoverable signature (r, s, recovery id) over a 32-byte hash."""
        return self._key.sign_recoverable(message_hash, hasher=None)

    def __repr__(self) -> str:
        return f"Account(0x{self.address.hex()})"
