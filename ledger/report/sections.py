"""The report's sections, each as HTML: summary, audit, activity, refusals, planted
violations, holding structure and the per-node views (findings and risk alerts: ledger.report.findings).
Every label goes through the report's message catalogue, in the language current at the call."""

from __future__ import annotations

from collections import Counter, defaultdict

from ledger.audit.reexecute import Audit
from ledger.present import fmt as show
from ledger.present.i18n import current_language, translator
from ledger.report.data import ChainData
from ledger.report.holdings import Graph
from ledger.report.labels import (DETECT, MEMBERSHIP_EVENTS, OPTIONS, STATUS, WHERE, chain as chain_label, detail,
                                  label, planted_kind, reason, scenario)
from ledger.report.markup import Raw, badge, card, section, table
from ledger.report.svg import KIND_COLORS, kind_name, svg_blocks, svg_graph, svg_hbars
from ledger.report.text import clip, esc, fmt, pairs, when

_ = translator("report")

MAX_TABLE_ROWS = 300     # rows of the refused-transactions table
MAX_PRIVATE_ROWS = 25    # private records listed per node


def chain_cell(name: str) -> Raw:
    """A chain by its name in the reader's language, its run name (what a command takes) below."""
    shown = chain_label(name)
    if shown == name:
        return Raw(f"<code>{esc(name)}</code>", f' data-v="{esc(name)}"')
    return Raw(f'{esc(shown)}<div class="muted"><code>{esc(name)}</code></div>', f' data-v="{esc(name)}"')


def reason_cell(code: str | None) -> Raw:
    """A refusal reason: its code (a contract error or gateway code) and what it means."""
    code = code or "revert"
    meaning = reason(code)
    return Raw(f"<code>{esc(code)}</code>" + (f'<div class="muted">{esc(meaning)}</div>' if meaning else ""),
               f' data-v="{esc(code)}"')


def node_names(chains: list[ChainData]) -> dict[str, str]:
    """Every member's address -> its node name, for the details and the findings."""
    return {address: m.name for c in chains for address, m in c.members.items()}


def _options(options: dict) -> str:
    shown = []
    for key, value in options.items():
        prefix, _dot, own = str(key).rpartition(".")
        name = label(OPTIONS, own)
        shown.append(f"{scenario(prefix) + ' · ' if prefix else ''}{name} {value}")
    return "; ".join(shown)


