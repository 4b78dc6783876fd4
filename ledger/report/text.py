"""Plain-text formatting shared by the report: escaping, numbers, ids, dates (Beijing time), clipping."""

from __future__ import annotations

import html

from ledger.present.fmt import date_time


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def short(hex_id: str, n: int = 6) -> str:
    return f"{hex_id[:2 + n]}…" if len(hex_id) > 2 + n else hex_id


def bytes32_text(value: str) -> str:
    """A bytes32 holding short ASCII text (an org id, a company code) as that text, else shortened hex."""
    try:
        raw = bytes.fromhex(value[2:]).rstrip(b"\0")
        text = raw.decode("ascii")
        if text and text.isprintable():
            return text
    except (ValueError, UnicodeDecodeError):
        pass
    return short(value)


def when(timestamp: int | None) -> str:
    """Beijing time, the pilots' clock: "2022-05-01 23:59"."""
    return date_time(timestamp)


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def pairs(value: dict) -> str:
    """A dict of call arguments as "k=v, …", long hex values shortened."""
    return ", ".join(f"{k}={short(v, 10) if isinstance(v, str) and v.startswith('0x') else v}"
                     for k, v in value.items())
