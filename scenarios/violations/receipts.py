"""The warehouse-receipt market's planters (scenarios/warehouse_receipt.py)."""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING

from eth_hash.auto import keccak

from ledger.tooling.abi import hex0x


from .plan import DAY, Draw, Kind, Market, Story

if TYPE_CHECKING:
    from ..warehouse_receipt import Stock, WarehouseReceipts


# ----------------------------------------------------------------------------------------- receipts

def _double_shape(rng: random.Random) -> dict:
    return {"where": rng.choice(("other_warehouse", "same_stock")), "holder": rng.choice(("same", "other"))}


def _short_shape(rng: random.Random) -> dict:
    return {"how": rng.choice(("declared_phantom", "goods_gone")), "lots": rng.randint(2, 10),
            "issue": rng.random() < 0.5, "correct": rng.random() < 0.5, "wait": rng.randint(0, 2)}


def _undo_shape(rng: random.Random) -> dict:
    return {"also": "stock_short" if rng.random() < 0.5 else None, "cut_to": rng.randint(2, 40),
            "factor": rng.choice((5, 20, 100)), "issue": rng.randint(1, 3), "wait": rng.randint(0, 2)}


class ReceiptMarket(Market):
    """warehouse_receipt: receipts on one certificate, stock found short, declarations that undo inspections."""

    kinds = {
        "double_financing": Kind(3, _double_shape),
        "stock_short": Kind(2, _short_shape),
        "declaration_undoes_inspection": Kind(2, _undo_shape),
    }

    def __init__(self, scenario: "WarehouseReceipts", rng: random.Random) -> None:
        super().__init__(scenario, rng)
        self.used: set = set()  # stocks planted on (each then kept out of ordinary business)
        self.certs: set[bytes] = set()
        self.mine: list = []  # the ground truth this market recorded

    def capacity(self, kind: str) -> int | None:
        """One stock planted on per plant (both stock rules share them): every stock but the scenario's own
        phantom and one left for ordinary issuance."""
        if kind == "double_financing":
            return None
        return 2 * self.s.opts["warehouses"] - 2

    def group(self, kind: str) -> str:
        return "stocks" if kind != "double_financing" else kind

    def step_for(self, kind: str, shape: dict, steps: int) -> int:
        return self.rng.randrange(1, max(2, steps - 4))

    def record(self, kind: str, description: str, **subject) -> None:
        super().record(kind, description, **subject)
        self.mine.append(self.ctx.planted[-1])  # not the scenario's own cases, which stocks() waits for

    @property
    def now(self) -> int:
        return self.s.now

    def stock(self) -> "Stock | None":
        """A stock to plant on, once the scenario's own regulator cases (its phantom stock, its double
        financing, which need stocks of their own) are done: honest, never planted on, holding two lots or
        more; one honest stock is always left for ordinary issuance."""
        s = self.s
        own = sum(1 for p in s.ctx.planted if p.detect == "regulator" and p not in self.mine)
        done = not s.cases.pending and own >= 2
        honest = [st for st in s.stocks if not st.blocked and not st.phantom]
        if not done or len(honest) < 2:
            return None
        return self.pick([st for st in honest if st not in self.used and st.case is None
                          and st.declared >= 2 * st.commodity.lot])

    def quiet(self, steps: int) -> bool:
        """No inspection by the scenario in the next `steps` steps (this one included)."""
        return not any(self.step <= i <= self.step + steps for i in self.s.inspection_rounds)

    def report(self, stock: "Stock", what: str) -> bytes:
        return keccak(f"SHFE inspection report/{self.ctx.seed}/{stock.warehouse.name}/{stock.commodity.name}/"
                      f"{what}/{self.now}".encode())

    def block(self, stock: "Stock") -> None:
        """Out of ordinary business from now on: no more receipts or declarations from the scenario."""
        self.used.add(stock)
        stock.blocked = True

    # ------------------------------------------------------------ planters

    def double_financing(self, draw: Draw) -> Story:
        """A second receipt started on the inspection certificate of a live one, at another warehouse or
        the same stock; both kept out of circulation (so that no third one meets the certificate)."""
        s, shape = self.s, draw.shape
        while True:
            now = self.now
            certs = Counter(r.cert for r in s.receipts.values())
            first = self.pick([r for r in s.live() if s.idle(r, now) and r.holder.trader and certs[r.cert] == 1
                               and r.cert not in self.certs])
            honest = [st for st in s.stocks if not st.blocked and not st.phantom]
            if first is not None and honest:
                break
            yield
        same = [st for st in honest if st.commodity is first.commodity]
        others = [st for st in same if st.warehouse is not first.warehouse]
        if shape["where"] == "other_warehouse" and others:
            stock = self.pick(others)
        elif first.stock in honest:
            stock = first.stock
        else:
            stock = self.pick(same or honest)
        first.reserved = True
        self.certs.add(first.cert)
        if stock.room < first.quantity:  # goods arrive and the warehouse declares them first
            extra = self.rng.randint(1, 8) * stock.commodity.lot
            s.declare(stock, stock.declared + first.quantity - stock.room + extra)
        owner = first.holder if shape["holder"] == "same" else s.other_trader(first.holder)
        s.issue(stock, first.quantity, owner, now + self.rng.randint(180, 360) * DAY, cert=first.cert, reserved=True)
        self.record("double_financing",
                    f"{stock.warehouse.organisation} issues a receipt for {first.quantity} kg of "
                    f"{first.commodity.name} on the inspection certificate of receipt {first.id} "
                    f"({first.warehouse.organisation})", inspection_cert=hex0x(first.cert))

    def stock_short(self, draw: Draw) -> Story:
        """The exchange's inspection finds less than the warehouse declared: goods declared that never came
        (perhaps receipted at once), or goods gone; the declaration corrected, or left standing."""
        s, shape = self.s, draw.shape
        while not (stock := self.stock()) or not self.quiet(shape["wait"]):
            yield
        self.block(stock)
        lot = stock.commodity.lot
        if shape["how"] == "declared_phantom":
            missing = shape["lots"] * lot
            s.declare(stock, stock.declared + missing)
            if shape["issue"]:
                stock.blocked = False
                quantity = min(stock.room, self.rng.randint(1, shape["lots"]) * lot)
                if quantity:
                    s.issue(stock, quantity, self.pick(s.traders), self.now + self.rng.randint(180, 360) * DAY)
                stock.blocked = True
            for _ in range(shape["wait"]):
                yield
        else:
            missing = min(stock.declared, shape["lots"] * lot)
        observed = stock.declared - missing
        report = self.report(stock, "inspection")
        self.ctx.expect_ok(s.exchange.send(s.wr.inspectStock(stock.warehouse.address, stock.commodity.key, observed,
                                                             report)))
        if shape["correct"]:
            self.ctx.expect_ok(s.exchange.send(s.wr.correctDeclaration(stock.warehouse.address, stock.commodity.key,
                                                                       observed, report)))
        stock.declared = observed  # what is in store: a later inspection by the scenario finds it again
        self.record("stock_short",
                    f"the exchange finds {observed} kg of {stock.commodity.name} at {stock.warehouse.organisation}, "
                    f"which declared {observed + missing} kg" + ("; it corrects the declaration" if shape["correct"]
                                                                 else "; the declaration stands"),
                    warehouse=hex0x(stock.warehouse.address), commodity=stock.commodity.name)

    def declaration_undoes_inspection(self, draw: Draw) -> Story:
        """The exchange cuts a declaration (after an inspection that found it short, or by a correction
        alone); before any new inspection the warehouse declares far more again and issues against it."""
        s, shape = self.s, draw.shape
        while not (stock := self.stock()) or not self.quiet(shape["wait"]):
            yield
        self.block(stock)
        lot = stock.commodity.lot
        declared = stock.declared
        cut = max(lot, declared * shape["cut_to"] // 100 // lot * lot)
        if cut >= declared:
            cut = declared - lot
        report = self.report(stock, "cut")
        if shape["also"]:
            self.ctx.expect_ok(s.exchange.send(s.wr.inspectStock(stock.warehouse.address, stock.commodity.key, cut,
                                                                 report)))
            self.record("stock_short",
                        f"the exchange finds {cut} kg of {stock.commodity.name} at {stock.warehouse.organisation}, "
                        f"which declared {declared} kg", warehouse=hex0x(stock.warehouse.address),
                        commodity=stock.commodity.name)
        self.ctx.expect_ok(s.exchange.send(s.wr.correctDeclaration(stock.warehouse.address, stock.commodity.key, cut,
                                                                   report)))
        stock.declared = cut
        for _ in range(shape["wait"]):
            yield
        again = max(cut * shape["factor"], stock.live + (shape["issue"] + 2) * 6 * lot) // lot * lot
        s.declare(stock, again)
        stock.blocked = False
        for _ in range(shape["issue"]):
            quantity = min(stock.room, self.rng.choice((2, 4, 6)) * lot)
            if quantity:
                s.issue(stock, quantity, self.pick(s.traders), self.now + self.rng.randint(180, 360) * DAY)
        stock.blocked = True
        self.record("declaration_undoes_inspection",
                    f"{stock.warehouse.organisation} declares {again} kg of {stock.commodity.name} after the exchange "
                    f"cut its declaration to {cut} kg, with no inspection since, and issues receipts against it",
                    warehouse=hex0x(stock.warehouse.address), commodity=stock.commodity.name)