def summary_section(summary: dict, chains: list[ChainData], planted: list[dict], findings: list[dict],
                    alerts: list[dict], incomplete: str = "") -> str:
    """The run at a glance; `incomplete` (run_status's line for a run that was interrupted) heads it, and then
    nothing is scored against a ground truth the run never wrote."""
    transactions = summary.get("transactions", sum(c.transactions + sum(b[4] for b in c.blocks) for c in chains))
    refused = summary.get("refused", sum(len(c.refusals) for c in chains))
    for_chain, caught = _for_chain(planted)
    missed = len(for_chain) - caught
    times = [b[1] for c in chains for b in c.blocks if b[1] is not None]
    period = show.date_range(min(times), max(times)) if times else show.NONE
    cured = sum(1 for f in findings if f.get("cured"))
    cards = [
        card(_("scenario"), scenario(summary.get("scenario")),
             _("seed {seed} · engine {engine}").format(seed=summary.get("seed", "?"),
                                                       engine=summary.get("engine", "?")), "wide"),
        card(_("period (Beijing time)"), period, _("first block to last block"), "wide"),
        card(_("chains"), len(chains), show.join(chain_label(c.name) for c in chains)),
        card(_("blocks"), fmt(summary.get("blocks", sum(len(c.blocks) for c in chains)))),
        card(_("transactions"), fmt(transactions),
             _("{n} committed").format(n=fmt(summary.get("committed", transactions - refused)))),
        card(_("refused"), fmt(refused), _("{n} unexpected").format(n=summary.get("unexpected_refusals", "?"))),
        card(_("planted violations"), len(planted),
             _("{chain} for the chain, {regulator} for the regulator").format(
                 chain=len(for_chain), regulator=len(planted) - len(for_chain))),
        card(_("caught by the chain"), "?", _("no ground truth: the run is incomplete"), "badcard") if incomplete
        else card(_("caught by the chain"), f"{caught} / {len(for_chain)}",
                  _("{n} missed").format(n=missed) if missed else _("none missed"),
                  "good" if not missed else "badcard"),
        card(_("findings"), len(findings), _("{n} cured later").format(n=cured) if cured else "",
             "badcard" if findings else "good"),
        card(_("risk alerts"), len(alerts)),
    ]
    per_chain = summary.get("chains", {})
    rows = []
    for c in chains:
        s = per_chain.get(c.name, {})
        head = s.get("head_hash", "")
        rows.append([chain_cell(c.name), len(c.blocks), c.transactions, s.get("committed", sum(b[2] for b in c.blocks)),
                     s.get("reverted", sum(b[3] for b in c.blocks)),
                     s.get("gateway_refused", sum(b[4] for b in c.blocks)),
                     Raw(f'<code>{esc(show.short_id(head, keep=8))}</code>', f' data-v="{esc(head)}" title="{esc(head)}"'),
                     c.regulator or show.NONE])
    opts = _options(summary.get("options", {}))
    warning = _("Incomplete run: {status}. What follows covers only the blocks it committed.")
    banner = f'<div class="problem">{esc(warning.format(status=incomplete))}</div>' if incomplete else ""
    body = (banner + f'<div class="cards">{"".join(cards)}</div>'
            + (f'<p class="muted">{esc(_("options: {options}").format(options=opts))}</p>' if opts else "")
            + table([_("chain"), _("blocks"), _("transactions"), _("committed"), _("reverted"),
                     _("refused at the gateway"), _("head hash"), _("regulator")], rows, numeric={1, 2, 3, 4, 5}))
    return section("summary", _("Run summary"), body)


def _for_chain(planted: list[dict]) -> tuple[list[dict], int]:
    """The planted violations the chain must refuse, and how many it caught."""
    for_chain = [p for p in planted if p.get("detect") == "chain"]
    return for_chain, sum(1 for p in for_chain if p.get("caught"))


def audit_section(audits: list[Audit], error: str | None) -> str:
    if error:
        body = f'<div class="problem">{esc(_("The audit could not run: {error}").format(error=error))}</div>'
        return section("audit", _("Audit"), body)
    items = []
    for a in audits:
        problems = "".join(f"<li>{esc(p)}</li>" for p in a.problems)
        anchors = (_("{n} anchors on the regulatory chain matched").format(n=fmt(a.anchors_checked))
                   if a.anchors_checked else _("no anchors to check"))
        checked = _("{blocks} blocks {how}, {transactions} transactions; {anchors}.").format(
            blocks=fmt(a.blocks), how=detail(a.replayed), transactions=fmt(a.transactions), anchors=anchors)
        items.append(
            f'<div class="auditcard {"good" if a.verified else "badcard"}">'
            f'<div class="audithead"><b>{esc(chain_label(a.chain))}</b>'
            f'{badge(a.verified, _("verified"), _("NOT verified")).html}</div>'
            f'<div>{esc(checked)}</div>'
            + (f'<div class="problem">{esc(_("First bad block: {n}").format(n=a.first_bad_block))}</div>'
               f'<ul class="problems">{problems}</ul>' if problems else
               f'<div class="muted">{esc(_("Headers, transaction and receipt roots, refusal digests, validator seals over every stored row, signatures, permissions at each height, state roots, decoded columns, certificates and every copy the members hold all check out."))}</div>')
            + "".join(f'<div class="muted">{esc(detail(note))}</div>' for note in a.notes) + "</div>")
    if not audits:
        items.append(f'<p class="muted">{esc(_("No ledger to audit."))}</p>')
    return section("audit", _("Audit"), f'<div class="auditgrid">{"".join(items)}</div>',
                   _("Each chain’s ledger is checked against what its block headers and validators’ seals commit to, "
                     "and re-executed from genesis on another EVM than the one that made it (revm or stock "
                     "py-evm; or re-read from the node it ran on); every "
                     "member’s copy is compared with it."))


