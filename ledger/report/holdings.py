"""The holding structure as graphs, rebuilt from a chain's decoded events: who holds the
funds, the listed companies and the live warehouse receipts, and who stands behind vehicles."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ledger.present import fmt as show
from ledger.present.i18n import N_, translator
from ledger.report.data import ChainData
from ledger.report.labels import COMPANY_FORMS, FUND_FORMS, chain as labelled_chain, label as labelled
from ledger.report.text import bytes32_text, fmt

_ = translator("report")

TOP_HOLDERS = 8          # holders drawn per fund or company
MAX_BACKERS = 40         # investors drawn behind vehicles, per graph
IDENTITY_KINDS = {1: "person", 2: "institution", 3: "registered product", 4: "vehicle"}
KG_PER_TONNE = 1000      # warehouse quantities are kept in kg on chain and shown in tonnes
PALETTE = ("#2563eb", "#0d9488", "#9333ea", "#db2777", "#ea580c", "#65a30d", "#0891b2", "#ca8a04",
           "#4f46e5", "#dc2626")
Edge = tuple[str, str, float, str, str]     # source, target, share 0..1, colour, tooltip


@dataclass
class GraphNode:
    label: str
    tip: str
    kind: str          # asset, person, institution, registered product, vehicle, account
    sub: str = ""
    color: str = ""


@dataclass
class Graph:
    title: str
    columns: list[list[str]]                 # left to right; the last column holds the assets
    nodes: dict[str, GraphNode]
    edges: list[Edge]
    note: str = ""
    assets_title: str = N_("assets")


def holding_graphs(chain: ChainData, names: dict[str, str]) -> list[Graph]:
    """The chain's graphs of funds, companies and warehouse receipts; `names` maps identities to opened names."""
    graphs = []
    identity = _identities(chain)
    funds = _fund_holdings(chain, identity)
    if funds:
        graphs.append(_identity_graph(_("{chain}: who holds the funds").format(chain=labelled_chain(chain.name)), funds, identity,
                                      names, "fund"))
    companies = _company_holdings(chain)
    if companies:
        graphs.append(_identity_graph(_("{chain}: who holds the companies").format(chain=labelled_chain(chain.name)), companies,
                                      identity, names, "company"))
    receipts = _receipt_holdings(chain)
    if receipts:
        graphs.append(_receipt_graph(chain, receipts))
    return graphs


@dataclass
class Identities:
    kinds: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)             # account -> identity
    backers: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # vehicle -> (investor, bps)


def _identities(chain: ChainData) -> Identities:
    ids = Identities()
    for contract, name, a in chain.events:
        if contract != "IdentityRegistry":
            continue
        if name == "IdentityRegistered":
            ids.kinds[a["id"]] = a["kind"]
        elif name == "AccountLinked":
            ids.accounts[a["account"].lower()] = a["id"]
        elif name == "InvestorsDeclared":
            ids.backers[a["vehicle"]] = list(zip(a["investors"], a["sharesBps"]))
    return ids


@dataclass
class Asset:
    label: str
    sub: str
    holdings: dict[str, int]      # holder -> units


def _fund_holdings(chain: ChainData, ids: Identities) -> dict[str, Asset]:
    funds: dict[int, dict] = {}
    balance: dict[tuple[int, str], int] = defaultdict(int)
    for contract, name, a in chain.events:
        if contract != "PrivateFundShares":
            continue
        if name == "FundCreated":
            funds[a["fundId"]] = a
        elif name == "Subscribed":
            balance[a["fundId"], a["account"].lower()] += a["amount"]
        elif name in ("TransferSettled", "ForcedTransfer"):
            balance[a["fundId"], a["from"].lower()] -= a["amount"]
            balance[a["fundId"], a["to"].lower()] += a["amount"]
    assets: dict[str, Asset] = {}
    for fund_id, created in sorted(funds.items()):
        holdings: dict[str, int] = defaultdict(int)
        for (f, account), units in balance.items():
            if f == fund_id and units > 0:
                holdings[ids.accounts.get(account, account)] += units
        form = labelled(FUND_FORMS, created.get("form")) if created.get("form") in FUND_FORMS else _("fund")
        sub = _("{form}, cap {cap}").format(form=form, cap=created.get("cap", "?"))
        assets[f"fund:{fund_id}"] = Asset(_("Fund {n}").format(n=fund_id), sub, dict(holdings))
    return assets


