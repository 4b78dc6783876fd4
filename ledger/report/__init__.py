"""The regulator's report on a run: one self-contained HTML file.

It reads only a run directory's generic files (run.json, ground_truth.json, each
<chain>/ledger.sqlite and the node copies under <chain>/nodes/) and shows the run's
summary, the audit of every chain (ledger.audit.reexecute), the regulator's findings (the rule catalogue) and
the risk alerts, each node's view as the regulator sees it (ledger.audit.views), refused transactions by reason,
planted violations against what was caught or found, transactions per block, and the holding structure as a graph.

Every label goes through the `report` message catalogue (ledger.present.i18n), in the language current when
the report is built (`--lang`, PILOTLEDGER_LANG, else English); dates are Beijing time.

Everything is inline: CSS, SVG charts drawn in Python, and a small script. Modules,
each importing only those before it: text, data, labels, holdings, svg, markup, sections, findings;
assets holds the CSS and scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger.chain.run import RUN_FILE, chain_ledgers, chain_name, run_status, sub_runs
from ledger.errors import ConfigError, LedgerError
from ledger.present.i18n import N_, html_lang, language, plural_translator, translator
from ledger.report.assets import CSS, ERROR_SCRIPT, SCRIPT
from ledger.report.data import TRUTH_FILE, load_run, run_audits
from ledger.report.findings import alerts_of, alerts_section, findings_section, load_findings, match_planted
from ledger.report.holdings import holding_graphs
from ledger.report.labels import scenario
from ledger.report.sections import (activity_section, audit_section, holdings_section, node_names, nodes_section,
                                    planted_section, refusals_section, summary_section)
from ledger.report.text import esc
from ledger.tooling.files import write_atomically

_ = translator("report")
P_ = plural_translator("report")

__all__ = ["REPORT_FILE", "build_report", "default_report_path", "regulator_folders", "write_report"]

REPORT_FILE = "report.html"
NAV = (("summary", N_("Summary")), ("audit", N_("Audit")), ("findings", N_("Findings")),
       ("alerts", N_("Risk alerts")), ("activity", N_("Transactions per block")), ("refusals", N_("Refusals")),
       ("planted", N_("Planted vs caught")), ("holdings", N_("Holding structure")), ("nodes", N_("Per-node views")))


def build_report(run_dir: Path, progress: Callable[[int], None] | None = None, lang: str | None = None,
                 out_dir: Path | None = None) -> str:
    """The regulator's report on the run in `run_dir`, as one self-contained HTML document.

    `progress`, if given, is called with 1 per block the audit re-executes. `lang` ("en", "zh", ...) builds it in
    that language (default: the current one); `out_dir` is where it will be written (default `run_dir`), so that
    links to document files resolve."""
    with language(lang):
        return _build(Path(run_dir), progress, Path(out_dir) if out_dir is not None else Path(run_dir))


def _build(run_dir: Path, progress: Callable[[int], None] | None, out_dir: Path) -> str:
    run = load_run(run_dir)
    summary, planted, chains = run.summary, run.planted, run.chains
    status = run_status(run_dir)
    incomplete = "" if status.complete else status.describe()
    if incomplete:  # no run.json yet: the marker names the scenario and the seed
        summary = {"scenario": status.scenario, "seed": status.seed, **summary}
    opened = {item["identity"].lower(): item["personal"]["name"]
              for c in chains for v in c.views.values() for item in v["private_data"]["items"]
              if not item["sealed"] and item["personal"].get("name")}
    graphs = [g for c in chains for g in holding_graphs(c, opened)]
    audits, audit_error = run_audits(run_dir, progress)
    verified = audit_error is None and audits and all(a.verified for a in audits)
    findings, findings_error = load_findings(run_dir)
    alerts = alerts_of(summary)
    names = {**node_names(chains), **opened}
    times = {(c.name, b[0]): b[1] for c in chains for b in c.blocks}
    title = _("{scenario} · seed {seed}").format(scenario=scenario(summary.get("scenario", run_dir.name)),
                                                  seed=summary.get("seed", "?"))
    sections = [
        summary_section(summary, chains, planted, findings, alerts, incomplete),
        audit_section(audits, audit_error),
        findings_section(findings, findings_error, names, run_dir, out_dir),
        alerts_section(alerts, names, times),
        activity_section(chains),
        refusals_section(chains, planted),
        planted_section(planted, match_planted(planted, findings), incomplete),
        holdings_section(graphs),
        nodes_section(chains),
    ]
    nav = "".join(f'<a href="#{a}">{esc(_(t))}</a>' for a, t in NAV)
    status = _("audit: every chain verified") if verified else _("audit: PROBLEMS FOUND")
    chains_text = P_("{n} chain", "{n} chains", len(chains)).format(n=len(chains))
    heading = _("pilotledger · regulator’s report · {title}").format(title=title)
    footer = _("Written by {command} from the run directory’s own files.").format(
        command="<code>pilotledger report</code>") + " " + esc(_(
        "It names investors from the members’ sealed stores, opened with the regulator’s key: keep it with the "
        "regulator’s own files."))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html_lang()}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{esc(heading)}</title><script>{ERROR_SCRIPT}</script>"
        f"<style>{CSS}</style></head><body>"
        f'<header><h1>{esc(heading)}</h1>'
        f'<div class="meta">{esc(run_dir)} · {esc(chains_text)} · {esc(status)}</div></header>'
        f"<nav>{nav}</nav><main>{''.join(sections)}</main>"
        f"<footer>{footer}</footer>"
        f'<div id="tip"></div><script>{SCRIPT}</script></body></html>\n')


def regulator_folders(run_dir: Path) -> list[Path]:
    """The folders of the run's regulators, in the order of the chains: RUN_DIR/<chain>/nodes/<REGULATOR>/ for
    each organisation holding the regulator role on a chain now, where its keystore and its copy of the ledger
    are (whether or not they are there). A chain whose ledger cannot be read names none."""
    from ledger.supervision.replay import active_regulators

    folders = []
    for ledger in chain_ledgers(run_dir):
        try:
            folders += [ledger.parent / "nodes" / r for r in active_regulators(ledger)]
        except LedgerError:
            continue
    return folders


def _within(run_dir: Path, folder: Path) -> bool:
    """Is `folder` a real folder of the run: there, and no link on the way to it from RUN_DIR?"""
    return folder.is_dir() and folder.resolve() == run_dir.resolve() / folder.relative_to(run_dir)


def default_report_path(run_dir: Path, folders: list[Path]) -> Path:
    """Where the report goes without --out, given the run's regulator_folders: the first regulator's folder (it
    names investors, whose personal data only the regulator may open, so it stays with the regulator's own
    files), or RUN_DIR/report.html for a run with no regulator. A regulator whose folder is missing or reached
    through a link: ConfigError (never the folder every member reads instead)."""
    if not folders:
        return run_dir / REPORT_FILE
    if not _within(run_dir, folders[0]):
        raise ConfigError(f"the regulator's folder {folders[0]} is missing or reached through a link; write the "
                          "report with --out")
    return folders[0] / REPORT_FILE


def write_report(run_dir: Path, out: Path | None = None, progress: Callable[[int], None] | None = None,
                 force: bool = False) -> Path:
    """Writes the report (default: default_report_path, which it replaces) and returns its path; `progress` as
    for build_report. An `out` that exists is replaced only with `force`, and never inside a chain's folder
    (its ledger, certificates and members' files are the run itself) but in a regulator's own folder."""
    run_dir = Path(run_dir)
    folders = regulator_folders(run_dir)  # each chain's membership replayed once, for both uses below
    path = Path(out) if out is not None else default_report_path(run_dir, folders)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; name the report's file")
    if run_dir.is_dir() and not path.parent.is_dir():
        raise ConfigError(f"no directory {path.parent} to write the report in")
    target = path.resolve()
    regulators = {f.resolve() for f in folders if _within(run_dir, f)}
    for ledger in chain_ledgers(run_dir):
        if target.is_relative_to(ledger.parent.resolve()) and not (
                target.parent in regulators and target.suffix == ".html"):
            raise ConfigError(f"{path} is inside chain {chain_name(run_dir, ledger)}'s folder; write the report "
                              "elsewhere (or as an .html file in the regulator's own folder)")
    runs = {p.resolve() for p in (run_dir, *sub_runs(run_dir))}
    if target.name in (RUN_FILE, TRUTH_FILE) and target.parent in runs:
        raise ConfigError(f"{path} is the run's own {target.name}; write the report elsewhere")
    if out is not None and path.exists() and not force:
        raise ConfigError(f"{path} exists; choose another file or replace it with --force")
    text = build_report(run_dir, progress, out_dir=path.parent)
    # Written beside and moved into place: a link planted where the report goes is replaced, never written through.
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror} (choose another file with --out)") from None
    return path
