"""Each node's keystore: the only place its private keys live, RUN_DIR/<chain>/nodes/<NODE>/keystore/.

- `evm-key.json`: the node's EVM (secp256k1) key as an Ethereum keystore v3 file (eth-keyfile;
  scrypt, n = 2**14, r = 8, p = 1), opened with the node's passphrase by any Ethereum tool;
- `privacy-key.pem`: its X25519 key for sealed personal data, as encrypted PKCS#8 (PBES2,
  AES-256-CBC) under a passphrase derived (HKDF-SHA256) from the EVM key;
- `clients.jsonl`: the client (investor) accounts it holds, one line each after a header; label
  and address readable (so a command can tell "held by another node" from "unknown"), the key
  sealed with AES-256-GCM under a key derived (HKDF-SHA256, the header's salt) from the EVM key.

Opening a keystore therefore costs one passphrase key-derivation (the v3 file's scrypt), however
many client accounts the node holds; everything else derives from what it yields.

The passphrase of node NODE on chain CHAIN: `$PILOTLEDGER_PASSPHRASE_<CHAIN>_<NODE>` (upper-cased,
every character other than a letter or digit as `_`), else `$PILOTLEDGER_PASSPHRASE`, else a
default derived from the operator secret (ledger.trust.secrets), which the run operator, who plays
every node on a simulator machine, holds. `$PILOTLEDGER_KEYSTORE_SCRYPT_N` lowers the scrypt cost
of keystores written from then on (a power of two, at least 1024; the test suite uses 1024)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import eth_keyfile
from eth_keyfile.exceptions import EthKeyfileValueError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag

from ledger.errors import ConfigError, LedgerError
from ledger.trust.keys import Account
from ledger.trust.secrets import default_passphrase
from ledger.tooling.files import loads

KEYSTORE_DIR = "keystore"
EVM_FILE = "evm-key.json"
PRIVACY_FILE = "privacy-key.pem"
CLIENTS_FILE = "clients.jsonl"
CLIENTS_FORMAT = "pilotledger-clients/1"

PASSPHRASE_ENV = "PILOTLEDGER_PASSPHRASE"
SCRYPT_N_ENV = "PILOTLEDGER_KEYSTORE_SCRYPT_N"
DEFAULT_SCRYPT_N = 2**14  # 16 MiB, about 50 ms on the 2-core development machine
MIN_SCRYPT_N = 2**10


def keystore_dir(chain_dir: Path, node: str) -> Path:
    return chain_dir / "nodes" / node / KEYSTORE_DIR


def passphrase_env(chain: str, node: str) -> str:
    """The environment variable that gives NODE's passphrase on CHAIN."""
    return f"{PASSPHRASE_ENV}_{re.sub(r'[^A-Z0-9]', '_', f'{chain}_{node}'.upper())}"


def passphrase(chain: str, node: str) -> bytes:
    """NODE's keystore passphrase: its own variable, the shared one, or the operator's default."""
    for name in (passphrase_env(chain, node), PASSPHRASE_ENV):
        given = os.environ.get(name)
        if given:
            return given.encode()
    return default_passphrase(chain, node)


def scrypt_n() -> int:
    """The scrypt cost parameter for keystores written now."""
    given = os.environ.get(SCRYPT_N_ENV, "").strip()
    if not given:
        return DEFAULT_SCRYPT_N
    try:
        n = int(given)
    except ValueError:
        n = 0
    if n < MIN_SCRYPT_N or n & (n - 1):
        raise ConfigError(f"{SCRYPT_N_ENV} must be a power of two, at least {MIN_SCRYPT_N}; got {given!r}")
    return n


def _sub_key(root: bytes, info: str, salt: bytes | None = None) -> bytes:
    """A key for one purpose, derived from the node's EVM key (what opening the keystore yields)."""
    return HKDF(hashes.SHA256(), 32, salt, f"pilotledger/keystore/{info}".encode()).derive(root)


def _privacy_passphrase(root: bytes) -> bytes:
    return _sub_key(root, "privacy-key").hex().encode()


def _clients_aad(label: str, address: str) -> bytes:
    return f"{label}|{address}".encode()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ writing


@dataclass
class _ClientFile:
    path: Path
    aead: AESGCM
    held: set[bytes] = field(default_factory=set)


