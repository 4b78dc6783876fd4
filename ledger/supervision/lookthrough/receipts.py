"""A warehouse receipt's chain of custody and pledges, and the receipt market's anomalies:
what the chain let through (two receipts on one inspection certificate, stock found short at
inspection) and, for the record, what it refused."""

from __future__ import annotations

from pathlib import Path

from ledger.errors import ConfigError
from ledger.supervision.catalogue import findings
from ledger.supervision.lookthrough.events import Chain, Event, Revert, load_chains, org_names, text32, where

RECEIPT_RULES = ("double_financing", "stock_short", "declaration_undoes_inspection", "receipt_after_end")
RECEIPT_STATES = ("None", "Issued", "Registered", "Cancelled", "Expired", "Split", "Merged")


class ReceiptBook:
    """The warehouse receipts of a run, replayed from WarehouseReceipt events."""

    def __init__(self, chains: list[Chain]) -> None:
        self.orgs = org_names(chains)
        self.receipts: dict[int, dict] = {}
        self.history: dict[int, list[dict]] = {}
        self.pledges: list[dict] = []
        self.stock: list[Event] = []
        self.reverts: list[Revert] = []
        self.chain = None
        for chain in chains:
            events = [e for e in chain.events if e.contract == "WarehouseReceipt"]
            if not events:
                continue
            self.chain = chain
            self.reverts += [r for r in chain.reverts if r.contract == "WarehouseReceipt"]
            for e in events:
                self._apply(e)

    def org(self, address: str | None) -> str | None:
        return self.orgs.get(address) if address else None

    def _step(self, rid: int, e: Event, what: str, **detail) -> None:
        self.history.setdefault(rid, []).append({"event": e.name, "what": what, **where(e), **detail})

    def _new(self, rid: int, e: Event, **fields) -> dict:
        r = {"id": rid, "state": "Issued", "registered": False, "pledge": None, "parent": None, "children": [],
             "sources": [], "merged_into": None, "issued_block": e.block, **fields}
        self.receipts[rid] = r
        return r

    def _apply(self, e: Event) -> None:
        a, n = e.args, e.name
        if n in ("StockDeclared", "StockInspected", "DeclarationCorrected", "StockShortfall"):
            self.stock.append(e)
            return
        rid = a.get("id")
        r = self.receipts.get(rid)
        if n == "ReceiptIssued":
            r = self._new(rid, e, warehouse=a["warehouse"], warehouse_org=self.org(a["warehouse"]),
                          holder=a["owner"], commodity=text32(a["commodity"]), grade=text32(a["grade"]),
                          quantity=a["quantity"], unit=text32(a["unit"]), location=text32(a["location"]),
                          inspection_cert=a["inspectionCertHash"], expiry=a["expiry"], origin="issued")
            self._step(rid, e, "issued", warehouse=a["warehouse"], warehouse_org=r["warehouse_org"], to=a["owner"],
                       quantity=a["quantity"])
        elif r is None and n not in ("ReceiptSplit", "ReceiptsMerged"):
            return
        elif n == "ReceiptRegistered":
            r["registered"] = True
            r["state"] = "Registered"
            self._step(rid, e, "registered", exchange=a["exchange"], exchange_org=self.org(a["exchange"]))
        elif n == "ReceiptTransferred":
            r["holder"] = a["to"]
            self._step(rid, e, "transferred", **{"from": a["from"], "to": a["to"]})
        elif n == "Delivered":
            r["holder"] = a["buyer"]
            self._step(rid, e, "delivered", **{"from": a["seller"], "to": a["buyer"],
                                                "position_ref": text32(a["positionRef"])})
        elif n == "Pledged":
            p = {"receipt": rid, "holder": a["holder"], "lender": a["lender"], "lender_org": self.org(a["lender"]),
                 "amount": a["amount"], "term_end": a["end"], "pledged": where(e), "status": "active",
                 "ended": None}
            self.pledges.append(p)
            r["pledge"] = p
            self._step(rid, e, "pledged", lender=a["lender"], lender_org=p["lender_org"], amount=a["amount"],
                       term_end=a["end"])
        elif n in ("PledgeReleased", "PledgeEnforced", "PledgeLapsed"):
            p = r["pledge"]
            status = {"PledgeReleased": "released", "PledgeEnforced": "enforced", "PledgeLapsed": "lapsed"}[n]
            if p is not None:
                p["status"], p["ended"] = status, where(e)
            r["pledge"] = None
            extra = {}
            if n == "PledgeEnforced":
                r["holder"] = a["lender"]
                extra = {"from": a["previousHolder"], "to": a["lender"]}
            self._step(rid, e, f"pledge {status}", lender=a["lender"], **extra)
        elif n == "CancellationRequested":
            self._step(rid, e, "cancellation requested", holder=a["holder"])
        elif n in ("ReceiptCancelled", "MarkedExpired"):
            r["state"] = "Cancelled" if n == "ReceiptCancelled" else "Expired"
            r["ended_block"] = e.block
            self._step(rid, e, r["state"].lower(), holder=a["holder"], quantity=a["quantity"])
        elif n == "ReceiptSplit":
            src = self.receipts.get(rid)
            if src is None:
                return
            src["state"] = "Split"
            src["ended_block"] = e.block
            src["children"] = list(a["parts"])
            for part, qty in zip(a["parts"], a["quantities"]):
                child = self._new(part, e, **{k: src[k] for k in ("warehouse", "warehouse_org", "commodity", "grade",
                                                                  "unit", "location", "inspection_cert", "expiry")},
                                  holder=a["holder"], quantity=qty, origin="split")
                child["state"] = "Registered" if src["registered"] else "Issued"
                child["registered"], child["parent"] = src["registered"], rid
                self._step(part, e, "created by split", source=rid, holder=a["holder"], quantity=qty)
            self._step(rid, e, "split", parts=list(a["parts"]), quantities=list(a["quantities"]))
        elif n == "ReceiptsMerged":
            srcs = [self.receipts[s] for s in a["sources"] if s in self.receipts]
            first = srcs[0] if srcs else {}
            merged = self._new(rid, e, **{k: first.get(k) for k in ("warehouse", "warehouse_org", "commodity", "grade",
                                                                    "unit", "location", "expiry")},
                               holder=a["holder"], quantity=a["quantity"], origin="merge",
                               inspection_cert=a["inspectionCertHash"])
            merged["sources"] = list(a["sources"])
            merged["registered"] = all(s["registered"] for s in srcs)
            merged["state"] = "Registered" if merged["registered"] else "Issued"
            for s in srcs:
                s["state"], s["merged_into"], s["ended_block"] = "Merged", rid, e.block
                self._step(s["id"], e, "merged", into=rid)
            self._step(rid, e, "created by merge", sources=list(a["sources"]), holder=a["holder"],
                       quantity=a["quantity"])

    def live(self, rid: int) -> bool:
        return self.receipts[rid]["state"] in ("Issued", "Registered")


