"""`report`: the regulator's HTML report on a run."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import CONTEXT, RUN_DIR_ARG, Progress


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the HTML (default: RUN_DIR/report.html).")
def report(run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML report on RUN_DIR for the regulator: the audit, per-node views,
    refusals by reason, planted violations against what was caught, and charts."""
    from ledger.audit.reexecute import ledger_copies
    from ledger.report import write_report

    # The bar opens at the audit's first block, once the run has been read.
    with Progress("re-executing", lambda: sum(n for _, _, n in ledger_copies(run_dir))) as bar:
        path = write_report(run_dir, out, bar.advance)
    click.echo(path)
