"""SVG drawn in Python: the holding graphs, transactions per block and horizontal bars."""

from __future__ import annotations

import math
from collections import defaultdict

from ledger.report.data import ChainData
from ledger.report.holdings import Graph
from ledger.present import fmt as show
from ledger.present.i18n import translator
from ledger.report.text import clip, esc, fmt, when

_ = translator("report")

MAX_BARS = 400           # blocks per bar before the activity chart groups blocks
KIND_COLORS = {"person": "#dbeafe", "institution": "#ccfbf1", "registered product": "#ede9fe",
               "vehicle": "#ffedd5", "account": "#e2e8f0"}      # box fill per kind of holder
# The kinds above as ledger.present.fmt.kind names them.
KIND_NAMES = {"person": "natural person", "vehicle": "unregistered vehicle"}


def kind_name(kind: str) -> str:
    """A kind of holder in the reader's language ("person" -> natural person / 自然人)."""
    return show.kind(KIND_NAMES.get(kind, kind))


def text_width(text: str, size: float = 12) -> float:
    """About how wide `text` is drawn at `size` px: a CJK character is about a square, a Latin one half."""
    return sum(size if ord(c) > 0x2e80 else size * 0.58 for c in text)


def svg_graph(graph: Graph) -> str:
    """The graph in columns, assets on the right, edges as curves as wide as the share they carry."""
    asset_w, gap, row, box_h, top, char_w = 210, 170, 24, 19, 28, 6.4
    cols = graph.columns
    # Each column as wide as its longest label needs, within bounds.
    widths = [asset_w if i == len(cols) - 1 else
              int(min(300, max(150, char_w * max((len(graph.nodes[k].label) for k in column), default=0) + 14)))
              for i, column in enumerate(cols)]
    xs, x = [], 0
    for w in widths:
        xs.append(x)
        x += w + gap
    width = x - gap
    y: dict[str, float] = {}
    # The holders' column first, grouped by the asset each holds most of.
    asset_col = cols[-1]
    holder_col = cols[-2] if len(cols) > 1 else []
    first_asset = {}
    for source, target, share, *_rest in graph.edges:
        if target in asset_col and (source not in first_asset or share > first_asset[source][1]):
            first_asset[source] = (asset_col.index(target), share)
    holder_col.sort(key=lambda h: (first_asset.get(h, (0, 0))[0], -first_asset.get(h, (0, 0))[1]))
    # A small gap between the groups of holders.
    pos, prev_group = top, None
    for key in holder_col:
        group = first_asset.get(key, (0, 0))[0]
        if prev_group is not None and group != prev_group:
            pos += row // 2
        y[key] = pos
        pos += row
        prev_group = group
    targets = defaultdict(list)
    sources = defaultdict(list)
    for source, target, *_rest in graph.edges:
        targets[target].append(source)
        sources[source].append(target)

    def place(column: list[str], anchors: dict[str, list[str]], height: int) -> None:
        wanted = sorted(((sum(y[a] for a in anchors[k] if a in y) / max(1, sum(1 for a in anchors[k] if a in y))
                          if any(a in y for a in anchors[k]) else 0, k) for k in column))
        floor = top
        for want, key in wanted:
            y[key] = max(want, floor)
            floor = y[key] + height
        column[:] = [k for _want, k in wanted]

    place(asset_col, targets, 2 * row + 8)
    for column in reversed(cols[:-2]):          # investors behind vehicles, next to what they own
        place(column, sources, row)
    height = int(max(y.values(), default=top) + 3 * row)
    parts = [f'<svg class="graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{esc(graph.title)}">']
    for i, column in enumerate(cols):
        label = (_(graph.assets_title) if i == len(cols) - 1 else
                 _("holders") if i == len(cols) - 2 else _("investors behind vehicles"))
        parts.append(f'<text class="coltitle" x="{xs[i]}" y="14">{esc(label)}</text>')
    col_of = {k: i for i, column in enumerate(cols) for k in column}
    edge_parts = []
    for source, target, share, color, tip in graph.edges:
        if source not in col_of or target not in col_of:
            continue
        si, ti = col_of[source], col_of[target]
        y1 = y[source] + box_h / 2
        y2 = y[target] + (box_h if ti == len(cols) - 1 else box_h / 2)
        stroke = 1.2 + 10 * math.sqrt(max(0.0, min(1.0, share)))
        if si == ti:        # a vehicle investing in another vehicle of the same column: an arc on the left
            x1 = x2 = xs[si]
            bulge = x1 - min(gap * 0.6, 25 + abs(y2 - y1) * 0.25)
            d = f"M{x1:.0f},{y1:.0f} C{bulge:.0f},{y1:.0f} {bulge:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            extra = ' stroke-dasharray="5 3"'
            stroke = max(1.2, stroke / 2)
        else:
            x1, x2 = (xs[si] + widths[si], xs[ti]) if si < ti else (xs[si], xs[ti] + widths[ti])
            mid = (x1 + x2) / 2
            d = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            extra = ""
        edge_parts.append(
            f'<path class="gedge" data-a="{esc(source)}" data-b="{esc(target)}" data-tip="{esc(tip)}" '
            f'd="{d}" stroke="{color}" stroke-width="{stroke:.1f}" fill="none"{extra}/>')
    parts += edge_parts
    for i, column in enumerate(cols):
        for key in column:
            node = graph.nodes[key]
            if node.kind == "asset":
                parts.append(
                    f'<g class="gnode" data-k="{esc(key)}" data-tip="{esc(node.tip)}">'
                    f'<rect x="{xs[i]}" y="{y[key]:.0f}" width="{asset_w}" height="{2 * box_h + 6}" rx="5" '
                    f'fill="{node.color}"/>'
                    f'<text class="assetlabel" x="{xs[i] + 8}" y="{y[key] + 15:.0f}">{esc(clip(node.label, 28))}</text>'
                    f'<text class="assetsub" x="{xs[i] + 8}" y="{y[key] + 33:.0f}">{esc(clip(node.sub, 34))}'
                    f'</text></g>')
            else:
                fill = KIND_COLORS.get(node.kind, "#e2e8f0")
                parts.append(
                    f'<g class="gnode" data-k="{esc(key)}" data-tip="{esc(node.tip)}">'
                    f'<rect x="{xs[i]}" y="{y[key]:.0f}" width="{widths[i]}" height="{box_h}" rx="4" fill="{fill}" '
                    f'stroke="#94a3b8" stroke-width="0.6"/>'
                    f'<text class="nodelabel" x="{xs[i] + 6}" y="{y[key] + 13.5:.0f}">'
                    f'{esc(clip(node.label, int((widths[i] - 12) / char_w)))}</text>'
                    f'</g>')
    parts.append("</svg>")
    return "".join(parts)


