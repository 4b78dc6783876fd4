"""Runs a scenario into a run directory and sums up what happened."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import json
import os
import shlex
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

from ledger.chain.reader import LedgerReader
from ledger.chain.snapshot import write_state_snapshot
from ledger.chain.run import (ALL_NODES, LEDGER_FILE, NO_NODES, RUN_FILE, chain_name, copy_holders,
                              finish_marker, node_copies_choice, read_marker, run_status, start_marker, write_json_atomically,
                              write_node_copies)
from ledger.chain.store import SQLITE_FULL, SQLITE_WRITE_FAILED, DiskFull
from ledger.errors import ConfigError, LedgerError
from ledger.supervision.catalogue import score
from ledger.chain.summary import chain_summary

from .api import CHAIN, REGULATOR, ScenarioContext
from .registry import get_scenario, scenario_names

RUNS_ROOT = Path("runs")


def fresh_run_dir(root: Path, scenario: str, seed: int) -> Path:
    """RUNS/<scenario>-seed<N>, or the first free -2, -3 ... beside it: an old run is never overwritten."""
    base = root / f"{scenario}-seed{seed}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def make_run_dir(run_dir: Path) -> None:
    """Creates RUN_DIR, which must not exist yet (an old run is never overwritten); one line if it cannot be."""
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise ConfigError(f"run directory {run_dir} already exists; pick a new one") from None
    except OSError as exc:
        raise ConfigError(f"cannot create run directory {run_dir}: {exc.strerror or exc}") from None


def run_scenario(name: str, seed: int, options: dict[str, int | None], run_dir: Path | None = None,
                 engine: str = "pyevm", progress: Callable[[int], None] | None = None,
                 on_start: Callable[[int], None] | None = None, rpc_urls: dict[str, str] | None = None, *,
                 part_of: str | None = None, same_as: "SameBlocks | None" = None,
                 final_dir: Path | None = None, node_copies: str | list[str] = ALL_NODES) -> dict:
    """Runs scenario `name` and returns its summary (also written to RUN_DIR/run.json). On the rpc
    engine, `rpc_urls` maps each chain to its node's URL (scenarios.api.ANY_CHAIN: a single chain's).

    RUN_DIR/run.started marks the run in progress from the moment its folder exists; the certificates are
    written before the first block and kept current; at the end come ground_truth.json, the node copies,
    the certificates again and, last, run.json (atomically), and the marker goes. A run that fails before
    its first block leaves no folder; one that fails later keeps its marker, and `--resume` finishes it.
    `part_of`: the `run scenario all` this is a sub-run of. `same_as`: on --resume, the interrupted run's
    blocks, which this run must commit again; `final_dir`: where the run will be moved to then. `node_copies`:
    which member nodes get a copy of each chain's ledger ("all", "none" or node names, each of which must be
    a node of the run by its first block: UnknownNode, and no folder left, otherwise)."""
    scenario_class = get_scenario(name)
    resolved = scenario_class.resolve_options(options)
    node_copies = node_copies_choice(node_copies)
    run_dir = run_dir or fresh_run_dir(RUNS_ROOT, name, seed)
    make_run_dir(run_dir)
    ctx = None
    try:
        start_marker(run_dir, {"scenario": name, "seed": seed, "options": resolved, "engine": engine,
                               "rpc_urls": dict(rpc_urls or {}), "node_copies": node_copies,
                               **({"part_of": part_of} if part_of else {})})
        ctx = ScenarioContext(seed, resolved, run_dir, engine, progress, rpc_urls,
                              block_check=_NodesNamed(node_copies, lambda: ctx, same_as))
        if on_start:
            on_start(scenario_class.expected_steps(resolved))
        started = time.perf_counter()
        try:
            scenario_class().run(ctx)
        finally:
            ctx.close()
        if same_as is not None:
            same_as.finish()
        summary = {**summarize(name, seed, resolved, engine, final_dir or run_dir, ctx), "node_copies": node_copies}
        write_json_atomically(run_dir / "ground_truth.json", [p.to_json() for p in ctx.planted])
        if isinstance(node_copies, list):  # a node named that never became a member holds no copy: said, not hidden
            held = {node.name for c in ctx.chains.values() for node in copy_holders(c, node_copies)}
            summary["node_copies_never_members"] = [name for name in node_copies if name not in held]
        for consortium in ctx.chains.values():
            write_node_copies(consortium, run_dir)
            consortium.write_public_files()  # nodes added since the last block get theirs
            write_state_snapshot(consortium.engine, consortium.store, run_dir / consortium.name)  # [memory]
            consortium.store.close()
        # The rate counts all a run writes: its blocks, the members' copies, the state snapshot.
        elapsed = time.perf_counter() - started
        executed = sum(c["transactions"] for c in summary["chains"].values())
        summary.update(elapsed_seconds=round(elapsed, 3), tx_per_second=round(executed / elapsed, 1))
        write_json_atomically(run_dir / RUN_FILE, summary)  # last: a run with run.json is whole
        finish_marker(run_dir)
        return summary
    except BaseException as exc:
        _stopped(run_dir, ctx, exc, name)
        raise


class UnknownNode(ConfigError):
    """--node-copies named a node the run does not have."""


class _NodesNamed:
    """The block check that, at the run's first block (its founders seal it, so its nodes are there by then),
    refuses node names given to --node-copies that are none of the run's nodes; then `then`'s, if any."""

    def __init__(self, node_copies: str | list[str], ctx: Callable[[], ScenarioContext], then=None) -> None:
        self.names = set(node_copies) if isinstance(node_copies, list) else set()
        self.ctx, self.then = ctx, then

    def __call__(self, chain: str, block, forgotten: bool) -> None:
        if self.names:
            known = {n for c in self.ctx().chains.values() for n in c.nodes}
            unknown = sorted(self.names - known)
            if unknown:
                raise UnknownNode(f"--node-copies names {', '.join(unknown)}, which "
                                  f"{'is no node' if len(unknown) == 1 else 'are no nodes'} of this run; "
                                  f"its nodes: {', '.join(sorted(known))}")
            self.names = set()
        if self.then is not None:
            self.then(chain, block, forgotten)


def _stopped(run_dir: Path, ctx: ScenarioContext | None, exc: BaseException, name: str) -> None:
    """A run that failed or was interrupted: before its first block its folder goes (nothing of it is worth
    keeping), as it does when its first block finds a bad --node-copies name (UnknownNode); after, the folder
    stays with its marker, for --resume. A full disk is said in one line."""
    blocks = False
    for consortium in (ctx.chains.values() if ctx else ()):
        try:
            blocks = blocks or consortium.store.head() is not None
            consortium.store.close()
        except (sqlite3.Error, LedgerError, OSError):
            blocks = True  # cannot tell: kept
    if not blocks or isinstance(exc, UnknownNode):
        shutil.rmtree(run_dir, ignore_errors=True)
    full = _disk_full(exc, run_dir)
    if full is not None:
        if run_dir.exists():  # described as it will be found (this process, its writer, is ending)
            status = run_status(run_dir, _command())
            status = dataclasses.replace(status, running=False, resumable=not status.why_not)
            raise LedgerError(f"{full}; {status.describe(_command())}") from None
        raise LedgerError(f"{full}; nothing of the run was kept") from None


def _disk_full(exc: BaseException, run_dir: Path) -> str | None:
    """'disk full ...' with the path, when `exc` is a write that failed for want of space (or past the largest
    file allowed); None otherwise."""
    if isinstance(exc, DiskFull):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        what = "disk full" if exc.errno != errno.EFBIG else "file too large"
        return f"{what}: could not write {exc.filename or f'a file of the run in {run_dir}'}"
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    if code == SQLITE_FULL:
        return f"disk full: could not write a file of the run in {run_dir} (SQLite: {exc})"
    if code in SQLITE_WRITE_FAILED:
        return f"could not write a file of the run in {run_dir} (disk full, or file too large; SQLite: {exc})"
    return None


def _command() -> str:
    """The CLI as it was invoked, for a message's suggestion (pilotledger outside the CLI)."""
    try:
        from ledger.cli.common import invoked_as
        return invoked_as()
    except Exception:  # noqa: BLE001 - a suggestion only
        return "pilotledger"