def _company_holdings(chain: ChainData) -> dict[str, Asset]:
    companies: dict[str, str] = {}
    holdings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for contract, name, a in chain.events:
        if contract != "EquityMarket":
            continue
        if name == "CompanyListed":
            form = a.get("legalForm")
            companies[a["companyId"]] = labelled(COMPANY_FORMS, form) if form in COMPANY_FORMS else ""
        elif name == "SharesAllotted":
            holdings[a["companyId"]][a["identity"]] += a["shares"]
        elif name == "SharesTransferred":
            holdings[a["companyId"]][a["fromIdentity"]] -= a["shares"]
            holdings[a["companyId"]][a["toIdentity"]] += a["shares"]
    return {f"company:{c}": Asset(bytes32_text(c), form, {h: u for h, u in holdings[c].items() if u > 0})
            for c, form in companies.items()}


def _receipt_holdings(chain: ChainData) -> dict[str, Asset]:
    """Live warehouse receipts: who holds how much at which warehouse."""
    live: dict[int, list] = {}     # receipt id -> [warehouse, holder, quantity, commodity]
    for contract, name, a in chain.events:
        if contract != "WarehouseReceipt":
            continue
        if name == "ReceiptIssued":
            live[a["id"]] = [a["warehouse"].lower(), a["owner"].lower(), a["quantity"], bytes32_text(a["commodity"])]
        elif name == "ReceiptTransferred" and a["id"] in live:
            live[a["id"]][1] = a["to"].lower()
        elif name == "Delivered" and a["id"] in live:
            live[a["id"]][1] = a["buyer"].lower()
        elif name == "PledgeEnforced" and a["id"] in live:
            live[a["id"]][1] = a["lender"].lower()
        elif name == "ReceiptSplit" and a["id"] in live:
            warehouse, _holder, _quantity, commodity = live.pop(a["id"])
            for part, quantity in zip(a["parts"], a["quantities"]):
                live[part] = [warehouse, a["holder"].lower(), quantity, commodity]
        elif name == "ReceiptsMerged":
            sources = [live.pop(s) for s in a["sources"] if s in live]
            if sources:
                live[a["id"]] = [sources[0][0], a["holder"].lower(), a["quantity"], sources[0][3]]
        elif name in ("ReceiptCancelled", "MarkedExpired"):
            live.pop(a["id"], None)
    assets: dict[str, Asset] = {}
    commodities: dict[str, set] = defaultdict(set)
    for warehouse, holder, quantity, commodity in live.values():
        asset = assets.setdefault(f"warehouse:{warehouse}", Asset(warehouse, "", defaultdict(int)))
        asset.holdings[holder] += quantity
        commodities[warehouse].add(commodity)
    for asset in assets.values():
        address = asset.label
        member = chain.members.get(address)
        asset.label = member.name if member else show.short_id(address)
        asset.sub = show.join(show.commodity(c) for c in sorted(commodities[address]))
        asset.holdings = dict(asset.holdings)
    return dict(sorted(assets.items(), key=lambda kv: kv[1].label))


def _identity_label(identity: str, ids: Identities, names: dict[str, str]) -> tuple[str, str]:
    """The box's label (the name the regulator opened, else the kind and a short id) and the kind."""
    kind = IDENTITY_KINDS.get(ids.kinds.get(identity, 0), "account")
    name = names.get(identity.lower())
    return (name or f"{_kind(kind)} {show.short_id(identity)}"), kind


def _kind(kind: str) -> str:
    return show.kind({"person": "natural person", "vehicle": "unregistered vehicle"}.get(kind, kind))


def _top(asset: Asset, always: set[str] = frozenset()) -> list[tuple[str, int]]:
    """The largest holders, and any holder in `always` (the vehicles, which the regulator looks through)."""
    ranked = sorted(asset.holdings.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:TOP_HOLDERS] + [kv for kv in ranked[TOP_HOLDERS:] if kv[0] in always][:TOP_HOLDERS]