class KeystoreWriter:
    """The run operator's: writes each node's keystore as the node is created, and appends each
    client account as a node takes custody of it, so that a killed run leaves keystores for every
    key that signed."""

    def __init__(self, chain_dir: Path, chain: str) -> None:
        self.chain_dir = chain_dir
        self.chain = chain
        self._clients: dict[str, _ClientFile] = {}

    def write_node(self, node: str, account: Account, privacy: X25519PrivateKey) -> Path:
        directory = keystore_dir(self.chain_dir, node)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = passphrase(self.chain, node)
        v3 = eth_keyfile.create_keyfile_json(account.private_key, secret, version=3, kdf="scrypt",
                                             iterations=scrypt_n())
        _write_private(directory / EVM_FILE, json.dumps(v3, indent=2).encode() + b"\n")
        pem = privacy.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(_privacy_passphrase(account.private_key)))
        _write_private(directory / PRIVACY_FILE, pem)
        salt = os.urandom(16)
        header = {"format": CLIENTS_FORMAT, "chain": self.chain, "node": node,
                  "address": "0x" + account.address.hex(), "cipher": "aes-256-gcm",
                  "key": f"hkdf-sha256 of the key in {EVM_FILE}, this salt, info pilotledger/keystore/clients",
                  "salt": salt.hex()}
        path = directory / CLIENTS_FILE
        _write_private(path, json.dumps(header).encode() + b"\n")
        self._clients[node] = _ClientFile(path, AESGCM(_sub_key(account.private_key, "clients", salt)))
        return directory

    def add_client(self, node: str, account: Account) -> None:
        """Appends a client account `node` now holds (its label, address and sealed key)."""
        clients = self._clients.get(node)
        if clients is None:
            raise LedgerError(f"no keystore was written for {node} on {self.chain}")
        if account.address in clients.held:
            return
        label = account.label or "0x" + account.address.hex()
        address = "0x" + account.address.hex()
        nonce = os.urandom(12)
        sealed = nonce + clients.aead.encrypt(nonce, account.private_key, _clients_aad(label, address))
        with open(clients.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"label": label, "address": address, "key": sealed.hex()}) + "\n")
        clients.held.add(account.address)


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class ClientEntry:
    label: str
    address: bytes
    sealed: bytes = field(repr=False)


