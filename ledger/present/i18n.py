"""Message catalogues: stdlib gettext over the compiled .mo files in ledger/locale/<lang>/LC_MESSAGES/.

One domain per owner, so translators and developers never edit the same file: `common` (units, roles, kinds of
party, shared by everyone: ledger.present.fmt), `report` (the HTML report), `cli` (the command line) and
`findings` (rule titles and finding messages). English is the source language: a msgid is the English text, and
English needs no catalogue.

The language is resolved at each lookup, so text translated after `set_language` (or after PILOTLEDGER_LANG is
set) follows it even where the translator was made at import time: an explicit choice (`--lang`) wins, then the
environment's PILOTLEDGER_LANG, then English."""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ledger.errors import ConfigError

__all__ = ["DOMAINS", "ENV_VAR", "LANGUAGES", "LOCALE_DIR", "N_", "html_lang", "language", "normalize", "set_language",
           "current_language", "translator", "plural_translator"]

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAINS = ("common", "report", "cli", "findings")
ENV_VAR = "PILOTLEDGER_LANG"
ENGLISH, CHINESE = "en", "zh_CN"
LANGUAGES = (ENGLISH, CHINESE)
# What a user may type (case-insensitive) -> the catalogue's language.
_ALIASES = {"en": ENGLISH, "en_us": ENGLISH, "en_gb": ENGLISH, "english": ENGLISH,
            "zh": CHINESE, "zh_cn": CHINESE, "zh_hans": CHINESE, "zh_hans_cn": CHINESE, "cn": CHINESE}

_chosen: str | None = None  # set by set_language; None: the environment decides


def normalize(lang: str, source: str = "--lang") -> str:
    """`zh`, `zh_CN`, `zh-CN` -> "zh_CN"; `en` -> "en"; anything else is a ConfigError naming `source`."""
    key = lang.strip().lower().replace("-", "_").split(".")[0]  # zh_CN.UTF-8 as a locale variable spells it
    if key not in _ALIASES:
        raise ConfigError(f"{source}: unknown language {lang!r}; use en or zh (zh_CN, zh-CN)")
    return _ALIASES[key]


def set_language(lang: str | None) -> str:
    """Chooses the language for every later lookup (None: back to PILOTLEDGER_LANG, else English) and returns it.
    A bad name, here or in the environment, is a one-line ConfigError."""
    global _chosen
    _chosen = None if lang is None else normalize(lang)
    return current_language()


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """`with language("zh"):` builds something in that language and restores the choice before it; None
    changes nothing."""
    global _chosen
    before = _chosen
    try:
        yield set_language(lang) if lang is not None else current_language()
    finally:
        _chosen = before


def current_language() -> str:
    if _chosen is not None:
        return _chosen
    env = os.environ.get(ENV_VAR, "").strip()
    return normalize(env, ENV_VAR) if env else ENGLISH


def html_lang() -> str:
    """The current language as an HTML lang attribute: "en" or "zh-CN"."""
    return current_language().replace("_", "-")


@lru_cache(maxsize=None)
def _catalogue(domain: str, lang: str) -> gettext.NullTranslations:
    if domain not in DOMAINS:
        raise ValueError(f"unknown message domain {domain!r}; one of {', '.join(DOMAINS)}")
    if lang == ENGLISH:
        return gettext.NullTranslations()
    return gettext.translation(domain, str(LOCALE_DIR), languages=[lang], fallback=True)


def translator(domain: str) -> Callable[[str], str]:
    """`_ = translator("report")`, then `_("Refusals")`: the message in the language current at the call."""
    def _(message: str) -> str:
        return _catalogue(domain, current_language()).gettext(message)
    _.__doc__ = f"gettext in the {domain!r} domain, in the language current at the call"
    return _


def plural_translator(domain: str) -> Callable[[str, str, int], str]:
    """`ngettext` in `domain`: `P_("{n} block", "{n} blocks", n).format(n=n)`."""
    def ngettext(singular: str, plural: str, n: int) -> str:
        return _catalogue(domain, current_language()).ngettext(singular, plural, n)
    return ngettext


def N_(message: str) -> str:
    """Marks a msgid defined at import time (a table of labels) for translation later: returns it unchanged."""
    return message
