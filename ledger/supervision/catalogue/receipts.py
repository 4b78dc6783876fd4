"""Warehouse-receipt rules: one lot financed twice, stock found short, a declaration that undoes what an
inspection established, and a receipt used after it ended."""

from __future__ import annotations

from ledger.supervision.catalogue.base import RULES_BY_ID, Check, Event, Rule, evidence, register
from ledger.supervision.rules import text32

RECEIPT_RULES = ("the futures exchanges' standard warehouse receipt rules: one receipt per inspected lot, "
                 "receipts never above the goods in store, cancelled or expired receipts dead")


class DoubleFinancingCheck(Check):
    """Two or more receipts started on one inspection certificate: one inspected lot receipted, and so
    financeable, twice."""

    def on_event(self, e: Event) -> None:
        if e.contract != "WarehouseReceipt" or e.name not in ("ReceiptIssued", "ReceiptsMerged", "Pledged"):
            return
        receipt = self.world.receipts.receipts.get(e.args["id"])
        started = self.world.receipts.started.get(receipt.certificate, []) if receipt else []
        if len(started) < 2:
            return
        receipts = [self.world.receipts.receipts[r] for r in started]
        first = receipts[0]
        self.report({"inspection_cert": receipt.certificate},
                    "{n} receipts were started on one inspection certificate of {commodity} at {warehouse}",
                    {"n": len(receipts), "commodity": first.commodity, "warehouse": first.warehouse}, e,
                    [self.world.org(r.warehouse) for r in receipts],
                    [evidence(r.issued, "receipt {receipt} started ({quantity} {unit})", receipt=r.id,
                              quantity=r.quantity, unit=r.unit) for r in receipts]
                    + [evidence(p, "receipt {receipt} pledged", receipt=p.args["id"]) for r in receipts
                       for p in r.pledges])


class StockShortCheck(Check):
    """An inspection that finds less in store than the warehouse declared."""

    def on_event(self, e: Event) -> None:
        if e.contract == "WarehouseReceipt" and e.name == "StockInspected" and e.args["observed"] < e.args["declared"]:
            a = e.args
            unit = self.world.stock_units.get((a["warehouse"].lower(), text32(a["commodity"])), "")
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
        unit = self.world.stock_units.get(key, "")
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


class ReceiptAfterEndCheck(Check):
    """A receipt acted on (registered, transferred, split, merged, pledged, enforced, delivered) after its
    expiry or after it was cancelled."""

    def on_event(self, e: Event) -> None:
        if e.contract != "WarehouseReceipt" or e.name not in ACTS_ON_RECEIPT:
            return
        ids = e.args["sources"] if e.name == "ReceiptsMerged" else [e.args["id"]]
        for rid in ids:
            receipt = self.world.receipts.receipts.get(rid)
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