def summarize(name: str, seed: int, options: dict, engine: str, run_dir: Path, ctx: ScenarioContext) -> dict:
    """The run's summary; its elapsed time and rate are set once everything the run writes is written."""
    chains = {n: chain_summary(c.store) for n, c in ctx.chains.items()}
    primary = next(iter(chains.values()))
    by_reason: dict[str, int] = {}
    for chain in chains.values():
        for reason, count in chain["refused_by_reason"].items():
            by_reason[reason] = by_reason.get(reason, 0) + count
    refused = sum(by_reason.values())
    executed = sum(c["transactions"] for c in chains.values())
    on_chain = [p for p in ctx.planted if p.detect == CHAIN]
    planted_refused = sum(1 for p in on_chain if p.ticket is not None and p.ticket.refused)
    summary = {
        "scenario": name,
        "seed": seed,
        "engine": engine,
        "options": options,
        "run_dir": str(run_dir),
        "blocks": sum(c["blocks"] for c in chains.values()),
        "transactions": executed + sum(c["gateway_refused"] for c in chains.values()),
        "committed": sum(c["committed"] for c in chains.values()),
        "refused": refused,
        "refused_by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        "unexpected_refusals": refused - planted_refused - ctx.expected_refusals,
        "planted": len(ctx.planted),
        "planted_for_chain": len(on_chain),
        "planted_for_regulator": sum(1 for p in ctx.planted if p.detect == REGULATOR),
        "caught": sum(1 for p in on_chain if p.caught),
        "missed": [f"{p.kind} (expected {p.expected}, got {p.ticket.reason if p.ticket else None})"
                   for p in on_chain if not p.caught],
        "head_hash": primary["head_hash"],
        "alerts": [alert.to_json() for monitor in ctx.monitors for alert in monitor.alerts],
        "chains": chains,
        "elapsed_seconds": None,
        "tx_per_second": None,
    }
    clash = sorted(set(ctx.extra) & set(summary))
    if clash:
        raise LedgerError(f"scenario {name} adds a summary figure {clash[0]!r} that the runner already reports")
    return {**summary, **ctx.extra}


