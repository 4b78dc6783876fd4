"""Runs every built-in scenario at seeds 3, 5, 7 and 21 and writes, per run, what a refactor must keep:
the planted list (kind, detect, expected reason), the caught and missed lists, the unexpected refusals,
the regulator's share, each chain's head hash and the ground truth's SHA-256.

    python bench/planted_lists.py OUT.json [SCENARIO ...] [--engines pyevm,anvil]

Compare two OUT files field by field: a change to contracts moves the heads, a refactor must not. With
`--engines A,B` every run is made on each engine and the lists of each engine are compared with the
first's (heads included: both engines build the same blocks), each difference printed; exit 1 if any."""

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


def lists(name: str, seed: int, engine: str = "pyevm") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        summary = run_scenario(name, seed, {}, run_dir, engine)
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


def main(out: str, names: list[str], engines: list[str]) -> int:
    result, differences = {}, 0
    for name in names or sorted(SCENARIOS):
        for seed in SEEDS:
            runs = {engine: lists(name, seed, engine) for engine in engines}
            result[f"{name}@{seed}"] = runs if len(engines) > 1 else runs[engines[0]]
            first, entry = engines[0], runs[engines[0]]
            print(f"{name} seed {seed}: {entry['caught']} caught, {entry['unexpected_refusals']} unexpected",
                  file=sys.stderr)
            for engine in engines[1:]:
                for field, value in runs[engine].items():
                    if value != entry[field]:
                        differences += 1
                        print(f"  {engine} differs from {first} in {field}: {value} != {entry[field]}", file=sys.stderr)
    Path(out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    if len(engines) > 1:
        print(f"{differences} differences between engines {', '.join(engines)}", file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    engines = ["pyevm"]
    if "--engines" in args:
        at = args.index("--engines")
        engines = args[at + 1].split(",") if at + 1 < len(args) else []
        del args[at:at + 2]
    if not args or args[0].startswith("-") or not engines:
        print("usage: " + __doc__.split("\n\n")[1].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[0], args[1:], engines))
