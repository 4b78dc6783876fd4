"""`report`: the regulator's HTML report on a run."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import CONTEXT, LANG_OPTION, RUN_DIR_ARG, GivenPath, Progress
from ledger.present.i18n import translator

_ = translator("report")


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--out", type=GivenPath(path_type=Path),
              help="Where to write the HTML (default: report.html in the regulator's own folder, "
                   "RUN_DIR/<chain>/nodes/<REGULATOR>/, since it names investors).")
@click.option("--force", is_flag=True, help="Replace the --out file if it exists.")
@LANG_OPTION
def report(run_dir: Path, out: Path | None, force: bool) -> None:
    """Write one self-contained HTML report on RUN_DIR for the regulator: the audit, the findings of the rule
    catalogue, the risk alerts, per-node views, refusals by reason, planted violations against what was caught
    or found, and charts. --lang zh (or PILOTLEDGER_LANG=zh) writes it in Simplified Chinese."""
    from ledger.audit.reexecute import ledger_copies
    from ledger.report import write_report

    # The bar opens at the audit's first block, once the run has been read.
    with Progress(_("re-executing"), lambda: sum(n for _c, _n, n in ledger_copies(run_dir))) as bar:
        path = write_report(run_dir, out, bar.advance, force)
    click.echo(path)
    if out is None and path.parent != run_dir:
        click.echo(_("written in the regulator {node}'s own folder: it names investors, whose personal data only "
                     "the regulator may open; keep it there or give --out").format(node=path.parent.name), err=True)