ALL = "all"


def run_all(seed: int, options: dict[str, dict[str, int | None]] | None = None, run_dir: Path | None = None,
            engine: str = "pyevm", progress_for: Callable[[str], tuple] | None = None, *, resume: bool = False,
            node_copies: str = ALL_NODES) -> dict:
    """Runs every scenario into RUN_DIR/<scenario>/ and scores the regulator's findings on each against
    its ground truth: per scenario and overall (micro-averaged over all regulator plants and findings).
    `options` maps a scenario's name to its options (defaults otherwise); `progress_for(name)` gives a
    scenario's (progress, on_start) callbacks. RUN_DIR and each sub-run get their run.started marker (the
    sub-run's names the `all` run it belongs to); with `resume`, RUN_DIR is an interrupted `all` run: its
    complete sub-runs are kept, the interrupted one is resumed (resume_run) and the rest are run. `node_copies`:
    "all" or "none" (node names differ from one scenario to the next)."""
    options = options or {}
    if node_copies_choice(node_copies) not in (ALL_NODES, NO_NODES):
        raise ConfigError("run scenario all takes --node-copies all or none: its scenarios have nodes of "
                          "different names; run a scenario by name to give its nodes' names")
    run_dir = run_dir or fresh_run_dir(RUNS_ROOT, ALL, seed)
    if not resume:
        make_run_dir(run_dir)
    started = time.perf_counter()
    summary: dict = {"scenario": ALL, "seed": seed, "engine": engine, "node_copies": node_copies,
                     "run_dir": str(run_dir), "scores": {}}
    try:
        if not resume:
            start_marker(run_dir, {"scenario": ALL, "seed": seed, "options": options, "engine": engine,
                                   "rpc_urls": {}, "node_copies": node_copies})
        for name in scenario_names():
            progress, on_start = progress_for(name) if progress_for else (None, None)
            sub = run_dir / name
            if resume and sub.is_dir() and (sub / RUN_FILE).is_file() and read_marker(sub) is None:
                summary[name] = json.loads((sub / RUN_FILE).read_text(encoding="utf-8"))  # done before
            elif resume and sub.is_dir():
                marker = read_marker(sub) or {"scenario": name, "seed": seed, "options": options.get(name, {}),
                                              "engine": engine, "part_of": ALL, "node_copies": node_copies}
                summary[name] = _resume_one(sub, marker, progress, on_start)
            else:
                summary[name] = run_scenario(name, seed, options.get(name, {}), sub, engine, progress, on_start,
                                             part_of=ALL, node_copies=node_copies)
            scored = score(run_dir / name)
            summary["scores"][name] = scored
        totals = {k: sum(s[k] for s in summary["scores"].values())
                  for k in ("plants", "findings", "true_positives", "false_positives", "false_negatives")}
        tp, fp, fn = totals["true_positives"], totals["false_positives"], totals["false_negatives"]
        summary["overall"] = {**totals, "precision": tp / (tp + fp) if tp + fp else 1.0,
                              "recall": tp / (tp + fn) if tp + fn else 1.0}
        summary["elapsed_seconds"] = round(time.perf_counter() - started, 3)
        write_json_atomically(run_dir / RUN_FILE, summary)
        finish_marker(run_dir)
        return summary
    except BaseException:
        if not resume and not any(p.is_dir() for p in run_dir.iterdir() if not p.name.startswith(".")):
            shutil.rmtree(run_dir, ignore_errors=True)  # failed before any sub-run's first block
        raise


