"""`runs`: the runs in a folder (scenario, seed, engine, blocks, complete or not, size on disk), and
`runs rm RUN_DIR`, which removes one run after asking.

A run is a folder holding a run.json, a run.started marker (ledger.chain.run: a run in progress or
interrupted) or a chain's ledger; a `run scenario all` run, with its scenarios as sub-runs, is one run.
Links are never followed: a linked folder is not listed, and `runs rm` refuses a link."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from ledger.chain.consortium import GENESIS_FILE
from ledger.chain.reader import LedgerReader
from ledger.chain.run import LEDGER_FILE, MARKER_FILE, RUN_FILE, chain_ledgers, run_status, sub_runs
from ledger.cli.common import CONTEXT, JSON_OPTION, LANG_OPTION, echo_json, grid, invoked_as
from ledger.errors import ConfigError, LedgerError
from ledger.present import fmt
from ledger.present.i18n import translator
from ledger.tooling.files import loads

_ = translator("cli")

RUNS_DIR = Path("runs")  # where `run scenario` writes runs by default (scenarios.runner.RUNS_ROOT)


class _ListByDefault(click.Group):
    """`runs`, `runs DIR` and `runs --json` list (the `list` subcommand); `runs rm RUN_DIR` removes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ListByDefault, context_settings=CONTEXT)
def runs() -> None:
    """The runs in a folder, and removing one.

    \b
      runs [DIR] [--json]      list the runs in DIR (default: runs/)
      runs rm RUN_DIR [--yes]  remove one run, after asking
    """


@dataclass
class RunEntry:
    path: Path
    scenario: str | None
    seed: int | None
    engine: str | None
    blocks: int | None  # every chain's blocks, None when no ledger could be read
    complete: bool
    running: bool
    head: int | None  # where an incomplete run stopped
    note: str  # run_status's line for an incomplete run, "" for a complete one
    resume: str | None  # the command that finishes it, when it can be resumed
    why_not: str
    size: int  # bytes of every file under the folder (links counted as links)
    written: float | None  # the newest of run.json, the marker and the ledgers, Unix time

    def to_json(self) -> dict:
        return {"run_dir": str(self.path), "name": self.path.name, "scenario": self.scenario, "seed": self.seed,
                "engine": self.engine, "blocks": self.blocks, "complete": self.complete, "running": self.running,
                "head": self.head, "status": self.note or "complete", "size_bytes": self.size,
                "last_written": self.written}


def is_run(path: Path) -> bool:
    """Does the folder at `path` hold a run: run.json, a run marker, or a chain's folder (a ledger beside its
    genesis.json: a run killed before markers were written)? A folder of runs is none (its runs' run.json files
    are not its own), nor is a folder of node copies (a copy has no genesis.json beside it)."""
    try:
        return path.is_dir() and ((path / RUN_FILE).is_file() or (path / MARKER_FILE).is_file()
                                  or any((p.parent / GENESIS_FILE).is_file() for p in path.glob(f"*/{LEDGER_FILE}")))
    except OSError:
        return False


def part_of(path: Path) -> Path | None:
    """The run a sub-run at `path` belongs to (a `run scenario all` run), None if it is no sub-run."""
    parent = path.absolute().parent
    if not ((parent / RUN_FILE).is_file() or (parent / MARKER_FILE).is_file()):
        return None
    return parent if path.name in {s.name for s in sub_runs(parent)} else None


def size_on_disk(path: Path) -> int:
    """Bytes of every file under `path`, never following a link (a link counts as itself)."""
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def human_size(size: int) -> str:
    """1234567 -> "1.2 MB" (decimal units, as `du --si`)."""
    if size < 1000:
        return f"{size} B"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 999.95 or unit == "TB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def _summary(path: Path) -> dict:
    try:
        value = loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _engine(ledgers: list[Path]) -> str | None:
    for ledger in ledgers:
        try:
            with LedgerReader(ledger) as reader:
                engine = reader.meta().get("engine")
        except (LedgerError, sqlite3.Error, OSError):
            continue
        if isinstance(engine, str):
            return engine
    return None


def _blocks(ledgers: list[Path]) -> int | None:
    total = None
    for ledger in ledgers:
        try:
            with LedgerReader(ledger) as reader:
                total = (total or 0) + reader.block_count()
        except (LedgerError, sqlite3.Error, OSError):
            pass
    return total


def _head(ledgers: list[Path]) -> int | None:
    """The highest last block of the ledgers (None: none readable, or no block yet)."""
    heads = []
    for ledger in ledgers:
        try:
            with LedgerReader(ledger) as reader:
                head = reader.head()
        except (LedgerError, sqlite3.Error, OSError):
            continue
        if head:
            heads.append(head[0])
    return max(heads, default=None)


