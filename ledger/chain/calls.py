"""What a node submits and what becomes of it: a Call, encoded and ready to sign, and its Ticket.
Plain records, below both the Node that sends calls and the Consortium that resolves tickets."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.errors import LedgerError


@dataclass(frozen=True)
class Call:
    """A contract function call, encoded and ready for a node to sign."""

    contract: str
    function: str
    to: bytes
    data: bytes
    gas: int


@dataclass(eq=False)
class Ticket:
    """What became of one submission. Resolved when its block is committed."""

    node: str
    contract: str
    function: str
    label: str | None
    status: str = "pending"  # pending, committed, reverted, refused
    reason: str | None = None  # gateway reason code, or the contract's custom error
    detail: dict = field(default_factory=dict)
    tx_hash: bytes | None = None
    block_number: int | None = None
    events: list[tuple[str, dict]] = field(default_factory=list)
    contract_address: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.status == "committed"

    @property
    def refused(self) -> bool:
        return self.status in ("refused", "reverted")

    def event(self, name: str) -> dict:
        """The arguments of the first event `name` this transaction emitted."""
        for event_name, args in self.events:
            if event_name == name:
                return args
        raise LedgerError(f"{self.contract}.{self.function} ({self.status}, {self.reason}) emitted no {name}")
