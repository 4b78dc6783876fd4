"""secp256k1 accounts and fast recoverable signatures (coincurve). Keys derive from the run's seed
and the operator secret (ledger.trust.secrets.KeyDeriver), or come from a node's keystore (ledger.trust.keystore)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

from ledger.errors import LedgerError

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def address_of_public_key(public_key: PublicKey) -> bytes:
    return keccak(public_key.format(compressed=False)[1:])[-20:]


def recover_address(message_hash: bytes, signature: bytes) -> bytes:
    """The address whose key made the 65-byte recoverable `signature` over `message_hash`."""
    return address_of_public_key(PublicKey.from_signature_and_message(signature, message_hash, hasher=None))


@dataclass(frozen=True)
class Account:
    """An EVM account with its private key; a client account carries its label."""

    private_key: bytes = field(repr=False)
    label: str | None = field(default=None, compare=False)

    @classmethod
    def derive(cls, seed: int, label: str) -> "Account":
        """The account `label` of a run with `seed`, with this machine's operator secret."""
        from ledger.trust.secrets import KeyDeriver
        return KeyDeriver.for_seed(seed).account(label)

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


@dataclass(frozen=True)
class PublicAccount:
    """A node's account known by its address only (from its certificate): its key was not
    opened here, so it can neither sign nor seal."""

    address: bytes
    label: str | None = field(default=None, compare=False)
    private_key: None = field(default=None, init=False, repr=False)  # no key here: cannot sign or seal

    def sign_hash(self, message_hash: bytes) -> bytes:
        raise LedgerError(f"0x{self.address.hex()} cannot sign here: its keystore was not opened")

    def __repr__(self) -> str:
        return f"PublicAccount(0x{self.address.hex()})"


def public_key_address(uncompressed_point: bytes) -> bytes:
    """The address of a secp256k1 public key given as an uncompressed point (0x04 | x | y)."""
    return keccak(uncompressed_point[1:])[-20:]
