"""A finding as a regulator reads it, in English or Chinese: the rule's title and the finding's message
translated through the `findings` message catalogue, each value shown by what its placeholder names (a
party with its name, an asset or company by its label, a date in Beijing time, a duration in days).
The HTML report and the `findings` command both render with this module."""

from __future__ import annotations

from ledger.present import fmt
from ledger.present.i18n import translator
from ledger.supervision.rules import text32

_ = translator("findings")

PARTIES = ("who", "identity", "warehouse")
DATES = ("due", "until", "expiry")
DURATIONS = ("late",)
COUNTS = ("count", "cap", "direct", "n", "observed", "declared", "live", "quantity", "cut_to", "value", "threshold", "income",
          "income_threshold")


def asset_label(asset: str, full: bool = False) -> str:
    """`fund:3` as "fund 3" (基金 3), `company:0x…` as the company's code."""
    market, _sep, key = str(asset).partition(":")
    if market == "fund":
        return _("fund {n}").format(n=key)
    if market == "company":
        return fmt.company(key, full=full)
    return str(asset)


def names_of(finding: dict) -> dict[str, str]:
    """id -> name of every party the finding names (the regulator opened them, or the chain records them)."""
    return {str(w["id"]).lower(): w["name"] for w in finding.get("who") or [] if w.get("name")}


def show_value(key: str, value: object, names: dict[str, str], full: bool = False) -> str:
    if key in PARTIES and isinstance(value, str):
        return fmt.party(value, names.get(value.lower()), full)
    if key == "asset":
        return asset_label(str(value), full)
    if key in ("company", "code"):
        return fmt.company(str(value), full=full) if str(value).startswith("0x") else str(value)
    if key in DATES and isinstance(value, int):
        return fmt.date_time(value) if value else _("never")
    if key in DURATIONS and isinstance(value, int):
        return fmt.days(value)
    if key in COUNTS and isinstance(value, int):
        return fmt.number(value)
    if key == "commodity":
        return fmt.commodity(str(value))
    if key == "unit":
        return fmt.unit(str(value))
    if key in ("figure", "kind", "why", "problem"):
        return _(str(value))
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        return text32(value) if text32(value) != value else fmt.short_id(value, full)
    return str(value)


def title(rule_id: str, english: str | None = None) -> str:
    """A rule's title in the reader's language."""
    from ledger.supervision.catalogue.base import RULES_BY_ID

    rule = RULES_BY_ID.get(rule_id)
    return _(rule.title if rule else english or rule_id)


def regulation(rule_id: str) -> str:
    """The regulation a rule enforces, and the article where we are sure of it, in the reader's language."""
    from ledger.supervision.catalogue.base import RULES_BY_ID

    rule = RULES_BY_ID.get(rule_id)
    if rule is None:
        return fmt.NONE
    return _(rule.regulation) + (f" · {_(rule.article)}" if rule.article else "")


def what(finding: dict, full: bool = False) -> str:
    """The finding's message in the reader's language, its values readable."""
    names = names_of(finding)
    values = {k: show_value(k, v, names, full) for k, v in (finding.get("values") or {}).items()}
    try:
        return _(finding["message"]).format(**values)
    except (KeyError, IndexError, ValueError):
        return finding.get("what") or finding.get("message", "")


def who(finding: dict, full: bool = False) -> str:
    """The parties a finding names, with their names and kinds."""
    shown = []
    for w in finding.get("who") or []:
        ident, kind = str(w.get("id") or ""), w.get("kind")
        if ident.startswith(("fund:", "company:")):
            shown.append(asset_label(ident, full))
            continue
        text = fmt.company(ident, None, full) if kind == "company" else fmt.party(ident, w.get("name"), full)
        shown.append(f"{text} ({fmt.kind(kind)})" if kind and kind not in ("company", "member") else text)
    return fmt.join(shown) if shown else fmt.NONE


def when(finding: dict) -> str:
    """The dates and blocks a finding lasted: "2022-05-01 23:59 – 2022-06-01 10:00 (blocks 12–40)"."""
    first, last = finding.get("first_time"), finding.get("last_time")
    blocks = (_("blocks {first}–{last}").format(first=finding["first_block"], last=finding["last_block"])
              if finding.get("last_block") is not None else _("from block {n}").format(n=finding["first_block"]))
    if not first:
        return _("block {n}").format(n=finding["first_block"])
    return f"{fmt.date_range(first, last)} ({blocks})"


def evidence(item: dict, full: bool = False) -> str:
    """One piece of evidence: where it is and what it shows."""
    where = []
    if item.get("chain"):
        where.append(item["chain"])
    if item.get("block") is not None:
        where.append(_("block {n}").format(n=item["block"]))
    if item.get("tx_hash"):
        where.append(_("tx {hash}").format(hash=fmt.short_id(item["tx_hash"], full)))
    if item.get("path"):
        where.append(item["path"])
    if item.get("identity"):
        where.append(_("sealed record of {who}").format(who=fmt.short_id(item["identity"], full)))
    values = {k: show_value(k, v, {}, full) for k, v in (item.get("values") or {}).items()}
    try:
        what = _(item.get("what", "")).format(**values)
    except (KeyError, IndexError, ValueError):
        what = item.get("what", "")
    return f"{' '.join(where)}: {what}"