# ------------------------------------------------------------------ --resume

RESUMING = ".{name}.resuming"  # beside RUN_DIR: the resumed run, until it replaces the interrupted one
INTERRUPTED = ".{name}.interrupted"  # beside RUN_DIR: the interrupted run, for the moment of the swap


class SameBlocks:
    """On --resume: the blocks the interrupted run stored, which the run made again must commit, byte for
    byte. Called with each block committed (ScenarioContext's block_check); a block a what-if commits (and
    forgets) counts too, for a run killed inside one leaves that what-if's blocks."""

    def __init__(self, run_dir: Path, seed: int) -> None:
        self.run_dir, self.seed = run_dir, seed
        self.expected: dict[str, dict[int, bytes]] = {}
        for ledger in sorted(run_dir.glob(f"*/{LEDGER_FILE}")):
            try:
                with LedgerReader(ledger) as reader:
                    self.expected[chain_name(run_dir, ledger)] = {b.number: b.hash for b in reader.blocks()}
            except (LedgerError, sqlite3.Error) as exc:
                raise LedgerError(f"cannot resume {run_dir}: {exc}") from None
        self.seen: dict[str, dict[int, set[bytes]]] = {}
        self.failure: str | None = None

    @property
    def blocks(self) -> int:
        return sum(len(b) for b in self.expected.values())

    def __call__(self, chain: str, block, forgotten: bool) -> None:
        seen = self.seen.setdefault(chain, {}).setdefault(block.number, set())
        want = self.expected.get(chain, {}).get(block.number)
        # A block of a forgotten what-if may differ; a kept one may too where a what-if before it (already
        # seen) was what the interrupted run had stored at that height.
        if want is not None and not forgotten and block.hash != want and want not in seen:
            self._fail(chain, block.number)
        seen.add(block.hash)

    def finish(self) -> None:
        """Every block of the interrupted run came again; LedgerError otherwise."""
        for chain, blocks in self.expected.items():
            for number, hash_ in blocks.items():
                if hash_ not in self.seen.get(chain, {}).get(number, ()):
                    self._fail(chain, number)
        if self.failure:
            raise LedgerError(self.failure)

    def _fail(self, chain: str, number: int) -> None:
        self.failure = self.failure or (
            f"cannot resume {self.run_dir}: its block {number} of {chain} is not the block this run commits with "
            f"seed {self.seed}, its options and this machine's operator secret; the interrupted ledger is not "
            "this run's, and was left as it is")
        raise LedgerError(self.failure)


