"""The regulator's audit against the run it audits, measured in the same process:

  run    the scenario end to end (transactions executed / wall time)
  audit  the run-level audit: every chain's ledger checked against its headers and
         seals, signatures and permissions at each height, every block re-executed
         from genesis on the other EVM (revm through Anvil, for the pyevm engine's chain),
         decoded columns recomputed, anchors, and every member's copy compared with
         the chain (transactions audited / wall time)
  copies the part of the audit spent on member copies
  verify `verify` of the whole run (no re-execution), for scale

    python bench/audit.py [--scenario share_transfer] [--seed 7] [--json]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.audit.reexecute import audit_run  # noqa: E402
from ledger.audit.verify import Verification, check_member_copies, verify_run  # noqa: E402
from scenarios.registry import scenario_names  # noqa: E402
from scenarios.runner import run_scenario  # noqa: E402


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scenario", type=click.Choice(scenario_names()), default="share_transfer", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(scenario: str, seed: int, as_json: bool) -> None:
    """Measure the audit's speed against the run's own speed, in one process."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        summary = run_scenario(scenario, seed, {}, run_dir)
        started = time.perf_counter()
        audits = audit_run(run_dir)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        for chain in summary["chains"]:
            check_member_copies(run_dir / chain, Verification(chain))
        copies_s = time.perf_counter() - started
        started = time.perf_counter()
        verify_run(run_dir)
        verify_s = time.perf_counter() - started
    executed = sum(chain["transactions"] for chain in summary["chains"].values())  # executed in blocks
    run_rate = executed / summary["elapsed_seconds"]
    audit_rate = sum(a.transactions for a in audits) / elapsed
    result = {
        "scenario": scenario, "seed": seed, "blocks": sum(a.blocks for a in audits),
        "replayed": sorted({a.replayed for a in audits}),
        "transactions": sum(a.transactions for a in audits), "verified": all(a.verified for a in audits),
        "run_tx_per_s": round(run_rate, 1), "audit_tx_per_s": round(audit_rate, 1),
        "audit_over_run": round(audit_rate / run_rate, 2),
        "audit_s": round(elapsed, 2), "copies_s": round(copies_s, 2), "verify_s": round(verify_s, 2),
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{scenario} seed {seed}: {result['transactions']} transactions in {result['blocks']} blocks, "
               f"audit {'verified' if result['verified'] else 'NOT verified'} ({', '.join(result['replayed'])})")
    click.echo(f"  run    {run_rate:8.1f} tx/s")
    click.echo(f"  audit  {audit_rate:8.1f} tx/s   audit / run = {audit_rate / run_rate:.2f}  "
               f"({elapsed:.1f} s, of which member copies {copies_s:.1f} s)")
    click.echo(f"  verify {verify_s:8.1f} s for the whole run, copies included")


if __name__ == "__main__":
    main()
