"""Compiles the message catalogues: each ledger/locale/<lang>/LC_MESSAGES/<domain>.po into the .mo beside it,
which is what gettext reads at run time (both are committed, so an install needs no compiling).

    python -m ledger.present.catalogues [DOMAIN...]          compile every .po (of DOMAINs) whose .mo differs
    python -m ledger.present.catalogues --check [DOMAIN...]  exit 1 naming each .mo that is not up to date

Babel does the compiling; it is imported here only, so reading a catalogue never loads it."""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

from ledger.errors import ConfigError
from ledger.present.i18n import LOCALE_DIR

__all__ = ["compiled", "sources", "stale", "compile_all"]

FIXED_DATE = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)


def sources(locale_dir: Path = LOCALE_DIR, domains: list[str] | None = None) -> list[Path]:
    return sorted(p for p in locale_dir.glob("*/LC_MESSAGES/*.po") if not domains or p.stem in domains)


def compiled(po: Path) -> bytes:
    """The .mo bytes of one .po file (fuzzy entries left out, as gettext's msgfmt does); a syntax error or a
    translation whose {placeholders} differ from its msgid's is a ConfigError naming the file and line."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import PoFileError, read_po

    try:
        with po.open("rb") as f:
            catalog = read_po(f, abort_invalid=True)
    except PoFileError as exc:
        raise ConfigError(f"{po}: {exc}") from None
    if b"POT-Creation-Date:" not in po.read_bytes():
        catalog.creation_date = FIXED_DATE  # else Babel writes the time of compiling: a .mo would never be up to date
    errors = [f"{po}:{m.lineno}: {e}" for m, errs in catalog.check() for e in errs]
    errors += [f"{po}:{m.lineno}: placeholders differ in {m.id!r}" for m in catalog
               if m.id and m.string and not m.fuzzy and _placeholders(m.id) != _placeholders(m.string)]
    if errors:
        raise ConfigError("; ".join(errors))
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _placeholders(text: str | tuple) -> set[str]:
    import string

    texts = text if isinstance(text, tuple) else (text,)
    return {name for t in texts if t for _, name, _, _ in string.Formatter().parse(t) if name is not None}


def stale(locale_dir: Path = LOCALE_DIR, domains: list[str] | None = None) -> list[Path]:
    """The .mo files (of `domains`, default all) missing or differing from what their .po compiles to."""
    return [po.with_suffix(".mo") for po in sources(locale_dir, domains)
            if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").read_bytes() != compiled(po)]


def compile_all(locale_dir: Path = LOCALE_DIR, domains: list[str] | None = None) -> list[Path]:
    """Writes each stale .mo (of `domains`, default all); returns those written."""
    written = stale(locale_dir, domains)
    for mo in written:
        mo.write_bytes(compiled(mo.with_suffix(".po")))
    return written


def main(argv: list[str]) -> int:
    domains = [a for a in argv if not a.startswith("-")] or None
    try:
        if "--check" in argv:
            out = stale(domains=domains)
            for mo in out:
                print(f"not up to date: {mo} (run python -m ledger.present.catalogues)")
            return 1 if out else 0
        for mo in compile_all(domains=domains):
            print(f"compiled {mo}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
