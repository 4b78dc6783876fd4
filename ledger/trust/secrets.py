"""The run operator's secret and the one deriver every key of a run comes from.

A run's seed is a small number anyone may guess, so no key derives from it alone: every key
derives from (seed, operator secret) through a KeyDeriver, as HMAC-SHA256 keyed by the secret
over the label of the key. The secret is 32 random bytes in a file outside any run directory,
created on first use with mode 0600: `$PILOTLEDGER_OPERATOR_SECRET` when that names a file,
else `~/.config/pilotledger/operator.secret`. Same seed and same secret, same keys, same chain
byte for byte; neither the secret nor anything derived from it alone is written into a run.

The secret also gives each node's default keystore passphrase (ledger.trust.keystore), so the
operator, who plays every node on a simulator machine, needs no setup."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.errors import ConfigError
from ledger.trust.keys import SECP256K1_ORDER, Account

SECRET_ENV = "PILOTLEDGER_OPERATOR_SECRET"
DEFAULT_SECRET_PATH = Path("~/.config/pilotledger/operator.secret")
SECRET_BYTES = 32


def operator_secret_path() -> Path:
    """Where the operator secret lives: $PILOTLEDGER_OPERATOR_SECRET, else ~/.config/pilotledger/operator.secret."""
    given = os.environ.get(SECRET_ENV, "").strip()
    return Path(given).expanduser() if given else DEFAULT_SECRET_PATH.expanduser()


def operator_secret(path: Path | None = None) -> bytes:
    """The operator secret, created on first use (32 random bytes, mode 0600)."""
    path = path or operator_secret_path()
    if not path.exists():
        _create(path)
    try:
        mode = path.stat().st_mode
        secret = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the operator secret at {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"the operator secret {path} is readable by others; chmod 600 it")
    if len(secret) != SECRET_BYTES:
        raise ConfigError(f"the operator secret {path} is not {SECRET_BYTES} bytes long")
    return secret


def _create(path: Path) -> None:
    """Writes a fresh secret atomically: a concurrent first use keeps whichever file landed first."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".operator-secret-")  # mode 0600
        try:
            os.write(fd, os.urandom(SECRET_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(scratch)
    except OSError as exc:
        raise ConfigError(f"cannot create the operator secret at {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class KeyDeriver:
    """Every key of a run: HMAC-SHA256(operator secret, "pilotledger/<seed>/<label>")."""

    seed: int
    secret: bytes = field(repr=False)

    @classmethod
    def for_seed(cls, seed: int) -> "KeyDeriver":
        """The deriver of a run with `seed` on this machine: its operator secret."""
        return cls(seed, operator_secret())

    def bytes(self, label: str) -> bytes:
        """32 bytes fixed by (seed, secret, label): keys, salts, nonces."""
        return hmac.new(self.secret, f"pilotledger/{self.seed}/{label}".encode(), hashlib.sha256).digest()

    def private_key(self, label: str) -> bytes:
        """A secp256k1 private key fixed by (seed, secret, label)."""
        counter = 0
        while True:
            candidate = self.bytes(f"{label}/{counter}")
            if 0 < int.from_bytes(candidate, "big") < SECP256K1_ORDER:
                return candidate
            counter += 1

    def account(self, label: str, client_label: str | None = None) -> Account:
        return Account(self.private_key(label), client_label)

    def x25519(self, label: str) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(self.bytes(f"x25519/{label}"))

    def ed25519(self, label: str) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.bytes(f"ed25519/{label}"))


def as_deriver(keys: "KeyDeriver | int") -> KeyDeriver:
    """`keys`, or for a bare seed the deriver of that seed with this machine's operator secret."""
    return keys if isinstance(keys, KeyDeriver) else KeyDeriver.for_seed(keys)


def default_passphrase(chain: str, node: str) -> bytes:
    """A node's keystore passphrase when no environment variable gives one: fixed by the operator
    secret, so the operator can open every node's keystore and a member cannot guess another's."""
    return hmac.new(operator_secret(), f"pilotledger/passphrase/{chain}/{node}".encode(),
                    hashlib.sha256).hexdigest().encode()
