"""Reopening a chain of a finished run to add blocks to it: what `deploy`, `call` and `send` use.

The consortium comes back from the run directory's public material: the nodes' certificates,
the CA certificate and its signed revocation list from RUN_DIR/<chain>/certs/ (checked by a
public CAVerifier: nobody here can issue a certificate), membership, nonces and contracts from
the ledger. Keys come only from the keystores that are opened: the acting node's, and, to seal a
block, each validator's in force (as the validators themselves would seal; on a simulator machine
the run operator holds their passphrases). Every other node is there with its certificate only: it
cannot sign or seal. The embedded engine starts from the chain's state snapshot (ledger.chain.snapshot:
the head's state, checked against the head's stored state root), written when the run finished and after
each block added here; without one that holds it re-executes the stored blocks from genesis, each of which
must hash to the block on record: a ledger that does not re-execute is refused, never extended. A chain run
on an rpc node is picked up on that node, which must still hold its head."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from ledger.tooling.abi import ContractABI
from ledger.tooling.artifacts import USER_CONTRACTS, ContractType, chain_contract
from ledger.tooling.files import loads, write_atomically
from ledger.trust.ca import CAVerifier, certificate_address
from ledger.chain.access import adopt_declared_roles
from ledger.chain.calls import Ticket
from ledger.chain.reader import LedgerReader
from ledger.chain.run import chain_names, ledger_path, write_node_copies
from ledger.chain.snapshot import engine_at_snapshot, write_state_snapshot
from ledger.tooling.compiler import ARTIFACTS_DIR
from ledger.chain.consortium import Consortium, Contract
from ledger.evm import ExecutedBlock, make_engine
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
    head (a validator whose keystore cannot be opened is left unable to seal, with a `warn`ing). The
    caller checks first that the chain's ledger holds (ledger.audit.verify.require_holds)."""
    chain_dir = run_dir / chain
    store = LedgerStore(ledger_path(run_dir, chain), writable=seal)  # read-only unless blocks are to be added
    try:
        meta = store.meta()
        certs = _certificates(chain_dir / "certs")
        ca = CAVerifier(certs.pop("ca"), x509.load_pem_x509_crl((chain_dir / "certs" / "crl.pem").read_bytes()))
        if acting is not None and acting not in certs:
            raise ConfigError(f"no node {acting!r} on {chain}; nodes: {', '.join(sorted(certs))}")
        # The embedded engine starts from the state snapshot, else again from genesis; an rpc node still
        # holds the chain. A chain of the anvil engine is one the embedded engine makes too (the same blocks
        # and state), so it goes on on the embedded engine: no node to start and replay into.
        embedded = meta["engine"] in ("pyevm", "anvil")
        engine = engine_at_snapshot(chain_dir, store, int(meta["chain_id"]), int(meta["genesis_time"]),
                                    warn or (lambda _: None)) if embedded else None
        if engine is None:
            engine = make_engine("pyevm" if embedded else str(meta["engine"]), int(meta["chain_id"]),
                                 int(meta["genesis_time"]) if embedded else None, meta.get("rpc_url"))
        if getattr(engine, "resume_at", None) and store.head() is not None:
            engine.resume_at(*store.head())  # a node that mines on its own clock has made blocks since
        _catch_up(engine, store, progress or (lambda _: None))
        consortium = Consortium(chain, None, int(meta["genesis_time"]), engine, store, ca)
        consortium.resume(lambda name: chain_contract(chain_dir, name))  # the caller checked the ledger holds
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
        artifact = loads(path.read_text(encoding="utf-8"))
        name = artifact["contractName"]
        loaded = ContractType(name, ContractABI(artifact["abi"]), bytes.fromhex(artifact["bytecode"][2:]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a compiled contract artifact: {exc}") from None
    if not isinstance(name, str) or not SOLIDITY_NAME.fullmatch(name):
        raise ConfigError(f"{path}: contractName {name!r} is not a Solidity contract name")
    if (ARTIFACTS_DIR / f"{name}.json").exists():
        raise ConfigError(f"the project already has a contract named {name}; rename yours")
    return loaded


def user_artifact_path(run_dir: Path, chain: str, name: str) -> Path:
    return run_dir / chain / USER_CONTRACTS / f"{name}.json"


def check_user_artifact(run_dir: Path, chain: str, artifact: Path, name: str) -> None:
    """Refuses a deployment whose kept artifact would replace another's: the chain already keeps a different
    contract under this name (its events and errors would no longer decode), or a link sits where it goes."""
    target = user_artifact_path(run_dir, chain, name)
    if target.is_symlink() or target.parent.is_symlink():
        raise ConfigError(f"{target} is a link; the chain's artifacts are never written through a link")
    if target.exists() and target.read_bytes() != artifact.read_bytes():
        raise ConfigError(f"{chain} already keeps a different contract named {name}; rename yours")


def keep_user_contract(run_dir: Path, chain: str, artifact: Path, name: str) -> None:
    """Keeps a deployed pilot team's artifact with the chain, so its events and errors decode later: written
    beside and moved into place, the only file a deployment writes besides the ledger and its copies."""
    target = user_artifact_path(run_dir, chain, name)
    target.parent.mkdir(exist_ok=True)
    write_atomically(target, artifact.read_bytes())


def deploy_user_contract(consortium: Consortium, run_dir: Path, node: Node, artifact: Path,
                         contract_type: ContractType, args: Sequence[object]) -> tuple[Ticket, list[int]]:
    """Deploys a pilot team's compiled contract (from load_user_artifact) from `node` through the gateway
    and keeps its artifact with the chain; one that declares its roles (AccessManaged) has its functions
    closed until governance maps them, so its deployment is committed and the admins adopt the table it
    declares. Returns the ticket and the governance proposal ids; what is left pending is for
    commit_and_copy."""
    check_user_artifact(run_dir, consortium.name, artifact, contract_type.name)
    ticket = consortium.deploy(node, contract_type.name, *args, contract_type=contract_type)
    if ticket.status != "pending":
        return ticket, []
    keep_user_contract(run_dir, consortium.name, artifact, contract_type.name)
    if "declaredRoles" not in contract_type.abi.functions:
        return ticket, []
    consortium.commit()
    return ticket, adopt_declared_roles(consortium, contract_type.name) if ticket.ok else []



# ------------------------------------------------ what deploy, call and send name on the command line


def find_node(consortium: Consortium, name: str) -> Node:
    if name not in consortium.nodes:
        raise ConfigError(f"no node {name!r} on {consortium.name}; nodes: {', '.join(sorted(consortium.nodes))}")
    return consortium.nodes[name]


def find_contract(consortium: Consortium, given: str) -> Contract:
    """A deployed contract by name or 0x address."""
    for contract in consortium.contracts.values():
        if given == contract.name or given.lower() == "0x" + contract.address.hex():
            return contract
    raise ConfigError(f"no contract {given!r} on {consortium.name}; deployed: {', '.join(sorted(consortium.contracts))}")


def find_function(contract: Contract, name: str):
    if name not in contract.abi.functions:
        raise ConfigError(f"{contract.name} has no function {name!r}; it has {', '.join(sorted(contract.abi.functions))}")
    return contract.abi.functions[name]


def address_resolver(consortium: Consortium) -> Callable[[str], bytes]:
    """The address `node:NAME`, `contract:NAME` or `client:LABEL` names on this chain (for ledger.tooling.abi_text)."""
    def address_of(text: str) -> bytes:
        kind, _, name = text.partition(":")
        if kind == "node":
            return find_node(consortium, name).address
        if kind == "contract":
            return find_contract(consortium, name).address
        held = consortium.client_holders.get(name)  # the public part of every certified node's client file
        if held is None:
            raise ConfigError(f"no client account {name!r} on {consortium.name}")
        return held[1]
    return address_of


def commit_and_copy(consortium: Consortium, run_dir: Path) -> tuple[ExecutedBlock | None, list[str]]:
    """Commits what was submitted as one block, brings every member's copy up to date and closes the
    store; returns the block and a line for each copy that could not be updated."""
    try:
        block = consortium.commit()
        write_state_snapshot(consortium.engine, consortium.store, run_dir / consortium.name)
        return block, write_node_copies(consortium, run_dir)
    finally:
        consortium.store.close()


@dataclass(frozen=True)
class SigningAccount:
    chain: str
    address: bytes
    node: str  # the node that submitted its first transaction
    own: bool  # the node's own account (the one its certificate binds), else a client's it holds


def signing_accounts(run_dir: Path) -> list[SigningAccount]:
    """Every account that signed a transaction on a chain of the run, in the order each first signed;
    a node's own account is told from its clients' by the address its certificate binds."""
    accounts = []
    for chain in chain_names(run_dir):
        certified = {certificate_address(c): name for name, c in _certificates(run_dir / chain / "certs").items()
                     if name != "ca"}
        seen: set[bytes] = set()
        with LedgerReader(ledger_path(run_dir, chain)) as ledger:
            for tx in ledger.transactions():
                if tx.sender not in seen:
                    seen.add(tx.sender)
                    accounts.append(SigningAccount(chain, tx.sender, tx.node, certified.get(tx.sender) == tx.node))
    return accounts

def _certificates(certs_dir: Path) -> dict[str, x509.Certificate]:
    """The CA's ('ca') and every node's certificate, by node name."""
    return {p.stem: x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(certs_dir.glob("*.pem"))
            if p.stem != "crl"}


def _catch_up(engine, store: LedgerStore, progress: Callable[[int], None]) -> None:
    """Re-executes the stored blocks the engine has not seen; each must give the recorded block."""
    stored = store.head()
    for number in range(engine.head().number + 1, stored[0] + 1 if stored else 0):
        block = store.block(number)
        txs = [engine.decode(tx.raw) for tx in store.transactions(block=number)]
        executed = engine.execute_block(txs, block.timestamp)
        if executed.hash != block.hash:
            raise LedgerError(f"block {number} does not re-execute to its recorded hash; "
                              f"run `python cli.py audit` on this run")
        progress(1)
