"""The report's sections, each as HTML: summary, audit, activity, refusals, planted
violations, holding structure and the per-node views."""

from __future__ import annotations

from collections import Counter, defaultdict

from ledger.audit.reexecute import Audit
from ledger.chain.roles import Role
from ledger.report.data import ChainData
from ledger.report.holdings import Graph
from ledger.report.markup import Raw, badge, card, section, table
from ledger.report.svg import KIND_COLORS, svg_blocks, svg_graph, svg_hbars
from ledger.report.text import clip, esc, fmt, pairs, short

MAX_TABLE_ROWS = 300     # rows of the refused-transactions table
MAX_PRIVATE_ROWS = 25    # private records listed per node


def summary_section(summary: dict, chains: list[ChainData], planted: list[dict]) -> str:
    transactions = summary.get("transactions", sum(c.transactions + sum(b[4] for b in c.blocks) for c in chains))
    refused = summary.get("refused", sum(len(c.refusals) for c in chains))
    for_chain, caught = _for_chain(planted)
    missed = len(for_chain) - caught
    cards = [
        card("scenario", summary.get("scenario", "?"), f"seed {summary.get('seed', '?')} · "
                                                       f"engine {summary.get('engine', '?')}", "wide"),
        card("chains", len(chains), ", ".join(c.name for c in chains)),
        card("blocks", fmt(summary.get("blocks", sum(len(c.blocks) for c in chains)))),
        card("transactions", fmt(transactions), f"{fmt(summary.get('committed', transactions - refused))} committed"),
        card("refused", fmt(refused), f"{summary.get('unexpected_refusals', '?')} unexpected"),
        card("planted violations", len(planted), f"{len(for_chain)} for the chain, "
                                                 f"{len(planted) - len(for_chain)} for the regulator"),
        card("caught by the chain", f"{caught} / {len(for_chain)}", f"{missed} missed" if missed else "none missed",
             "good" if not missed else "badcard"),
    ]
    per_chain = summary.get("chains", {})
    rows = []
    for c in chains:
        s = per_chain.get(c.name, {})
        rows.append([c.name, len(c.blocks), c.transactions, s.get("committed", sum(b[2] for b in c.blocks)),
                     s.get("reverted", sum(b[3] for b in c.blocks)),
                     s.get("gateway_refused", sum(b[4] for b in c.blocks)),
                     Raw(f'<code>{esc(short(s.get("head_hash", ""), 16))}</code>',
                         f' data-v="{esc(s.get("head_hash", ""))}" title="{esc(s.get("head_hash", ""))}"'),
                     c.regulator or "—"])
    options = summary.get("options", {})
    opts = " · ".join(f"{k} {v}" for k, v in options.items())
    body = (f'<div class="cards">{"".join(cards)}</div>'
            + (f'<p class="muted">options: {esc(opts)}</p>' if opts else "")
            + table(["chain", "blocks", "transactions", "committed", "reverted", "refused at gateway",
                     "head hash", "regulator"], rows, numeric={1, 2, 3, 4, 5}))
    return section("summary", "Run summary", body)


def _for_chain(planted: list[dict]) -> tuple[list[dict], int]:
    """The planted violations the chain must refuse, and how many it caught."""
    for_chain = [p for p in planted if p.get("detect") == "chain"]
    return for_chain, sum(1 for p in for_chain if p.get("caught"))


def audit_section(audits: list[Audit], error: str | None) -> str:
    if error:
        body = f'<div class="problem">The audit could not run: {esc(error)}</div>'
        return section("audit", "Audit", body)
    items = []
    for a in audits:
        problems = "".join(f"<li>{esc(p)}</li>" for p in a.problems)
        anchors = f"{a.anchors_checked} anchors on the regulatory chain matched" if a.anchors_checked else \
            "no anchors to check"
        items.append(
            f'<div class="auditcard {"good" if a.verified else "badcard"}">'
            f'<div class="audithead"><b>{esc(a.chain)}</b>{badge(a.verified, "verified", "NOT verified").html}</div>'
            f'<div>{fmt(a.blocks)} blocks {esc(a.replayed)}, {fmt(a.transactions)} transactions; '
            f'{esc(anchors)}.</div>'
            + (f'<ul class="problems">{problems}</ul>' if problems else
               '<div class="muted">Headers, transaction and receipt roots, refusal digests, validator seals over '
               'every stored row, signatures, permissions at each height, state roots, decoded columns, '
               'certificates and every member\'s copy all check out.</div>')
            + "".join(f'<div class="muted">{esc(note)}</div>' for note in a.notes) + "</div>")
    if not audits:
        items.append('<p class="muted">No ledger to audit.</p>')
    return section("audit", "Audit", f'<div class="auditgrid">{"".join(items)}</div>',
                   "Each chain's ledger is checked against what its headers and validators' seals commit to, and "
                   "re-executed from genesis on stock py-evm (or re-read from the node it ran on); every member's "
                   "copy is compared with it (ledger.audit.reexecute).")


