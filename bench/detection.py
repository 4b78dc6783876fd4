"""Precision and recall of the rule catalogue on violations it never saw: `run scenario all --violations N`
(scenarios/violations/ plants N violations drawn from the seed, besides the scenarios' own) on several
seeds, each scored against its ground truth, with the time `findings` takes on each run.

    python bench/detection.py [--violations 30] [--seeds 3,5,7,11,21] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.cli import main as cli  # noqa: E402
from ledger.supervision.catalogue import findings, score  # noqa: E402


def measure(seed: int, violations: int, root: Path) -> dict:
    run_dir = root / f"seed{seed}"
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        code = cli(["run", "scenario", "all", "--seed", str(seed), "--violations", str(violations), "--run-dir",
                    str(run_dir), "--json"])
    if code:
        raise SystemExit(f"run scenario all --seed {seed} failed with exit code {code}")
    run_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = findings(run_dir)
    findings_seconds = time.perf_counter() - started
    plants = tps = fps = fns = 0
    for sub in sorted(p for p in run_dir.iterdir() if (p / "ground_truth.json").exists()):
        s = score(sub, [f for f in found if f.chain.split("/")[0] == sub.name])
        plants, tps, fps, fns = plants + s["plants"], tps + s["true_positives"], fps + s["false_positives"], \
            fns + s["false_negatives"]
    return {"seed": seed, "plants": plants, "findings": len(found), "true_positives": tps, "false_positives": fps,
            "false_negatives": fns, "precision": tps / (tps + fps) if tps + fps else 1.0,
            "recall": tps / (tps + fns) if tps + fns else 1.0, "run_seconds": round(run_seconds, 1),
            "findings_seconds": round(findings_seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--violations", type=int, default=30)
    parser.add_argument("--seeds", default="3,5,7,11,21")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(int(s), args.violations, Path(tmp)) for s in args.seeds.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        keys = list(rows[0])
        print("  ".join(keys))
        for row in rows:
            print("  ".join(f"{row[k]:.3f}" if isinstance(row[k], float) and k in ("precision", "recall")
                            else str(row[k]) for k in keys))
    return 0 if all(r["precision"] == r["recall"] == 1.0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