def _identity_graph(title: str, assets: dict[str, Asset], ids: Identities, names: dict[str, str],
                    noun: str) -> Graph:
    nodes: dict[str, GraphNode] = {}
    edges: list[Edge] = []
    holders: list[str] = []
    for i, (key, asset) in enumerate(assets.items()):
        color = PALETTE[i % len(PALETTE)]
        total = sum(asset.holdings.values()) or 1
        tip = _("{asset} ({sub}): {holders} holders, {units} units; the top {top} and any vehicles are drawn").format(
            asset=asset.label, sub=asset.sub, holders=len(asset.holdings), units=fmt(total), top=TOP_HOLDERS)
        nodes[key] = GraphNode(asset.label, tip, "asset",
                               _("{holders} holders · {sub}").format(holders=len(asset.holdings), sub=asset.sub), color)
        for holder, units in _top(asset, set(ids.backers)):
            if holder not in nodes:
                label, kind = _identity_label(holder, ids, names)
                nodes[holder] = GraphNode(label, f"{label} — {_kind(kind)} {holder}", kind)
                holders.append(holder)
            edges.append((holder, key, units / total, color,
                          _("{holder} holds {units} of {asset} ({pct})").format(
                              holder=nodes[holder].label, units=fmt(units), asset=asset.label,
                              pct=f"{100 * units / total:.1f}%")))
    columns = [list(assets), holders]
    seen = set(nodes)
    level = holders
    backers_drawn = 0
    for _depth in range(4):                 # vehicles nest a few levels deep; draw the investors behind them
        behind: list[str] = []
        for vehicle in level:
            for investor, bps in ids.backers.get(vehicle, []):
                if backers_drawn >= MAX_BACKERS:
                    break
                if investor not in seen:
                    label, kind = _identity_label(investor, ids, names)
                    nodes[investor] = GraphNode(label, f"{label} — {_kind(kind)} {investor}", kind)
                    behind.append(investor)
                    seen.add(investor)
                    backers_drawn += 1
                edges.append((investor, vehicle, bps / 10_000, "#b45309",
                              _("{investor} owns {pct} of {vehicle}").format(
                                  investor=nodes[investor].label, pct=f"{bps / 100:.2f}%", vehicle=nodes[vehicle].label)))
        if not behind:
            break
        columns.append(behind)
        level = behind
    columns.reverse()
    vehicles = sum(1 for h in holders if h in ids.backers)
    note = (_("The {top} largest holders of each fund by units and every vehicle holding it (edge width grows "
              "with the share); to the left, the investors declared behind the {vehicles} vehicle(s) drawn.")
            if noun == "fund" else
            _("The {top} largest holders of each company by units and every vehicle holding it (edge width grows "
              "with the share); to the left, the investors declared behind the {vehicles} vehicle(s) drawn."))
    return Graph(title, columns, nodes, edges, note.format(top=TOP_HOLDERS, vehicles=vehicles),
                 _("funds") if noun == "fund" else _("companies"))


def _receipt_graph(chain: ChainData, assets: dict[str, Asset]) -> Graph:
    nodes: dict[str, GraphNode] = {}
    edges: list[Edge] = []
    holders: list[str] = []
    for i, (key, asset) in enumerate(assets.items()):
        color = PALETTE[i % len(PALETTE)]
        total = sum(asset.holdings.values()) or 1
        tip = _("{warehouse}: live receipts for {quantity} ({sub}) held by {holders} accounts").format(
            warehouse=asset.label, quantity=show.quantity(total / KG_PER_TONNE, "t"), sub=asset.sub,
            holders=len(asset.holdings))
        nodes[key] = GraphNode(asset.label, tip, "asset",
                               _("{holders} holders · {sub}").format(holders=len(asset.holdings), sub=asset.sub), color)
        for holder, quantity in _top(asset):
            if holder not in nodes:
                member = chain.members.get(holder)
                node = chain.senders.get(holder)
                label = member.name if member else (
                    _("{node} client {account}").format(node=node, account=show.short_id(holder)) if node else
                    show.short_id(holder))
                nodes[holder] = GraphNode(label, f"{label} {holder}", "account")
                holders.append(holder)
            edges.append((holder, key, quantity / total, color,
                          _("{holder} holds receipts for {quantity} at {warehouse} ({pct})").format(
                              holder=nodes[holder].label, quantity=show.quantity(quantity / KG_PER_TONNE, "t"),
                              warehouse=asset.label, pct=f"{100 * quantity / total:.1f}%")))
    return Graph(_("{chain}: who holds the live warehouse receipts").format(chain=labelled_chain(chain.name)), [holders, list(assets)],
                 nodes, edges,
                 _("The {top} largest holders of live receipts at each warehouse, by quantity.").format(top=TOP_HOLDERS),
                 _("warehouses"))

