"""A node's audit view: what it submitted, what was refused and why, the membership
and role changes that touched it, and the personal data in its private store, which
opens only for the node itself and for the regulator: the viewer's privacy key comes from the
viewer's own keystore, and no other key is opened."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ledger.chain.reader import LedgerReader
from ledger.chain.run import chain_names, ledger_path
from ledger.errors import ConfigError
from ledger.trust.keystore import keystore_nodes, open_keystore
from ledger.audit.verify import membership_at_head, require_pinned
from ledger.trust.privacy import PRIVATE_FILE, data_hash, read_records
from ledger.chain.roles import MemberStatus, Role

MEMBERSHIP_EVENTS = ("MemberAdded", "RolesChanged", "StatusChanged")
NOBODY = "(no key)"  # a viewer that opens no keystore: every record stays sealed


def node_view(run_dir: Path, chain: str, node: str, viewer: str | None = None) -> dict:
    """`node`'s view of `chain`, as seen by `viewer` (the node itself by default)."""
    path = ledger_path(run_dir, chain)
    if chain not in chain_names(run_dir):  # a name, never a path out of the run
        raise ConfigError(f"no chain {chain!r} in {run_dir}; it has {', '.join(chain_names(run_dir))}")
    require_pinned(run_dir)
    viewer = viewer or node
    known = chain_nodes(run_dir / chain)
    if viewer not in known and viewer != NOBODY:
        raise ConfigError(f"no node {viewer!r} on {chain} to view as; nodes: {', '.join(known)}")
    store = LedgerReader(path)
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


def _submitted(store: LedgerReader, node: str) -> dict:
    txs = list(store.transactions(node=node))
    calls = Counter(f"{tx.contract}.{tx.function}" for tx in txs)
    return {"transactions": len(txs), "committed": sum(1 for tx in txs if tx.status),
            "by_call": dict(sorted(calls.items()))}


def _refused(store: LedgerReader, node: str) -> list[dict]:
    gateway = [{"where": "gateway", "block": r.block_number, "call": f"{r.contract}.{r.function}",
                "reason": r.reason, "detail": r.detail} for r in store.refusals(node=node)]
    contract = [{"where": "contract", "block": tx.block_number, "call": f"{tx.contract}.{tx.function}",
                 "reason": tx.error, "detail": tx.detail} for tx in store.transactions(node=node, reverted=True)]
    return sorted(gateway + contract, key=lambda r: r["block"])


def _membership_changes(store: LedgerReader, address: bytes) -> list[dict]:
    changes = []
    for event in store.events(contracts="PermissionRegistry", names=MEMBERSHIP_EVENTS):
        a = event.args
        if a["account"].lower() != "0x" + address.hex():
            continue
        change = {"block": event.block_number, "event": event.name}
        if "roles" in a:
            change["roles"] = Role.names(a["roles"])
        if "status" in a:
            change["status"] = MemberStatus(a["status"]).name.lower()
        changes.append(change)
    return changes


def node_chain(run_dir: Path, node: str) -> str:
    """The chain `view` looks at when none is given: the first of the run's chains NODE is on (in a
    `run scenario all` run the nodes of the three markets differ), else the run's first chain."""
    chains = chain_names(run_dir)
    return next((c for c in chains if node in chain_nodes(Path(run_dir) / c)), chains[0] if chains else "")


def chain_nodes(chain_dir: Path) -> list[str]:
    """The nodes of a chain: those with a certificate in certs/ or a keystore."""
    certified = {p.stem for p in (chain_dir / "certs").glob("*.pem")} - {"ca", "crl"}
    return sorted(certified | set(keystore_nodes(chain_dir)))


def _private_data(path: Path, store: LedgerReader, chain_dir: Path, viewer: str, address: bytes) -> dict:
    """The node's sealed records, opened where `viewer` may, each checked against its salted hash on chain;
    and every identity the node registered on chain whose record its store no longer holds."""
    registered = [e.args for e in store.events(contracts="IdentityRegistry", names="IdentityRegistered")]
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
