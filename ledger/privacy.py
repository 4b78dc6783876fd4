"""Personal data off chain: each node's private store, sealed for its owner and the regulator.

The chain holds only a salted hash of an identity's personal data. The KYC node that
collected the data keeps it in its own SQLite file, RUN_DIR/<chain>/nodes/<NODE>/private.sqlite,
encrypted with a fresh data key (AES-256-GCM, the identity id as associated data). The data
key is wrapped twice, for the owner and for the regulator, each time with an X25519 key
agreement against the recipient's public key, HKDF-SHA256 and AES-GCM. Any other node's key
opens neither wrap. Every key and nonce derives from the run's seed, so runs stay
byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_hash.auto import keccak

from .errors import LedgerError

PRIVATE_FILE = "private.sqlite"
WRAP_INFO = b"pilotledger/private-store/key-wrap"
SCHEMA = """CREATE TABLE IF NOT EXISTS records (identity BLOB PRIMARY KEY, salt BLOB NOT NULL,
    nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, owner_wrap BLOB NOT NULL, regulator_wrap BLOB NOT NULL)"""


def privacy_key(seed: int, chain: str, node: str) -> X25519PrivateKey:
    """The X25519 key a node uses for sealed data on `chain`."""
    return X25519PrivateKey.from_private_bytes(keccak(f"x25519/{seed}/{chain}/{node}".encode()))


def _public_bytes(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _wrap_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, ephemeral_public + recipient_public, WRAP_INFO).derive(shared)


def _wrap(data_key: bytes, recipient: X25519PublicKey, ephemeral: X25519PrivateKey, nonce: bytes) -> bytes:
    """ephemeral public key (32) | nonce (12) | AES-GCM(data key)."""
    epk, rpk = _public_bytes(ephemeral.public_key()), _public_bytes(recipient)
    wrapping = _wrap_key(ephemeral.exchange(recipient), epk, rpk)
    return epk + nonce + AESGCM(wrapping).encrypt(nonce, data_key, rpk)


def _unwrap(wrapped: bytes, key: X25519PrivateKey) -> bytes:
    epk, nonce, sealed = wrapped[:32], wrapped[32:44], wrapped[44:]
    rpk = _public_bytes(key.public_key())
    wrapping = _wrap_key(key.exchange(X25519PublicKey.from_public_bytes(epk)), epk, rpk)
    return AESGCM(wrapping).decrypt(nonce, sealed, rpk)


def data_hash(salt: bytes, personal: dict) -> bytes:
    """The salted hash of personal data that goes on chain."""
    return keccak(salt + json.dumps(personal, sort_keys=True).encode())


@dataclass(frozen=True)
class SealedRecord:
    identity: bytes
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    owner_wrap: bytes
    regulator_wrap: bytes

    def open(self, key: X25519PrivateKey) -> dict | None:
        """The personal data, if `key` is the owner's or the regulator's; None for anyone else."""
        for wrapped in (self.owner_wrap, self.regulator_wrap):
            try:
                data_key = _unwrap(wrapped, key)
            except InvalidTag:
                continue
            try:
                return json.loads(AESGCM(data_key).decrypt(self.nonce, self.ciphertext, self.identity))
            except InvalidTag:
                raise LedgerError(f"the sealed record of identity 0x{self.identity.hex()} was altered") from None
        return None


class PrivateStore:
    """One node's private store on one chain."""

    def __init__(self, path: Path, seed: int, chain: str, owner: str, regulator: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._seed, self._chain = seed, chain
        self._owner = privacy_key(seed, chain, owner).public_key()
        self._regulator = privacy_key(seed, chain, regulator).public_key()
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute(SCHEMA)

    def put(self, identity: bytes, salt: bytes, personal: dict) -> None:
        """Seals `personal` for the owner and the regulator."""
        derive = lambda what: keccak(f"{what}/{self._seed}/{self._chain}/".encode() + identity)  # noqa: E731
        data_key, nonce = derive("data-key"), derive("nonce")[:12]
        ciphertext = AESGCM(data_key).encrypt(nonce, json.dumps(personal, sort_keys=True).encode(), identity)
        owner_wrap = _wrap(data_key, self._owner, X25519PrivateKey.from_private_bytes(derive("owner-eph")),
                           derive("owner-nonce")[:12])
        regulator_wrap = _wrap(data_key, self._regulator, X25519PrivateKey.from_private_bytes(derive("reg-eph")),
                               derive("reg-nonce")[:12])
        self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                         (identity, salt, nonce, ciphertext, owner_wrap, regulator_wrap))

    def close(self) -> None:
        self._db.close()


def read_records(path: Path) -> list[SealedRecord]:
    if not path.exists():
        raise LedgerError(f"no private store at {path}")
    db = sqlite3.connect(path)
    try:
        return [SealedRecord(*row) for row in db.execute("SELECT * FROM records ORDER BY identity")]
    finally:
        db.close()
