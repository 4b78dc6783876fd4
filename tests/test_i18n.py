"""The message catalogues and the readable formats (ledger.present): languages, lookups at call time, the
compiled .mo files kept up to date with their .po sources, and every msgid the code marks translated."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ledger.errors import ConfigError
from ledger.present import fmt, i18n
from ledger.present.catalogues import compiled, sources, stale

LEDGER = Path(__file__).resolve().parent.parent / "ledger"


def test_languages_resolve_explicit_then_environment_then_english(monkeypatch):
    assert i18n.current_language() == "en"
    monkeypatch.setenv(i18n.ENV_VAR, "zh")
    assert i18n.current_language() == "zh_CN"
    assert i18n.set_language("en") == "en"  # an explicit choice beats the environment
    assert i18n.set_language(None) == "zh_CN"
    for spelling in ("zh", "zh_CN", "zh-CN", "ZH-cn"):
        assert i18n.normalize(spelling) == "zh_CN"
    for bad in ("fr", "", "zh_TW"):
        with pytest.raises(ConfigError, match="unknown language"):
            i18n.set_language(bad)
    monkeypatch.setenv(i18n.ENV_VAR, "klingon")
    with pytest.raises(ConfigError, match="PILOTLEDGER_LANG"):
        i18n.current_language()
    monkeypatch.delenv(i18n.ENV_VAR)


def test_translator_made_at_import_follows_the_language_set_later():
    _ = i18n.translator("common")
    label = i18n.N_("natural person")
    assert _(label) == "natural person"
    i18n.set_language("zh")
    assert _(label) == "自然人"
    assert _("a message nobody translated") == "a message nobody translated"
    assert i18n.html_lang() == "zh-CN"


def test_formats_in_english_and_chinese():
    from ledger.chain.roles import Role

    may_day = 1651420740  # 2022-04-30 15:59 UTC
    company = "0x" + b"BJ-0001".hex() + "00" * 25
    person = "0x1a2b" + "0" * 56 + "9f0e"
    assert fmt.date_time(may_day) == "2022-05-01 23:59" and fmt.date(may_day) == "2022-05-01"
    assert fmt.date_range(may_day, may_day + 9 * 86400) == "2022-05-01 – 2022-05-10"
    assert fmt.days(864000) == "10 days" and fmt.days(86400) == "1 day" and fmt.days(129600) == "1.5 days"
    assert fmt.cny(1_000_000) == "1,000,000 CNY" and fmt.quantity(50, "t") == "50 t"
    assert fmt.roles(Role.PLATFORM | Role.VALIDATOR) == "validator, platform"
    assert fmt.roles(int(Role.REGULATOR), Role) == "regulator" and fmt.roles(Role(0)) == fmt.NONE
    assert fmt.party(person, "Wang Wei") == "Wang Wei (0x1a2b…9f0e)"
    assert fmt.party(person, "Wang Wei", full=True) == f"Wang Wei ({person})"
    assert fmt.company(company) == "BJ-0001" and fmt.company(company, full=True) == f"BJ-0001 ({company})"
    i18n.set_language("zh")
    assert fmt.days(864000) == "10 天" and fmt.cny(1_000_000) == "1,000,000 元"
    assert fmt.quantity(50, "t") == "50 吨" and fmt.commodity("copper") == "铜"
    assert fmt.roles(Role.PLATFORM | Role.VALIDATOR) == "验证者、交易平台"
    assert fmt.date_range(may_day, None) == "自 2022-05-01 起"
    assert fmt.date_time(may_day) == "2022-05-01 23:59"  # dates are the same in both


def test_compiled_catalogues_are_up_to_date_with_their_sources():
    assert {p.stem for p in sources()} >= set(i18n.DOMAINS)
    assert stale() == [], "run: python -m ledger.present.catalogues"


def test_a_placeholder_lost_in_translation_is_refused(tmp_path):
    po = tmp_path / "x.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  'msgid "{n} blocks"\nmsgstr "区块"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="placeholders differ"):
        compiled(po)


def marked_messages() -> dict[str, dict[str, list[str]]]:
    """Every literal msgid the code passes to a translator, per domain: `X = translator("dom")` (or
    plural_translator) at a module's top binds X to a domain; X("..."), and N_("...") in a module that binds
    `_`, are messages of X's (N_: `_`'s) domain."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in sorted(LEDGER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and getattr(node.value.func, "id", "") in ("translator", "plural_translator") \
                    and node.value.args and isinstance(node.value.args[0], ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bound[target.id] = node.value.args[0].value
        if not bound:
            continue
        if "_" in bound:
            bound["N_"] = bound["_"]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in bound:
                for arg in node.args[:2]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        where = f"{path.relative_to(LEDGER.parent)}:{node.lineno}"
                        found.setdefault(bound[node.func.id], {}).setdefault(arg.value, []).append(where)
    return found


@pytest.mark.parametrize("domain", ["common", "report"])
def test_every_marked_message_is_translated(domain):
    """The domains whose owners keep them complete (the others: their owners' tests)."""
    from babel.messages.pofile import read_po

    po = i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and m.string and not m.fuzzy}
    translated |= {m.id[1] for m in catalog if isinstance(m.id, tuple) and m.string}
    missing = {m: w for m, w in marked_messages().get(domain, {}).items() if m not in translated}
    assert missing == {}
