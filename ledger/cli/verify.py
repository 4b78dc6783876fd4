"""`verify` and `audit`: a run's ledgers checked, and re-executed from genesis."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ledger.cli.common import CONTEXT, JSON_OPTION, PIN_OPTION, RUN_DIR_ARG, Progress, echo_json
from ledger.errors import ConfigError


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@PIN_OPTION
@JSON_OPTION
def verify(run_dir: Path, pins: Path | None, as_json: bool) -> None:
    """Verify every chain in RUN_DIR and every member's copy: headers, transaction and receipt roots,
    refusal digests, validator seals over every stored row, certificates."""
    from ledger.audit.verify import verify_run

    pinned = pins is not None and pins.exists()
    results = verify_run(run_dir, pins)
    verified = all(r.verified for r in results)
    if as_json:
        echo_json({"verified": verified, "chains": [r.to_json() for r in results]})
    else:
        for r in results:
            state = "verified" if r.verified else "NOT verified"
            click.echo(f"{r.chain}: {state}, {r.blocks} blocks, {r.transactions} transactions, {r.refusals} refusals")
            for line in r.problems + r.notes:
                click.echo(f"  {line}")
    _say_pinned(pins, pinned)
    if not verified:
        sys.exit(1)


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--node", help="Audit this node's own copies (RUN_DIR/<chain>/nodes/NODE/) instead of the chains'.")
@PIN_OPTION
@JSON_OPTION
def audit(run_dir: Path, node: str | None, pins: Path | None, as_json: bool) -> None:
    """Audit a run's ledgers: verify, re-execute every block from genesis, check signatures,
    permissions at each height and the anchors on the regulatory chain."""
    from ledger.audit.reexecute import audit_run, ledger_copies

    copies = ledger_copies(run_dir, node)
    if not copies:
        raise ConfigError(f"{run_dir} holds no ledger" + (f" copy of node {node}" if node else ""))
    pinned = pins is not None and pins.exists()
    if as_json:
        audits = audit_run(run_dir, node, pins=pins)
    else:
        with Progress("re-executing", sum(blocks for _, _, blocks in copies)) as bar:
            audits = audit_run(run_dir, node, progress=bar.advance, pins=pins)
    verified = all(a.verified for a in audits)
    if as_json:
        echo_json({
            "verified": verified, "node": node,
            "blocks": sum(a.blocks for a in audits), "transactions": sum(a.transactions for a in audits),
            "problems": [f"{a.chain}: {p}" for a in audits for p in a.problems],
            "chains": [a.to_json() for a in audits],
        })
    else:
        for a in audits:
            state = "verified" if a.verified else "NOT verified"
            anchors = f", {a.anchors_checked} anchors matched" if a.anchors_checked and a.verified else ""
            whose = f" ({a.node}'s copy)" if a.node else ""
            click.echo(f"{a.chain}{whose}: {state}, {a.blocks} blocks {a.replayed}, {a.transactions} transactions"
                       f"{anchors}")
            for line in a.problems + a.notes:
                click.echo(f"  {line}")
    _say_pinned(pins, pinned)
    if not verified:
        sys.exit(1)


def _say_pinned(pins: Path | None, existed: bool) -> None:
    if pins is not None and not existed and pins.exists():
        click.echo(f"pinned every chain's genesis in {pins}: keep it outside the run, and give it with --pin "
                   "(or PILOTLEDGER_PINS) from now on", err=True)
