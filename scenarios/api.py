"""The scenario API: what every scenario, ours or a pilot team's, is written against.

A scenario is a class with a `name`, a `title`, its `options` and a `run(ctx)`
method. Through the ScenarioContext it opens chains (each a Consortium of nodes),
submits calls through nodes, commits blocks, plants violations and reports
progress. It never touches an engine directly, so it runs on any engine."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

from eth_hash.auto import keccak

from ledger.chain.run import open_chain
from ledger.chain.consortium import Consortium, Ticket
from ledger.errors import ConfigError
from ledger.supervision.monitor import RiskMonitor
from ledger.chain.node import Node
from ledger.trust.privacy import PRIVATE_FILE, PrivateStore
from ledger.trust.secrets import KeyDeriver

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

    def check(self, value: int) -> int:
        if value < self.minimum:
            raise ConfigError(f"--{self.name.replace('_', '-')} must be at least {self.minimum}, got {value}")
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


class ScenarioContext:
    """What a running scenario gets: its seed, options, chains, ground truth and progress.

    `seed` and `rng` make the run's public choices reproducible; every secret (keys, salts, personal
    data) comes from `keys`, the KeyDeriver of the seed and the operator secret, so that a member who
    knows the seed learns none of it."""

    def __init__(self, seed: int, options: dict[str, int], run_dir: Path, engine: str = "pyevm",
                 progress: Callable[[int], None] | None = None, rpc_urls: dict[str, str] | None = None) -> None:
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

    def open_chain(self, name: str, chain_id: int, genesis_time: int, ca_name: str | None = None) -> Consortium:
        """A new chain in this run, with its own consortium, CA, engine and store."""
        consortium = open_chain(self.run_dir, name, self.keys, chain_id, genesis_time, self.engine, ca_name,
                                self._rpc_url(name))
        self.chains[name] = consortium
        self.monitors.append(RiskMonitor(consortium).attach())
        return consortium

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

    def progress(self, steps: int = 1) -> None:
        if self._progress:
            self._progress(steps)


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
