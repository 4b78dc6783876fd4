"""The scenario API: what every scenario, ours or a pilot team's, is written against.

A scenario is a class with a `name`, a `title`, its `options` and a `run(ctx)` method. Through the
ScenarioContext it opens chains (each a Consortium of nodes), deploys contracts (`ctx.deploy`, a
Handle whose functions are attributes checked against the ABI), submits calls through nodes,
commits blocks, says what it expects of each call (`ctx.expect_ok`, `ctx.expect_revert`), plants
violations (`ctx.plant`, `ctx.plant_for_regulator`, on a `Schedule` that retries), onboards investors
(`scenarios.kyc`) and tries blocks it forgets (`ctx.what_if`). Progress is counted in committed
blocks and each chain's genesis record is written at its first block: a scenario does neither. It
never touches an engine directly, so it runs on any engine."""

from __future__ import annotations

import copy
import random
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

from eth_hash.auto import keccak

from ledger.chain.access import adopt_declared_roles
from ledger.chain.run import note_chain, open_chain
from ledger.chain.consortium import Consortium, Ticket
from ledger.chain.node import Node
from ledger.chain.roles import Role
from ledger.errors import ConfigError
from ledger.supervision.monitor import RiskMonitor
from ledger.supervision.rules import IdentityKind
from ledger.trust.keys import Account
from ledger.trust.privacy import PRIVATE_FILE, PrivateStore
from ledger.trust.secrets import KeyDeriver

from .contracts import Handle, ScenarioError
from .kyc import KycDesk
from .people import id_number
from .schedule import Schedule

__all__ = ["ANY_CHAIN", "CHAIN", "REGULATOR", "Account", "Consortium", "Handle", "IdentityKind", "KycDesk", "Node",
           "Option", "Planted", "Role", "Scenario", "ScenarioContext", "ScenarioError", "Schedule", "Ticket",
           "id_number", "identity_of"]

CHAIN = "chain"  # planted to be refused by the chain (gateway or contract)
REGULATOR = "regulator"  # planted to pass the chain and be found by the regulator's audits
ANY_CHAIN = ""  # the key of a plain --rpc-url URL (no CHAIN=): the node of a single-chain scenario


@dataclass(frozen=True)
class Option:
    """A size or knob of a scenario, given on the command line as --NAME VALUE."""

    name: str
    default: int
    help: str
    minimum: int = 0
    flag: bool = False  # given as a bare --NAME, meaning 1
    # The most a run may ask for: beyond it a run would take days or all the memory, so it is refused up
    # front. A scenario sets its own by what each unit builds; the default bounds any other.
    maximum: int = 1_000_000

    def check(self, value: int) -> int:
        flag = f"--{self.name.replace('_', '-')}"
        if value < self.minimum:
            raise ConfigError(f"{flag} must be at least {self.minimum}, got {value}")
        if value > self.maximum:
            shown = value if len(str(value)) <= 30 else f"{str(value)[:12]}... ({len(str(value))} digits)"
            raise ConfigError(f"{flag} must be at most {self.maximum:,} (a larger run would not finish in "
                              f"reasonable time or memory), got {shown}")
        return value


@dataclass
class Planted:
    """One known violation, recorded as ground truth."""

    id: int
    kind: str
    detect: str  # CHAIN or REGULATOR
    expected: str | None  # the reason the chain must give (CHAIN only)
    description: str
    ticket: Ticket | None = None
    subject: dict = field(default_factory=dict)

    @property
    def caught(self) -> bool:
        """Caught by the chain: refused with exactly the reason it was planted to trigger."""
        return (
            self.detect == CHAIN and self.ticket is not None and self.ticket.refused
            and self.ticket.reason == self.expected
        )

    def to_json(self) -> dict:
        ticket = self.ticket
        return {
            "id": self.id,
            "kind": self.kind,
            "detect": self.detect,
            "expected": self.expected,
            "description": self.description,
            "outcome": None if ticket is None else {
                "status": ticket.status,
                "reason": ticket.reason,
                "node": ticket.node,
                "call": f"{ticket.contract}.{ticket.function}",
                "tx_hash": "0x" + ticket.tx_hash.hex() if ticket.tx_hash else None,
                "block": ticket.block_number,
            },
            "caught": self.caught if self.detect == CHAIN else None,
            "subject": self.subject,
        }


