"""Warehouse-receipt rules: one lot financed twice, stock found short, a declaration that undoes what an
inspection established, and a receipt used after it ended."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.supervision.catalogue.base import RULES_BY_ID, Check, Event, Rule, evidence, register
from ledger.supervision.rules import text32

RECEIPT_RULES = ("the futures exchanges' standard warehouse receipt rules: one receipt per inspected lot, "
                 "receipts never above the goods in store, cancelled or expired receipts dead")


@dataclass
class Receipt:
    id: int
    warehouse: str
    commodity: str
    unit: str
    quantity: int
    certificate: str
    expiry: int
    issued: Event
    ended: Event | None = None  # cancelled, or consumed by a split or a merge
    cancelled: bool = False
    pledges: list[Event] = field(default_factory=list)


class ReceiptBook:
    """The live receipts of a chain and the certificates that started them, kept by the receipt rules."""

    def __init__(self) -> None:
        self.receipts: dict[int, Receipt] = {}
        self.started: dict[str, list[int]] = {}  # certificate -> receipts started on it

    def apply(self, e: Event) -> None:
        a = e.args
        if e.name == "ReceiptIssued":
            self._new(a["id"], e, a["warehouse"].lower(), text32(a["commodity"]), text32(a["unit"]), a["quantity"],
                      a["inspectionCertHash"].lower(), a["expiry"])
            self.started.setdefault(a["inspectionCertHash"].lower(), []).append(a["id"])
        elif e.name == "ReceiptSplit" and a["id"] in self.receipts:
            source = self.receipts[a["id"]]
            source.ended = e
            for part, quantity in zip(a["parts"], a["quantities"]):
                self._new(part, e, source.warehouse, source.commodity, source.unit, quantity, source.certificate,
                          source.expiry)
        elif e.name == "ReceiptsMerged":
            sources = [self.receipts[s] for s in a["sources"] if s in self.receipts]
            certificate = a["inspectionCertHash"].lower()
            first = sources[0] if sources else None
            self._new(a["id"], e, first.warehouse if first else "", first.commodity if first else "",
                      first.unit if first else "", a["quantity"], certificate,
                      min((s.expiry for s in sources), default=0))
            for s in sources:
                s.ended = e
            if certificate not in {s.certificate for s in sources}:  # the merge minted a certificate
                self.started.setdefault(certificate, []).append(a["id"])
        elif e.name == "ReceiptCancelled" and a["id"] in self.receipts:
            self.receipts[a["id"]].ended, self.receipts[a["id"]].cancelled = e, True
        elif e.name == "Pledged" and a["id"] in self.receipts:
            self.receipts[a["id"]].pledges.append(e)

    def _new(self, rid: int, e: Event, warehouse: str, commodity: str, unit: str, quantity: int, certificate: str,
             expiry: int) -> None:
        self.receipts[rid] = Receipt(rid, warehouse, commodity, unit, quantity, certificate, expiry, e)


class _ReceiptCheck(Check):
    """A receipt rule reading the chain's receipt book (one per world, shared by the receipt rules)."""

    @property
    def book(self) -> ReceiptBook:
        book = getattr(self.world, "receipt_book", None)
        if book is None:
            book = self.world.receipt_book = ReceiptBook()
            self.world.on_apply.append(lambda e: book.apply(e) if e.contract == "WarehouseReceipt" else None)
        return book

    def __init__(self, world, params) -> None:
        super().__init__(world, params)
        self.book  # noqa: B018 - registers the book with the world before the first event


class DoubleFinancingCheck(_ReceiptCheck):
    """Two or more receipts started on one inspection certificate: one inspected lot receipted, and so
    financeable, twice."""

    def on_event(self, e: Event) -> None:
        if e.contract != "WarehouseReceipt" or e.name not in ("ReceiptIssued", "ReceiptsMerged", "Pledged"):
            return
        receipt = self.book.receipts.get(e.args["id"])
        started = self.book.started.get(receipt.certificate, []) if receipt else []
        if len(started) < 2:
            return
        receipts = [self.book.receipts[r] for r in started]
        first = receipts[0]
        self.report({"inspection_cert": receipt.certificate},
                    "{n} receipts were started on one inspection certificate of {commodity} at {warehouse}",
                    {"n": len(receipts), "commodity": first.commodity, "warehouse": first.warehouse}, e,
                    [self.world.org(r.warehouse) for r in receipts],
                    [evidence(r.issued, "receipt {receipt} started ({quantity} {unit})", receipt=r.id,
                              quantity=r.quantity, unit=r.unit) for r in receipts]
                    + [evidence(p, "receipt {receipt} pledged", receipt=p.args["id"]) for r in receipts
                       for p in r.pledges])


def stock_unit(world, e: Event) -> str:
    """The unit a warehouse declared its stock of a commodity in (StockDeclared carries it; inspections do not)."""
    units = world.__dict__.setdefault("stock_units", {})
    key = (e.args["warehouse"].lower(), text32(e.args["commodity"]))
    if e.name == "StockDeclared":
        units[key] = text32(e.args["unit"])
    return units.get(key, "")


