"""The holding structure as graphs, rebuilt from a chain's decoded events: who holds the
funds, the listed companies and the live warehouse receipts, and who stands behind vehicles."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ledger.report.data import ChainData
from ledger.report.text import bytes32_text, fmt, short

TOP_HOLDERS = 8          # holders drawn per fund or company
MAX_BACKERS = 40         # investors drawn behind vehicles, per graph
IDENTITY_KINDS = {1: "person", 2: "institution", 3: "registered product", 4: "vehicle"}
FUND_FORMS = {0: "contractual", 1: "joint-stock", 2: "partnership", 3: "LLC"}
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
    assets_title: str = "assets"


def holding_graphs(chain: ChainData, names: dict[str, str]) -> list[Graph]:
    """The chain's graphs of funds, companies and warehouse receipts; `names` maps identities to opened names."""
    graphs = []
    identity = _identities(chain)
    funds = _fund_holdings(chain, identity)
    if funds:
        graphs.append(_identity_graph(f"{chain.name}: who holds the funds", funds, identity, names, "fund"))
    companies = _company_holdings(chain)
    if companies:
        graphs.append(_identity_graph(f"{chain.name}: who holds the companies", companies, identity, names,
                                      "company"))
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
        form = FUND_FORMS.get(created.get("form"), "fund")
        assets[f"fund:{fund_id}"] = Asset(f"Fund {fund_id}", f"{form}, cap {created.get('cap', '?')}",
                                          dict(holdings))
    return assets


def _company_holdings(chain: ChainData) -> dict[str, Asset]:
    companies: dict[str, str] = {}
    holdings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for contract, name, a in chain.events:
        if contract != "EquityMarket":
            continue
        if name == "CompanyListed":
            companies[a["companyId"]] = {0: "joint-stock", 1: "limited liability"}.get(a.get("legalForm"), "")
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
            warehouse, holder, _, commodity = live.pop(a["id"])
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
        asset.label = member.name if member else short(address)
        asset.sub = ", ".join(sorted(commodities[address]))
        asset.holdings = dict(asset.holdings)
    return dict(sorted(assets.items(), key=lambda kv: kv[1].label))


def _identity_label(identity: str, ids: Identities, names: dict[str, str]) -> tuple[str, str]:
    kind = IDENTITY_KINDS.get(ids.kinds.get(identity, 0), "account")
    name = names.get(identity.lower())
    return (name or f"{kind} {short(identity)}"), kind


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
        nodes[key] = GraphNode(asset.label, f"{asset.label} ({asset.sub}): {len(asset.holdings)} holders, "
                                            f"{fmt(total)} units; the top {TOP_HOLDERS} and any vehicles are drawn",
                               "asset", f"{len(asset.holdings)} holders · {asset.sub}", color)
        for holder, units in _top(asset, set(ids.backers)):
            if holder not in nodes:
                label, kind = _identity_label(holder, ids, names)
                nodes[holder] = GraphNode(label, f"{label} — {kind} {holder}", kind)
                holders.append(holder)
            edges.append((holder, key, units / total, color,
                          f"{nodes[holder].label} holds {fmt(units)} of {asset.label} ({100 * units / total:.1f}%)"))
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
                    nodes[investor] = GraphNode(label, f"{label} — {kind} {investor}", kind)
                    behind.append(investor)
                    seen.add(investor)
                    backers_drawn += 1
                edges.append((investor, vehicle, bps / 10_000, "#b45309",
                              f"{nodes[investor].label} owns {bps / 100:.2f}% of {nodes[vehicle].label}"))
        if not behind:
            break
        columns.append(behind)
        level = behind
    columns.reverse()
    vehicles = sum(1 for h in holders if h in ids.backers)
    note = (f"The {TOP_HOLDERS} largest holders of each {noun} by units and every vehicle holding it (edge width "
            f"grows with the share); to the left, the investors declared behind the {vehicles} vehicle(s) drawn.")
    return Graph(title, columns, nodes, edges, note, f"{noun.replace('company', 'companie')}s")


def _receipt_graph(chain: ChainData, assets: dict[str, Asset]) -> Graph:
    nodes: dict[str, GraphNode] = {}
    edges: list[Edge] = []
    holders: list[str] = []
    for i, (key, asset) in enumerate(assets.items()):
        color = PALETTE[i % len(PALETTE)]
        total = sum(asset.holdings.values()) or 1
        nodes[key] = GraphNode(asset.label, f"{asset.label}: live receipts for {fmt(total)} ({asset.sub}) "
                                            f"held by {len(asset.holdings)} accounts",
                               "asset", f"{len(asset.holdings)} holders · {asset.sub}", color)
        for holder, quantity in _top(asset):
            if holder not in nodes:
                member = chain.members.get(holder)
                node = chain.senders.get(holder)
                label = member.name if member else (f"{node} client {short(holder, 4)}" if node else short(holder))
                nodes[holder] = GraphNode(label, f"{label} {holder}", "account")
                holders.append(holder)
            edges.append((holder, key, quantity / total, color,
                          f"{nodes[holder].label} holds receipts for {fmt(quantity)} at {asset.label} "
                          f"({100 * quantity / total:.1f}%)"))
    return Graph(f"{chain.name}: who holds the live warehouse receipts", [holders, list(assets)], nodes, edges,
                 f"The {TOP_HOLDERS} largest holders of live receipts at each warehouse, by quantity.", "warehouses")

