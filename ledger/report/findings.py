"""The report's Findings and Risk-alerts sections, and which finding found each violation planted for the
regulator.

Findings come from the rule catalogue (`ledger.supervision.catalogue.findings(run_dir)`, each `to_json()`'s
dict: rule, title, regulation, article, who, message + values, first/last block and time, cured, evidence).
Until the catalogue is in the tree, `load_findings` adapts the older detectors
(`ledger.supervision.lookthrough.findings`) to that shape; the sections read only the dicts.
Alerts are run.json's "alerts": rule, chain, block, time, subject, detail (and message + values when the
monitor gives them)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from ledger.errors import PilotLedgerError
from ledger.present import fmt as show
from ledger.present.i18n import plural_translator, translator
from ledger.report.labels import chain as chain_label, detail, rule_title
from ledger.report.markup import Raw, badge, section, table
from ledger.report.text import esc, when

_ = translator("report")
P_ = plural_translator("report")
F_ = translator("findings")

def load_findings(run_dir: Path) -> tuple[list[dict], str | None]:
    """Every finding on the run, numbered in the report's order (by rule, then first block), or the error
    that stopped the catalogue."""
    from ledger.supervision.catalogue import findings

    try:
        found = [f.to_json() for f in findings(run_dir)]
    except PilotLedgerError as exc:
        return [], str(exc)
    except Exception as exc:  # a rule's bug must not cost the regulator the rest of the report
        return [], f"{type(exc).__name__}: {exc}"
    found.sort(key=lambda f: (f["rule"], f["chain"], f["first_block"] or 0))
    return [{**f, "number": i + 1} for i, f in enumerate(found)], None


def match_planted(planted: list[dict], findings: list[dict]) -> dict[int, dict]:
    """Each violation planted for the regulator (by its index) -> the finding that found it, each finding used
    once, matched as the catalogue's score() matches: the same rule and the same identifying subject fields."""
    from ledger.supervision.catalogue import RULES_BY_ID, subject_key

    unused: dict[tuple, list[dict]] = defaultdict(list)
    for f in findings:
        unused[subject_key(f["rule"], f["subject"])].append(f)
    matches: dict[int, dict] = {}
    for i, p in enumerate(planted):
        rule = RULES_BY_ID.get(p.get("kind", ""))
        if p.get("detect") == "chain" or rule is None:
            continue
        key = subject_key(rule.id, {k: (p.get("subject") or {}).get(k) for k in rule.subject})
        if unused.get(key):
            matches[i] = unused[key].pop(0)
    return matches


# ------------------------------------------------------------------ Findings


def _who(who: list[dict], names: dict[str, str]) -> str:
    shown = []
    for w in who or []:
        ident = str(w.get("id") or "")
        name = w.get("name") or names.get(ident.lower())
        # the kind of party (a fund or company is named as one already)
        kind = show.kind(w.get("kind")) if w.get("kind") and w.get("kind") not in ("fund", "company") else ""
        asset, _colon, rest = ident.partition(":")
        if asset == "company" and rest.startswith("0x"):
            text = show.company(rest, name)
        elif asset == "fund" and rest.isdigit():
            text = name or _("fund {n}").format(n=rest)
        elif len(ident) == 66 and show.company_code(ident):
            text = show.company(ident, name)
        else:
            text = show.party(ident, name)
        shown.append(f"{text}, {kind}" if kind else text)
    return "; ".join(shown) or show.NONE


_TIMES = ("time", "due", "deadline", "expiry", "at")
_DURATIONS = ("late", "delay", "overdue", "term", "duration")
_TONNES = ("quantity", "observed", "declared", "live", "shortfall", "phantom", "stock")
_MONEY = ("amount", "received", "paid", "price", "cny")
_AS_IS = ("block", "fund", "receipt", "id", "count", "cap", "holders", "investors", "version", "index")


