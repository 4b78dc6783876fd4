"""The consortium: nodes, their CA and gateway, and the path of a transaction from
a node through the gateway, the engine and the validators' seals into the store.

Scenario code talks to this module (nodes, contracts, tickets), never to the engine."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from eth_hash.auto import keccak
import rlp

from ledger.tooling.abi import ContractABI, CustomError, decode_error
from ledger.tooling.artifacts import ContractType, load_contract
from ledger.trust.ca import CAVerifier, ConsortiumCA, certificate_address, certificate_pem
from ledger.evm import Engine, ExecutedBlock, SignedTx
from ledger.evm.base import execute_batch
from ledger.errors import LedgerError, PilotLedgerError
from ledger.chain.calls import Call, Ticket
from ledger.chain.gateway import Gateway
from ledger.trust.keys import Account, PublicAccount
from ledger.trust.keystore import KeystoreWriter
from ledger.chain.membership import Membership, membership_at
from ledger.chain.node import Node
from ledger.chain.access import DEPLOY, REGISTRY
from ledger.trust.privacy import privacy_key
from ledger.chain.roles import Role
from ledger.trust.secrets import KeyDeriver
from ledger.chain.sealer import genesis_id, link_refusal, make_seals, quorum, seal_message
from ledger.chain.store import BlockRows, EventRecord, LedgerStore, RefusalRecord, TxRecord

CALL_GAS = 2_000_000
DEPLOY_GAS = 8_000_000
GENESIS_REFUSALS_DIGEST = b"\0" * 32
GENESIS_FILE = "genesis.json"  # RUN_DIR/<chain>/genesis.json: the genesis record, public
CERTS_DIR = "certs"  # RUN_DIR/<chain>/certs/: the CA's and every node's certificate and the revocation list
BLOCK_TIME = 5  # seconds between blocks when the scenario does not move the clock further


@dataclass(eq=False)
class Contract:
    """A deployed contract: encode calls for nodes to send, or read its state."""

    name: str
    address: bytes
    abi: ContractABI
    engine: Engine = field(repr=False)  # reads state at its head
    errors: dict[bytes, CustomError] = field(repr=False)  # every deployed contract's, to decode a revert

    def call(self, function: str, *args: Any, gas: int = CALL_GAS) -> Call:
        return Call(self.name, function, self.address, self.abi.encode_call(function, args), gas)

    def view(self, function: str, *args: Any) -> Any:
        """Reads state at the head block; a revert raises with its decoded reason."""
        ok, output = self.engine.call(self.address, self.abi.encode_call(function, args))
        if not ok:
            error = decode_error(output, self.errors)
            raise PilotLedgerError(f"{self.name}.{function} reverted: {error.name} {error.args}")
        return self.abi.decode_output(function, output)


def block_gas_limit() -> int:
    """The chain parameter every engine keeps (imported late: ledger.evm.permissioned loads py-evm)."""
    from ledger.evm.permissioned import BLOCK_GAS_LIMIT

    return BLOCK_GAS_LIMIT


@dataclass
class _Pending:
    ticket: Ticket
    tx: SignedTx
    node: str
    gas: int = 0  # the explicit gas of the queued transactions up to and including this one


class Consortium:
    """One chain's consortium: its nodes, CA, gateway, engine and ledger store."""

    def __init__(
        self, name: str, keys: KeyDeriver | None, genesis_time: int, engine: Engine, store: LedgerStore,
        ca: ConsortiumCA | CAVerifier, keystores: KeystoreWriter | None = None,
    ) -> None:
        """`keys`: the run operator's KeyDeriver, which makes every node's and client's key (None for a
        chain reopened from a run directory: its nodes come with their certificates and only the keys
        of the keystores opened). `ca`: the issuing ConsortiumCA, or a public CAVerifier. `keystores`:
        where each node's keystore is written as the node and its clients are created."""
        self.name = name
        self.keys = keys
        self.keystores = keystores
        self.client_holders: dict[str, tuple[str, bytes]] = {}  # reopened: label -> (holding node, address)
        self.engine = engine
        self._take = getattr(engine, "take", None)  # an engine that takes each transaction as it is queued
        self.store = store
        self.ca = ca
        self.time = genesis_time
        self.nodes: dict[str, Node] = {}
        self.contracts: dict[str, Contract] = {}
        self.membership = Membership()
        self.gateway = Gateway(ca, self.membership)
        self.on_block: Callable[[ExecutedBlock], None] | None = None
        # (contract, event, args, tx hash, function) of the last committed block, decoded once at commit, for
        # on_block's watchers.
        self.block_events: list[tuple[str, str, dict, bytes, str | None]] = []
        self._by_address: dict[bytes, Contract] = {}
        self._errors: dict[bytes, CustomError] = {}
        self._nonces: dict[bytes, int] = {}
        self._pending: list[_Pending] = []
        self._refused: list[RefusalRecord] = []
        self._refusal_seq = 0
        self._refusals_digest = GENESIS_REFUSALS_DIGEST
        self._head = engine.head()
        self._founders: list[tuple[bytes, bytes, int]] = []
        self._genesis_id: bytes | None = None
        self.anchored_on: str | None = None  # the regulatory chain this one reports to, named in its genesis
        self._public_as_of: tuple | None = None  # the nodes and revocations the public files last showed

    # ------------------------------------------------------------------ nodes

    def add_node(
        self,
        name: str,
        organisation: str,
        roles: Role,
        *,
        founding: bool = True,
        cert_days: int = 730,
        ca: ConsortiumCA | None = None,
        certificate: x509.Certificate | None = None,
        account: Account | PublicAccount | None = None,
    ) -> Node:
        """A node with a key derived from the run's seed and operator secret and a certificate from `ca`
        (the consortium's by default), or the `certificate` it already holds with the `account` opened
        from its keystore, or with its address only (from the certificate: it cannot sign or seal).
        Its keystore is written at once (when this consortium writes keystores).

        A founding node is a member from genesis; any other joins only through governance."""
        if name in self.nodes:
            raise LedgerError(f"node {name!r} already exists")
        if account is None:
            if self.keys is not None:
                account = self.keys.account(f"{self.name}/node/{name}")
            elif certificate is not None:
                account = PublicAccount(certificate_address(certificate))
            else:
                raise LedgerError(f"node {name} needs a certificate or a key on {self.name}")
        certificate = certificate or (ca or self.ca).issue(name, organisation, account.private_key,
                                                           self.time - 86400, self.time + cert_days * 86400)
        node = Node(name, organisation, roles, account, certificate, self)
        self.nodes[name] = node
        if self.keystores is not None and isinstance(account, Account):
            self.keystores.write_node(name, account, privacy_key(self.keys, self.name, name))
        if founding:
            if self.store.head() is not None:
                raise LedgerError("founding members are fixed once the chain has blocks")
            self.membership.found(node.address, "0x" + node.org_id.hex(), roles)
            self._founders.append((node.address, node.org_id, int(roles)))
        return node

    def keep_client(self, node: Node, account: Account) -> None:
        """Writes a client account `node` took custody of into its keystore (when this consortium writes keystores)."""
        if self.keystores is not None:
            self.keystores.add_client(node.name, account)

    def client_account(self, label: str) -> Account:
        """A client (investor) account, its key derived from the run's seed and operator secret; a node
        takes custody of it with Node.hold. (A reopened chain has no deriver: a client's key comes from
        its holder's keystore.)"""
        if self.keys is None:
            raise LedgerError(f"{self.name} was reopened from its run directory: client account {label!r} "
                              "comes from its holder's keystore")
        return self.keys.account(f"{self.name}/client/{label}", label)

    def founding_members(self) -> tuple[list[bytes], list[bytes], list[int]]:
        """The founding members as PermissionRegistry's constructor takes them."""
        return ([a for a, _, _ in self._founders], [o for _, o, _ in self._founders], [r for _, _, r in self._founders])

    def genesis_meta(self) -> dict[str, object]:
        """What a verifier needs to start from genesis: the chain and its founding members."""
        return {
            "chain": self.name,
            "chain_id": self.engine.chain_id,
            "engine": self.engine.name,
            "genesis_hash": "0x" + self._head.hash.hex(),
            "genesis_time": self._head.timestamp,
            "ca_fingerprint": "0x" + self.ca.certificate.fingerprint(hashes.SHA256()).hex(),
            "founders": [
                {"address": "0x" + a.hex(), "org_id": "0x" + o.hex(), "roles": r} for a, o, r in self._founders
            ],
            **({"anchored_on": self.anchored_on} if self.anchored_on else {}),
        }

    def resume(self, contract_type: Callable[[str], ContractType]) -> None:
        """Picks up where the stored ledger ends, to add blocks to it: the head, the clock, every
        account's next nonce, the refusal chain, the membership and the deployed contracts
        (`contract_type(name)` gives each one's ABI). The engine must already be at the stored head, and
        the caller must have checked that the ledger holds (ledger.audit.verify.require_holds): the
        membership is replayed from its registry logs as they stand."""
        stored = self.store.head()
        self._head = self.engine.head()
        if stored is None or stored[1] != self._head.hash:
            raise LedgerError(f"the engine's head is not {self.name}'s stored head")
        self.time = self._head.timestamp
        self._genesis_id = genesis_id(self.store.meta())
        self._nonces = self.store.next_nonces()
        self._refusal_seq = self.store.last_refusal_seq()
        self._refusals_digest = self.store.block(stored[0]).refusals_digest
        self.membership = membership_at(self.store)
        self.gateway = Gateway(self.ca, self.membership)
        for deployed in self.store.contracts():
            self._register(deployed.name, deployed.address, contract_type(deployed.name))

    # -------------------------------------------------------------- contracts

    def contract(self, name: str) -> Contract:
        try:
            return self.contracts[name]
        except KeyError:
            raise LedgerError(f"contract {name} is not deployed on {self.name}") from None

    def decode_error(self, output: bytes):
        return decode_error(output, self._errors)

    def _register(self, name: str, address: bytes, contract_type: ContractType | None = None) -> Contract:
        contract = Contract(name, address, (contract_type or load_contract(name)).abi, self.engine, self._errors)
        if name != REGISTRY or REGISTRY not in self.contracts:
            # The chain's registry is its first one, as the audit reads it: a later one (a successor that
            # governance may move contracts to) never becomes the registry the gateway mirrors.
            self.contracts[name] = contract
        self._by_address[address] = contract
        self._errors.update(contract.abi.errors)
        return contract

    # ------------------------------------------------------------ submissions

    def advance(self, seconds: int) -> None:
        """Moves the consortium's clock; the next block is stamped at least this late."""
        self.time += seconds

    def submit(self, node: Node, call: Call, *, signer: Account | PublicAccount | None = None,
               label: str | None = None) -> Ticket:
        """Passes `call` through the gateway; admitted calls are signed and queued for the next block.
        `signer` may be known by its address only (a PublicAccount): the gateway decides on the address,
        and nothing is signed before admission."""
        signer = signer or node.account
        ticket = Ticket(node.name, call.contract, call.function, label)
        admission = self.gateway.admit(node, call, signer.address, self.time)
        if not admission.admitted:
            self._refuse(ticket, signer.address, admission.reason, admission.detail)
            return ticket
        if signer.private_key is None:
            raise LedgerError(f"{node.name} cannot sign for 0x{signer.address.hex()} on {self.name}: "
                              "that key's keystore was not opened")
        limit = block_gas_limit()  # the explicit gas of a block's transactions stays within it
        if call.gas > limit:
            raise LedgerError(f"{call.contract}.{call.function} asks for {call.gas:,} gas, more than a block's "
                              f"limit of {limit:,} on {self.name}")
        queued = self._pending[-1].gas if self._pending else 0
        if queued + call.gas > limit:
            self.commit()  # the block is full: this call opens the next one
            queued = 0
        nonce = self._nonces.get(signer.address, 0)
        tx = self.engine.sign(signer.private_key, nonce, call.to, call.data, call.gas)
        self._nonces[signer.address] = nonce + 1
        if self._take is not None:  # the node starts on it while the scenario goes on (AnvilEngine.take)
            self._take(tx)
        ticket.tx_hash = tx.hash
        self._pending.append(_Pending(ticket, tx, node.name, queued + call.gas))
        return ticket

    def deploy(self, node: Node, name: str, *args: Any, label: str | None = None,
               contract_type: ContractType | None = None) -> Ticket:
        """Deploys contract `name` from the committed artifacts (or `contract_type`, a pilot team's
        own compiled contract); its address is known at once."""
        contract_type = contract_type or load_contract(name)
        address = keccak(rlp.encode([node.address, self._nonces.get(node.address, 0)]))[-20:]
        data = contract_type.bytecode + contract_type.abi.encode_constructor(args)
        ticket = self.submit(node, Call(name, DEPLOY, b"", data, DEPLOY_GAS), label=label)
        if ticket.status == "pending":
            ticket.contract_address = address
            self._register(name, address, contract_type)
        return ticket

    def _refuse(self, ticket: Ticket, signer: bytes, reason: str, detail: str) -> None:
        """Records a refusal; every field of it chains into the digest the next block's seals cover."""
        self._refusal_seq += 1
        fields = (self._refusal_seq, ticket.node, signer, ticket.contract, ticket.function, ticket.label, reason,
                  detail)
        self._refusals_digest = link_refusal(self._refusals_digest, fields)
        self._refused.append(RefusalRecord(*fields, self._refusals_digest))
        ticket.status, ticket.reason, ticket.detail = "refused", reason, {"detail": detail}

    # ----------------------------------------------------------------- blocks

    @property
    def head(self) -> ExecutedBlock:
        return self._head

    @property
    def pending(self) -> int:
        """Transactions queued for the next block."""
        return len(self._pending)

    def commit(self) -> ExecutedBlock | None:
        """Executes the queued transactions as one block, seals it and stores it (on a node that mines on its
        own clock: every block the node made of them, each sealed and stored; the last is returned).

        Returns None when nothing was submitted or refused since the last block. Without the keys of a
        quorum of the validators in force nothing is executed or written: the submissions stay queued."""
        if not self._pending and not self._refused:
            return None
        sealers = self._sealers(self._head.number + 1, "", "; nothing was written")
        genesis = self._genesis_id or self._write_genesis()
        pending, refused = self._pending, self._refused
        self._pending, self._refused = [], []
        self.time = max(self.time, self._head.timestamp + BLOCK_TIME)
        if self._public_as_of is not None and self._public_as_of != self._public_state():
            self.write_public_files()  # a node added or a certificate revoked: on disk before the block
        # One batch may be several blocks on a node that mines on its own clock (execute_batch): each is
        # sealed and stored with its own transactions, and the refusals go with the last, the block commit
        # returns, as when the batch is one block.
        blocks = execute_batch(self.engine, [p.tx for p in pending], self.time)
        by_hash = {p.tx.hash: p for p in pending}
        earlier_digest = self._refusals_digest  # the digest the batch's blocks before the last record
        if refused and len(blocks) > 1:  # the previous block's then
            earlier_digest = (self.store.block(self._head.number).refusals_digest if self.store.head() is not None
                              else GENESIS_REFUSALS_DIGEST)
        committed: list[tuple[ExecutedBlock, list]] = []
        for position, block in enumerate(blocks):
            last = position == len(blocks) - 1
            hashes = block.tx_hashes if block.tx_hashes is not None else [p.tx.hash for p in pending]
            if any(h not in by_hash for h in hashes) or len(hashes) != len(block.outcomes):
                raise LedgerError(f"block {block.number} of {self.name} holds transactions not of this batch")
            in_block = [by_hash.pop(h) for h in hashes]
            if last and by_hash:
                raise LedgerError(f"{len(by_hash)} transactions of the batch are in none of the blocks "
                                  f"{blocks[0].number}-{block.number} of {self.name}")
            txs, events, created, decoded, governed = [], [], [], [], []
            log_index = 0
            for index, (p, outcome) in enumerate(zip(in_block, block.outcomes)):
                ticket = p.ticket
                ticket.block_number = block.number
                error = None
                if outcome.success:
                    ticket.status = "committed"
                    if not p.tx.to:  # a deployment, whatever the call was named
                        created.append((outcome.contract_address, ticket.contract))
                else:
                    error = self.decode_error(outcome.output)
                    ticket.status, ticket.reason, ticket.detail = "reverted", error.name, error.args
                    if not p.tx.to:
                        self._unregister(ticket.contract_address)
                for log in outcome.logs:
                    contract = self._by_address.get(log.address)
                    named = contract.abi.decode_event(log.topics, log.data) if contract else None
                    if named:
                        ticket.events.append(named)
                        decoded.append((contract.name, *named, p.tx.hash, ticket.function))
                        if contract is self.contracts.get(REGISTRY):
                            governed.append((REGISTRY, *named))
                    events.append(EventRecord(log_index, p.tx.hash, log.address, contract and contract.name,
                                              named and named[0], named and named[1], b"".join(log.topics),
                                              log.data))
                    log_index += 1
                txs.append(TxRecord(
                    p.tx.hash, index, p.node, p.tx.sender, p.tx.nonce, p.tx.to, ticket.contract, ticket.function,
                    ticket.label, p.tx.raw, int(outcome.success), outcome.gas_used, outcome.contract_address,
                    outcome.output, error and error.name, error and error.args,
                ))

            digest = self._refusals_digest if last else earlier_digest
            rows = BlockRows.build(block, digest, txs, events, refused if last else [], created)
            seals = make_seals(seal_message(genesis, block.hash, digest, rows.records_digest()), sealers)
            self.store.append_block(rows, seals)
            self.membership.apply(governed)
            self._head = block
            committed.append((block, decoded))
            if governed and not last:  # the batch's next block is sealed by the validators now in force
                sealers = self._sealers(block.number + 1, f"governance in block {block.number} left ", "")
        # The watchers see each block once all are stored: one may commit (an anchor on another chain).
        for block, decoded in committed:
            self.block_events = decoded
            if self.on_block:
                self.on_block(block)
        return blocks[-1]

    def _sealers(self, number: int, cause: str, after: str) -> list:
        """The accounts here of the validators in force, which seal block `number`: a quorum, or a LedgerError."""
        validators = set(self.membership.validators())
        sealers = sorted((n.account for n in self.nodes.values()
                          if n.address in validators and getattr(n.account, "private_key", None)),
                         key=lambda a: a.address)
        if len(sealers) < quorum(len(validators)):
            raise LedgerError(f"cannot seal block {number} of {self.name}: {cause}the keys of {len(sealers)} of "
                              f"{len(validators)} validators are here, {quorum(len(validators))} needed{after}")
        return sealers

    def _write_genesis(self) -> bytes:
        """Writes the genesis record before the first block, unless the scenario already did, and the public
        files beside the ledger; every seal of the chain is bound to the genesis record."""
        if "founders" not in self.store.meta():
            self.store.write_meta(self.genesis_meta())
        self._genesis_id = genesis_id(self.store.meta())
        self.write_public_files()
        return self._genesis_id

    def write_public_files(self) -> Path:
        """Writes what anyone may hold and `verify` reads, beside the ledger: genesis.json, and certs/ with
        the CA certificate, every node's certificate and the revocation list as of now. Written before the
        first block (with the genesis record), before any block once a node was added or a certificate
        revoked since, and at the end of a run."""
        chain_dir = self.store.path.parent
        (chain_dir / GENESIS_FILE).write_text(json.dumps(self.store.meta(), indent=2, sort_keys=True) + "\n",
                                              encoding="utf-8")
        certs = chain_dir / CERTS_DIR
        certs.mkdir(exist_ok=True)
        (certs / "ca.pem").write_bytes(certificate_pem(self.ca.certificate))
        for node in self.nodes.values():
            (certs / f"{node.name}.pem").write_bytes(certificate_pem(node.certificate))
        (certs / "crl.pem").write_bytes(self.ca.crl(self.time).public_bytes(serialization.Encoding.PEM))
        self._public_as_of = self._public_state()
        return chain_dir

    def _public_state(self) -> tuple:
        """What the public files show that changes during a run: the nodes, and which certificates are revoked.
        Once this consortium has written them, commit() writes them again before a block when it changed, so
        that a run killed at any block leaves the certificates of every node it had."""
        return tuple(self.nodes), tuple(name for name, node in self.nodes.items()
                                        if self.ca.is_revoked(node.certificate, self.time))

    def _unregister(self, address: bytes | None) -> None:
        contract = self._by_address.pop(address, None)
        if contract and self.contracts.get(contract.name) is contract:
            del self.contracts[contract.name]

    # -------------------------------------------------------------- what-ifs

    def snapshot(self) -> "ConsortiumSnapshot":
        """This chain as it stands (engine, store, clock, nonces, refusal chain, membership, contracts),
        for revert(): a scenario may try blocks and forget them. Submissions must be committed first."""
        if self._pending or self._refused:
            raise LedgerError(f"{self.name}: commit the queued submissions before taking a snapshot")
        state = {k: _copy(k, getattr(self, k)) for k in _SNAPSHOT_STATE}
        return ConsortiumSnapshot(self.engine.snapshot(), self.store.snapshot(), state)

    def revert(self, snapshot: "ConsortiumSnapshot") -> None:
        """Back to `snapshot`: the blocks committed since are gone from the engine and the store, and
        the consortium's own state follows (nodes added since stay: they hold keys, not chain state)."""
        self.engine.revert(snapshot.engine)
        self.store.restore(snapshot.store)
        for key, value in snapshot.state.items():
            setattr(self, key, _copy(key, value))
        self._pending, self._refused = [], []
        self.gateway = Gateway(self.ca, self.membership)
        for contract in self.contracts.values():  # the contracts share this consortium's error table
            contract.errors = self._errors


# What a snapshot copies: everything commit() and deploy() change, besides the engine and the store.
_SNAPSHOT_STATE = ("time", "membership", "contracts", "block_events", "_by_address", "_errors", "_nonces",
                   "_refusal_seq", "_refusals_digest", "_head", "_genesis_id")


def _copy(key: str, value: Any) -> Any:
    """Membership records change in place; the rest are replaced or hold immutable records."""
    return copy.deepcopy(value) if key == "membership" else copy.copy(value)


@dataclass(frozen=True)
class ConsortiumSnapshot:
    engine: object
    store: object
    state: dict
