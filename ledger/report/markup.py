"""HTML building blocks of the page: tables, badges, cards and sections."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.report.text import esc, fmt


@dataclass
class Raw:
    """A table cell given as ready HTML, with attributes for its <td>."""
    html: str
    attrs: str = ""


def table(headers: list[str], rows: list[list], numeric: set[int] | None = None) -> str:
    """A sortable table; columns in `numeric` are right-aligned, ints with thousands separators."""
    numeric = numeric or set()
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, Raw):
                cells.append(f"<td{cell.attrs}>{cell.html}</td>")
            elif i in numeric:
                shown = fmt(cell) if isinstance(cell, int) else cell
                cells.append(f'<td class="num" data-v="{esc(cell)}">{esc(shown)}</td>')
            else:
                cells.append(f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def badge(ok: bool | None, yes: str, no: str, neither: str = "") -> Raw:
    if ok is None:
        return Raw(f'<span class="badge grey">{esc(neither)}</span>', ' data-v="2"')
    return Raw(f'<span class="badge {"green" if ok else "red"}">{esc(yes if ok else no)}</span>',
               f' data-v="{0 if ok else 1}"')


def card(label: str, value: object, sub: str = "", cls: str = "") -> str:
    return (f'<div class="card {cls}"><div class="cardlabel">{esc(label)}</div>'
            f'<div class="cardvalue">{esc(value)}</div>'
            f'{f"<div class=cardsub>{esc(sub)}</div>" if sub else ""}</div>')


def section(anchor: str, title: str, body: str, intro: str = "") -> str:
    return (f'<section id="{anchor}"><h2>{esc(title)}</h2>'
            f'{f"<p class=intro>{esc(intro)}</p>" if intro else ""}{body}</section>')
