"""Violations the detectors never saw: `run scenario NAME --violations N` plants N violations drawn at
random, written against the rule catalogue (the rule ids and their semantics), not against any detector.

Each violation is drawn from the run's seed (random.Random(f"violations/{seed}/{market}")): its rule among
those that apply to the market, the business step it starts at, and its shape (look-through depth and
width, a vehicle re-declared after it entered, a cure later or none, how an ID number is written, how a
document goes wrong ...). A planter then carries it out through ordinary members' ordinary calls, calls the
chain accepts: an investor agent's declaration, a KYC agent's registration, a person's cash transfer, a
warehouse's declaration, the exchange's inspection, a company's filing. Each records its ground truth with
ctx.plant_for_regulator(rule id, description, **the rule's subject fields), values in the catalogue's
formats (asset "fund:N" / "company:0x<64 hex>", identities and companies 0x + 64 hex, a warehouse its
account address 0x + 40 hex, a commodity its name).

A scenario hooks in with three lines: `Violations(self, steps)` when its main loop starts, `run(step)`
between blocks of that loop (the planters see and update the scenario's own books, so its ordinary
business stays something the chain allows) and `pending` in the loop's condition (a story that cures a
breach later keeps the loop going). With N = 0 (the default) none of these sends or draws anything: the
run is the same, byte for byte.

Not planted: receipt_after_end. WarehouseReceipt refuses every call on a receipt past its expiry (Expired)
or once it is dead (ReceiptNotLive), register, transfer, delivery, pledge, release, enforcement, split,
merge, cancellation alike; only markExpired, which ends it, takes an expired receipt. No ordinary call can
use a receipt after its end."""

from __future__ import annotations

import random
from typing import Any, Callable

from ..api import ScenarioError
from ..schedule import Schedule
from .equity import EquityMarket
from .funds import FundMarket
from .plan import GRACE, OPTION, Market
from .receipts import ReceiptMarket

__all__ = ["MARKETS", "OPTION", "Violations", "spread"]


def spread(seed: int, total: int, markets: list[str]) -> dict[str, int]:
    """`total` violations over `markets` (scenario names): as even as can be, the remainder to markets
    drawn from the seed."""
    counts = {name: total // len(markets) for name in markets}
    for name in random.Random(f"violations/{seed}").sample(sorted(markets), total % len(markets)):
        counts[name] += 1
    return counts


class Violations:
    """The violations planted in one run of one market's scenario."""

    def __init__(self, scenario: Any, steps: int, grace: int = GRACE) -> None:
        ctx = scenario.ctx
        self.count = int(ctx.options.get("violations", 0) or 0)
        self.steps = max(1, steps)
        self.grace = grace
        self.schedule = Schedule("violations planted for the regulator")
        self.last = -1
        self.market: Market | None = None
        if self.count:
            market = MARKETS[scenario.name]
            self.market = market(scenario, random.Random(f"violations/{ctx.seed}/{scenario.name}"))

    @property
    def pending(self) -> bool:
        return bool(self.count) and (self.market is None or not self.market.planned or self.schedule.pending)

    def times(self, start: int, end: int) -> list[int]:
        """For a scenario run on a timeline: the times of the steps, evenly over [start, end) (none for N = 0)."""
        if not self.count:
            return []
        times = [start + (end - start) * (2 * k + 1) // (2 * self.steps) for k in range(self.steps)]
        self.market.times = times
        return times

    def run(self, step: int) -> None:
        """Plants what is due at business step `step` (nothing for N = 0)."""
        if not self.count:
            return
        market = self.market
        if not market.planned:
            for draw in market.plan(self.count, self.steps):
                self.schedule.at(draw.step, market.planter(draw))
        self.last = market.step = step
        self.schedule.run(step)
        if self.schedule.pending and step >= self.steps + self.grace:
            raise self.schedule.give_up(f"still waiting {self.grace} steps after the last planned one")
        if not self.schedule.pending and market.recorded != self.count:
            raise ScenarioError(f"{market.recorded} violations recorded, {self.count} planned")

    def drain(self, step: Callable[[], None]) -> None:
        """Runs the violations still under way to their end, `step()` moving the business on between steps."""
        while self.pending:
            step()
            self.run(self.last + 1)


MARKETS: dict[str, type[Market]] = {"share_transfer": FundMarket, "regional_equity": EquityMarket,
                                    "warehouse_receipt": ReceiptMarket}
