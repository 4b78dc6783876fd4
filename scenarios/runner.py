"""Runs a scenario into a run directory and sums up what happened."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from ledger.chain.run import write_node_copies
from ledger.errors import LedgerError
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


def run_scenario(name: str, seed: int, options: dict[str, int | None], run_dir: Path | None = None,
                 engine: str = "pyevm", progress: Callable[[int], None] | None = None,
                 on_start: Callable[[int], None] | None = None, rpc_urls: dict[str, str] | None = None) -> dict:
    """Runs scenario `name` and returns its summary (also written to RUN_DIR/run.json). On the rpc
    engine, `rpc_urls` maps each chain to its node's URL (scenarios.api.ANY_CHAIN: a single chain's)."""
    scenario_class = get_scenario(name)
    resolved = scenario_class.resolve_options(options)
    run_dir = run_dir or fresh_run_dir(RUNS_ROOT, name, seed)
    run_dir.mkdir(parents=True, exist_ok=False)
    ctx = ScenarioContext(seed, resolved, run_dir, engine, progress, rpc_urls)
    if on_start:
        on_start(scenario_class.expected_steps(resolved))
    started = time.perf_counter()
    try:
        scenario_class().run(ctx)
    finally:
        ctx.close()
        for consortium in ctx.chains.values():
            consortium.write_public_files()
    elapsed = time.perf_counter() - started
    summary = summarize(name, seed, resolved, engine, run_dir, ctx, elapsed)
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (run_dir / "ground_truth.json").write_text(
        json.dumps([p.to_json() for p in ctx.planted], indent=2) + "\n", encoding="utf-8")
    for consortium in ctx.chains.values():
        write_node_copies(consortium, run_dir)
        consortium.store.close()
    return summary


def summarize(name: str, seed: int, options: dict, engine: str, run_dir: Path, ctx: ScenarioContext,
              elapsed: float) -> dict:
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
        "elapsed_seconds": round(elapsed, 3),
        "tx_per_second": round(executed / elapsed, 1) if elapsed else None,
    }
    clash = sorted(set(ctx.extra) & set(summary))
    if clash:
        raise LedgerError(f"scenario {name} adds a summary figure {clash[0]!r} that the runner already reports")
    return {**summary, **ctx.extra}


ALL = "all"


def run_all(seed: int, options: dict[str, dict[str, int | None]] | None = None, run_dir: Path | None = None,
            engine: str = "pyevm", progress_for: Callable[[str], tuple] | None = None) -> dict:
    """Runs every scenario into RUN_DIR/<scenario>/ and scores the regulator's findings on each against
    its ground truth: per scenario and overall (micro-averaged over all regulator plants and findings).
    `options` maps a scenario's name to its options (defaults otherwise); `progress_for(name)` gives a
    scenario's (progress, on_start) callbacks."""
    options = options or {}
    run_dir = run_dir or fresh_run_dir(RUNS_ROOT, ALL, seed)
    run_dir.mkdir(parents=True, exist_ok=False)
    started = time.perf_counter()
    summary: dict = {"scenario": ALL, "seed": seed, "engine": engine, "run_dir": str(run_dir), "scores": {}}
    for name in scenario_names():
        progress, on_start = progress_for(name) if progress_for else (None, None)
        summary[name] = run_scenario(name, seed, options.get(name, {}), run_dir / name, engine, progress, on_start)
        scored = score(run_dir / name)
        summary["scores"][name] = scored
    totals = {k: sum(s[k] for s in summary["scores"].values())
              for k in ("plants", "findings", "true_positives", "false_positives", "false_negatives")}
    tp, fp, fn = totals["true_positives"], totals["false_positives"], totals["false_negatives"]
    summary["overall"] = {**totals, "precision": tp / (tp + fp) if tp + fp else 1.0,
                          "recall": tp / (tp + fn) if tp + fn else 1.0}
    summary["elapsed_seconds"] = round(time.perf_counter() - started, 3)
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
