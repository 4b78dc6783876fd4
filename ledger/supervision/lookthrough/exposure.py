"""One identity's (or account's) exposure across every market of a run: holdings direct and
through vehicles, warehouse receipts and pledges, and consortium roles."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.errors import ConfigError
from ledger.chain.reader import LedgerReader
from ledger.chain.roles import Role
from ledger.chain.run import ledger_path
from ledger.supervision.lookthrough.events import load_chains, text32
from ledger.supervision.lookthrough.index import AuditIndex
from ledger.supervision.lookthrough.queries import KIND_NAMES, _pct
from ledger.supervision.lookthrough.receipts import ReceiptBook

HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
HEX20 = re.compile(r"^0x[0-9a-f]{40}$")


def exposure(index: AuditIndex, run_dir: Path, person: str) -> dict:
    """One identity's (or one account's) exposure across the run.

    PERSON is an identity id (0x + 64 hex) or an account address (0x + 40 hex; mapped to its
    identity where an AccountLinked links it). Holdings: direct, and through every vehicle that
    declared it as an investor, at any depth (the ubo look-through in reverse: effective amount and
    percentage = the vehicle's holding times the product of declared bps along the path). Receipts:
    the live warehouse receipts held by its accounts, and pledges given (as holder) or taken (as
    lender). Roles: each of its accounts that is a consortium member, with its organisation, roles
    and status on each chain."""
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
    chains = load_chains(run_dir, ("WarehouseReceipt", "PermissionRegistry"))
    book = ReceiptBook(chains)
    # roles: each chain's membership at its head (ledger.chain.membership), and when the member was added
    roles = []
    for chain in chains:
        added = {e.args["account"]: e.block for e in chain.events
                 if e.contract == "PermissionRegistry" and e.name == "MemberAdded"}
        with LedgerReader(ledger_path(run_dir, chain.name)) as ledger:
            membership = ledger.membership_at()
        for address, m in sorted(membership.members(), key=lambda member: member[0]):
            account = "0x" + address.hex()
            if account in accounts:
                roles.append({"chain": chain.name, "account": account, "org": text32(m.org_id),
                              "roles_mask": int(m.roles), "since_block": added.get(account),
                              "status": m.status.name.lower(), "roles": Role.names(int(m.roles))})
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
                                          "effective_amount": 0.0, "effective_pct": 0.0, "routes": 0})
            t["effective_amount"] += amount * weight
            t["effective_pct"] = round(t["effective_pct"] + _pct(share * weight), 6)
            t["routes"] += 1
        for vehicle, bps in investing_in.get(node, []):
            if vehicle in via or vehicle == node or vehicle in identities:
                continue
            stack.append((vehicle, weight * bps / 10_000, (vehicle,) + via))
    rows.sort(key=lambda r: (r["asset"], len(r["via"]), r["via"]))
    held = [{**{k: r[k] for k in ("id", "state", "warehouse", "warehouse_org", "commodity", "quantity", "unit",
                                  "holder", "expiry")}, "pledged_to": r["pledge"]["lender"] if r["pledge"] else None}
            for r in sorted(book.receipts.values(), key=lambda r: r["id"])
            if r["holder"] in accounts and book.live(r["id"])]
    pledges = [{**{k: v for k, v in p.items() if k != "ended"}, "role": "holder" if p["holder"] in accounts
                else "lender", "ended": p["ended"]}
               for p in book.pledges if p["holder"] in accounts or p["lender"] in accounts]
    kind = next((kinds.get(i) for i in identities if kinds.get(i) is not None), None)
    return {"query": "exposure", "person": raw, "identities": sorted(identities), "accounts": sorted(accounts),
            "kind": kind, "kind_name": KIND_NAMES.get(kind, KIND_NAMES[None]) if identities
            else "account (no linked identity)",
            "holdings": sorted(totals.values(), key=lambda t: t["asset"]), "routes": rows,
            "receipts_held": held, "pledges": pledges, "roles": roles}
