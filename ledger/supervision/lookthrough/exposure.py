"""One identity's (or account's) exposure across every market of a run: holdings direct and
through vehicles, warehouse receipts and pledges, and consortium roles; and, market by market
(each chain of the run, those of a `run scenario all` run's sub-runs included), what it has there."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.errors import ConfigError
from ledger.chain.reader import LedgerReader
from ledger.chain.roles import Role
from ledger.chain.run import chain_ledgers, chain_name, own_name
from ledger.supervision.lookthrough.events import load_chains, text32
from ledger.supervision.lookthrough.index import AuditIndex
from ledger.supervision.lookthrough.queries import KIND_NAMES, _pct, reach_weights
from ledger.supervision.lookthrough.receipts import ReceiptBook

HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
HEX20 = re.compile(r"^0x[0-9a-f]{40}$")
# A chain's market, by the first of these contracts deployed on it.
MARKETS = (("PrivateFundShares", "private fund shares"), ("EquityMarket", "regional equity"),
           ("WarehouseReceipt", "warehouse receipts"), ("ReportRegistry", "regulatory reports"))
ENDS = ("split", "merged", "cancelled", "expired")  # what ends a receipt (its parts or merger go on as others)


def exposure(index: AuditIndex, run_dir: Path, person: str) -> dict:
    """One identity's (or one account's) exposure across the run.

    PERSON is an identity id (0x + 64 hex) or an account address (0x + 40 hex; mapped to its
    identity where an AccountLinked links it). Holdings: direct, and through every vehicle that
    declared it as an investor, at any depth (the ubo look-through in reverse: effective amount and
    percentage = each holder's holding times the part of it that reaches the person, summed over every
    walk, round loops of cross-holding vehicles too; each route row has its own path's product). Receipts:
    the live warehouse receipts held by its accounts, every receipt they ever held, and pledges
    given (as holder) or taken (as lender). Roles: each of its accounts that is a consortium member,
    with its organisation, roles and status on each chain. Markets: for each chain where it appears,
    the chain's market and what it has there (identity, linked accounts, holdings, receipts, pledges,
    roles), so that one institution is followed across the fund, equity and receipt markets."""
    raw = person.strip().lower()
    if raw.startswith("identity:"):
        raw = raw[9:]
    if not (HEX32.match(raw) or HEX20.match(raw)):
        raise ConfigError(f"bad person {person!r}: give an identity id (0x + 64 hex) or an account (0x + 40 hex)")
    index.load_graph()
    identities: set[str] = set()
    accounts: set[str] = set()
    if HEX32.match(raw):
        identities.add(raw)
        accounts |= index.accounts_of(raw)
    else:
        accounts.add(raw)
        identities |= index.identities_of(raw)
        for ident in list(identities):
            accounts |= index.accounts_of(ident)
    book = ReceiptBook(load_chains(run_dir, ("WarehouseReceipt", "PermissionRegistry")))
    market_of, roles = _chains(Path(run_dir), accounts)
    known = bool(roles) or any(index.known_identity(i) for i in identities) or any(
        r["holder"] in accounts for r in book.receipts.values()) or any(
        p["lender"] in accounts or p["holder"] in accounts for p in book.pledges)
    if not known and HEX20.match(raw):
        known = bool(index.identities_of(raw))
    if not known:
        raise ConfigError(f"unknown person {person!r}: no such identity or account in this run")
    # holdings, direct and looked through in reverse
    declared, kinds = index.graph
    investing_in: dict[str, list[tuple[str, int]]] = {}
    for vehicle, pairs in declared.items():
        for investor, bps in pairs:
            investing_in.setdefault(investor, []).append((vehicle, bps))
    rows: list[dict] = []
    totals: dict[str, dict] = {}
    stack = [(i, 1.0, ()) for i in sorted(identities)]
    while stack:
        node, weight, via = stack.pop()
        for asset, amount, share in index.holdings_of(node):
            info = index.asset(asset) or {}
            row = {"asset": asset, "label": info.get("label"), "market": info.get("market"),
                   "chain": info.get("chain"), "holder": node, "via": list(via), "direct": not via,
                   "amount": amount, "effective_amount": amount * weight, "effective_pct": _pct(share * weight)}
            rows.append(row)
            t = totals.setdefault(asset, {"asset": asset, "label": row["label"], "market": row["market"],
                                          "chain": row["chain"], "effective_amount": 0.0, "effective_pct": 0.0,
                                          "routes": 0})
            t["routes"] += 1
        for vehicle, bps in investing_in.get(node, []):
            if vehicle in via or vehicle == node or vehicle in identities:
                continue
            stack.append((vehicle, weight * bps / 10_000, (vehicle,) + via))
    # The totals sum every walk, round loops of cross-holding vehicles as often as they go (the routes above
    # stop at a loop): each holder's weight solved as ubo solves it, in reverse (queries.reach_weights).
    for node, weight in reach_weights(identities, declared).items():
        for asset, amount, share in index.holdings_of(node):
            t = totals.get(asset)
            if t is not None:  # a holder reached through positive shares is on some route
                t["effective_amount"] += amount * weight
                t["effective_pct"] += share * weight
    for t in totals.values():
        t["effective_pct"] = _pct(t["effective_pct"])
    rows.sort(key=lambda r: (r["asset"], len(r["via"]), r["via"]))
    held = [{**{k: r[k] for k in ("id", "state", "warehouse", "warehouse_org", "commodity", "quantity", "unit",
                                  "holder", "expiry")}, "pledged_to": r["pledge"]["lender"] if r["pledge"] else None}
            for r in sorted(book.receipts.values(), key=lambda r: r["id"])
            if r["holder"] in accounts and book.live(r["id"])]
    pledges = [{**{k: v for k, v in p.items() if k != "ended"}, "role": "holder" if p["holder"] in accounts
                else "lender", "ended": p["ended"]}
               for p in book.pledges if p["holder"] in accounts or p["lender"] in accounts]
    history = _receipts_ever_held(book, accounts)
    holdings = sorted(totals.values(), key=lambda t: t["asset"])
    receipts_chain = _in_run(book.chain.name, market_of) if book.chain is not None else None
    markets = _markets(index, market_of, identities, accounts, holdings, receipts_chain,
                       {"receipts_held": held, "receipts_ever_held": history, "pledges": pledges}, roles)
    kind = next((kinds.get(i) for i in identities if kinds.get(i) is not None), None)
    return {"query": "exposure", "person": raw, "identities": sorted(identities), "accounts": sorted(accounts),
            "kind": kind, "kind_name": KIND_NAMES.get(kind, KIND_NAMES[None]) if identities
            else "account (no linked identity)",
            "holdings": holdings, "routes": rows, "receipts_held": held, "receipts_ever_held": history,
            "pledges": pledges, "roles": roles, "markets": markets}


def _chains(run_dir: Path, accounts: set[str]) -> tuple[dict[str, str], list[dict]]:
    """Each chain of the run (by its name in the run) -> its market; and the roles `accounts` hold: each
    chain's membership at its head (ledger.chain.membership), and when the member was added."""
    market_of: dict[str, str] = {}
    roles = []
    for path in chain_ledgers(run_dir):
        chain = chain_name(run_dir, path)
        with LedgerReader(path) as ledger:
            deployed = {c.name for c in ledger.contracts()}
            market_of[chain] = next((label for contract, label in MARKETS if contract in deployed), "other")
            added = {e.args["account"]: e.block_number
                     for e in ledger.events(contracts="PermissionRegistry", names="MemberAdded", decoded=True)}
            membership = ledger.membership_at()
        for address, m in sorted(membership.members(), key=lambda member: member[0]):
            account = "0x" + address.hex()
            if account in accounts:
                roles.append({"chain": chain, "account": account, "org": text32(m.org_id),
                              "roles_mask": int(m.roles), "since_block": added.get(account),
                              "status": m.status.name.lower(), "roles": Role.names(int(m.roles))})
    return market_of, roles