def activity_section(chains: list[ChainData]) -> str:
    body = "".join(f'<h3>{esc(c.name)}</h3><div class="scroll">{svg_blocks(c)}</div>' for c in chains)
    return section("activity", "Transactions per block", body,
                   "Every submission lands in a block: committed, reverted by a contract, or refused at the "
                   "gateway before execution. Hover a bar for its block, time and counts.")


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
                      "refusals by reason")
    several = len(chains) > 1
    rows = [[k.split(":", 1)[1], where_of[k], v, expected.get(k.split(":", 1)[1], 0)]
            + ([", ".join(sorted(chains_of[k]))] if several else []) for k, v in items]
    by_reason = table(["reason", "where", "refused", "planted"] + (["chains"] if several else []), rows,
                      numeric={2, 3})
    detail_rows = [[c.name, r["block"], r["node"], r["call"], r["where"], r["reason"], clip(str(r["detail"]), 90)]
                   for c in chains for r in c.refusals]
    more = len(detail_rows) - MAX_TABLE_ROWS
    detail = table(["chain", "block", "node", "call", "where", "reason", "detail"], detail_rows[:MAX_TABLE_ROWS],
                   numeric={1})
    if more > 0:
        detail += f'<p class="muted">… and {fmt(more)} more.</p>'
    body = (f'<div class="split"><div class="scroll">{chart}</div><div>{by_reason}</div></div>'
            f'<details><summary>Every refused transaction ({fmt(len(detail_rows))})</summary>{detail}</details>')
    return section("refusals", "Refused transactions by reason", body,
                   "Gateway refusals never reach the chain's state; contract reverts are committed with status 0.")


def planted_section(planted: list[dict]) -> str:
    if not planted:
        return section("planted", "Planted violations", '<p class="muted">The run records no planted violations '
                                                        '(no ground_truth.json).</p>')
    rows = []
    for p in planted:
        outcome = p.get("outcome") or {}
        got = " ".join(str(x) for x in (outcome.get("status"), outcome.get("reason")) if x)
        where = " · ".join(str(x) for x in (outcome.get("node"), f"block {outcome['block']}"
                                             if outcome.get("block") is not None else None) if x)
        caught = p.get("caught")
        if p.get("detect") == "chain":
            cell = badge(bool(caught), "caught", "MISSED")
        else:
            cell = badge(None, "", "", "left for the regulator")
        rows.append([p.get("id", ""), p.get("kind", ""), p.get("detect", ""), p.get("expected") or "—",
                     f"{got}{f' ({where})' if where else ''}" or "—", cell, p.get("description", "")])
    for_chain, caught = _for_chain(planted)
    for_reg = len(planted) - len(for_chain)
    total = max(1, len(planted))
    bar = ('<div class="stackbar">'
           + (f'<span class="sb-ok" style="width:{100 * caught / total:.1f}%">{caught} caught by the chain</span>'
              if caught else "")
           + (f'<span class="sb-miss" style="width:{100 * (len(for_chain) - caught) / total:.1f}%">'
              f'{len(for_chain) - caught} missed</span>' if len(for_chain) - caught else "")
           + (f'<span class="sb-reg" style="width:{100 * for_reg / total:.1f}%">{for_reg} for the regulator</span>'
              if for_reg else "")
           + "</div>")
    body = bar + table(["#", "kind", "detect", "expected reason", "outcome", "caught", "description"], rows,
                       numeric={0})
    return section("planted", "Planted violations against what was caught", body,
                   "The scenario plants known violations and records them as ground truth. Those marked for the "
                   "chain must be refused with the expected reason; the others are for the regulator's "
                   "look-through analysis.")


