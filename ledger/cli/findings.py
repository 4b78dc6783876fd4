"""`findings` and `rules`: what the rule catalogue finds on a run, and the catalogue itself."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from ledger.cli.common import CONTEXT, FULL_OPTION, JSON_OPTION, LANG_OPTION, RUN_DIR_ARG, echo_json, table
from ledger.errors import ConfigError
from ledger.present import fmt
from ledger.present.i18n import translator

_ = translator("cli")
F_ = translator("findings")  # the rules' own texts


def _parameter(_ctx, _param, values: tuple[str, ...]) -> dict[str, float]:
    """RULE.PARAM=N pairs: N a finite number, not negative (10000000, 1e7, 0.8)."""
    out = {}
    for text in values:
        name, sep, value = text.partition("=")
        try:
            number = float(value.replace(",", "").replace("_", ""))
        except ValueError:
            number = float("nan")
        if not sep or not (0 <= number < float("inf")):
            raise click.BadParameter(f"{text!r}: write RULE.PARAM=N with N a number not below 0, e.g. "
                                     "kyc_against_data.person_financial_assets=5000000")
        out[name.strip()] = int(number) if number.is_integer() else number
    return out


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--rule", "rules", multiple=True, metavar="RULE", help="Only this rule (repeatable; see `rules`).")
@click.option("--set", "overrides", multiple=True, metavar="RULE.PARAM=N", callback=_parameter,
              help="A rule parameter other than the regulation's default (repeatable; see `rules`).")
@JSON_OPTION
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per finding instead of a table.")
@FULL_OPTION
@LANG_OPTION
def findings(run_dir: Path, rules: tuple[str, ...], overrides: dict, as_json: bool, as_csv: bool, full: bool) -> None:
    """Every finding of the supervision rule catalogue on RUN_DIR (any run, a `run scenario all` run too):
    the rule, the regulation it enforces, who, what, when (Beijing time) and the evidence (blocks,
    transactions, documents). Read from the sealed ledgers and what the regulator opens of the sealed
    stores; ground_truth.json is never read. A breach later cured is a finding with its block range."""
    from ledger.supervision.catalogue import findings as evaluate, resolve_params

    if as_json and as_csv:
        raise ConfigError("choose one of --json and --csv")
    found = [f.to_json() for f in evaluate(run_dir, resolve_params(overrides), rules or None)]
    if as_json:
        echo_json({"run_dir": str(run_dir), "findings": found})
    elif as_csv:
        click.echo(render_csv(found, full), nl=False)
    else:
        click.echo(render(run_dir, found, full))


def render(run_dir: Path, found: list[dict], full: bool) -> str:
    from ledger.supervision.catalogue import text

    lines = [_("findings on {run}: {n}").format(run=run_dir, n=len(found))]
    for number, f in enumerate(found, 1):
        status = (_("cured at block {n}").format(n=f["last_block"]) if f["cured"] else _("still in breach"))
        rows = [(_("regulation"), text.regulation(f["rule"])), (_("chain"), f["chain"]), (_("who"), text.who(f, full)), (_("what"), text.what(f, full)),
                (_("when"), f"{text.when(f)} · {status}")]
        rows += [(_("evidence") if i == 0 else "", text.evidence(e, full)) for i, e in enumerate(f["evidence"][:8])]
        if len(f["evidence"]) > 8:
            rows.append(("", _("… and {n} more (--json for all)").format(n=len(f["evidence"]) - 8)))
        lines += ["", f"{number}. {text.title(f['rule'])} [{f['rule']}]", table(rows, indent=3)]
    return "\n".join(lines)


CSV_FIELDS = ("rule", "title", "regulation", "article", "chain", "subject", "who", "what", "first_block", "first_date",
              "last_block", "last_date", "cured", "evidence")


def render_csv(found: list[dict], full: bool) -> str:
    from ledger.supervision.catalogue import RULES_BY_ID, text

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for f in found:
        regulation = RULES_BY_ID[f["rule"]]
        writer.writerow([f["rule"], text.title(f["rule"]), F_(regulation.regulation),
                         F_(regulation.article) if regulation.article else "", f["chain"],
                         json.dumps(f["subject"], ensure_ascii=False), text.who(f, full), text.what(f, full),
                         f["first_block"], fmt.date_time(f["first_time"]) if f["first_time"] else "",
                         "" if f["last_block"] is None else f["last_block"],
                         fmt.date_time(f["last_time"]) if f["last_time"] else "", f["cured"],
                         json.dumps(f["evidence"], ensure_ascii=False)])
    return out.getvalue()


@click.command(context_settings=CONTEXT)
@JSON_OPTION
@LANG_OPTION
def rules(as_json: bool) -> None:
    """The supervision rule catalogue: each rule's id, the regulation (and article) it enforces, its
    parameters with their defaults and units (change one with `findings --set RULE.PARAM=N`), and the
    evidence its findings carry."""
    from ledger.supervision.catalogue import CATALOGUE, text

    if as_json:
        echo_json([{"id": r.id, "market": r.market, "title": r.title, "regulation": r.regulation,
                    "article": r.article, "subject": list(r.subject), "evidence": r.evidence,
                    "reads_sealed_data": r.needs_sealed,
                    "parameters": [{"name": p.name, "default": p.default, "unit": p.unit, "doc": p.doc}
                                   for p in r.params]} for r in CATALOGUE])
        return
    blocks = []
    for r in CATALOGUE:
        rows = [(_("regulation"), text.regulation(r.id)), (_("evidence"), F_(r.evidence))]
        rows += [(_("parameter") if i == 0 else "",
                  f"{r.id}.{p.name} = {fmt.number(p.default)} {F_(p.unit)}: {F_(p.doc)}") for i, p in enumerate(r.params)]
        blocks.append(f"{text.title(r.id)} [{r.id}]\n{table(rows, indent=3)}")
    click.echo("\n\n".join(blocks))