def readable(key: str, value: object, names: dict[str, str]) -> object:
    """One value of a finding's message, shown by its name (the convention in NOTES: times, durations,
    quantities in kg, CNY amounts, ids with names)."""
    k = key.lower()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return show.join(str(readable(key, v, names)) for v in value)
    if isinstance(value, (int, float)):
        if any(k == w or k.endswith("_" + w) for w in _AS_IS) or "block" in k:
            return value
        if k in _TIMES or k.endswith(("_time", "_at", "_due", "deadline", "expiry")):
            return show.date_time(value)
        if k in _DURATIONS or k.endswith(("_seconds", "duration", "_late", "_delay")):
            return show.days(value)
        if k in _TONNES or k.endswith("_kg"):
            return show.quantity(value / 1000, "t")
        if k in _MONEY or k.endswith(("_cny", "_amount")):
            return show.cny(value)
        return show.number(value) if abs(value) >= 10_000 else value
    if isinstance(value, str):
        asset, _colon, rest = value.partition(":")
        if asset == "fund" and rest.isdigit():
            return _("fund {n}").format(n=rest)
        if asset == "company" and rest.startswith("0x"):
            return show.company(rest, names.get(rest.lower()))
        if k == "commodity" or k.endswith("_commodity"):
            return show.commodity(value)
        if not value.startswith("0x"):
            return F_(value)  # a word or phrase of the rule (a kind of document, a problem), if catalogued
        if value.startswith("0x") and len(value) == 66:
            return show.company(value, names.get(value.lower())) if show.company_code(value) else \
                show.party(value, names.get(value.lower()))
        if value.startswith("0x") and len(value) == 42:
            return show.party(value, names.get(value.lower()))
    return value


def _what(f: dict, names: dict[str, str]) -> str:
    """The finding's message in the reader's language: its template translated in the findings domain, filled
    with its values made readable; the English `what` if the template does not fill."""
    message = f.get("message")
    if message:
        values = {k: readable(k, v, names) for k, v in (f.get("values") or {}).items()}
        try:
            return F_(message).format(**values)
        except (KeyError, IndexError, ValueError, AttributeError):
            pass
    return f.get("what") or message or ""


def _when(f: dict) -> Raw:
    first, last = f.get("first_time"), f.get("last_time")
    span = show.date_range(first, last) if first is not None else show.NONE
    blocks = (_("blocks {first}–{last}").format(first=f["first_block"], last=f["last_block"])
              if f.get("last_block") is not None and f.get("first_block") is not None
              else _("from block {n}").format(n=f["first_block"]) if f.get("first_block") is not None else "")
    return Raw(f'{esc(span)}<div class="muted">{esc(blocks)}</div>', f' data-v="{esc(first or 0)}"')


def _status(f: dict) -> Raw:
    if f.get("cured"):
        return badge(True, _("cured at block {n}").format(n=f.get("last_block")), "")
    return badge(False, "", _("still in breach"))


def _filled(template: str, values: dict, names: dict[str, str]) -> str:
    """A template of the findings domain in the reader's language, filled with its values made readable."""
    shown = {k: readable(k, v, names) for k, v in (values or {}).items()}
    for text in (F_(template), template):
        try:
            return text.format(**shown)
        except (KeyError, IndexError, ValueError, AttributeError):
            continue
    return template


def _evidence(items: list[dict], report_dir: Path | None, run_dir: Path, names: dict[str, str],
              several: bool) -> Raw:
    """Each piece of evidence: a transaction (its hash in full in a tooltip), a block, or a document file
    (a link relative to the report)."""
    out = []
    for e in items or []:
        kind = e.get("type")
        what = e.get("what") or ""
        where = []
        if e.get("chain") and several:
            where.append(chain_label(e["chain"]))
        if e.get("block") is not None:
            where.append(_("block {n}").format(n=e["block"]))
        head = " · ".join(where)
        if kind == "tx" and e.get("tx_hash"):
            tx = e["tx_hash"]
            head += (" · " if head else "") + _("transaction")
            link = f'<code title="{esc(tx)}">{esc(show.short_id(tx))}</code>'
        elif kind == "document" and e.get("path"):
            path = Path(e["path"])
            target = path if path.is_absolute() else run_dir / path
            href = os.path.relpath(target, report_dir) if report_dir else str(target)
            link = f'<a href="{esc(href)}"><code>{esc(e["path"])}</code></a>'
        else:
            link = ""
        text = _filled(what, e.get("values"), names) if e.get("values") else F_(detail(what))
        lead = f"{esc(head)} {link}".strip()
        out.append(f'<li>{lead}{" — " if lead and text else ""}{esc(text)}</li>')
    return Raw(f'<ul class="evidence">{"".join(out)}</ul>' if out else show.NONE)