def resume_run(run_dir: Path, name: str | None = None, progress: Callable[[int], None] | None = None,
               on_start: Callable[[int], None] | None = None,
               progress_for: Callable[[str], tuple] | None = None) -> dict:
    """Finishes the interrupted run at RUN_DIR (`run scenario NAME --resume RUN_DIR`) from its run.started
    marker (scenario, seed, options, engine): its head is then the head of an uninterrupted run with the same
    seed. The scenario's state lives only in the process that ran it, so the run is made again, in a folder
    beside RUN_DIR, checking that every block the interrupted run stored comes again byte for byte (a
    different one: LedgerError, nothing changed); the finished run then takes RUN_DIR's place. Keys, and so
    keystores, derive from the seed and the operator secret, as they did. ConfigError (one line) for a
    complete run, one without a marker, one still running, on the rpc engine, or a sub-run of an `all` run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    status = run_status(run_dir, _command())
    if status.complete:
        if (run_dir / RUN_FILE).is_file():
            raise ConfigError(f"{run_dir} is a complete run: there is nothing to resume")
        raise ConfigError(f"{run_dir} has no run.started marker: it is not a run this version can resume")
    if status.running:
        raise ConfigError(f"{run_dir} is still running (process {status.marker.get('pid')}); it cannot be resumed")
    if not status.resumable:
        raise ConfigError(f"{run_dir} cannot be resumed: {status.why_not}")
    if name is not None and name != status.scenario:
        raise ConfigError(f"{run_dir} is a run of scenario {status.scenario}, not {name}: "
                          f"resume it with `run scenario {status.scenario} --resume {shlex.quote(str(run_dir))}`")
    marker = status.marker
    if status.scenario == ALL:
        options = marker.get("options") if isinstance(marker.get("options"), dict) else {}
        return run_all(status.seed, options, run_dir, marker.get("engine", "pyevm"), progress_for, resume=True,
                       node_copies=_node_copies(run_dir, marker))
    return _resume_one(run_dir, marker, progress, on_start)


def _resume_one(run_dir: Path, marker: dict, progress, on_start) -> dict:
    """Makes the run of `marker` again beside RUN_DIR, its blocks checked against RUN_DIR's, and moves it into
    RUN_DIR's place."""
    name, seed = marker.get("scenario"), marker.get("seed")
    options = marker.get("options") if isinstance(marker.get("options"), dict) else {}
    engine = marker.get("engine", "pyevm")
    if not isinstance(name, str) or not isinstance(seed, int) or engine != "pyevm" and engine not in _engines() \
            or any(not isinstance(v, int) or isinstance(v, bool) for v in options.values()):
        raise ConfigError(f"{run_dir}: its run.started marker does not say what run it was")
    node_copies = _node_copies(run_dir, marker)
    temp = run_dir.with_name(RESUMING.format(name=run_dir.name))
    if temp.exists():
        left = read_marker(temp)
        if left and run_status(temp).running:
            raise ConfigError(f"{run_dir} is being resumed already (process {left.get('pid')})")
        shutil.rmtree(temp)  # a resume that was itself interrupted: it starts over
    same = SameBlocks(run_dir, seed)
    try:
        summary = run_scenario(name, seed, options, temp, engine, progress, on_start, part_of=marker.get("part_of"),
                               same_as=same, final_dir=run_dir, node_copies=node_copies)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    if _exchange(temp, run_dir):  # one step: RUN_DIR is the interrupted run or the finished one, never missing
        shutil.rmtree(temp, ignore_errors=True)
        return summary
    old = run_dir.with_name(INTERRUPTED.format(name=run_dir.name))
    shutil.rmtree(old, ignore_errors=True)
    os.rename(run_dir, old)  # the interrupted run's blocks are all in the new one: nothing is lost
    os.rename(temp, run_dir)
    shutil.rmtree(old, ignore_errors=True)
    return summary


def _node_copies(run_dir: Path, marker: dict) -> str | list[str]:
    """The --node-copies the interrupted run was started with ("all" for a marker from before the option)."""
    try:
        return node_copies_choice(marker.get("node_copies", ALL_NODES))
    except ConfigError:
        raise ConfigError(f"{run_dir}: its run.started marker does not say what run it was") from None


def _exchange(a: Path, b: Path) -> bool:
    """Swaps the folders at `a` and `b` atomically (Linux renameat2 RENAME_EXCHANGE); False where it cannot."""
    rename = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    at_cwd, exchange = -100, 2
    return rename is not None and rename(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0


def _engines() -> tuple[str, ...]:
    from ledger.evm import ENGINES
    return tuple(ENGINES)
