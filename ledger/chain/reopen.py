"""Reopening a chain of a finished run to add blocks to it: what `deploy`, `call` and `send` use.

The consortium comes back from the run directory's public material: the nodes' certificates,
the CA certificate and its signed revocation list from RUN_DIR/<chain>/certs/ (checked by a
public CAVerifier: nobody here can issue a certificate), membership, nonces and contracts from
the ledger. Keys come only from the keystores that are opened: the acting node's, and, to seal a
block, each validator's in force (as the validators themselves would seal; on a simulator machine
the run operator holds their passphrases). Every other node is there with its certificate only: it
cannot sign or seal. The embedded engine keeps no state on disk, so it is
brought to the stored head by re-executing the stored blocks, each of which must hash to the
block on record: a ledger that does not re-execute is refused, never extended. A chain run on
an rpc node is picked up on that node, which must still hold its head."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.x509.oid import NameOID

from ledger.tooling.abi import ContractABI
from ledger.tooling.artifacts import USER_CONTRACTS, ContractType, chain_contract
from ledger.trust.ca import CAVerifier
from ledger.chain.run import LEDGER_FILE
from ledger.tooling.compiler import ARTIFACTS_DIR
from ledger.chain.consortium import Consortium
from ledger.evm import make_engine
from ledger.errors import ConfigError, LedgerError
from ledger.trust.keys import Account, PublicAccount
from ledger.trust.keystore import ClientDirectory, Keystore, open_keystore
from ledger.chain.node import Node
from ledger.chain.roles import Role
from ledger.chain.store import LedgerStore

SOLIDITY_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")  # a name, never a path


def reopen_chain(run_dir: Path, chain: str, progress: Callable[[int], None] | None = None, *,
                 acting: str | None = None, seal: bool = False,
                 warn: Callable[[str], None] | None = None) -> Consortium:
    """Chain `chain` of the run in `run_dir`, at its stored head, ready to take submissions: from
    `acting`'s keystore (the node that submits), and with `seal` each validator's in force at the
    head (a validator whose keystore cannot be opened is left unable to seal, with a `warn`ing)."""
    chain_dir = run_dir / chain
    store = LedgerStore(chain_dir / LEDGER_FILE, writable=seal)  # read-only unless blocks are to be added
    try:
        meta = store.meta()
        certs = _certificates(chain_dir / "certs")
        ca = CAVerifier(certs.pop("ca"), x509.load_pem_x509_crl((chain_dir / "certs" / "crl.pem").read_bytes()))
        if acting is not None and acting not in certs:
            raise ConfigError(f"no node {acting!r} on {chain}; nodes: {', '.join(sorted(certs))}")
        # The embedded engine starts again from genesis; an rpc node still holds the chain.
        embedded = meta["engine"] == "pyevm"
        engine = make_engine(str(meta["engine"]), int(meta["chain_id"]),
                             int(meta["genesis_time"]) if embedded else None, meta.get("rpc_url"))
        _catch_up(engine, store, progress or (lambda _: None))
        consortium = Consortium(chain, None, int(meta["genesis_time"]), engine, store, ca)
        consortium.resume(lambda name: chain_contract(chain_dir, name))
    except (OSError, ValueError, KeyError) as exc:
        store.close()
        raise LedgerError(f"cannot reopen {chain} in {run_dir}: {exc}") from None
    except Exception:
        store.close()
        raise
    try:
        for name, certificate in certs.items():
            organisation = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
            node = consortium.add_node(name, str(organisation), Role(0), founding=False, certificate=certificate)
            member = consortium.membership.get(node.address)
            node.roles = member.roles if member else Role(0)
        certified = [n for n, c in certs.items() if ca.check(c, consortium.time).reason != "CERT_UNTRUSTED"]
        consortium.client_holders = ClientDirectory(chain_dir, certified)  # the CA's nodes' files only
        if acting is not None:
            open_node(consortium, chain_dir, acting)
        if seal:
            in_force = set(consortium.membership.validators())
            for node in consortium.nodes.values():
                if node.address in in_force and node.name != acting:
                    try:
                        open_node(consortium, chain_dir, node.name)
                    except (ConfigError, LedgerError) as exc:
                        (warn or (lambda _: None))(f"validator {node.name} cannot seal: {exc}")
    except Exception:
        store.close()
        raise
    return consortium


def open_node(consortium: Consortium, chain_dir: Path, name: str) -> Keystore:
    """Opens `name`'s keystore and gives the node its key, which must be the one its certificate binds."""
    keystore = open_keystore(chain_dir, name)
    node = consortium.nodes[name]
    if keystore.account.address != node.address:
        raise LedgerError(f"{name}'s keystore holds 0x{keystore.account.address.hex()}, "
                          f"not the key its certificate binds (0x{node.address.hex()})")
    node.account = keystore.account
    return keystore


def signer_account(consortium: Consortium, chain_dir: Path, node: Node, label: str) -> Account | PublicAccount:
    """The client account `label` for `node` to sign with: opened from its own keystore when it holds
    it; known by its address only when another node holds it (the gateway then refuses it,
    SIGNER_NOT_HELD); a label nobody holds is a ConfigError, and no account is ever created."""
    keystore = open_keystore(chain_dir, node.name)
    if keystore.holds(label):
        return node.hold(keystore.client(label))
    holder = consortium.client_holders.get(label)
    if holder is None:
        raise ConfigError(f"no client account {label!r} on {consortium.name}: no node holds it")
    return PublicAccount(holder[1], label)


def load_user_artifact(path: Path) -> ContractType:
    """A pilot team's compiled contract: an artifact JSON written by `compile`."""
    try:
        artifact = json.loads(path.read_text(encoding="utf-8"))
        name = artifact["contractName"]
        loaded = ContractType(name, ContractABI(artifact["abi"]), bytes.fromhex(artifact["bytecode"][2:]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a compiled contract artifact: {exc}") from None
    if not isinstance(name, str) or not SOLIDITY_NAME.fullmatch(name):
        raise ConfigError(f"{path}: contractName {name!r} is not a Solidity contract name")
    if (ARTIFACTS_DIR / f"{name}.json").exists():
        raise ConfigError(f"the project already has a contract named {name}; rename yours")
    return loaded


def keep_user_contract(run_dir: Path, chain: str, artifact: Path, name: str) -> None:
    """Keeps a deployed pilot team's artifact with the chain, so its events and errors decode later."""
    target = run_dir / chain / USER_CONTRACTS / f"{name}.json"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(artifact, target)


def _certificates(certs_dir: Path) -> dict[str, x509.Certificate]:
    """The CA's ('ca') and every node's certificate, by node name."""
    return {p.stem: x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(certs_dir.glob("*.pem"))
            if p.stem != "crl"}


def _catch_up(engine, store: LedgerStore, progress: Callable[[int], None]) -> None:
    """Re-executes the stored blocks the engine has not seen; each must give the recorded block."""
    for number, block_hash, _parent, _root, timestamp, _digest, _header in store.blocks():
        if number <= engine.head().number:
            continue
        raws = store.query("SELECT raw FROM transactions WHERE block_number = ? ORDER BY tx_index", (number,))
        executed = engine.execute_block([engine.decode(raw) for raw, in raws], timestamp)
        if executed.hash != block_hash:
            raise LedgerError(f"block {number} does not re-execute to its recorded hash; "
                              f"run `python cli.py audit` on this run")
        progress(1)