def entry(path: Path) -> RunEntry:
    """What `runs` shows of the run at `path`."""
    status = run_status(path, invoked_as())
    # run_status counts a folder without a marker as complete (runs from before the marker); without its
    # run.json too, such a run was killed before it finished.
    complete = status.complete and (path / RUN_FILE).is_file()
    summary = _summary(path) if complete else {}
    ledgers = chain_ledgers(path)
    engine = summary.get("engine") if isinstance(summary.get("engine"), str) else None
    if engine is None and status.marker:
        engine = status.marker.get("engine") if isinstance(status.marker.get("engine"), str) else None
    stamps = []
    for f in [path / RUN_FILE, path / MARKER_FILE, *ledgers]:
        try:
            stamps.append(f.stat().st_mtime)
        except OSError:
            pass
    resume = None
    if status.resumable:
        resume = f"{invoked_as()} run scenario {status.scenario} --resume {shlex.quote(str(path))}"
    note, why_not, head = status.describe(invoked_as()), status.why_not, status.head
    if not complete and status.complete:
        why_not = _("it has neither run.json nor a run.started marker")
        note = f"incomplete run (killed before it finished): {why_not}"
        head = _head(ledgers)
    return RunEntry(path, status.scenario, status.seed, engine or _engine(ledgers), _blocks(ledgers), complete,
                    status.running, head, note, resume, why_not, size_on_disk(path), max(stamps, default=None))


def find_runs(folder: Path) -> list[Path]:
    """The runs in `folder` (itself, if it is one), by name; linked folders and dot-folders are left out."""
    if not folder.is_dir():
        raise ConfigError(_("no runs folder at {path}").format(path=folder))
    if is_run(folder):
        return [folder]
    # a dot-folder is a run being resumed (`.NAME.resuming`, scenarios.runner), listed as its run
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_symlink() and is_run(p)),
                  key=lambda p: p.name)


def _status(e: RunEntry) -> str:
    if e.complete:
        return _("complete")
    where = e.head if e.head is not None else "-"
    if e.running:
        return _("in progress (block {n})").format(n=where)
    return _("interrupted (block {n})").format(n=where)


def render(folder: Path, entries: list[RunEntry]) -> str:
    if not entries:
        return _("no runs in {path}").format(path=folder)
    rows = [(_("run"), _("scenario"), _("seed"), _("engine"), _("blocks"), _("size"), _("last written"),
             _("status"))]
    for e in entries:
        rows.append((e.path.name, e.scenario or "?", "?" if e.seed is None else e.seed, e.engine or "?",
                     "?" if e.blocks is None else fmt.number(e.blocks), human_size(e.size), fmt.date_time(e.written),
                     _status(e)))
    lines = [_("runs in {path}: {n}").format(path=folder, n=len(entries)), grid(rows, right={2, 4, 5})]
    for e in entries:
        if e.complete or e.running:
            continue
        if e.resume:
            lines.append(_("{run}: resume with {command}").format(run=e.path.name, command=e.resume))
        elif e.why_not:
            lines.append(_("{run}: cannot be resumed ({why})").format(run=e.path.name, why=e.why_not))
    return "\n".join(lines)


@runs.command("list", context_settings=CONTEXT)
@click.argument("folder", required=False, type=click.Path(path_type=Path), default=RUNS_DIR, metavar="[DIR]")
@JSON_OPTION
@LANG_OPTION
def list_runs(folder: Path, as_json: bool) -> None:
    """List the runs in DIR (default: runs/): scenario, seed, engine, blocks, size on disk, when last written
    (Beijing time) and whether the run is complete. A `run scenario all` run is one run."""
    entries = [entry(p) for p in find_runs(folder)]
    if as_json:
        echo_json({"runs_dir": str(folder), "runs": [e.to_json() for e in entries]})
    else:
        click.echo(render(folder, entries))


@runs.command("rm", context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Remove without asking.")
@LANG_OPTION
def remove(run_dir: Path, yes: bool) -> None:
    """Remove the run RUN_DIR (every file in it), after asking. Refuses a folder that holds no run, the runs
    folder itself, a link, a run still in progress, and one scenario of a `run scenario all` run."""
    if run_dir.is_symlink():
        raise ConfigError(_("{path} is a link; not following it (nothing removed)").format(path=run_dir))
    if not run_dir.exists():
        raise ConfigError(_("no run directory at {path}").format(path=run_dir))
    if run_dir.resolve() in (RUNS_DIR.resolve(), Path.cwd().resolve(), Path.home().resolve(), Path("/")):
        raise ConfigError(_("{path} is not a run but the folder of runs; name one run in it").format(path=run_dir))
    if not is_run(run_dir):
        raise ConfigError(_("{path} is not a run (no run.json, run marker or ledger); nothing removed").format(
            path=run_dir))
    whole = part_of(run_dir)
    if whole is not None:
        raise ConfigError(_("{path} is one scenario of the run {run}; remove that run instead").format(
            path=run_dir, run=whole))
    e = entry(run_dir)
    if e.running:
        raise ConfigError(_("{path} is a run in progress; nothing removed").format(path=run_dir))
    what = _("{run} ({scenario}, seed {seed}, {blocks} blocks, {size}, {status})").format(
        run=run_dir, scenario=e.scenario or "?", seed="?" if e.seed is None else e.seed,
        blocks="?" if e.blocks is None else fmt.number(e.blocks), size=human_size(e.size), status=_status(e))
    if not yes and not click.confirm(_("Remove the run {what}?").format(what=what), default=False):
        click.echo(_("nothing removed"))
        sys.exit(1)
    shutil.rmtree(run_dir)
    click.echo(_("removed {what}").format(what=what))