def _read_header(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            header = loads(f.readline())
    except (OSError, ValueError) as exc:
        raise LedgerError(f"unreadable client file {path}: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != CLIENTS_FORMAT:
        raise LedgerError(f"{path} is not a pilotledger client file")
    return header


def _read_clients(path: Path) -> tuple[dict, dict[str, ClientEntry]]:
    """(header, label -> entry) of a client file; only public parts are read."""
    header = _read_header(path)
    try:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()[1:]
        if not text.endswith("\n") and lines:
            lines.pop()  # an append cut short (a killed run): that account never signed
        entries = {}
        for line in lines:
            if not line.strip():
                continue
            row = loads(line)
            entries[row["label"]] = ClientEntry(row["label"], bytes.fromhex(row["address"][2:]),
                                                bytes.fromhex(row["key"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LedgerError(f"unreadable client file {path}: {exc}") from None
    return header, entries


class ClientDirectory:
    """label -> (holding node, address) for the client accounts of a chain's certified nodes, from the
    public part of each node's client file; no key is opened. A member controls its own file, so a label
    that two files claim is used from neither, and a file that cannot be read is skipped (`skipped`)."""

    def __init__(self, chain_dir: Path, nodes: Iterable[str]) -> None:
        self._held: dict[str, tuple[str, bytes]] = {}
        self._claimed_twice: set[str] = set()
        self.skipped: list[str] = []
        for node in sorted(nodes):
            path = keystore_dir(chain_dir, node) / CLIENTS_FILE
            if not path.is_file():
                continue
            try:
                entries = _read_clients(path)[1]
            except LedgerError as exc:
                self.skipped.append(str(exc))
                continue
            for label, entry in entries.items():
                if label in self._held and self._held[label] != (node, entry.address):
                    self._claimed_twice.add(label)
                self._held.setdefault(label, (node, entry.address))

    def get(self, label: str) -> tuple[str, bytes] | None:
        if label in self._claimed_twice:
            raise ConfigError(f"client account {label!r} is claimed by more than one node's client file; "
                              "none of them is believed")
        return self._held.get(label)

    def by_address(self) -> dict[bytes, tuple[str, str]]:
        """address -> (label, holding node) for every label that one node's file alone claims (for names)."""
        return {address: (label, node) for label, (node, address) in self._held.items()
                if label not in self._claimed_twice}


def keystore_nodes(chain_dir: Path) -> list[str]:
    """The nodes of a chain that have a keystore."""
    return sorted(p.parent.parent.name for p in (chain_dir / "nodes").glob(f"*/{KEYSTORE_DIR}/{EVM_FILE}"))


@dataclass
class Keystore:
    """One node's opened keystore: its EVM account, its privacy key and the client accounts it holds."""

    chain: str
    node: str
    account: Account
    privacy_key: X25519PrivateKey = field(repr=False)
    _clients_path: Path = field(repr=False)
    _aead: AESGCM = field(repr=False)
    _entries: dict[str, ClientEntry] | None = field(default=None, repr=False)

    @property
    def _clients(self) -> dict[str, ClientEntry]:
        """The client file's entries, read on first use (a node may hold very many)."""
        if self._entries is None:
            self._entries = _read_clients(self._clients_path)[1]
        return self._entries

    def labels(self) -> list[str]:
        return list(self._clients)

    def holds(self, label: str) -> bool:
        return label in self._clients

    def client(self, label: str) -> Account:
        """The client account `label`, its key opened (no further key-derivation)."""
        entry = self._clients.get(label)
        if entry is None:
            raise ConfigError(f"{self.node} holds no client account {label!r}")
        address = "0x" + entry.address.hex()
        try:
            key = self._aead.decrypt(entry.sealed[:12], entry.sealed[12:], _clients_aad(label, address))
        except InvalidTag:
            raise LedgerError(f"client account {label!r} in {self.node}'s keystore was altered") from None
        account = Account(key, label)
        if account.address != entry.address:
            raise LedgerError(f"client account {label!r} in {self.node}'s keystore does not match its address")
        return account

    def accounts(self) -> list[Account]:
        """Every client account the node holds, keys opened."""
        return [self.client(label) for label in self._clients]


_opened: dict[tuple, tuple[Account, X25519PrivateKey]] = {}  # the keys a process has already opened


def open_keystore(chain_dir: Path, node: str, secret: bytes | None = None) -> Keystore:
    """`node`'s keystore on the chain in `chain_dir`, opened with its passphrase (ledger.trust.keystore.passphrase
    unless `secret` is given): one scrypt, then the privacy key and the client file from what it yields."""
    chain = chain_dir.name
    directory = keystore_dir(chain_dir, node)
    evm_path = directory / EVM_FILE
    if not evm_path.is_file():
        raise ConfigError(f"{node} has no keystore on {chain} ({directory})")
    secret = secret if secret is not None else passphrase(chain, node)
    stat = evm_path.stat()
    cache_key = (str(evm_path.resolve()), stat.st_mtime_ns, stat.st_size, hashlib.sha256(secret).digest())
    if cache_key not in _opened:
        root = _decrypt_v3(evm_path, secret, chain, node)
        try:
            privacy = serialization.load_pem_private_key((directory / PRIVACY_FILE).read_bytes(),
                                                         _privacy_passphrase(root))
        except (OSError, ValueError, TypeError) as exc:
            raise LedgerError(f"cannot open {node}'s privacy key on {chain}: {exc}") from None
        if not isinstance(privacy, X25519PrivateKey):
            raise LedgerError(f"{node}'s privacy key on {chain} is not an X25519 key")
        _opened[cache_key] = (Account(root), privacy)
    account, privacy = _opened[cache_key]
    header = _read_header(directory / CLIENTS_FILE)
    if header.get("address") != "0x" + account.address.hex():
        raise LedgerError(f"{node}'s client file on {chain} belongs to another key")
    aead = AESGCM(_sub_key(account.private_key, "clients", bytes.fromhex(header["salt"])))
    return Keystore(chain, node, account, privacy, directory / CLIENTS_FILE, aead)


def _decrypt_v3(path: Path, secret: bytes, chain: str, node: str) -> bytes:
    """The private key in a keystore v3 file, through eth-keyfile."""
    try:
        v3 = loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LedgerError(f"unreadable keystore {path}: {exc}") from None
    try:
        key = eth_keyfile.decode_keyfile_json(v3, secret)
    except EthKeyfileValueError as exc:
        if "MAC mismatch" in str(exc):
            raise ConfigError(f"wrong passphrase for {node}'s keystore on {chain} "
                              f"(set {passphrase_env(chain, node)} or {PASSPHRASE_ENV})") from None
        raise LedgerError(f"unreadable keystore {path}: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a file of any JSON shape
        raise LedgerError(f"unreadable keystore {path}: {exc}") from None
    if isinstance(v3, dict) and v3.get("address") and \
            str(v3["address"]).lower().removeprefix("0x") != Account(key).address.hex():
        raise LedgerError(f"{path} holds a key for another address than it names")
    return key
