"""How a market's violations are drawn and recorded: the rules it plants with their weights and shapes, the
plan (a rule, a business step and a shape per violation), and the base of every market's planters."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ledger.supervision.rules import IdentityKind

from ..api import Option, ScenarioError

OPTION = Option("violations", 0, "violations planted at random for the regulator to find (ground truth only)",
                maximum=100_000)
GRACE = 60  # steps after the planned ones a violation may still wait for what it needs
PERSON, INSTITUTION, VEHICLE = IdentityKind.PERSON, IdentityKind.INSTITUTION, IdentityKind.VEHICLE
DAY = 86400
TWO_YEARS = 2 * 365 * DAY
WIDTH = 40  # investors per declaration when many are declared (the registry allows 50)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
Story = Iterator[None]


# ------------------------------------------------------------------------------------------- planning

@dataclass(frozen=True)
class Kind:
    """A rule as a market plants it: its weight in the draw, and how a shape is drawn."""

    weight: int
    shape: Callable[[random.Random], dict]


@dataclass
class Draw:
    index: int
    kind: str
    step: int
    shape: dict
    entries: int = 1  # ground-truth entries it records


class Market:
    """The planters of one market: `kinds` to draw from, one planter (a story over business steps) each."""

    kinds: dict[str, Kind] = {}

    def __init__(self, scenario: Any, rng: random.Random) -> None:
        self.s = scenario
        self.ctx = scenario.ctx
        self.rng = rng
        self.planned = False
        self.recorded = 0
        self.step = 0
        self.times: list[int] = []

    # -------------------------------------------------------------- plan

    def capacity(self, kind: str) -> int | None:
        """How many plants of `kind` the run can hold (None: no limit)."""
        return None

    def group(self, kind: str) -> str:
        """Rules sharing one capacity (the stocks a receipt market can plant on) name one group."""
        return kind

    def plan(self, total: int, steps: int) -> list[Draw]:
        """`total` ground-truth entries: rules by weight (within what the market can hold), a step each,
        shapes; a shape recording two entries only while two are still to plant."""
        self.planned = True
        left = {self.group(k): self.capacity(k) for k in self.kinds}
        draws: list[Draw] = []
        while sum(d.entries for d in draws) < total:
            open_ = [k for k in self.kinds if left[self.group(k)] is None or left[self.group(k)] > 0]
            if not open_:
                raise ScenarioError(f"this run can hold no more violations than {len(draws)}: give it more "
                                    f"funds, companies or warehouses")
            kind = self.rng.choices(open_, [self.kinds[k].weight for k in open_])[0]
            if left[self.group(kind)] is not None:
                left[self.group(kind)] -= 1
            shape = self.kinds[kind].shape(self.rng)
            entries = 2 if shape.get("also") else 1
            if entries > total - sum(d.entries for d in draws):
                shape["also"], entries = None, 1
            draws.append(Draw(len(draws) + 1, kind, self.step_for(kind, shape, steps), shape, entries))
        return draws

    def step_for(self, kind: str, shape: dict, steps: int) -> int:
        return self.rng.randrange(steps)

    def planter(self, draw: Draw) -> Callable[[], object]:
        story = getattr(self, draw.kind)

        def plant() -> object:
            return story(draw)

        plant.__name__ = f"{draw.kind} #{draw.index}"
        return plant

    # ------------------------------------------------------------ record

    def record(self, kind: str, description: str, **subject) -> None:
        """Ground truth, and its id in the summary's "violations" (which plants are the generator's)."""
        planted = self.ctx.plant_for_regulator(kind, description, **subject)
        self.ctx.extra.setdefault("violations", []).append(planted.id)
        self.recorded += 1

    def label(self, draw: Draw, role: str) -> str:
        """A new identity's label (its id and private data come from it): one per market, draw and role."""
        return f"violation/{self.s.name}/{draw.index:03d}/{role}"

    def pick(self, items: list) -> Any:
        return self.rng.choice(items) if items else None
