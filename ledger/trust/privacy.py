"""Personal data off chain: each node's private store, sealed for its owner and the regulator.

The chain holds only a salted hash of an identity's personal data. The KYC node that
collected the data keeps it in its own SQLite file, RUN_DIR/<chain>/nodes/<NODE>/private.sqlite,
encrypted with a fresh data key (AES-256-GCM, the identity id as associated data). The data
key is wrapped twice, for the owner and for the regulator, each time with an X25519 key
agreement against the recipient's public key, HKDF-SHA256 and AES-GCM. Any other node's key
opens neither wrap. Every key and nonce derives from the run's seed and the operator secret
(ledger.trust.secrets.KeyDeriver), so runs stay byte-for-byte reproducible while a member that knows
the seed derives nothing. Each node keeps its own X25519 key in its keystore (ledger.trust.keystore).
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

from ledger.errors import LedgerError
from ledger.trust.secrets import KeyDeriver, as_deriver
from ledger.tooling.files import loads

PRIVATE_FILE = "private.sqlite"
WRAP_INFO = b"pilotledger/private-store/key-wrap"
SCHEMA = """CREATE TABLE IF NOT EXISTS records (identity BLOB PRIMARY KEY, salt BLOB NOT NULL,
    nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, owner_wrap BLOB NOT NULL, regulator_wrap BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS declarations (identity BLOB NOT NULL, kind TEXT NOT NULL, nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL, owner_wrap BLOB NOT NULL, regulator_wrap BLOB NOT NULL, PRIMARY KEY (identity, kind))"""


def privacy_key(keys: KeyDeriver | int, chain: str, node: str) -> X25519PrivateKey:
    """The X25519 key a node uses for sealed data on `chain`, as the run operator derives it (the
    node itself reads it from its keystore)."""
    return as_deriver(keys).x25519(f"{chain}/{node}")


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
        return _open(self.identity, self.nonce, self.ciphertext, (self.owner_wrap, self.regulator_wrap), key,
                     f"the sealed record of identity 0x{self.identity.hex()}")


@dataclass(frozen=True)
class SealedDeclaration:
    """What a KYC agent learned about an identity beyond its personal data, e.g. whom a nominee
    holds for; sealed like a record, with the identity and the kind as associated data."""

    identity: bytes
    kind: str
    nonce: bytes
    ciphertext: bytes
    owner_wrap: bytes
    regulator_wrap: bytes

    def open(self, key: X25519PrivateKey) -> dict | None:
        return _open(self.identity + self.kind.encode(), self.nonce, self.ciphertext,
                     (self.owner_wrap, self.regulator_wrap), key,
                     f"the sealed {self.kind} declaration of identity 0x{self.identity.hex()}")


def _open(aad: bytes, nonce: bytes, ciphertext: bytes, wraps: tuple[bytes, bytes], key: X25519PrivateKey,
          what: str) -> dict | None:
    for wrapped in wraps:
        try:
            data_key = _unwrap(wrapped, key)
        except InvalidTag:
            continue
        try:
            return loads(AESGCM(data_key).decrypt(nonce, ciphertext, aad))
        except InvalidTag:
            raise LedgerError(f"{what} was altered") from None
    return None


class PrivateStore:
    """One node's private store on one chain."""

    def __init__(self, path: Path, keys: KeyDeriver | int, chain: str, owner: str, regulator: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._keys, self._chain, self._owner_name = as_deriver(keys), chain, owner
        self._owner = privacy_key(self._keys, chain, owner).public_key()
        self._regulator = privacy_key(self._keys, chain, regulator).public_key()
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(SCHEMA)

    def put(self, identity: bytes, salt: bytes, personal: dict) -> None:
        """Seals `personal` for the owner and the regulator."""
        self._db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                         (identity, salt, *self._seal(identity, identity, personal)))

    def declare(self, identity: bytes, kind: str, declaration: dict) -> None:
        """Seals a `kind` declaration about `identity` for the owner and the regulator."""
        aad = identity + kind.encode()
        self._db.execute("INSERT INTO declarations VALUES (?, ?, ?, ?, ?, ?)",
                         (identity, kind, *self._seal(aad, aad, declaration)))

    def _seal(self, label: bytes, aad: bytes, payload: dict) -> tuple[bytes, bytes, bytes, bytes]:
        """(nonce, ciphertext, owner wrap, regulator wrap); keys and nonces derive from the run's
        KeyDeriver (seed and operator secret), the owner and `label`: two owners sealing the same identity
        share no data key, so neither can open the other's record with its own."""
        derive = lambda what: self._keys.bytes(  # noqa: E731
            f"private-store/{what}/{self._chain}/{self._owner_name}/{label.hex()}")
        data_key, nonce = derive("data-key"), derive("nonce")[:12]
        ciphertext = AESGCM(data_key).encrypt(nonce, json.dumps(payload, sort_keys=True).encode(), aad)
        owner_wrap = _wrap(data_key, self._owner, X25519PrivateKey.from_private_bytes(derive("owner-eph")),
                           derive("owner-nonce")[:12])
        regulator_wrap = _wrap(data_key, self._regulator, X25519PrivateKey.from_private_bytes(derive("reg-eph")),
                               derive("reg-nonce")[:12])
        return nonce, ciphertext, owner_wrap, regulator_wrap

    def snapshot(self) -> sqlite3.Connection:
        """An in-memory copy of the store as it stands, for restore() (a scenario's what-if)."""
        copy = sqlite3.connect(":memory:")
        self._db.backup(copy)
        return copy

    def restore(self, snapshot: sqlite3.Connection) -> None:
        """Puts the store back as it was at `snapshot`: what was sealed since is gone."""
        snapshot.backup(self._db)

    def close(self) -> None:
        self._db.close()


def read_records(path: Path) -> list[SealedRecord]:
    """The store's sealed records; a row that is not six byte strings (a member's file may hold anything) is
    none."""
    return [SealedRecord(*row) for row in _rows(path, "SELECT * FROM records ORDER BY identity")
            if len(row) == 6 and all(isinstance(value, bytes) for value in row)]


def read_declarations(path: Path) -> list[SealedDeclaration]:
    """The store's sealed declarations; a row not of their types is none."""
    return [SealedDeclaration(*row) for row in _rows(path, "SELECT * FROM declarations ORDER BY identity, kind")
            if len(row) == 6 and isinstance(row[1], str) and all(isinstance(row[i], bytes) for i in (0, 2, 3, 4, 5))]


def _rows(path: Path, sql: str) -> list[tuple]:
    """The rows of `sql` on the store at `path`, opened read-only. A member's store is the member's file: its
    tables must be tables (a view could be anything, a recursive one would never end)."""
    if not path.is_file():
        raise LedgerError(f"no private store at {path}")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LedgerError(f"{path} is not a readable private store: {exc}") from None
    try:
        kinds = dict(db.execute("SELECT name, type FROM sqlite_master WHERE name IN ('records', 'declarations')"))
        if any(kind != "table" for kind in kinds.values()):
            raise LedgerError(f"{path} is not a private store: its {', '.join(sorted(kinds))} must be tables")
        return db.execute(sql).fetchall()
    except sqlite3.Error as exc:
        raise LedgerError(f"{path} is not a readable private store: {exc}") from None
    finally:
        db.close()
