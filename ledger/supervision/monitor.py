"""Risk monitoring during a run: the rule catalogue (ledger.supervision.catalogue) evaluated block by block
as a chain commits, raising an alert, with the block, as soon as a block opens a finding or a warning.

The monitor and the after-the-fact findings run the same checks; the monitor has no sealed personal data
(the regulator opens it afterwards), so the rules that need it report only in `pilotledger findings`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.chain.consortium import Consortium
from ledger.evm.base import ExecutedBlock
from ledger.supervision.catalogue import CATALOGUE, Evaluation, Finding
from ledger.supervision.catalogue.base import RiskWarning
from ledger.supervision.replay import Event, World


@dataclass(frozen=True)
class Alert:
    rule: str  # a catalogue rule id
    chain: str
    block: int
    time: int
    subject: str
    detail: str  # in English; `message` and `values` give it in the reader's language (catalogue.text)
    severity: str  # "breach" (a finding opened) or "warning"
    message: str
    values: dict

    def to_json(self) -> dict:
        return {"rule": self.rule, "chain": self.chain, "block": self.block, "time": self.time,
                "subject": self.subject, "detail": self.detail, "severity": self.severity, "message": self.message,
                "values": self.values}

    @classmethod
    def of(cls, item: Finding | RiskWarning, block: int, time: int) -> "Alert":
        subject = "/".join(str(v) for v in item.subject.values())
        severity = "warning" if isinstance(item, RiskWarning) else "breach"
        return cls(item.rule, item.chain, block, time, subject, item.what, severity, item.message, item.values)


@dataclass
class RiskMonitor:
    """Watches one chain: call attach() before its first block."""

    chain: Consortium
    alerts: list[Alert] = field(default_factory=list)
    evaluation: Evaluation | None = None

    def attach(self) -> "RiskMonitor":
        self.evaluation = Evaluation(World(self.chain.name), rules=[r for r in CATALOGUE if not r.needs_sealed])
        previous = self.chain.on_block

        def on_block(block: ExecutedBlock) -> None:
            if previous:
                previous(block)
            self.check(block.number, block.timestamp, self.chain.block_events)

        self.chain.on_block = on_block
        return self

    def check(self, number: int, time: int, events: list[tuple]) -> None:
        """Runs the catalogue on block `number`'s events (contract, name, args, tx hash, function), as the
        consortium decoded them at commit, in log order."""
        for log_index, (contract, name, args, tx, function) in enumerate(events):
            self.evaluation.feed(Event(self.chain.name, number, time, log_index, "0x" + tx.hex(), function,
                                       contract, name, args))
        opened = self.evaluation.end_block(number, time)
        self.alerts += [Alert.of(item, number, time) for item in opened]
