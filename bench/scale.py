"""Market-scale runs: share_transfer at about 10 thousand, 100 thousand and a million transactions, on
each engine, each run and its audit in processes of their own, measured in the same invocation:

  tx/s        transactions (every submission) over the run's whole wall time: scenario, gateway,
              signing, execution, seals, store, risk monitor, node copies, state snapshot, run.json
  peak RSS    the largest resident memory of the run's process tree at any moment (the Python process
              and, on the anvil engine, its Anvil node), sampled every 0.2 s from /proc
  audit       `python cli.py audit RUN --json` (re-executing on the other EVM): wall time, peak RSS
              (--no-audit leaves it out: a million transactions take hours to re-execute on py-evm)
  bytes/tx    the chain's ledger, the members' copies of it (--node-copies, as `run scenario` takes
              it), and the whole run folder, over the transactions

    python bench/scale.py [--sizes 10k,100k,1m] [--engines pyevm,anvil] [--seed 7] [--node-copies all]
                          [--no-audit] [--keep DIR] [--json]

The ratios printed are each engine's rate and peak RSS against the pyevm engine's at the same size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / "cli.py")
# Options that give about the number of transactions named (share_transfer at --transfers 26000 --investors 4500
# made 100,870: about 3.4 a transfer, onboarding and subscriptions included), with funds enough for the
# investors under the funds' holder caps. A million is a year of trading on the 100k market, in blocks ten times
# as large (--batch 400): Anvil's work for each block it mines grows with the state (it keeps each block's
# state), and with the default blocks of about 130 transactions it took a whole core by 400,000 transactions.
SIZES = {
    "10k": {"investors": 450, "transfers": 2_600, "funds": 8},
    "100k": {"investors": 4_500, "transfers": 26_000, "funds": 60},
    "1m": {"investors": 4_500, "transfers": 335_000, "funds": 60, "batch": 400},  # 330,000 made 994,436
}


def tree_rss_kib(pid: int) -> int:
    """The resident memory of process `pid` and all its descendants, in KiB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            with open(f"/proc/{current}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def measured(args: list[str], out: Path) -> tuple[int, float, int]:
    """Runs `args` (stdout to `out`): (exit status, wall seconds, peak RSS of its process tree in KiB)."""
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr, cwd=ROOT)
        peak = [0]

        def sample() -> None:
            while process.poll() is None:
                peak[0] = max(peak[0], tree_rss_kib(process.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        status = process.wait()
        wall = time.perf_counter() - started
        sampler.join()
    return status, wall, peak[0]


def one(size: str, engine: str, seed: int, base: Path, node_copies: str, audited: bool) -> dict:
    run_dir = base / f"{engine}-{size}"
    options = [f"--{name}={value}" for name, value in SIZES[size].items()]
    status, wall, rss = measured([sys.executable, CLI, "run", "scenario", "share_transfer", f"--seed={seed}",
                                  f"--engine={engine}", *options, f"--node-copies={node_copies}",
                                  f"--run-dir={run_dir}", "--json"], base / f"{engine}-{size}.json")
    if status != 0:
        return {"size": size, "engine": engine, "failed": (base / f"{engine}-{size}.err").read_text()[-500:]}
    summary = json.loads((base / f"{engine}-{size}.json").read_text())
    chain = run_dir / "fund_platform"
    ledger = (chain / "ledger.sqlite").stat().st_size
    copies = [p.stat().st_size for p in (chain / "nodes").glob("*/ledger.sqlite")]
    everything = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink())
    txs = summary["transactions"]
    result = {
        "size": size, "engine": engine, "options": SIZES[size], "node_copies": summary["node_copies"],
        "transactions": txs, "blocks": summary["blocks"],
        "head": summary["head_hash"], "unexpected_refusals": summary["unexpected_refusals"],
        "missed": len(summary["missed"]), "seconds": round(wall, 1), "tx_per_s": round(txs / wall, 1),
        "peak_rss_mib": round(rss / 1024, 1),
        "ledger_bytes_per_tx": round(ledger / txs, 1), "copies": len(copies),
        "copies_bytes_per_tx": round(sum(copies) / txs, 1), "run_bytes_per_tx": round(everything / txs, 1),
    }
    if audited:
        audit_status, audit_wall, audit_rss = measured([sys.executable, CLI, "audit", str(run_dir), "--json"],
                                                       base / f"{engine}-{size}.audit.json")
        audit = json.loads((base / f"{engine}-{size}.audit.json").read_text() or "{}")
        result.update({"audit_verified": audit_status == 0 and audit.get("verified", False),
                       "audit_replayed": [c.get("replayed") for c in audit.get("chains", [])],
                       "audit_seconds": round(audit_wall, 1), "audit_peak_rss_mib": round(audit_rss / 1024, 1)})
    return result


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sizes", default="10k,100k,1m", show_default=True, help=f"Of: {', '.join(SIZES)}.")
@click.option("--engines", default="pyevm,anvil", show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--node-copies", default="all", show_default=True, help="As `run scenario --node-copies` takes it.")
@click.option("--audit/--no-audit", "audited", default=True, show_default=True, help="Also audit each run.")
@click.option("--keep", type=click.Path(path_type=Path), help="Keep the runs in this folder.")
@click.option("--json", "as_json", is_flag=True)
def main(sizes: str, engines: str, seed: int, node_copies: str, audited: bool, keep: Path | None,
         as_json: bool) -> None:
    """Run share_transfer at market sizes on each engine and measure rate, memory, audit and disk."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        for size in sizes.split(","):
            for engine in engines.split(","):
                results.append(result := one(size, engine, seed, base, node_copies, audited))
                print(json.dumps(result), file=sys.stderr, flush=True)
    by = {(r["size"], r["engine"]): r for r in results}
    for r in results:
        baseline = by.get((r["size"], "pyevm"))
        if baseline and "tx_per_s" in r and "tx_per_s" in baseline:
            r["rate_vs_pyevm"] = round(r["tx_per_s"] / baseline["tx_per_s"], 2)
            r["rss_vs_pyevm"] = round(r["peak_rss_mib"] / baseline["peak_rss_mib"], 2)
    if as_json:
        print(json.dumps(results, indent=1))
        return
    print(f"{'size':5} {'engine':6} {'txs':>9} {'blocks':>7} {'tx/s':>8} {'x pyevm':>7} {'peak MiB':>8} "
          f"{'audit s':>8} {'audit MiB':>9} {'ledger B/tx':>11} {'copies B/tx':>16} {'run B/tx':>9}")
    for r in results:
        if "failed" in r:
            print(f"{r['size']:5} {r['engine']:6} failed: {r['failed'].splitlines()[-1] if r['failed'] else ''}")
            continue
        copies = f"{r['copies_bytes_per_tx']:,.0f} ({r['copies']} copies)"
        print(f"{r['size']:5} {r['engine']:6} {r['transactions']:>9,} {r['blocks']:>7,} {r['tx_per_s']:>8,.0f} "
              f"{r.get('rate_vs_pyevm', 1):>7.2f} {r['peak_rss_mib']:>8,.0f} {r.get('audit_seconds', 0):>8,.0f} "
              f"{r.get('audit_peak_rss_mib', 0):>9,.0f} {r['ledger_bytes_per_tx']:>11,.0f} {copies:>16} "
              f"{r['run_bytes_per_tx']:>9,.0f}")


if __name__ == "__main__":
    main()