def findings_section(findings: list[dict], error: str | None, names: dict[str, str], run_dir: Path,
                     report_dir: Path | None) -> str:
    intro = _("What the regulator’s rule catalogue finds over each chain’s whole sealed history, looking "
              "through every vehicle: one table per rule, with the regulation it enforces, who, what, when (Beijing time) and "
              "the evidence. A breach that was later cured is still a finding, with the block that cured it.")
    if error:
        return section("findings", _("Findings"),
                       f'<div class="problem">{esc(_("The detectors could not run: {error}").format(error=error))}</div>',
                       intro)
    if not findings:
        return section("findings", _("Findings"), f'<p class="muted">{esc(_("No findings: no rule is breached."))}</p>',
                       intro)
    by_rule: dict[str, list[dict]] = defaultdict(list)
    for f in findings:
        by_rule[f.get("rule", "")].append(f)
    parts = []
    for rule, items in by_rule.items():
        first = items[0]
        title = F_(first["title"]) if first.get("title") and first["title"] != rule else rule_title(rule)
        regulation = F_(first["regulation"]) if first.get("regulation") else ""
        article = F_(first["article"]) if first.get("article") else ""
        source = " ".join(x for x in (regulation, article) if x)
        several = len({f.get("chain") for f in findings}) > 1
        rows = [[f["number"]] + ([chain_label(f.get("chain", ""))] if several else [])
                + [_who(f.get("who", []), names), _what(f, names), _when(f), _status(f),
                   _evidence(f.get("evidence", []), report_dir, run_dir, names, several)] for f in items]
        headers = ["#"] + ([_("chain")] if several else []) + [_("who"), _("what"), _("when"), _("status"),
                                                              _("evidence")]
        parts.append(
            f'<h3>{esc(title)} <span class="muted"><code>{esc(rule)}</code> · '
            f'{esc(P_("{n} finding", "{n} findings", len(items)).format(n=len(items)))}</span></h3>'
            + (f'<p class="regulation">{esc(_("Regulation: {source}").format(source=source))}</p>' if source else "")
            + table(headers, rows, numeric={0}))
    return section("findings", _("Findings"), "".join(parts), intro)


# ------------------------------------------------------------------ Risk alerts


def _subject(subject: object, names: dict[str, str]) -> str:
    """An alert's subject ("fund:3", "company:0x…", "0xwarehouse/0xcommodity", a certificate hash) readable."""
    if isinstance(subject, dict):
        return "; ".join(f"{k}: {_subject(v, names)}" for k, v in subject.items())
    parts = []
    for piece in str(subject).split("/"):
        kind, _colon, rest = piece.partition(":")
        if kind == "fund" and rest:
            parts.append(_("fund {n}").format(n=rest))
        elif kind == "company" and rest:
            parts.append(show.company(rest))
        elif piece.startswith("0x") and len(piece) == 66 and show.company_code(piece):
            code = show.company_code(piece)
            parts.append(show.commodity(code))
        elif piece.startswith("0x"):
            parts.append(show.party(piece, names.get(piece.lower())))
        else:
            parts.append(show.commodity(piece))  # a commodity by its name; other text as it is
    return " / ".join(parts)


def _alert_text(alert: dict, names: dict[str, str]) -> Raw:
    message = alert.get("message")
    if message:
        values = {k: readable(k, v, names) for k, v in (alert.get("values") or {}).items()}
        try:
            return Raw(esc(F_(message).format(**values)))
        except (KeyError, IndexError, ValueError, AttributeError):
            pass
    text = str(alert.get("detail", ""))
    shown = detail(text, names)
    return Raw(f'<span title="{esc(text)}">{esc(shown)}</span>' if shown != text else esc(text))


def alerts_section(alerts: list[dict], names: dict[str, str], times: dict[tuple[str, int], int]) -> str:
    intro = _("Risk warnings the monitor raised as blocks were committed, each at the block that made the risk "
              "visible (run.json’s alerts).")
    if not alerts:
        return section("alerts", _("Risk alerts"), f'<p class="muted">{esc(_("No risk alerts were raised."))}</p>',
                       intro)
    rows = []
    for a in sorted(alerts, key=lambda a: (a.get("chain", ""), a.get("block") or 0)):
        time = a.get("time", times.get((a.get("chain", ""), a.get("block"))))
        rows.append([Raw(f'{esc(rule_title(a.get("rule", "")))}<div class="muted"><code>{esc(a.get("rule", ""))}'
                         f'</code></div>', f' data-v="{esc(a.get("rule", ""))}"'),
                     chain_label(a.get("chain", "")), a.get("block", show.NONE), when(time),
                     _subject(a.get("subject", ""), names), _alert_text(a, names)])
    return section("alerts", _("Risk alerts"),
                   table([_("risk"), _("chain"), _("block"), _("time"), _("subject"), _("detail")], rows,
                         numeric={2}), intro)


def alerts_of(summary: dict) -> list[dict]:
    alerts = summary.get("alerts", [])
    return [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []


__all__ = ["alerts_of", "alerts_section", "findings_section", "load_findings", "match_planted"]
