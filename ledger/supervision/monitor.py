"""Risk monitoring during a run: rules that look at each block as it is committed and raise
an alert, with the block, as soon as the block makes a risk or a breach visible.

Rules (each on the block's decoded events; a rule fires once per subject):
  holders_near_cap     a fund's look-through holder units, or a company's holders, reach
                       NEAR_CAP of the legal cap
  stock_shortfall      an inspection finds less stock than a warehouse declared
  certificate_reused   a receipt is issued on an inspection certificate another receipt carries
                       (its own, or one a merge minted)
  late_disclosure      a periodic report is filed after its deadline
  disclosure_overdue   the chain flags a periodic report as overdue
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.chain.consortium import Consortium
from ledger.evm.base import ExecutedBlock

NEAR_CAP = 0.9


@dataclass(frozen=True)
class Alert:
    rule: str
    chain: str
    block: int
    subject: str
    detail: str

    def to_json(self) -> dict:
        return {"rule": self.rule, "chain": self.chain, "block": self.block, "subject": self.subject,
                "detail": self.detail}


@dataclass
class RiskMonitor:
    """Watches one chain: call attach() before its first block."""

    chain: Consortium
    alerts: list[Alert] = field(default_factory=list)
    _certificates: dict[str, int] = field(default_factory=dict)  # certificate -> the receipt it started
    _receipt_certificates: dict[int, str] = field(default_factory=dict)
    _raised: set[tuple[str, str]] = field(default_factory=set)

    def attach(self) -> "RiskMonitor":
        previous = self.chain.on_block

        def on_block(block: ExecutedBlock) -> None:
            if previous:
                previous(block)
            self.check(block.number, self.chain.block_events)

        self.chain.on_block = on_block
        return self

    def check(self, number: int, events: list[tuple[str, str, dict]]) -> None:
        """Runs the rules on block `number`'s events (contract, name, args), as the consortium decoded them at
        commit, in log order."""
        for contract, name, args in events:
            rule = getattr(self, f"_{contract}_{name}", None)
            if rule:
                rule(number, args)

    def _raise(self, rule: str, block: int, subject: str, detail: str) -> None:
        if (rule, subject) not in self._raised:
            self._raised.add((rule, subject))
            self.alerts.append(Alert(rule, self.chain.name, block, subject, detail))

    # --------------------------------------------------------------- rules

    def _HolderCapModule_HolderEntered(self, block: int, a: dict) -> None:
        # The compliance module counts for every market; the event carries the units and the cap.
        if self._is_token(a["token"], "PrivateFundShares"):
            self._near_cap(block, f"fund:{a['asset']}", a["holders"], "look-through holder units", a["cap"])
        elif self._is_token(a["token"], "EquityMarket"):
            self._near_cap(block, f"company:0x{a['asset']:064x}", a["holders"], "holders", a["cap"])

    def _is_token(self, address: str, name: str) -> bool:
        contract = self.chain.contracts.get(name)
        return contract is not None and "0x" + contract.address.hex() == address.lower()

    def _near_cap(self, block: int, subject: str, count: int, what: str, cap: int) -> None:
        if cap and count >= NEAR_CAP * cap:
            self._raise("holders_near_cap", block, subject, f"{subject} has {count} {what} of its cap {cap}")

    def _WarehouseReceipt_StockShortfall(self, block: int, a: dict) -> None:
        self._raise("stock_shortfall", block, f"{a['warehouse']}/{a['commodity']}",
                    f"warehouse {a['warehouse']} has {a['live']} live against {a['declared']} declared")

    def _WarehouseReceipt_ReceiptIssued(self, block: int, a: dict) -> None:
        certificate = self._receipt_certificates[a["id"]] = a["inspectionCertHash"]
        first = self._certificates.setdefault(certificate, a["id"])
        if first != a["id"]:
            self._raise("certificate_reused", block, certificate,
                        f"receipt {a['id']} is issued on the inspection certificate of receipt {first}")

    def _WarehouseReceipt_ReceiptSplit(self, block: int, a: dict) -> None:
        for part in a["parts"]:
            self._receipt_certificates[part] = self._receipt_certificates.get(a["id"], "")

    def _WarehouseReceipt_ReceiptsMerged(self, block: int, a: dict) -> None:
        # A merge of receipts on different certificates mints a new one (the event carries it), which a
        # later issuance may reuse.
        certificate = self._receipt_certificates[a["id"]] = a["inspectionCertHash"]
        self._certificates.setdefault(certificate, a["id"])

    def _Disclosure_PeriodicReportFiled(self, block: int, a: dict) -> None:
        if not a["onTime"]:
            self._raise("late_disclosure", block, f"{a['companyId']}/{a['name']}",
                        f"a periodic report of company {a['companyId']} was filed after its deadline {a['due']}")

    def _Disclosure_DisclosureOverdue(self, block: int, a: dict) -> None:
        self._raise("disclosure_overdue", block, f"{a['companyId']}/{a['kind']}/{a['due']}",
                    f"company {a['companyId']} is overdue with a periodic report due {a['due']}")