def activity_section(chains: list[ChainData]) -> str:
    body = "".join(f'<h3>{esc(chain_label(c.name))}</h3><div class="scroll">{svg_blocks(c)}</div>' for c in chains)
    return section("activity", _("Transactions per block"), body,
                   _("Every submission lands in a block: committed, reverted by a contract, or refused at the "
                     "gateway before execution. Hover a bar for its block, time (Beijing) and counts."))


def refusals_section(chains: list[ChainData], planted: list[dict]) -> str:
    counts: Counter = Counter()
    where_of: dict[str, str] = {}
    chains_of: dict[str, set] = defaultdict(set)
    for c in chains:
        for r in c.refusals:
            key = f"{r['where']}:{r['reason']}"
            counts[key] += 1
            where_of[key] = r["where"]
            chains_of[key].add(c.name)
    expected = Counter(p.get("expected") for p in planted if p.get("detect") == "chain" and p.get("expected"))
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    chart = svg_hbars([(k.split(":", 1)[1], v, "ref" if where_of[k] == "gateway" else "bad") for k, v in items],
                      _("refusals by reason"))
    several = len(chains) > 1
    rows = [[reason_cell(k.split(":", 1)[1]), label(WHERE, where_of[k]), v, expected.get(k.split(":", 1)[1], 0)]
            + ([show.join(chain_label(n) for n in sorted(chains_of[k]))] if several else []) for k, v in items]
    by_reason = table([_("reason"), _("where"), _("refused"), _("planted")] + ([_("chains")] if several else []),
                      rows, numeric={2, 3})
    names = node_names(chains)
    times = {(c.name, b[0]): b[1] for c in chains for b in c.blocks}
    detail_rows = [[chain_label(c.name), r["block"], when(times.get((c.name, r["block"]))), r["node"],
                    Raw(f"<code>{esc(r['call'])}</code>"), label(WHERE, r["where"]), reason_cell(r["reason"]),
                    _detail_cell(r["detail"], names)]
                   for c in chains for r in c.refusals]
    more = len(detail_rows) - MAX_TABLE_ROWS
    detail_table = table([_("chain"), _("block"), _("time"), _("node"), _("call"), _("where"), _("reason"),
                          _("detail")], detail_rows[:MAX_TABLE_ROWS], numeric={1})
    if more > 0:
        detail_table += f'<p class="muted">{esc(_("… and {n} more.").format(n=fmt(more)))}</p>'
    summary = _("Every refused transaction ({n})").format(n=fmt(len(detail_rows)))
    body = (f'<div class="split"><div class="scroll">{chart}</div><div>{by_reason}</div></div>'
            f'<details><summary>{esc(summary)}</summary>{detail_table}</details>')
    return section("refusals", _("Refused transactions by reason"), body,
                   _("Gateway refusals never reach the chain’s state; contract reverts are committed with status 0."))


def _detail_cell(value: object, names: dict[str, str]) -> Raw:
    """A refusal's detail: the contract error's arguments as they are, the gateway's English in the reader's
    language, the original in a tooltip."""
    text = pairs(value) if isinstance(value, dict) else str(value or "")
    shown = detail(text, names)
    title = f' title="{esc(text)}"' if shown != text else ""
    return Raw(f"<span{title}>{esc(clip(shown, 90))}</span>")