def _parse_receipt_id(text: str) -> int:
    raw = str(text).strip().lstrip("#")
    if raw.lower().startswith("receipt:"):
        raw = raw[8:]
    if not raw.isdigit():
        raise ConfigError(f"bad receipt {text!r}: give the receipt id number, e.g. 12")
    return int(raw)


def receipt(run_dir: Path, receipt_id: str | int) -> dict:
    """One receipt's chain of custody (every event on it, with block and time), its lineage (split
    parent, merge sources, split parts, merged into), its pledges, and the reverted calls on it."""
    rid = _parse_receipt_id(receipt_id)
    book = ReceiptBook(load_chains(run_dir, ("WarehouseReceipt", "PermissionRegistry")))
    if book.chain is None:
        raise ConfigError(f"{run_dir} has no warehouse receipt platform")
    r = book.receipts.get(rid)
    if r is None:
        raise ConfigError(f"unknown receipt {receipt_id!r}: no receipt {rid} in this run")
    pledges = [p for p in book.pledges if p["receipt"] == rid]
    reverts = [{"error": x.error, "function": x.function, "node": x.node, "sender": x.sender, **where(x),
                "args": x.args} for x in book.reverts if x.args.get("id") == rid]
    # ancestry back to the issued receipt(s)
    roots, todo = [], [rid]
    while todo:
        cur = book.receipts.get(todo.pop())
        if cur is None:
            continue
        if cur["parent"] is not None:
            todo.append(cur["parent"])
        elif cur["sources"]:
            todo += cur["sources"]
        else:
            roots.append(cur["id"])
    info = {k: v for k, v in r.items() if k not in ("pledge",)}
    return {"query": "receipt", "chain": book.chain.name, "receipt": rid, **info, "holder_org": book.org(r["holder"]),
            "live": book.live(rid), "issued_roots": sorted(roots), "custody": book.history.get(rid, []),
            "pledges": pledges, "active_pledge": r["pledge"], "refused_calls": reverts}


