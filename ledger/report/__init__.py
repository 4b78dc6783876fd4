"""The regulator's report on a run: one self-contained HTML file.

It reads only a run directory's generic files (run.json, ground_truth.json, each
<chain>/ledger.sqlite and the node copies under <chain>/nodes/) and shows the run's
summary, the audit of every chain (ledger.audit.reexecute), each node's view as the regulator
sees it (ledger.audit.views), refused transactions by reason, planted violations against
what was caught, transactions per block, and the holding structure as a graph.

Everything is inline: CSS, SVG charts drawn in Python, and a small script. Modules,
each importing only those before it: text, data, holdings, svg, markup, sections;
assets holds the CSS and scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger.errors import ConfigError
from ledger.report.assets import CSS, ERROR_SCRIPT, SCRIPT
from ledger.report.data import load_run, run_audits
from ledger.report.holdings import holding_graphs
from ledger.report.sections import (activity_section, audit_section, holdings_section, nodes_section, planted_section,
                       refusals_section, summary_section)
from ledger.report.text import esc

__all__ = ["REPORT_FILE", "build_report", "write_report"]

REPORT_FILE = "report.html"
NAV = (("summary", "Summary"), ("audit", "Audit"), ("activity", "Transactions per block"),
       ("refusals", "Refusals"), ("planted", "Planted vs caught"), ("holdings", "Holding structure"),
       ("nodes", "Per-node views"))


def build_report(run_dir: Path, progress: Callable[[int], None] | None = None) -> str:
    """The regulator's report on the run in `run_dir`, as one self-contained HTML document.

    `progress`, if given, is called with 1 per block the audit re-executes."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    summary, planted, chains = run.summary, run.planted, run.chains
    opened = {item["identity"].lower(): item["personal"]["name"]
              for c in chains for v in c.views.values() for item in v["private_data"]["items"]
              if not item["sealed"] and item["personal"].get("name")}
    graphs = [g for c in chains for g in holding_graphs(c, opened)]
    audits, audit_error = run_audits(run_dir, progress)
    verified = audit_error is None and audits and all(a.verified for a in audits)
    title = f"{summary.get('scenario', run_dir.name)} · seed {summary.get('seed', '?')}"
    sections = [
        summary_section(summary, chains, planted),
        audit_section(audits, audit_error),
        activity_section(chains),
        refusals_section(chains, planted),
        planted_section(planted),
        holdings_section(graphs),
        nodes_section(chains),
    ]
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in NAV)
    status = "audit: every chain verified" if verified else "audit: PROBLEMS FOUND"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>pilotledger report: {esc(title)}</title><script>{ERROR_SCRIPT}</script>"
        f"<style>{CSS}</style></head><body>"
        f'<header><h1>pilotledger · regulator\'s report · {esc(title)}</h1>'
        f'<div class="meta">{esc(run_dir)} · {len(chains)} chain(s) · {esc(status)}</div></header>'
        f"<nav>{nav}</nav><main>{''.join(sections)}</main>"
        f"<footer>Written by <code>python cli.py report</code> from the run directory's own files.</footer>"
        f'<div id="tip"></div><script>{SCRIPT}</script></body></html>\n')


def write_report(run_dir: Path, out: Path | None = None, progress: Callable[[int], None] | None = None) -> Path:
    """Writes the report (default RUN_DIR/report.html) and returns its path; `progress` as for build_report."""
    run_dir = Path(run_dir)
    path = Path(out) if out is not None else run_dir / REPORT_FILE
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; name the report's file")
    if run_dir.is_dir() and not path.parent.is_dir():
        raise ConfigError(f"no directory {path.parent} to write the report in")
    text = build_report(run_dir, progress)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    return path
