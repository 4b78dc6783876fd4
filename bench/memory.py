"""Memory and reopening against a run's length: share_transfer at --transfers N and at FACTOR x N, each run in
its own process, and one read-only `call` on each finished run.

  peak RSS  the run's process at its largest (wait4's ru_maxrss for that process alone)
  call      `python cli.py call RUN PrivateFundShares paused`, end to end (wall and CPU), and, in a process
            of its own, reopening the chain at its head (from the state snapshot) and, for comparison, the
            ledger check a command that extends a chain (send, deploy, govern) makes first (require_holds: the
            whole ledger against its headers and seals; a `call` does not make it)

A flat memory has the long run's peak RSS within 1.2x of the short one's; a reopening that does not grow
with the run has the two calls' times alike.

    python bench/memory.py [--transfers 1000] [--factor 10] [--investors N] [--seed 7] [--unpruned]
                           [--keep DIR] [--json]

--unpruned runs the scenario with the engine's pruning off (ledger.evm.pyevm.PRUNE_AT_LEAST out of reach),
as the engine was before it pruned: the "before" of the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / "cli.py")
PARTS = """
import sys, time
from pathlib import Path
from ledger.audit.verify import require_holds
from ledger.chain.reopen import reopen_chain
from ledger.chain.run import ledger_path, pick_chain
run_dir = Path(sys.argv[1])
chain = pick_chain(run_dir, None)
started = time.perf_counter()
require_holds(ledger_path(run_dir, chain))
checked = time.perf_counter()
warnings = []
consortium = reopen_chain(run_dir, chain, warn=warnings.append)
reopened = time.perf_counter()
consortium.store.close()
print(checked - started, reopened - checked, len(warnings))
"""


def _measured(args: list[str], stdout: Path) -> tuple[int, float, float, int]:
    """Runs `args` with stdout to a file: (exit status, wall seconds, CPU seconds, peak RSS in KiB) of that
    process alone."""
    errors = stdout.with_suffix(".err")
    started = time.perf_counter()
    with open(stdout, "wb") as out, open(errors, "wb") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if code:
        raise click.ClickException(f"{' '.join(args[1:4])} failed: {errors.read_text()[-400:]}")
    return code, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


UNPRUNED = ("import sys; sys.argv[0] = 'cli.py'; import ledger.evm.pyevm as engine; engine.PRUNE_AT_LEAST = 10**18; "
            "from ledger.cli.app import main; sys.exit(main(prog_name='cli.py'))")


def measure(transfers: int, seed: int, where: Path, investors: int | None = None, unpruned: bool = False) -> dict:
    run_dir = where / f"share_transfer-{transfers}"
    cli = [sys.executable, "-c", UNPRUNED] if unpruned else [sys.executable, CLI]
    _, wall, cpu, peak = _measured([*cli, "run", "scenario", "share_transfer", "--seed", str(seed),
                                    "--transfers", str(transfers), "--run-dir", str(run_dir), "--json",
                                    *(["--investors", str(investors)] if investors else [])],
                                   where / f"run-{transfers}.json")
    summary = json.loads((where / f"run-{transfers}.json").read_text())
    _, call_wall, call_cpu, call_peak = _measured(
        [sys.executable, CLI, "call", str(run_dir), "PrivateFundShares", "paused"], where / f"call-{transfers}.txt")
    parts = subprocess.run([sys.executable, "-c", PARTS, str(run_dir)], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    if parts.returncode:
        raise click.ClickException(f"timing the call's parts failed: {parts.stderr[-400:]}")
    checked, reopened, warnings = parts.stdout.split()
    snapshot = run_dir / "fund_platform" / "state.snapshot"
    return {
        "transfers": transfers,
        "transactions": summary["transactions"],
        "blocks": summary["blocks"],
        "head_hash": summary["head_hash"],
        "peak_rss_mb": round(peak / 1024, 1),
        "run_seconds": round(wall, 1),
        "run_cpu_seconds": round(cpu, 1),
        "call_seconds": round(call_wall, 2),
        "call_cpu_seconds": round(call_cpu, 2),
        "call_peak_rss_mb": round(call_peak / 1024, 1),
        "ledger_check_seconds": round(float(checked), 2),
        "reopen_seconds": round(float(reopened), 2),
        "reopen_warnings": int(warnings),
        "snapshot_mb": round(snapshot.stat().st_size / 2**20, 2) if snapshot.exists() else None,
        "ledger_mb": round((run_dir / "fund_platform" / "ledger.sqlite").stat().st_size / 2**20, 1),
    }


COLUMNS = [("transfers", "transfers"), ("transactions", "transactions"), ("blocks", "blocks"),
           ("peak_rss_mb", "peak RSS MB"), ("run_seconds", "run s"), ("call_seconds", "call s"),
           ("call_cpu_seconds", "call CPU s"), ("ledger_check_seconds", "ledger check s"),
           ("reopen_seconds", "reopen s"), ("snapshot_mb", "snapshot MB"), ("ledger_mb", "ledger MB")]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--transfers", type=click.IntRange(1), default=1000, show_default=True, help="The short run's transfers.")
@click.option("--factor", type=click.IntRange(2), default=10, show_default=True, help="The long run: FACTOR times as many.")
@click.option("--investors", type=click.IntRange(60), help="--investors for both runs (default: the scenario's).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--unpruned", is_flag=True, help="Run the scenarios with the engine's pruning off (the before).")
@click.option("--keep", type=click.Path(path_type=Path), help="Keep the runs in DIR (default: a temporary folder).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(transfers: int, factor: int, investors: int | None, seed: int, unpruned: bool, keep: Path | None,
         as_json: bool) -> None:
    """Peak RSS of a run and the time of one `call` on it, at N and FACTOR x N transfers."""
    with tempfile.TemporaryDirectory() as tmp:
        where = keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        rows = [measure(n, seed, where, investors, unpruned) for n in (transfers, transfers * factor)]
    short, long = rows
    result = {"unpruned": unpruned, "runs": rows,
              "rss_ratio": round(long["peak_rss_mb"] / short["peak_rss_mb"], 2),
              "call_ratio": round(long["call_seconds"] / short["call_seconds"], 2),
              "call_cpu_ratio": round(long["call_cpu_seconds"] / short["call_cpu_seconds"], 2),
              "reopen_ratio": round(long["reopen_seconds"] / max(short["reopen_seconds"], 0.01), 2)}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    widths = [max(len(title), *(len(str(r[key])) for r in rows)) for key, title in COLUMNS]
    click.echo("  ".join(title.rjust(w) for (_, title), w in zip(COLUMNS, widths)))
    for row in rows:
        click.echo("  ".join(str(row[key]).rjust(w) for (key, _), w in zip(COLUMNS, widths)))
    click.echo(f"peak RSS {result['rss_ratio']}x for {factor}x the transfers (flat: at most 1.2x); "
               f"call {result['call_ratio']}x (CPU {result['call_cpu_ratio']}x), "
               f"of which reopening {result['reopen_ratio']}x")


if __name__ == "__main__":
    main()