def nice_step(peak: int, ticks: int = 4) -> int:
    """A whole-number step of 1, 2 or 5 times a power of ten giving at most `ticks` steps up to `peak`."""
    raw = max(1.0, peak / ticks)
    exp = 10 ** math.floor(math.log10(raw))
    return int(next(m * exp for m in (1, 2, 5, 10) if m * exp >= raw))


def svg_blocks(chain: ChainData) -> str:
    """Stacked bars per block: committed, reverted by a contract, refused at the gateway."""
    rows = chain.blocks
    if not rows:
        return '<p class="muted">No blocks.</p>'
    group = max(1, math.ceil(len(rows) / MAX_BARS))
    bins = []
    for i in range(0, len(rows), group):
        chunk = rows[i:i + group]
        bins.append((chunk[0][0], chunk[-1][0], chunk[0][1], chunk[-1][1],
                     sum(r[2] for r in chunk), sum(r[3] for r in chunk), sum(r[4] for r in chunk)))
    width, height, left, right, top, bottom = 1100, 250, 52, 12, 26, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(1, max(b[4] + b[5] + b[6] for b in bins))
    y_step = nice_step(highest)
    peak = y_step * math.ceil(highest / y_step)
    step = plot_w / len(bins)
    bar = max(1.0, step * 0.8)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(_("transactions per block on {chain}").format(chain=chain.name))}">']
    for value in range(0, peak + 1, y_step):
        ty = top + plot_h - plot_h * value / peak
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{fmt(value)}</text>')
    intervals = sorted(b[2] - a[3] for a, b in zip(bins, bins[1:]) if a[3] is not None and b[2] is not None)
    usual = intervals[len(intervals) // 2] if intervals else 0
    for i, (first, last, t0, t1, ok, bad, refused) in enumerate(bins):
        x = left + i * step + (step - bar) / 2
        base = top + plot_h
        label = (_("block {n}").format(n=first) if first == last else
                 _("blocks {first}–{last}").format(first=first, last=last))
        tip = _("{blocks} · {time} · {ok} committed, {bad} reverted by a contract, {refused} refused at the "
                "gateway").format(blocks=label, time=when(t0), ok=ok, bad=bad, refused=refused)
        stack = []
        for value, cls in ((ok, "ok"), (bad, "bad"), (refused, "ref")):
            if value:
                h = plot_h * value / peak
                base -= h
                stack.append(f'<rect class="{cls}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}"/>')
        hit = (f'<rect class="hit" x="{left + i * step:.1f}" y="{top}" width="{step:.1f}" height="{plot_h}"/>')
        parts.append(f'<g class="bar" data-tip="{esc(tip)}">{hit}{"".join(stack)}</g>')
        previous = bins[i - 1][3] if i else None
        if usual and t0 is not None and previous is not None and t0 - previous > max(3600, 20 * usual):
            gx = left + i * step
            gap_text = "+" + show.days(round((t0 - previous) / 86400) * 86400)
            near_end = gx > width - right - 50
            parts.append(f'<line class="gap" x1="{gx:.1f}" x2="{gx:.1f}" y1="{top}" y2="{top + plot_h}"/>'
                         f'<text class="gaplabel" x="{gx - 4 if near_end else gx + 4:.1f}" y="{top + 12}"'
                         f'{" text-anchor=end" if near_end else ""}>{esc(gap_text)}</text>')
    ticks = sorted({round(k * (len(bins) - 1) / 7) for k in range(8)}) if len(bins) > 1 else [0]
    for i in ticks:
        first, _last, t0, *_rest = bins[i]
        tx = left + i * step + step / 2
        date = show.date(t0) if t0 is not None else ""
        anchor = "start" if tx - 32 < left - 40 else "end" if tx + 32 > width else "middle"
        parts.append(f'<text class="tick" x="{tx:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}">#{first}</text>'
                     f'<text class="tick date" x="{tx:.1f}" y="{top + plot_h + 30}" text-anchor="{anchor}">'
                     f'{date}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}"/>')
    legend = [("ok", _("committed")), ("bad", _("reverted by a contract")), ("ref", _("refused at the gateway"))]
    lx = left
    for cls, text in legend:
        parts.append(f'<rect class="{cls}" x="{lx}" y="6" width="11" height="11"/>'
                     f'<text class="legend" x="{lx + 15}" y="15">{esc(text)}</text>')
        lx += 30 + text_width(text)
    axis = (_("x: block number, date below") if group == 1 else
            _("x: block number (bars of {n} blocks), date below").format(n=group))
    parts.append(f'<text class="legend" x="{width - right}" y="15" text-anchor="end">{esc(axis)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_hbars(items: list[tuple[str, int, str]], aria: str) -> str:
    """Horizontal bars: (label, value, css class)."""
    if not items:
        return f'<p class="muted">{esc(_("Nothing was refused."))}</p>'
    label_w, bar_w, row = 210, 300, 24
    width, height = label_w + bar_w + 60, 30 + row * len(items)
    peak = max(v for _label, v, _cls in items) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(aria)}">',
             f'<rect class="ref" x="{label_w}" y="4" width="11" height="11"/>'
             f'<text class="legend" x="{label_w + 15}" y="13">{esc(_("refused at the gateway"))}</text>'
             f'<rect class="bad" x="{label_w + 160}" y="4" width="11" height="11"/>'
             f'<text class="legend" x="{label_w + 175}" y="13">{esc(_("reverted by a contract"))}</text>']
    for i, (label, value, cls) in enumerate(items):
        y = 24 + i * row
        w = max(2, bar_w * value / peak)
        parts.append(f'<g class="bar" data-tip="{esc(label)}: {value}">'
                     f'<rect class="hit" x="0" y="{y}" width="{width}" height="{row}"/>'
                     f'<text class="barlabel" x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
                     f'{esc(clip(label, 38))}</text>'
                     f'<rect class="{cls}" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2"/>'
                     f'<text class="barvalue" x="{label_w + w + 6:.1f}" y="{y + 16}">{value}</text></g>')
    parts.append("</svg>")
    return "".join(parts)

