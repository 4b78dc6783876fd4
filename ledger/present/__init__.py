"""Readable, translated output shared by every reader of a run (the CLI, the report, the findings).

    i18n      gettext catalogues per domain (common, report, cli, findings), --lang / PILOTLEDGER_LANG
    fmt       Beijing-time dates, durations in days, CNY amounts, quantities with units, role names,
              names beside short (or full) ids, company codes
    catalogues  compiles the .po sources into the .mo files gettext reads (Babel; a developer's tool)

It sits just above `errors`: it knows nothing of chains, so every stage may use it."""

from __future__ import annotations

from ledger.present.i18n import (N_, current_language, html_lang, language, plural_translator, set_language,
                                 translator)

# `from ledger.present import fmt` loads the formats (a submodule, not imported here: no cycle).
__all__ = ["N_", "current_language", "html_lang", "language", "plural_translator", "set_language", "translator"]
