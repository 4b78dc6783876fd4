"""What a supervision rule is: its id, the regulation it enforces, its parameters, the evidence it
reports, and one incremental check that reads a chain's history event by event and block by block.

The same check serves the risk monitor (fed each block as it commits, it raises an alert when a
finding opens) and the after-the-fact detectors (fed the whole sealed history, they report every
finding with the block range it lasted): one rule, one implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ledger.errors import ConfigError
from ledger.supervision.replay import Event

if TYPE_CHECKING:
    from ledger.supervision.replay import World


@dataclass(frozen=True)
class Param:
    """A named threshold of a rule, with the design's default and its unit."""

    name: str
    default: int | float
    unit: str
    doc: str


@dataclass
class Finding:
    """One violation: the rule, what it is about (`subject`: the fields that identify it), who, what
    (an English message template and its values, for translation), when (the block range it lasted;
    `last_block` None while it lasts at the head) and the evidence."""

    rule: str
    chain: str
    subject: dict
    message: str
    values: dict
    first_block: int
    first_time: int
    who: list[dict] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)
    last_block: int | None = None
    last_time: int | None = None
    ranges: list[tuple[int, int | None]] = field(default_factory=list)  # every (first, last) block in breach

    @property
    def cured(self) -> bool:
        return self.last_block is not None

    @property
    def what(self) -> str:
        return self.message.format(**self.values)

    def key(self) -> tuple:
        return subject_key(self.rule, self.subject)

    def to_json(self) -> dict:
        rule = RULES_BY_ID.get(self.rule)
        return {"rule": self.rule, "title": rule.title if rule else self.rule,
                "regulation": rule.regulation if rule else None, "article": rule.article if rule else None,
                "severity": "breach", "chain": self.chain, "subject": self.subject, "who": self.who,
                "message": self.message, "values": self.values, "what": self.what,
                "first_block": self.first_block, "first_time": self.first_time,
                "last_block": self.last_block, "last_time": self.last_time, "cured": self.cured,
                "ranges": [list(r) for r in (self.ranges or [(self.first_block, self.last_block)])],
                "evidence": self.evidence}


@dataclass(frozen=True)
class RiskWarning:
    """A risk short of a breach (a fund near its cap, a deadline flagged overdue): an alert, not a finding."""

    rule: str
    chain: str
    subject: dict
    message: str
    values: dict

    @property
    def what(self) -> str:
        return self.message.format(**self.values)


def subject_key(rule: str, subject: dict) -> tuple:
    """What identifies one violation: its rule and its subject's fields (ids compared in lower case, lists as
    sets)."""
    return (rule,) + tuple(sorted((k, _norm(v)) for k, v in subject.items()))


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, (list, tuple)):
        return tuple(sorted(_norm(v) for v in value))
    return value


def evidence(e: Event, what: str, **values) -> dict:
    """The transaction (and block) that carried event `e`, as evidence; `what` a message template filled
    with `values` (translated when shown)."""
    return {"type": "tx", "chain": e.chain, "block": e.block, "time": e.time, "tx_hash": e.tx, "what": what,
            **({"values": values} if values else {})}


class Check:
    """The incremental evaluation of one rule on one chain. Subclasses handle the events they need in
    `on_event` (called after the world applied the event), look at the world at `on_block` (after every
    event of the block), and report through `report` (a finding that stays), `breach` (a state that may end)
    or `warn` (a risk short of a breach); `finish` adds what only the whole history, the regulator's sealed
    data or the files beside the ledger can tell."""

    rule: ClassVar["Rule"]

    def __init__(self, world: "World", params: dict[str, int | float]) -> None:
        self.world = world
        self.params = params
        self.findings: dict[tuple, Finding] = {}
        self.opened: list[Finding | RiskWarning] = []  # opened since the monitor last looked
        self._warned: set[tuple] = set()

    def on_event(self, e: Event) -> None:
        pass

    def on_block(self, block: int, time: int) -> None:
        pass

    def finish(self) -> None:
        pass

    # ------------------------------------------------------------ reporting

    def report(self, subject: dict, message: str, values: dict, at: Event | tuple[int, int],
               who: list[dict] | None = None, evidence: list[dict] | None = None) -> Finding:
        """A finding that is true at `at` (an event, or (block, time)) and stays true: opened once per
        subject, later reports of the same subject only add evidence."""
        block, time = (at.block, at.time) if isinstance(at, Event) else at
        finding = Finding(self.rule.id, self.world.chain, subject, message, values, block, time, who or [],
                          evidence or [])
        known = self.findings.get(finding.key())
        if known is not None:
            known.evidence += [e for e in finding.evidence if e not in known.evidence]
            return known
        self.findings[finding.key()] = finding
        self.opened.append(finding)
        return finding

    def warn(self, subject: dict, message: str, values: dict) -> None:
        """A warning, raised once per subject."""
        warning = RiskWarning(self.rule.id, self.world.chain, subject, message, values)
        key = subject_key(self.rule.id, subject)
        if key not in self._warned:
            self._warned.add(key)
            self.opened.append(warning)

    def breach(self, subject: dict, message: str, values: dict, block: int, time: int, in_breach: bool,
               who: list[dict] | None = None, evidence: list[dict] | None = None) -> None:
        """A state that may start and end (a cap exceeded): opens a range when it starts, closes it when it
        ends; one finding per subject, its ranges every stretch it lasted, its message the worst moment, its
        evidence where each stretch starts and ends."""
        known = self.findings.get(subject_key(self.rule.id, subject))
        if in_breach:
            if known is None:
                known = self.report(subject, message, values, (block, time), who, evidence)
                known.ranges = [(block, None)]
            elif known.ranges[-1][1] is not None:  # breached again after a cure
                known.ranges.append((block, None))
                known.last_block = known.last_time = None
                known.evidence += evidence or []
                self.opened.append(known)
            if _worse(values, known.values):
                known.message, known.values = message, values
        elif known is not None and known.ranges[-1][1] is None:
            known.ranges[-1] = (known.ranges[-1][0], block)
            known.last_block, known.last_time = block, time
            known.evidence.append({"type": "block", "chain": self.world.chain, "block": block, "time": time,
                                   "what": "the breach ends"})


def _worse(new: dict, old: dict) -> bool:
    return new.get("count", 0) > old.get("count", 0)


@dataclass(frozen=True)
class Rule:
    """A supervision rule of the catalogue."""

    id: str
    market: str  # "fund", "equity", "investors" (both), "receipts", "disclosure", "anchors"
    title: str
    regulation: str
    article: str | None
    params: tuple[Param, ...]
    evidence: str
    check: type[Check]
    subject: tuple[str, ...]  # the fields of a finding's subject that identify one violation
    needs_sealed: bool = False  # reads the regulator-opened sealed data: not evaluated by the monitor

    def defaults(self) -> dict[str, int | float]:
        return {p.name: p.default for p in self.params}


RULES_BY_ID: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.id in RULES_BY_ID:
        raise ConfigError(f"rule {rule.id} is defined twice")
    RULES_BY_ID[rule.id] = rule
    rule.check.rule = rule
    return rule
