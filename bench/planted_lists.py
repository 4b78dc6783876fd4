"""Runs every built-in scenario at seeds 3, 5, 7 and 21 and writes, per run, what a refactor must keep:
the planted list (kind, detect, expected reason), the caught and missed lists, the unexpected refusals,
the regulator's share, each chain's head hash and the ground truth's SHA-256.

    python bench/planted_lists.py OUT.json [SCENARIO ...]

Compare two OUT files field by field: a change to contracts moves the heads, a refactor must not."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenarios.registry import SCENARIOS  # noqa: E402
from scenarios.runner import run_scenario  # noqa: E402

SEEDS = (3, 5, 7, 21)


def lists(name: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        summary = run_scenario(name, seed, {}, run_dir)
        truth = (run_dir / "ground_truth.json").read_bytes()
    return {
        "planted": [(p["kind"], p["detect"], p["expected"]) for p in json.loads(truth)],
        "caught": summary["caught"], "missed": summary["missed"],
        "unexpected_refusals": summary["unexpected_refusals"],
        "planted_for_regulator": summary["planted_for_regulator"],
        "heads": {chain: c["head_hash"] for chain, c in summary["chains"].items()},
        "ground_truth_sha256": hashlib.sha256(truth).hexdigest(),
        "alerts": len(summary["alerts"]),
    }


def main(out: str, names: list[str]) -> None:
    result = {}
    for name in names or sorted(SCENARIOS):
        for seed in SEEDS:
            result[f"{name}@{seed}"] = entry = lists(name, seed)
            print(f"{name} seed {seed}: {entry['caught']} caught, {entry['unexpected_refusals']} unexpected",
                  file=sys.stderr)
    Path(out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print("usage: " + __doc__.split("\n\n")[1].strip(), file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2:])