def planted_section(planted: list[dict], matches: dict[int, dict], incomplete: str = "") -> str:
    """The planted violations against what caught them: the chain's refusal, or the regulator's finding
    (`matches`: the index of a planted violation -> the finding that matched it)."""
    if incomplete and not planted:
        why = _("No ground truth: the run is incomplete, and writes its ground_truth.json only when it finishes.")
        return section("planted", _("Planted violations"), f'<div class="problem">{esc(why)}</div>')
    if not planted:
        return section("planted", _("Planted violations"),
                       f'<p class="muted">{esc(_("The run records no planted violations (no ground_truth.json)."))}</p>')
    rows = []
    for i, p in enumerate(planted):
        outcome = p.get("outcome") or {}
        got = " ".join(str(x) for x in (label(STATUS, outcome.get("status")) if outcome.get("status") else None,
                                        outcome.get("reason")) if x)
        where = " · ".join(str(x) for x in (outcome.get("node"), _("block {n}").format(n=outcome["block"])
                                             if outcome.get("block") is not None else None) if x)
        if p.get("detect") == "chain":
            cell = badge(bool(p.get("caught")), _("caught"), _("MISSED"))
        elif i in matches:
            found = matches[i]
            cell = badge(True, _("found: finding {n}").format(n=found.get("number", "?")), "")
        else:
            cell = badge(False, "", _("NOT FOUND"))
        name, description = planted_kind(p.get("kind", ""))
        original = p.get("description", "")
        if description is None and current_language() != "en":
            description = name  # the scenario's own words are English: the kind, the original on hover
        desc = Raw(f'<span title="{esc(original)}">{esc(description)}</span>') if description else original
        rows.append([p.get("id", ""), Raw(f'{esc(name)}<div class="muted"><code>{esc(p.get("kind", ""))}</code></div>'),
                     label(DETECT, p.get("detect", "")),
                     Raw(f"<code>{esc(p['expected'])}</code>") if p.get("expected") else show.NONE,
                     f"{got}{f' ({where})' if where else ''}" or show.NONE, cell, desc])
    for_chain, caught = _for_chain(planted)
    regulator = [i for i, p in enumerate(planted) if p.get("detect") != "chain"]
    found = sum(1 for i in regulator if i in matches)
    total = max(1, len(planted))
    parts = [(caught, "sb-ok", _("{n} caught by the chain")), (len(for_chain) - caught, "sb-miss", _("{n} missed")),
             (found, "sb-reg", _("{n} found by the regulator")),
             (len(regulator) - found, "sb-miss", _("{n} not found by the regulator"))]
    bar = ('<div class="stackbar">' + "".join(
        f'<span class="{cls}" style="width:{100 * n / total:.1f}%">{esc(text.format(n=n))}</span>'
        for n, cls, text in parts if n) + "</div>")
    body = bar + table(["#", _("kind"), _("detected by"), _("expected reason"), _("outcome"), _("result"),
                        _("description")], rows, numeric={0})
    return section("planted", _("Planted violations against what was caught"), body,
                   _("The scenario plants known violations and records them as ground truth. Those for the chain "
                     "must be refused with the expected reason; those for the regulator must be among the findings "
                     "(section Findings)."))


def holdings_section(graphs: list[Graph]) -> str:
    if not graphs:
        return section("holdings", _("Holding structure"),
                       f'<p class="muted">{esc(_("No holding events on these chains."))}</p>')
    legend = "".join(f'<span class="chip" style="background:{color}">{esc(kind_name(kind))}</span>'
                     for kind, color in KIND_COLORS.items())
    hover = _("Hover a box to follow its edges.")
    body = f'<p class="legendrow">{legend}</p>' + "".join(
        f'<h3>{esc(g.title)}</h3><p class="muted">{esc(g.note)} {esc(hover)}</p>'
        f'<div class="scroll">{svg_graph(g)}</div>' for g in graphs)
    return section("holdings", _("Holding structure (look-through)"), body,
                   _("Drawn from the decoded events; names appear where the regulator can open the KYC agents’ "
                     "private stores."))


def nodes_section(chains: list[ChainData]) -> str:
    parts = []
    for ci, c in enumerate(chains):
        title = f'<h3>{esc(chain_label(c.name))}</h3>'
        if not c.nodes:
            parts.append(title + f'<p class="muted">{esc(_("No node copies under {dir}.").format(dir=c.name + "/nodes/"))}</p>')
            continue
        viewer = (_("Seen as {node}.").format(node=c.regulator) if c.regulator else
                  _("Seen by nobody who may open the private stores (no regulator found): personal data stays sealed."))
        tabs, panels = [], []
        for ni, node in enumerate(c.nodes):
            pid = f"node-{ci}-{ni}"
            tabs.append(f'<button class="tab{" active" if ni == 0 else ""}" data-group="nodes-{ci}" '
                        f'data-panel="{pid}">{esc(node)}</button>')
            panels.append(f'<div class="panel{" active" if ni == 0 else ""}" id="{pid}" data-group="nodes-{ci}">'
                          f'{node_panel(c, node)}</div>')
        parts.append(f'{title}<p class="muted">{esc(viewer)}</p>'
                     f'<div class="tabs">{"".join(tabs)}</div>{"".join(panels)}')
    return section("nodes", _("Per-node views"), "".join(parts),
                   _("What each node submitted, what was refused and why, the membership changes that touched it, "
                     "and the personal data in its private store."))