def holdings_section(graphs: list[Graph]) -> str:
    if not graphs:
        return section("holdings", "Holding structure", '<p class="muted">No holding events on these chains.</p>')
    legend = "".join(f'<span class="chip" style="background:{color}">{esc(kind)}</span>'
                     for kind, color in KIND_COLORS.items())
    body = f'<p class="legendrow">{legend}</p>' + "".join(
        f'<h3>{esc(g.title)}</h3><p class="muted">{esc(g.note)} Hover a box to follow its edges.</p>'
        f'<div class="scroll">{svg_graph(g)}</div>' for g in graphs)
    return section("holdings", "Holding structure", body,
                   "Drawn from the decoded events; names appear where the regulator can open the KYC agents' "
                   "private stores.")


def nodes_section(chains: list[ChainData]) -> str:
    parts = []
    for ci, c in enumerate(chains):
        if not c.nodes:
            parts.append(f'<h3>{esc(c.name)}</h3><p class="muted">No node copies under {esc(c.name)}/nodes/.</p>')
            continue
        viewer = c.regulator or ("nobody who may open the private stores (no regulator found): "
                                 "personal data stays sealed")
        tabs, panels = [], []
        for ni, node in enumerate(c.nodes):
            pid = f"node-{ci}-{ni}"
            tabs.append(f'<button class="tab{" active" if ni == 0 else ""}" data-group="nodes-{ci}" '
                        f'data-panel="{pid}">{esc(node)}</button>')
            panels.append(f'<div class="panel{" active" if ni == 0 else ""}" id="{pid}" data-group="nodes-{ci}">'
                          f'{node_panel(c, node)}</div>')
        parts.append(f'<h3>{esc(c.name)}</h3><p class="muted">Seen as {esc(viewer)}.</p>'
                     f'<div class="tabs">{"".join(tabs)}</div>{"".join(panels)}')
    return section("nodes", "Per-node views", "".join(parts),
                   "What each node submitted, what was refused and why, the membership changes that touched it, "
                   "and the personal data in its private store.")


def node_panel(chain: ChainData, node: str) -> str:
    if node in chain.view_errors:
        return f'<p class="problem">{esc(chain.view_errors[node])}</p>'
    v = chain.views[node]
    member = chain.members.get(v["address"].lower())
    roles = ", ".join(Role.names(member.roles)) if member else "?"
    status = member.status.name.lower() if member else "?"
    sub, data = v["submitted"], v["private_data"]
    cards = "".join([
        card("submitted", fmt(sub["transactions"]), f"{fmt(sub['committed'])} committed"),
        card("refused", len(v["refused"])),
        card("membership changes", len(v["membership"])),
        card("private records", data["records"], f"{data['opened']} opened by {v['viewer']}"
             + (f", {len(data['missing'])} missing" if data["missing"] else "")),
    ])
    calls = table(["call", "transactions"], [[k, n] for k, n in sub["by_call"].items()], numeric={1})
    refused = table(["block", "call", "where", "reason", "detail"],
                    [[r["block"], r["call"], r["where"], r["reason"],
                      clip(pairs(r["detail"]) if isinstance(r["detail"], dict) else str(r["detail"]), 80)]
                     for r in v["refused"]], numeric={0}) if v["refused"] else '<p class="muted">Nothing refused.</p>'
    membership = table(["block", "event", "roles / status"],
                       [[m["block"], m["event"], " ".join(m.get("roles", [])) or m.get("status", "")]
                        for m in v["membership"]], numeric={0}) if v["membership"] else \
        '<p class="muted">No membership events.</p>'
    private = ""
    if data["records"]:
        rows = []
        for item in data["items"][:MAX_PRIVATE_ROWS]:
            if item["sealed"]:
                rows.append([short(item["identity"], 12), "sealed", badge(None, "", "", "—")])
            else:
                name = item["personal"].get("name", "(no name)")
                rows.append([short(item["identity"], 12), name,
                             badge(item["matches_chain"], "matches", "DIFFERS")])
        private = (f'<h4>Private store ({data["records"]} records, {data["opened"]} opened)</h4>'
                   + table(["identity", "name", "hash on chain"], rows)
                   + (f'<p class="muted">… and {data["records"] - MAX_PRIVATE_ROWS} more.</p>'
                      if data["records"] > MAX_PRIVATE_ROWS else ""))
    return (f'<p class="who"><code>{esc(v["address"])}</code> · {esc(status)} · roles {esc(roles or "none")}</p>'
            f'<div class="cards small">{cards}</div><div class="split">'
            f'<div><h4>Submitted by call</h4>{calls}</div><div><h4>Membership</h4>{membership}</div></div>'
            f'<h4>Refused</h4>{refused}{private}')