class StockShortCheck(Check):
    """An inspection that finds less in store than the warehouse declared."""

    def on_event(self, e: Event) -> None:
        if e.contract != "WarehouseReceipt" or e.name not in ("StockDeclared", "StockInspected"):
            return
        unit = stock_unit(self.world, e)
        if e.name == "StockInspected" and e.args["observed"] < e.args["declared"]:
            a = e.args
            self.report({"warehouse": a["warehouse"].lower(), "commodity": text32(a["commodity"])},
                        "an inspection found {observed} {unit} of {commodity} at {warehouse}, which declared "
                        "{declared} {unit} ({live} {unit} in live receipts)",
                        {"observed": a["observed"], "declared": a["declared"], "live": a["live"], "unit": unit,
                         "commodity": text32(a["commodity"]), "warehouse": a["warehouse"].lower()}, e,
                        [self.world.org(a["warehouse"].lower())], [evidence(e, "StockInspected")])


class DeclarationUndoesInspectionCheck(Check):
    """A warehouse declaring more stock than an inspection cut its declaration to, with no inspection since:
    the declaration undoes the inspection (and opens room for receipts on goods nobody saw)."""

    def __init__(self, world, params) -> None:
        super().__init__(world, params)
        self.cut: dict[tuple[str, str], tuple[int, Event]] = {}  # (warehouse, commodity) -> (the figure, the cut)

    def on_event(self, e: Event) -> None:
        if e.contract != "WarehouseReceipt" or e.name not in ("StockInspected", "DeclarationCorrected",
                                                               "StockDeclared"):
            return
        a = e.args
        key = (a["warehouse"].lower(), text32(a["commodity"]))
        unit = stock_unit(self.world, e)
        if e.name == "StockInspected":
            if a["observed"] < a["declared"]:
                self.cut[key] = (a["observed"], e)
            else:
                self.cut.pop(key, None)  # a later inspection confirms what is declared
        elif e.name == "DeclarationCorrected":
            if a["declared"] < a["previous"]:
                self.cut[key] = (a["declared"], e)
        elif key in self.cut and e.function == "declareStock" and a["declared"] > self.cut[key][0]:
            # The warehouse's own declaration above the inspected figure (a cancellation also restates the
            # declared stock, lowered: that is no declaration).
            figure, cut = self.cut[key]
            self.report({"warehouse": key[0], "commodity": key[1]},
                        "{warehouse} declared {declared} {unit} of {commodity} after an inspection at block "
                        "{cut_block} cut its declaration to {cut_to} {unit}, with no inspection since",
                        {"warehouse": key[0], "declared": a["declared"], "commodity": key[1], "cut_to": figure,
                         "unit": unit,
                         "cut_block": cut.block}, e, [self.world.org(key[0])],
                        [evidence(cut, cut.name), evidence(e, "StockDeclared")])


ACTS_ON_RECEIPT = ("ReceiptRegistered", "ReceiptTransferred", "ReceiptSplit", "ReceiptsMerged", "Pledged",
                   "PledgeEnforced", "Delivered")


class ReceiptAfterEndCheck(_ReceiptCheck):
    """A receipt acted on (registered, transferred, split, merged, pledged, enforced, delivered) after its
    expiry or after it was cancelled."""

    def on_event(self, e: Event) -> None:
        if e.contract != "WarehouseReceipt" or e.name not in ACTS_ON_RECEIPT:
            return
        ids = e.args["sources"] if e.name == "ReceiptsMerged" else [e.args["id"]]
        for rid in ids:
            receipt = self.book.receipts.get(rid)
            if receipt is None:
                continue
            if receipt.cancelled and receipt.ended is not e:
                why, since = "cancelled", receipt.ended
            elif receipt.expiry and e.time > receipt.expiry:
                why, since = "expired", None
            else:
                continue
            self.report({"receipt": rid}, "receipt {receipt} ({quantity} {unit} of {commodity}) was used ({use}) "
                        "after it was {why}",
                        {"receipt": rid, "quantity": receipt.quantity, "unit": receipt.unit,
                         "commodity": receipt.commodity, "use": e.name, "why": why, "expiry": receipt.expiry}, e,
                        [self.world.org(receipt.warehouse)],
                        ([evidence(since, "ReceiptCancelled")] if since else []) + [evidence(e, e.name)])


register(Rule("double_financing", "receipts", "One inspected lot receipted (and financeable) twice", RECEIPT_RULES,
              None, (), "each receipt started on the certificate, and every pledge on them", DoubleFinancingCheck, ("inspection_cert",)))
register(Rule("stock_short", "receipts", "Stock found short at inspection", RECEIPT_RULES, None, (),
              "the inspection: observed, declared and live quantities", StockShortCheck, ("warehouse", "commodity")))
register(Rule("declaration_undoes_inspection", "receipts", "A declaration that undoes an inspection", RECEIPT_RULES,
              None, (), "the inspection or correction that cut the declaration, and the declaration above it",
              DeclarationUndoesInspectionCheck, ("warehouse", "commodity")))
register(Rule("receipt_after_end", "receipts", "A receipt used after cancellation or expiry", RECEIPT_RULES, None,
              (), "the cancellation (or the expiry date) and the transaction that used the receipt after it",
              ReceiptAfterEndCheck, ("receipt",)))


RULES: tuple[Rule, ...] = tuple(r for r in RULES_BY_ID.values() if r.check.__module__ == __name__)
