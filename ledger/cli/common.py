"""What every command shares: click settings, the common options, tables and the progress bar."""

from __future__ import annotations

import json
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Callable

import click

from ledger.chain.run import run_chains
from ledger.present.i18n import set_language, translator

_ = translator("cli")

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class GivenPath(click.Path):
    """click.Path, refusing an empty string: Path("") is the current folder, never what a user meant."""

    def convert(self, value, param, ctx):
        if isinstance(value, (str, bytes)) and not value.strip():
            self.fail("an empty path; give a file or folder name", param, ctx)
        if isinstance(value, str) and "\0" in value:
            self.fail(f"{value!r} holds a NUL character, which no path can", param, ctx)
        return super().convert(value, param, ctx)


def _run_with_ledgers(_ctx, _param, value: Path) -> Path:
    """RUN_DIR, checked to hold a run. An incomplete run (killed, or stopped by a full disk: it has a run.started
    marker) is said first, in one line on stderr (ledger.chain.run.run_status), and the command goes on with
    the blocks that are there."""
    from ledger.chain.run import run_status

    if value.is_dir():
        status = run_status(value, invoked_as())
        if not status.complete:
            click.echo(status.describe(invoked_as()), err=True)
    run_chains(value)  # one line and exit 2 when there is no run there
    return value


RUN_DIR_ARG = click.argument("run_dir", type=GivenPath(path_type=Path), callback=_run_with_ledgers)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
CHAIN_OPTION = click.option("--chain", help="The chain (default: the run's only chain); in a `run scenario all` run "
                                            "its path, e.g. share_transfer/fund_platform.")
MAX_ADVANCE = 100 * 366 * 86400  # a century: beyond it the chain's dates leave what a calendar can show
ADVANCE_OPTION = click.option("--advance", type=click.IntRange(min=0, max=MAX_ADVANCE), default=0,
                              help="Move the chain's clock this many seconds before the block (at most a century).")
PIN_OPTION = click.option(
    "--pin", "pins", type=GivenPath(path_type=Path, dir_okay=False), envvar="PILOTLEDGER_PINS",
    help="The regulator's pins file (chain -> genesis hash), kept outside the run: every chain must match it. "
         "Written from this run if it does not exist yet. [env: PILOTLEDGER_PINS]")



def _choose_language(ctx: click.Context, _param, value: str | None) -> None:
    """--lang on the root group or on a command: an explicit choice wins, then PILOTLEDGER_LANG, then English.
    The root group's value (or its absence) is kept in ctx.meta, so a command without --lang falls back to it and
    a previous in-process invocation's choice never lingers; a bad name is one line (ConfigError, exit 2)."""
    key = "pilotledger.lang"
    if value is not None or ctx.parent is None:
        ctx.meta[key] = value
    set_language(ctx.meta.get(key))


LANG_OPTION = click.option(
    "--lang", metavar="LANG", callback=_choose_language, expose_value=False, is_eager=True,
    help="Language of the output: en (default) or zh (Simplified Chinese). [env: PILOTLEDGER_LANG]")
FULL_OPTION = click.option("--full", is_flag=True,
                           help="Print ids in full, so that any id shown can be pasted into the next query.")



# A negative number as a command-line word: -1, -1_000, -0x1f, -1.5, -.5, -1e18. Commands whose
# arguments are values (call, send, govern, deploy, query) read such a word as an argument, not an option.
NEGATIVE_NUMBER = re.compile(r"-(?:0[xX][0-9a-fA-F_]+"
                             r"|\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?|\.\d[\d_]*(?:[eE][+-]?\d+)?)")
NEGATIVE_HELP = ("A negative number (-1, -0x10, -1.5) is read as an argument; any other argument that starts "
                 "with - goes after --.")
_Parser = getattr(click.parser, "_OptionParser", None) or getattr(click.parser, "OptionParser")


class _NumbersAsArguments(_Parser):
    """click's option parser, except that a word that is a negative number is an argument."""

    def _process_opts(self, arg: str, state) -> None:
        if NEGATIVE_NUMBER.fullmatch(arg):
            state.largs.append(arg)
            return
        super()._process_opts(arg, state)


class ValueArgsCommand(click.Command):
    """A command whose positional arguments are values: `-1` is the number minus one, while an unknown
    option (`--nod`) is still "No such option"; `--` ends the options as usual."""

    def make_parser(self, ctx: click.Context):
        parser = _NumbersAsArguments(ctx)
        for param in self.get_params(ctx):
            param.add_to_parser(parser, ctx)
        return parser


def width(text: str) -> int:
    """Columns `text` takes in a terminal: a CJK character takes two, a combining mark none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def pad(text: object, columns: int, right: bool = False) -> str:
    """`text` padded with spaces to `columns` terminal columns (on the left with `right`)."""
    shown = str(text)
    fill = " " * max(0, columns - width(shown))
    return fill + shown if right else shown + fill


def table(rows: list[tuple[str, object]], indent: int = 2) -> str:
    """Label/value rows, the values aligned however wide the labels' characters are."""
    columns = max((width(k) for k, _ in rows), default=0)
    return "\n".join(f"{' ' * indent}{pad(k, columns)}  {v}" for k, v in rows)


def grid(rows: list[tuple], indent: int = 2, right: frozenset[int] | set[int] = frozenset()) -> str:
    """Rows of cells in aligned columns (the `right` ones aligned right); the last column is never padded, so
    a long last cell (an id in full) stays on its line."""
    if not rows:
        return ""
    n = max(len(r) for r in rows)
    cells = [[str(c) for c in r] + [""] * (n - len(r)) for r in rows]
    columns = [max(width(r[i]) for r in cells) for i in range(n)]
    return "\n".join(" " * indent + "  ".join(pad(c, columns[i], i in right) if i < n - 1 else c
                                             for i, c in enumerate(r)).rstrip() for r in cells)


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

    def __init__(self, label: str, total: int | Callable[[], int] | None = None, eta: bool = True,
                 counts: tuple[str, str] | None = None) -> None:
        """`counts`: the words for a step and for an item (e.g. blocks and transactions), when each
        advance() also says how many items its steps held: the bar then shows both counts and the items'
        rate."""
        self.label, self.total, self.eta, self.counts = label, total, eta, counts
        self._bar = None
        self._steps = self._items = 0
        self._started = time.monotonic()

    def __enter__(self) -> "Progress":
        if isinstance(self.total, int):
            self.start(self.total)
        return self

    def __exit__(self, *_exc) -> None:
        self.finish()

    def start(self, total: int, label: str | None = None) -> None:
        self.finish()
        self._bar = click.progressbar(length=total, label=label or self.label, file=sys.stderr, show_eta=self.eta,
                                      item_show_func=self._show_counts if self.counts else None)
        self._bar.__enter__()
        self._steps = self._items = 0
        self._started = time.monotonic()

    def advance(self, steps: int = 1, items: int = 0) -> None:
        if self._bar is None and callable(self.total):
            self.start(self.total())
        self._steps += steps
        self._items += items
        if self._bar is not None and self._bar.pos + steps < self._bar.length:
            self._bar.update(steps, self._items)

    def _show_counts(self, _item) -> str:
        step, item = self.counts
        rate = self._items / max(time.monotonic() - self._started, 1e-9)
        return _("{steps:,} {step}, {items:,} {item}, {rate:,.0f} {item}/s").format(
            steps=self._steps, step=step, items=self._items, item=item, rate=rate)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.update(self._bar.length - self._bar.pos)
            self._bar.__exit__(None, None, None)
            self._bar = None
