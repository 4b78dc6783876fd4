"""A node's audit view: what it submitted, what was refused and why, the membership
and role changes that touched it, and the personal data in its private store, which
opens only for the node itself and for the regulator: the viewer's privacy key comes from the
viewer's own keystore, and no other key is opened."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ledger.chain.run import LEDGER_FILE
from ledger.errors import ConfigError
from ledger.trust.keystore import keystore_nodes, open_keystore
from ledger.audit.verify import membership_at_head, require_pinned
from ledger.trust.privacy import PRIVATE_FILE, data_hash, read_records
from ledger.chain.roles import MemberStatus, Role
from ledger.chain.store import LedgerStore

MEMBERSHIP_EVENTS = ("MemberAdded", "RolesChanged", "StatusChanged")
NOBODY = "(no key)"  # a viewer that opens no keystore: every record stays sealed


def node_view(run_dir: Path, chain: str, node: str, viewer: str | None = None) -> dict:
    """`node`'s view of `chain`, as seen by `viewer` (the node itself by default)."""
    path = run_dir / chain / LEDGER_FILE
    if not path.exists():
        raise ConfigError(f"no chain {chain!r} in {run_dir}")
    require_pinned(run_dir)
    viewer = viewer or node
    known = chain_nodes(run_dir / chain)
    if viewer not in known and viewer != NOBODY:
        raise ConfigError(f"no node {viewer!r} on {chain} to view as; nodes: {', '.join(known)}")
    store = LedgerStore(path)
    try:
        address = membership_at_head(store).address_of(node)
        if address is None:
            raise ConfigError(f"{node} never was a member of {chain}")
        return {
            "chain": chain,
            "node": node,
            "address": "0x" + address.hex(),
            "viewer": viewer,
            "submitted": _submitted(store, node),
            "refused": _refused(store, node),
            "membership": _membership_changes(store, address),
            "private_data": _private_data(run_dir / chain / "nodes" / node / PRIVATE_FILE, store,
                                          run_dir / chain, viewer, address),
        }
    finally:
        store.close()


def _submitted(store: LedgerStore, node: str) -> dict:
    rows = store.query(
        "SELECT t.contract, t.function, r.status, r.error FROM transactions t JOIN receipts r ON r.tx_hash = t.hash "
        "WHERE t.node = ?", (node,))
    calls = Counter(f"{contract}.{function}" for contract, function, _, _ in rows)
    return {"transactions": len(rows), "committed": sum(1 for *_, status, _ in rows if status),
            "by_call": dict(sorted(calls.items()))}


def _refused(store: LedgerStore, node: str) -> list[dict]:
    gateway = [{"where": "gateway", "block": b, "call": f"{c}.{f}", "reason": r, "detail": d}
               for b, c, f, r, d in store.query(
                   "SELECT block_number, contract, function, reason, detail FROM refusals WHERE node = ? ORDER BY seq",
                   (node,))]
    contract = [{"where": "contract", "block": b, "call": f"{c}.{f}", "reason": e, "detail": json.loads(a or "{}")}
                for b, c, f, e, a in store.query(
                    "SELECT t.block_number, t.contract, t.function, r.error, r.error_args FROM transactions t "
                    "JOIN receipts r ON r.tx_hash = t.hash WHERE t.node = ? AND r.status = 0 "
                    "ORDER BY t.block_number, t.tx_index", (node,))]
    return sorted(gateway + contract, key=lambda r: r["block"])


def _membership_changes(store: LedgerStore, address: bytes) -> list[dict]:
    changes = []
    for block, name, args in store.query(
            "SELECT block_number, name, args FROM events WHERE contract = 'PermissionRegistry' "
            f"AND name IN {MEMBERSHIP_EVENTS} ORDER BY block_number, log_index"):
        a = json.loads(args)
        if a["account"].lower() != "0x" + address.hex():
            continue
        change = {"block": block, "event": name}
        if "roles" in a:
            change["roles"] = Role.names(a["roles"])
        if "status" in a:
            change["status"] = MemberStatus(a["status"]).name.lower()
        changes.append(change)
    return changes


def chain_nodes(chain_dir: Path) -> list[str]:
    """The nodes of a chain: those with a certificate in certs/ or a keystore."""
    certified = {p.stem for p in (chain_dir / "certs").glob("*.pem")} - {"ca", "crl"}
    return sorted(certified | set(keystore_nodes(chain_dir)))


def _private_data(path: Path, store: LedgerStore, chain_dir: Path, viewer: str, address: bytes) -> dict:
    """The node's sealed records, opened where `viewer` may, each checked against its salted hash on chain;
    and every identity the node registered on chain whose record its store no longer holds."""
    registered = [json.loads(a) for (a,) in store.query(
        "SELECT args FROM events WHERE contract = 'IdentityRegistry' AND name = 'IdentityRegistered'")]
    # Only the node's own registrations: a record planted from another agent's store must not "match".
    mine = [a for a in registered if a.get("agent", "").lower() == "0x" + address.hex()]
    on_chain = {a["id"].lower(): a["dataHash"].lower() for a in mine}
    own = set(on_chain)
    records = read_records(path) if path.exists() else []
    key = None if viewer == NOBODY or not records else open_keystore(chain_dir, viewer).privacy_key
    items = []
    for record in records:
        identity = "0x" + record.identity.hex()
        personal = record.open(key) if key is not None else None
        item = {"identity": identity, "sealed": personal is None}
        if personal is not None:
            item["personal"] = personal
            item["matches_chain"] = on_chain.get(identity) == "0x" + data_hash(record.salt, personal).hex()
        items.append(item)
    missing = sorted(own - {i["identity"] for i in items})
    return {"records": len(items), "opened": sum(1 for i in items if not i["sealed"]), "items": items,
            "missing": missing}