def receipt_anomalies(run_dir: Path) -> dict:
    """The receipt market's anomalies.

    For the regulator (`anomalies`): the findings of the catalogue's receipt rules
    (ledger.supervision.catalogue.receipts: double financing, stock short, a declaration undoing an
    inspection, a receipt used after it ended), each as Finding.to_json().
    Refused on chain (`refused_on_chain`): `double_pledge_attempt` (AlreadyPledged),
    `issuance_beyond_stock` (ExceedsDeclaredStock), `activity_after_cancellation` (ReceiptNotLive
    on a cancelled receipt)."""
    book = ReceiptBook(load_chains(run_dir, ("WarehouseReceipt", "PermissionRegistry")))
    if book.chain is None:
        raise ConfigError(f"{run_dir} has no warehouse receipt platform")
    anomalies = [f.to_json() for f in findings(run_dir, rules=RECEIPT_RULES)]
    refused = []
    for x in book.reverts:
        base = {"error": x.error, "function": x.function, "node": x.node, "sender": x.sender,
                "sender_org": book.org(x.sender), **where(x), "args": x.args}
        if x.error == "AlreadyPledged":
            rid = x.args.get("id")
            r = book.receipts.get(rid)
            refused.append({"kind": "double_pledge_attempt", "receipt": rid,
                            "detail": f"pledge of receipt {rid}, already pledged to {book.org(x.args.get('lender'))}",
                            "expected": "an unpledged receipt", "found": f"pledged to {x.args.get('lender')}",
                            "existing_lender": x.args.get("lender"), "holder": r["holder"] if r else None, **base})
        elif x.error == "ExceedsDeclaredStock":
            a = x.args
            refused.append({"kind": "issuance_beyond_stock",
                            "detail": f"{book.org(a.get('warehouse')) or a.get('warehouse')} issues "
                                      f"{a.get('quantity')} of {text32(a.get('commodity', ''))} with "
                                      f"{a.get('live')} live of {a.get('declared')} declared",
                            "expected": f"live + quantity <= declared ({a.get('declared')})",
                            "found": f"{a.get('live', 0) + a.get('quantity', 0)}",
                            "warehouse": book.org(a.get("warehouse")) or a.get("warehouse"),
                            "commodity": text32(a.get("commodity", "")), "declared": a.get("declared"),
                            "live": a.get("live"), "quantity": a.get("quantity"), **base})
        elif x.error == "ReceiptNotLive":
            rid = x.args.get("id")
            state = RECEIPT_STATES[x.args["state"]] if x.args.get("state") in range(7) else x.args.get("state")
            if state != "Cancelled":
                continue
            r = book.receipts.get(rid, {})
            cancelled = [h for h in book.history.get(rid, []) if h["what"] == "cancelled"]
            refused.append({"kind": "activity_after_cancellation", "receipt": rid,
                            "detail": f"{x.function} on receipt {rid}, cancelled at block "
                                      f"{cancelled[0]['block'] if cancelled else '?'}",
                            "expected": "a live receipt", "found": "Cancelled",
                            "holder": r.get("holder"), "cancelled_block": cancelled[0]["block"] if cancelled else None,
                            **base})
    return {"query": "receipts", "chain": book.chain.name, "receipts": len(book.receipts),
            "anomalies": anomalies, "refused_on_chain": refused}
