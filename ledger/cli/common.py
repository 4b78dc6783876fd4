"""What every command shares: click settings, the common options, tables and the progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import click

from ledger.chain.run import run_chains

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _run_with_ledgers(_ctx, _param, value: Path) -> Path:
    run_chains(value)  # one line and exit 2 when there is no run there
    return value


RUN_DIR_ARG = click.argument("run_dir", type=click.Path(path_type=Path), callback=_run_with_ledgers)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
CHAIN_OPTION = click.option("--chain", help="The chain (default: the run's only chain).")
ADVANCE_OPTION = click.option("--advance", type=click.IntRange(min=0), default=0,
                              help="Move the chain's clock this many seconds before the block.")
PIN_OPTION = click.option(
    "--pin", "pins", type=click.Path(path_type=Path, dir_okay=False), envvar="PILOTLEDGER_PINS",
    help="The regulator's pins file (chain -> genesis hash), kept outside the run: every chain must match it. "
         "Written from this run if it does not exist yet. [env: PILOTLEDGER_PINS]")


def table(rows: list[tuple[str, object]], indent: int = 2) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{' ' * indent}{k.ljust(width)}  {v}" for k, v in rows)


def invoked_as() -> str:
    """The command as the user typed it (`python cli.py`, `pilotledger`, `python -m ledger.cli`), for the
    commands a message suggests."""
    ctx = click.get_current_context(silent=True)
    name = ctx.find_root().info_name if ctx else "pilotledger"
    return f"python {name}" if name.endswith(".py") else name


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


class Progress:
    """Progress on stderr, one bar at a time: `start` opens a bar (finishing the one before, so a
    sequence of runs gets a bar each), `advance` moves it but never to its end, which only leaving
    the `with` block reaches. A `total` given as a function opens the bar at the first `advance`,
    for work whose size is known only once it has begun."""

    def __init__(self, label: str, total: int | Callable[[], int] | None = None, eta: bool = True) -> None:
        self.label, self.total, self.eta = label, total, eta
        self._bar = None

    def __enter__(self) -> "Progress":
        if isinstance(self.total, int):
            self.start(self.total)
        return self

    def __exit__(self, *_exc) -> None:
        self.finish()

    def start(self, total: int, label: str | None = None) -> None:
        self.finish()
        self._bar = click.progressbar(length=total, label=label or self.label, file=sys.stderr, show_eta=self.eta)
        self._bar.__enter__()

    def advance(self, steps: int = 1) -> None:
        if self._bar is None and callable(self.total):
            self.start(self.total())
        if self._bar is not None and self._bar.pos + steps < self._bar.length:
            self._bar.update(steps)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.update(self._bar.length - self._bar.pos)
            self._bar.__exit__(None, None, None)
            self._bar = None