def node_panel(chain: ChainData, node: str) -> str:
    if node in chain.view_errors:
        return f'<p class="problem">{esc(detail(chain.view_errors[node]))}</p>'
    v = chain.views[node]
    member = chain.members.get(v["address"].lower())
    roles = show.roles(member.roles) if member else "?"
    status = label(STATUS, member.status.name.lower()) if member else "?"
    sub, data = v["submitted"], v["private_data"]
    opened = _("{n} opened by {viewer}").format(n=data["opened"], viewer=v["viewer"])
    if data["missing"]:
        opened += _(", {n} missing").format(n=len(data["missing"]))
    cards = "".join([
        card(_("submitted"), fmt(sub["transactions"]), _("{n} committed").format(n=fmt(sub["committed"]))),
        card(_("refused"), len(v["refused"])),
        card(_("membership changes"), len(v["membership"])),
        card(_("private records"), data["records"], opened),
    ])
    calls = table([_("call"), _("transactions")], [[Raw(f"<code>{esc(k)}</code>"), n] for k, n in sub["by_call"].items()],
                  numeric={1})
    names = node_names([chain])
    refused = table([_("block"), _("call"), _("where"), _("reason"), _("detail")],
                    [[r["block"], Raw(f"<code>{esc(r['call'])}</code>"), label(WHERE, r["where"]),
                      reason_cell(r["reason"]), _detail_cell(r["detail"], names)]
                     for r in v["refused"]], numeric={0}) if v["refused"] else \
        f'<p class="muted">{esc(_("Nothing refused."))}</p>'
    membership = table([_("block"), _("event"), _("roles / status")],
                       [[m["block"], label(MEMBERSHIP_EVENTS, m["event"]),
                         show.join(show.role_name(r) for r in m["roles"]) if m.get("roles")
                         else label(STATUS, m.get("status", "")) if m.get("status") else show.NONE]
                        for m in v["membership"]], numeric={0}) if v["membership"] else \
        f'<p class="muted">{esc(_("No membership events."))}</p>'
    private = ""
    if data["records"]:
        rows = []
        for item in data["items"][:MAX_PRIVATE_ROWS]:
            identity = Raw(f'<code title="{esc(item["identity"])}">{esc(show.short_id(item["identity"]))}</code>',
                           f' data-v="{esc(item["identity"])}"')
            if item["sealed"]:
                rows.append([identity, _("sealed"), badge(None, "", "", show.NONE)])
            else:
                name = item["personal"].get("name") or _("(no name)")
                rows.append([identity, name, badge(item["matches_chain"], _("matches"), _("DIFFERS"))])
        heading = _("Private store ({records} records, {opened} opened)").format(records=data["records"],
                                                                                opened=data["opened"])
        private = (f'<h4>{esc(heading)}</h4>'
                   + table([_("identity"), _("name"), _("hash on chain")], rows)
                   + (f'<p class="muted">{esc(_("… and {n} more.").format(n=data["records"] - MAX_PRIVATE_ROWS))}</p>'
                      if data["records"] > MAX_PRIVATE_ROWS else ""))
    who = _("{status} · roles: {roles}").format(status=status, roles=roles)
    return (f'<p class="who"><code>{esc(v["address"])}</code> · {esc(who)}</p>'
            f'<div class="cards small">{cards}</div><div class="split">'
            f'<div><h4>{esc(_("Submitted, by call"))}</h4>{calls}</div>'
            f'<div><h4>{esc(_("Membership"))}</h4>{membership}</div></div>'
            f'<h4>{esc(_("Refused"))}</h4>{refused}{private}')
