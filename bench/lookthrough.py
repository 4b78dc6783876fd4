"""Look-through benchmark: a synthetic audit index, then ubo and holders on a large fund.

    python bench/lookthrough.py [--investors 100000] [--seed 7] [--json]

The index is written directly in the audit-index schema (ledger/supervision/lookthrough/index.py), deterministic
from the seed: INVESTORS persons, institutions and products; unregistered vehicles nested six levels
deep (each declares three vehicles of the next level, shared at random, and a few investors; the
deepest declare 4-10 investors), three cycles (a deepest vehicle declaring the vehicle above it); fund 1
held by every top-level vehicle and by half the investors, four small funds beside it.
The index also holds the market's history (events), and the rule catalogue's `findings` are timed over it.
Bar: index build under 60 s, each query under 1 s (2-core machine). Each query opens the index cold."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.supervision.lookthrough.index import AuditIndex, write_index  # noqa: E402
from ledger.supervision.catalogue import evaluate  # noqa: E402
from ledger.supervision.lookthrough.queries import holders, ubo  # noqa: E402

LEVELS = (30, 90, 270, 810, 2430, 7290)  # vehicles per nesting level, top first
CYCLES = 3


def ident(seed: int, label: str) -> str:
    return "0x" + hashlib.sha256(f"bench/{seed}/{label}".encode()).hexdigest()


def split_bps(n: int) -> list[int]:
    bps = [10_000 // n] * n
    bps[0] += 10_000 - sum(bps)
    return bps


def synthetic_rows(investors: int, seed: int) -> dict:
    rng = random.Random(seed)
    leaves = [ident(seed, f"inv{i}") for i in range(investors)]
    levels = [[ident(seed, f"veh{k}/{i}") for i in range(n)] for k, n in enumerate(LEVELS)]
    identities = [(i, "synthetic", rng.choice((1, 1, 1, 2, 3)), 2_000_000_000) for i in leaves]
    identities += [(v, "synthetic", 4, 2_000_000_000) for level in levels for v in level]
    declared: dict[str, list[str]] = {}
    for k, level in enumerate(levels):
        for v in level:
            if k + 1 < len(levels):
                members = rng.sample(levels[k + 1], 3) + rng.sample(leaves, rng.randint(1, 3))
            else:
                members = rng.sample(leaves, rng.randint(4, 10))
            declared[v] = members
    for c in range(CYCLES):  # a deepest vehicle below a top-level one invests back into its parent
        node = parent = levels[0][c]
        for _ in range(len(levels) - 1):
            parent, node = node, declared[node][0]
        declared[node].append(parent)
    declarations = [(v, inv, bps, "synthetic") for v, members in declared.items()
                    for inv, bps in zip(members, split_bps(len(members)))]
    holdings, assets = [], []
    funds = {1: levels[0] + rng.sample(leaves, investors // 2)}
    for f in range(2, 6):
        funds[f] = rng.sample(leaves, 40) + rng.sample(levels[2], 2)
    for f, members in funds.items():
        amounts = [rng.randint(10, 50) * 100_000 for _ in members]
        total = sum(amounts)
        holdings += [(f"fund:{f}", h, a, a / total) for h, a in zip(members, amounts)]
        assets.append((f"fund:{f}", "fund", "synthetic", f"fund {f}", 200 if f % 2 else 50, total, None))
    return {"identities": identities, "accounts": [], "assets": assets, "holdings": holdings,
            "declarations": declarations, "top_vehicle": levels[0][0],
            "events": history(identities, declared, funds, holdings), "heads": [("synthetic", 3, T0 + 3 * 5)]}


T0 = 1_650_000_000


def history(identities, declared, funds, holdings) -> list[tuple]:
    """The same market as the sealed history the rule catalogue reads (the index's events table): identities
    registered and vehicles declared in block 1, funds created in block 2, holdings subscribed in block 3."""
    agent = "0x" + "00" * 20
    rows: list[tuple] = []

    def emit(block: int, contract: str, name: str, args: dict) -> None:
        rows.append(("synthetic", block, T0 + 5 * block, len(rows), None, None, contract, name, json.dumps(args)))

    for i, _chain, kind, until in identities:
        emit(1, "IdentityRegistry", "IdentityRegistered", {"id": i, "kind": kind, "qualifiedUntil": until,
                                                           "agent": agent})
    for vehicle, members in declared.items():
        emit(1, "IdentityRegistry", "InvestorsDeclared", {"vehicle": vehicle, "investors": members,
                                                          "sharesBps": split_bps(len(members)), "agent": agent})
    for f in funds:
        emit(2, "PrivateFundShares", "FundCreated", {"fundId": f, "cap": 200 if f % 2 else 50})
    for asset, holder, amount, _share in holdings:
        emit(3, "PrivateFundShares", "Subscribed", {"fundId": int(asset[5:]), "identity": holder, "amount": amount,
                                                     "account": agent})
    return rows


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, round(time.perf_counter() - start, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--investors", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    rows, generate_s = timed(lambda: synthetic_rows(args.investors, args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.sqlite"
        _, build_s = timed(lambda: write_index(path, rows["identities"], rows["accounts"], rows["assets"],
                                               rows["holdings"], rows["declarations"], {"synthetic": args.seed},
                                               rows["events"], rows["heads"]))

        def cold(query, entity):
            with AuditIndex(path) as index:
                return query(index, entity)

        u, ubo_s = timed(lambda: cold(ubo, "fund:1"))
        h, holders_s = timed(lambda: cold(holders, "fund:1"))
        v, vehicle_s = timed(lambda: cold(ubo, "identity:" + rows["top_vehicle"]))
        found, findings_s = timed(lambda: cold(lambda index, _: evaluate(index), None))
    figures = {
        "investors": args.investors, "vehicles": sum(LEVELS), "nesting_levels": len(LEVELS),
        "declarations": len(rows["declarations"]), "holdings": len(rows["holdings"]),
        "generate_seconds": generate_s, "index_build_seconds": build_s,
        "ubo_fund_seconds": ubo_s, "holders_fund_seconds": holders_s, "ubo_vehicle_seconds": vehicle_s,
        "ubo_owners": u["owner_count"], "ubo_total_pct": round(u["total_pct"], 4), "ubo_max_depth": u["max_depth"],
        "ubo_cycles": len(u["cycles"]), "holders_count": h["count"], "holders_cap": h["cap"],
        "holders_units_by_contract_rule": h["units_by_contract_rule"], "holders_cycles": len(h["cycles"]),
        "vehicle_owners": v["owner_count"], "history_events": len(rows["events"]),
        "findings_seconds": findings_s, "findings": sorted(f"{f.rule} {'/'.join(map(str, f.subject.values()))}"
                                                           for f in found),
    }
    figures["within_bar"] = build_s < 60 and max(ubo_s, holders_s, vehicle_s) < 1
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(len(k) for k in figures)
        for k, value in figures.items():
            print(f"{k.ljust(width)}  {value}")
    return 0 if figures["within_bar"] else 1


if __name__ == "__main__":
    sys.exit(main())
