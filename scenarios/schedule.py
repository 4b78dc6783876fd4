"""A plan of actions due at numbered steps (a scenario's rounds, business days, blocks), with retry.

An action is a callable run at its step. It returns False when it cannot happen yet (no receipt to
use, nobody free): it is tried again at the next step, after the actions already due there. It may
instead be a story told over several steps, written as a generator: each `yield` waits for the
next step, so a case that must issue, wait for registration, then pledge reads top to bottom
instead of as a stage dict. Anything else it returns means done."""

from __future__ import annotations

import inspect
from typing import Callable, Iterator

from .contracts import ScenarioError

Action = Callable[[], object]


class Schedule:
    def __init__(self, name: str = "plan") -> None:
        self.name = name
        self._due: dict[int, list[Action]] = {}

    def at(self, step: int, action: Action) -> None:
        """Runs `action` at `step` (after the actions already due then)."""
        self._due.setdefault(step, []).append(action)

    def run(self, step: int) -> None:
        """Runs what is due at `step`, in the order it was planned; steps the scheduler never ran
        are not skipped silently: anything due earlier runs now."""
        for due in sorted(s for s in self._due if s <= step):
            for action in self._due.pop(due):
                outcome = action()
                if outcome is False:
                    self.at(step + 1, action)
                elif inspect.isgenerator(outcome):
                    self._resume(outcome, step)

    def _resume(self, story: Iterator, step: int) -> None:
        def next_step() -> None:
            self._resume(story, step + 1)

        next_step.__name__ = story.__name__
        try:
            next(story)
        except StopIteration:
            return
        self.at(step + 1, next_step)

    @property
    def pending(self) -> bool:
        return bool(self._due)

    def names(self) -> list[str]:
        """What is still due, for the message of a run that gives up."""
        return [getattr(a, "__name__", repr(a)) for actions in self._due.values() for a in actions]

    def give_up(self, reason: str) -> ScenarioError:
        return ScenarioError(f"{self.name}: {reason}: still due {', '.join(self.names())}")