def identity_of(seed: int, label: str) -> bytes:
    """An investor's identity id: the same seed and label give the same identity in every market,
    so that look-through queries can follow one person across scenarios."""
    return keccak(f"identity/{seed}/{label}".encode())


@dataclass
class _Expectation:
    ticket: Ticket
    reason: str | None  # None: must commit
    then: Callable[[Ticket], None] | None

    def check(self) -> None:
        t = self.ticket
        if self.reason is None and not t.ok:
            raise ScenarioError(f"an ordinary {t.contract}.{t.function} by {t.node} was refused: {t.reason} "
                                f"{t.detail}")
        if self.reason is not None and not (t.refused and t.reason == self.reason):
            raise ScenarioError(f"{t.contract}.{t.function} by {t.node} should have been refused with "
                                f"{self.reason}, but was {t.status}{f' ({t.reason})' if t.reason else ''}")
        if self.then:
            self.then(t)


class ScenarioContext:
    """What a running scenario gets: its seed, options, chains, ground truth and progress.

    `seed` and `rng` make the run's public choices reproducible; every secret (keys, salts, personal
    data) comes from `keys`, the KeyDeriver of the seed and the operator secret, so that a member who
    knows the seed learns none of it."""

    def __init__(self, seed: int, options: dict[str, int], run_dir: Path, engine: str = "pyevm",
                 progress: Callable[[int], None] | None = None, rpc_urls: dict[str, str] | None = None, *,
                 block_check: Callable[[str, Any, bool], None] | None = None) -> None:
        """`block_check(chain, block, forgotten)`, if given, sees every block committed, `forgotten` inside
        what_if (the runner's check, on --resume, that the blocks are those of the interrupted run)."""
        self.seed = seed
        self.keys = KeyDeriver.for_seed(seed)
        self.options = options
        self.run_dir = run_dir
        self.engine = engine
        self.rpc_urls = rpc_urls or {}  # chain name -> node URL; ANY_CHAIN for a single-chain scenario's node
        self.rng = random.Random(seed)
        self.chains: dict[str, Consortium] = {}
        self.monitors: list[RiskMonitor] = []  # one per chain, raising alerts block by block
        self.planted: list[Planted] = []
        self.extra: dict[str, object] = {}  # figures of the scenario's own, added to the run's summary
        self.expected_steps = 0
        self._progress = progress
        self._private: dict[tuple[str, str], PrivateStore] = {}
        self._expected: list[_Expectation] = []  # calls whose outcome is checked when their block commits
        self.expected_refusals = 0  # refusals the scenario said it expected (expect_revert): not unexpected
        self._trying = 0  # inside what_if: blocks that will be forgotten count no progress
        self._block_check = block_check

    def open_chain(self, name: str, chain_id: int, genesis_time: int, ca_name: str | None = None) -> Consortium:
        """A new chain in this run, with its own consortium, CA, engine and store. Each block it commits
        counts one step of progress and settles the expectations on the calls it resolved."""
        consortium = open_chain(self.run_dir, name, self.keys, chain_id, genesis_time, self.engine, ca_name,
                                self._rpc_url(name))
        note_chain(self.run_dir, name)  # the run's marker lists its chains, the primary one first
        self.chains[name] = consortium
        consortium.on_block = lambda block: self._committed(name, block)
        self.monitors.append(RiskMonitor(consortium).attach())
        return consortium

    # ------------------------------------------------------------ contracts

    def chain_of(self, node: Node) -> Consortium:
        for chain in self.chains.values():
            if chain.nodes.get(node.name) is node:
                return chain
        raise ScenarioError(f"node {node.name} is on none of this run's chains")

    def deploy(self, node: Node, contract: str, *args: Any) -> Handle:
        """`node` deploys `contract` (from the committed artifacts) in the block being built; the
        handle is usable at once for calls in later blocks, and the deployment must succeed."""
        self.expect_ok(node.deploy(contract, *args))
        return Handle(self.chain_of(node).contract(contract))

    @staticmethod
    def contract(chain: Consortium, name: str) -> Handle:
        """A contract already deployed on `chain`, its functions as attributes."""
        return Handle(chain.contract(name))

    @staticmethod
    def adopt_roles(chain: Consortium) -> None:
        """Commits the deployments, then maps the function-to-role table each deployed contract declares,
        through governance (three blocks). Until then a contract's functions are closed to everyone."""
        adopt_declared_roles(chain)

    def kyc(self, chain: Consortium, identities: Handle, regulator: Node) -> KycDesk:
        """KYC onboarding on `chain` through its IdentityRegistry, the data sealed for `regulator` too."""
        return KycDesk(self, chain, identities, regulator)

    # --------------------------------------------------------- expectations

    def expect_ok(self, ticket: Ticket, then: Callable[[Ticket], None] | None = None) -> Ticket:
        """Ordinary business: the call must commit. When its block does, `then(ticket)` runs (in the order
        the calls were sent); a refusal stops the run with the reason, as a ScenarioError."""
        return self._expect(_Expectation(ticket, None, then))

    def expect_revert(self, ticket: Ticket, reason: str, then: Callable[[Ticket], None] | None = None) -> Ticket:
        """The call must be refused with exactly `reason` (a contract's custom error, or a gateway code
        such as ROLE_MISSING); anything else stops the run. For ground truth, use plant()."""
        return self._expect(_Expectation(ticket, reason, then))

    def _expect(self, expectation: "_Expectation") -> Ticket:
        self._expected.append(expectation)
        if expectation.ticket.status != "pending" and expectation.ticket.status != "refused":
            self._settle()
        return expectation.ticket

    def _committed(self, chain: str | None = None, block: Any = None) -> None:
        if self._block_check is not None and block is not None:
            self._block_check(chain, block, bool(self._trying))
        if not self._trying:
            self.progress(1, len(block.outcomes) if block is not None else 0)
        self._settle()

    def _settle(self) -> None:
        waiting = []
        expected, self._expected = self._expected, waiting
        for i, expectation in enumerate(expected):
            if expectation.ticket.status == "pending":
                waiting.append(expectation)
                continue
            try:
                expectation.check()
            except ScenarioError:
                self._expected = waiting + expected[i + 1:]
                raise
            self.expected_refusals += expectation.reason is not None

    # ------------------------------------------------------------- what-ifs

    @contextmanager
    def what_if(self, chain: Consortium) -> Iterator[Consortium]:
        """Runs the blocks committed inside and then forgets them: the engine, the store, the consortium,
        its risk monitor, the nodes' private stores, the ground truth and the expectations are as before
        (nodes added stay). What is queued is committed first. Only `chain` goes back: what another chain
        recorded meanwhile (an anchor of a forgotten block) stays."""
        chain.commit()
        snapshot = chain.snapshot()
        monitors = [(m, {k: copy.deepcopy(v) for k, v in vars(m).items() if k != "chain"})
                    for m in self.monitors if m.chain is chain]
        planted, expected, refusals = len(self.planted), list(self._expected), self.expected_refusals
        private = {key: store.snapshot() for key, store in self._private.items() if key[0] == chain.name}
        self._trying += 1
        try:
            yield chain
        finally:
            self._trying -= 1
            chain.revert(snapshot)
            for monitor, state in monitors:
                vars(monitor).update(state)
            del self.planted[planted:]
            self._expected, self.expected_refusals = expected, refusals
            for key, store in list(self._private.items()):
                if key in private:
                    store.restore(private[key])
                elif key[0] == chain.name:  # opened during the what-if: emptied as if never written
                    store.close()
                    del self._private[key]
                    store.path.unlink(missing_ok=True)

    def _rpc_url(self, chain: str) -> str | None:
        """The node chain `chain` runs on: its own CHAIN=URL, or the one plain URL if it is the only chain."""
        if self.engine != "rpc":
            return None
        if chain in self.rpc_urls:
            return self.rpc_urls[chain]
        if ANY_CHAIN in self.rpc_urls and not self.chains:
            return self.rpc_urls[ANY_CHAIN]
        opened = f" besides {', '.join(self.chains)}" if self.chains else ""
        raise ConfigError(f"no node for chain {chain}{opened}: one consortium per node, so give "
                          f"--rpc-url {chain}=URL for each chain of this scenario")

    def private_store(self, chain: Consortium, owner: Node, regulator: Node) -> PrivateStore:
        """`owner`'s private store on `chain`, sealing personal data for it and for `regulator`."""
        key = (chain.name, owner.name)
        if key not in self._private:
            path = self.run_dir / chain.name / "nodes" / owner.name / PRIVATE_FILE
            self._private[key] = PrivateStore(path, self.keys, chain.name, owner.name, regulator.name)
        return self._private[key]

    def salt(self, label: str) -> bytes:
        """The salt of `label`'s personal data hash on chain: secret (from the seed and the operator
        secret), so that nobody can try ID numbers against the hash."""
        return self.keys.bytes(f"salt/{label}")

    def unified_account(self, label: str) -> Account:
        """`label`'s one account in every market of the run, as CSDC's unified account (一码通) gives an
        investor one number across markets: its key derives from the label alone, not the chain, so the
        address is the same on each chain. Each market's node that serves the investor takes custody of it
        (Node.hold); its client label there is LABEL/0."""
        return self.keys.account(f"unified/{label}", f"{label}/0")

    def private_rng(self, label: str) -> random.Random:
        """A random stream for `label`'s personal data: reproducible by the run operator, unknowable
        from the seed alone."""
        return random.Random(self.keys.bytes(f"personal/{label}"))

    def close(self) -> None:
        for store in self._private.values():
            store.close()
        self._private.clear()

    def plant(self, kind: str, expected: str, ticket: Ticket, description: str, **subject) -> Planted:
        """Records a violation the chain must refuse with reason `expected`."""
        return self._record(Planted(len(self.planted) + 1, kind, CHAIN, expected, description, ticket, subject))

    def plant_for_regulator(self, kind: str, description: str, **subject) -> Planted:
        """Records a violation that passes the chain and is left for the regulator's audits."""
        return self._record(Planted(len(self.planted) + 1, kind, REGULATOR, None, description, None, subject))

    def _record(self, planted: Planted) -> Planted:
        self.planted.append(planted)
        return planted

    def progress(self, steps: int = 1, transactions: int = 0) -> None:
        """`steps` more of the expected ones done (a step is a block), holding `transactions`."""
        if self._progress:
            self._progress(steps, transactions)


class Scenario(ABC):
    """Base of every scenario. Subclasses set the class attributes and implement run()."""

    name: ClassVar[str]
    title: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()

    @classmethod
    def resolve_options(cls, given: dict[str, int | None]) -> dict[str, int]:
        """Defaults filled in, values checked; unknown names are a ConfigError."""
        known = {o.name: o for o in cls.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ConfigError(f"scenario {cls.name} has no option --{unknown[0].replace('_', '-')}")
        return {n: o.check(o.default if given.get(n) is None else given[n]) for n, o in known.items()}

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        """How many progress steps run() will report, for the progress bar."""
        return 1

    @abstractmethod
    def run(self, ctx: ScenarioContext) -> None:
        """Runs the business, plants violations, commits every block."""