def _in_run(chain: str, market_of: dict[str, str]) -> str:
    """The run's name for a chain the index or the events name (its name in the run, or its own name when
    that is the only chain of the run so named)."""
    if chain in market_of:
        return chain
    named = [c for c in market_of if own_name(c) == own_name(chain)]
    return named[0] if len(named) == 1 else chain


def _receipts_ever_held(book: ReceiptBook, accounts: set[str]) -> list[dict]:
    """Every receipt that one of `accounts` held at some time (issued, transferred or delivered to it, taken on
    default, or made from its own by a split or merge): how it came and, if it left, how, and its state now."""
    out = []
    for rid, steps in sorted(book.history.items()):
        came = [s for s in steps if (s.get("to") or s.get("holder")) in accounts
                and s["what"] in ("issued", "transferred", "delivered", "pledge enforced", "created by split",
                                  "created by merge")]
        if not came:
            continue
        r = book.receipts[rid]
        after = steps[steps.index(came[0]) + 1:]
        left = next((s for s in after if s.get("from") in accounts or s["what"] in ENDS), None)
        out.append({"id": rid, "commodity": r["commodity"], "quantity": r["quantity"], "unit": r["unit"],
                    "warehouse_org": r["warehouse_org"] or r["warehouse"], "state": r["state"],
                    "held_now": r["holder"] in accounts and book.live(rid),
                    "came": {k: came[0][k] for k in ("what", "chain", "block", "time", "tx_hash")},
                    "left": {k: left[k] for k in ("what", "chain", "block", "time", "tx_hash")} if left else None})
    return out


def _markets(index: AuditIndex, market_of: dict[str, str], identities: set[str], accounts: set[str],
             holdings: list[dict], receipts_chain: str | None, receipts: dict[str, list],
             roles: list[dict]) -> list[dict]:
    """Per chain of the run where the person appears: the chain's market and what the person has there."""
    found: dict[str, dict] = {}

    def at(chain: str) -> dict:
        chain = _in_run(chain, market_of)
        return found.setdefault(chain, {"chain": chain, "market": market_of.get(chain, "other"),
                                        "identity_kind": None, "accounts": [], "holdings": [], "receipts_held": 0,
                                        "receipts_ever_held": 0, "pledges": 0, "roles": []})

    for ident in sorted(identities):
        for chain, kind in index.identity_chains(ident):
            at(chain)["identity_kind"] = KIND_NAMES.get(kind, KIND_NAMES[None])
    for account in sorted(accounts):
        for chain in index.account_chains(account):
            at(chain)["accounts"].append(account)
    for h in holdings:
        at(h["chain"])["holdings"].append(h["label"])
    if receipts_chain is not None and any(receipts.values()):
        market = at(receipts_chain)
        for key, items in receipts.items():
            market[key] = len(items)
    for role in roles:
        at(role["chain"])["roles"].append(role["org"])
    return [found[c] for c in sorted(found)]
