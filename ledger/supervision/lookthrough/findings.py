"""The regulator's findings on one run, and how they score against the run's ground truth.

`findings(run_dir)` runs every regulator detector on what a regulator really holds: the run's
ledgers, the nodes' private stores (whose sealed personal data the regulator can open) and the
document files. It never reads ground_truth.json. Each finding has a `kind` named after the
violation it stands for, and the subject fields that identify it.

`score(run_dir)` matches the findings against the regulator plants in ground_truth.json (on kind
and the identifying subject fields of that kind, one finding per plant) and gives true positives,
false positives, false negatives, precision and recall.

Detectors:
    phantom_stock, double_financing   the receipt market's anomalies (receipts.py; a certificate is
                                      followed through splits and merges, as the contract derives it)
    missed_disclosure_deadline, late_disclosure, tampered_disclosure
                                      the disclosure market's anomalies (disclosures.py)
    split_identity                    two identities whose sealed personal data (opened with the
                                      regulator's key) carry the same ID number
    disguised_vehicle                 an institution that receives cash (SettlementCash.transfer,
                                      sent directly, not through a settlement) from several natural
                                      persons and then subscribes to a fund
    nominee_holders                   a company over its cap once the people behind its nominee
                                      holders are counted (the nominee declarations the KYC agents
                                      sealed for the regulator)
"""

from __future__ import annotations

import json
from pathlib import Path

from ledger.trust.keystore import open_keystore
from ledger.trust.privacy import PRIVATE_FILE, read_declarations, read_records
from ledger.chain.reader import LedgerReader
from ledger.chain.roles import MemberStatus, Role
from ledger.chain.run import ledger_path
from ledger.supervision.lookthrough.events import text32
from ledger.supervision.lookthrough.index import ledger_files, open_index
from ledger.supervision.rules import IdentityKind

REGULATOR = "regulator"
PERSON, INSTITUTION = IdentityKind.PERSON, IdentityKind.INSTITUTION
MIN_BACKERS = 2  # natural persons paying one institution before it subscribes

# anomaly kind (receipts.py, disclosures.py) -> the violation it stands for
ANOMALY_KINDS = {
    "phantom_stock": "phantom_stock",
    "double_financing": "double_financing",
    "missed_deadline": "missed_disclosure_deadline",
    "late_filing": "late_disclosure",
    "tampered_document": "tampered_disclosure",
}

# the subject fields that identify one violation of each kind
KEYS: dict[str, tuple[str, ...]] = {
    "phantom_stock": ("warehouse", "commodity"),
    "double_financing": ("inspection_cert",),
    "missed_disclosure_deadline": ("company", "document_kind", "due"),
    "late_disclosure": ("company", "document"),
    "tampered_disclosure": ("company", "document", "version"),
    "nominee_holders": ("company",),
    "disguised_vehicle": ("identity", "fund"),
    "split_identity": ("identities",),
}


def _contracts(run_dir: Path) -> set[str]:
    names: set[str] = set()
    for path in ledger_files(run_dir):
        with LedgerReader(path) as ledger:
            names.update(c.name for c in ledger.contracts() if c.name)
    return names


# ------------------------------------------------------------------ market anomalies

def _from_anomalies(anomalies: list[dict]) -> list[dict]:
    out = []
    for a in anomalies:
        kind = ANOMALY_KINDS.get(a["kind"], a["kind"])
        out.append({**a, "kind": kind, "source": a["kind"]})
    return out


def _receipt_findings(run_dir: Path) -> list[dict]:
    from ledger.supervision.lookthrough.receipts import receipt_anomalies
    return _from_anomalies(receipt_anomalies(run_dir)["anomalies"])


def _disclosure_findings(run_dir: Path) -> list[dict]:
    from ledger.supervision.lookthrough.disclosures import disclosure_anomalies
    found = _from_anomalies(disclosure_anomalies(run_dir)["anomalies"])
    # A deadline the chain itself flagged (DisclosureOverdue) was caught on chain, not by the regulator.
    return [f for f in found if f["source"] != "overdue_flagged"]


# ------------------------------------------------------------------ identities

def _regulators(ledger: Path) -> list[str]:
    """The organisations holding the REGULATOR role on this chain now, active members only, as the sealed
    registry events give them (ledger.chain.membership.membership_at, on a ledger ledger_files found to hold):
    a regulator whose membership was suspended or revoked is no longer the regulator."""
    with LedgerReader(ledger) as reader:
        membership = reader.membership_at()
    return sorted({text32(m.org_id) for _, m in membership.members()
                   if m.roles & Role.REGULATOR and m.status == MemberStatus.ACTIVE})


def _regulator_keys(run_dir: Path):
    """(chain, the private stores on it, the regulator's keys on it) for every chain with private stores:
    each regulator's privacy key from its own keystore, and no other node's key."""
    for ledger in ledger_files(run_dir):
        chain = ledger.parent.name
        stores = sorted((ledger.parent / "nodes").glob(f"*/{PRIVATE_FILE}"))
        if not stores:
            continue
        keys = [open_keystore(ledger.parent, r).privacy_key for r in _regulators(ledger)]
        yield chain, stores, keys


def _opened(sealed, keys) -> dict | None:
    return next((data for data in (sealed.open(key) for key in keys) if data is not None), None)


def _opened_personal(run_dir: Path) -> dict[tuple[str, str], dict]:
    """(chain, identity) -> personal data, every private store opened with the regulator's key."""
    out: dict[tuple[str, str], dict] = {}
    for chain, stores, keys in _regulator_keys(run_dir):
        for store in stores:
            for record in read_records(store):
                personal = _opened(record, keys)
                if personal is not None:
                    out[(chain, "0x" + record.identity.hex())] = personal
    return out


def _nominee_holders(run_dir: Path) -> list[dict]:
    """Companies whose holders, counting the people behind nominees (from the nominee declarations
    the KYC agents sealed for the regulator), exceed the cap though the on-chain count does not."""
    acts_for: dict[str, dict[str, list[str]]] = {}  # company code -> nominee -> the people behind it
    for _chain, stores, keys in _regulator_keys(run_dir):
        for store in stores:
            for declaration in read_declarations(store):
                data = _opened(declaration, keys) if declaration.kind == "nominee" else None
                if data is not None:
                    acts_for.setdefault(data["company"], {})["0x" + declaration.identity.hex()] = data["acts_for"]
    out = []
    with open_index(run_dir) as index:
        for code, nominees in sorted(acts_for.items()):
            company = "0x" + code.encode().ljust(32, b"\0").hex()
            asset = index.asset(f"company:{company}")
            if asset is None:
                continue
            holders = {h for h, _, _ in index.holdings(asset["asset"])}
            holding = sorted(n for n in nominees if n in holders)
            real = (holders - set(holding)) | {p for n in holding for p in nominees[n]}
            if len(real) > asset["cap"] >= len(holders):
                out.append({
                    "kind": "nominee_holders", "company": company, "code": code, "cap": asset["cap"],
                    "holders_on_chain": len(holders), "real_holders": len(real),
                    "nominees": [{"identity": n, "people": len(nominees[n])} for n in holding],
                    "detail": f"{code} has {len(holders)} holders on chain but {len(real)} with the people behind "
                              f"its {len(holding)} nominees counted, over its cap of {asset['cap']}",
                    "evidence": "nominee declarations sealed by the KYC agents, opened with the regulator's key",
                })
    return out


def _events(run_dir: Path, chain: str, contract: str, names: str | tuple[str, ...]) -> list:
    """The decoded events of `contract` named `names` on `chain`, in order."""
    with LedgerReader(ledger_path(run_dir, chain)) as ledger:
        return list(ledger.events(contracts=contract, names=names, decoded=True))


def _identities(run_dir: Path, chain: str) -> tuple[dict[str, int], dict[str, str]]:
    """identity -> kind, account -> identity (IdentityRegistry events)."""
    kinds, accounts = {}, {}
    for event in _events(run_dir, chain, "IdentityRegistry", ("IdentityRegistered", "AccountLinked")):
        a = event.args
        if event.name == "IdentityRegistered":
            kinds[a["id"].lower()] = a["kind"]
        else:
            accounts[a["account"].lower()] = a["id"].lower()
    return kinds, accounts


def _subscriptions(run_dir: Path, chain: str) -> list[tuple[int, int, str, int]]:
    """(block, log_index, identity, fund) of every Subscribed event."""
    return [(e.block_number, e.log_index, e.args["identity"].lower(), e.args["fundId"])
            for e in _events(run_dir, chain, "PrivateFundShares", "Subscribed")]


def _split_identities(run_dir: Path) -> list[dict]:
    personal = _opened_personal(run_dir)
    by_number: dict[tuple[str, str], list[str]] = {}
    for (chain, identity), data in sorted(personal.items()):
        number = data.get("id_number")
        if number:
            by_number.setdefault((chain, str(number)), []).append(identity)
    out = []
    for (chain, number), identities in sorted(by_number.items()):
        if len(identities) < 2:
            continue
        funds: dict[int, set[str]] = {}
        if ledger_path(run_dir, chain).exists():
            for _, _, identity, fund in _subscriptions(run_dir, chain):
                if identity in identities:
                    funds.setdefault(fund, set()).add(identity)
        out.append({
            "kind": "split_identity", "chain": chain, "id_number": number, "identities": sorted(identities),
            "names": [personal[(chain, i)].get("name") for i in sorted(identities)],
            "funds_held_twice": sorted(f for f, ids in funds.items() if len(ids) > 1),
            "detail": f"ID number {number} is registered as {len(identities)} identities",
            "evidence": "sealed personal data opened with the regulator's key",
        })
    return out


def _disguised_vehicles(run_dir: Path) -> list[dict]:
    out = []
    for ledger in ledger_files(run_dir):
        chain = ledger.parent.name
        with LedgerReader(ledger) as reader:
            # Cash sent directly (a SettlementCash.transfer call), not moved by a settlement.
            direct = {tx.hash for tx in reader.transactions()
                      if tx.contract == "SettlementCash" and tx.function == "transfer"}
            rows = [(e.block_number, e.log_index, e.args) for e in reader.events(
                contracts="SettlementCash", names="Transfer", decoded=True) if e.tx_hash in direct]
        if not rows:
            continue
        kinds, accounts = _identities(run_dir, chain)
        paid: dict[str, dict[str, tuple[int, int, int]]] = {}  # institution -> backer -> (block, log, total)
        for block, log_index, a in rows:
            src, dst = accounts.get(a["from"].lower()), accounts.get(a["to"].lower())
            if src is None or dst is None or src == dst:
                continue
            if kinds.get(src) != PERSON or kinds.get(dst) != INSTITUTION:
                continue
            prior = paid.setdefault(dst, {}).get(src, (0, 0, 0))
            paid[dst][src] = (block, log_index, prior[2] + int(a["value"]))
        subscriptions = _subscriptions(run_dir, chain)
        for institution, backers in sorted(paid.items()):
            if len(backers) < MIN_BACKERS:
                continue
            last = max((b, i) for b, i, _ in backers.values())
            funds = sorted({f for b, i, who, f in subscriptions if who == institution and (b, i) > last})
            for fund in funds:
                out.append({
                    "kind": "disguised_vehicle", "chain": chain, "identity": institution, "fund": fund,
                    "backers": sorted(backers), "received": sum(v[2] for v in backers.values()),
                    "detail": f"institution {institution[:10]}.. received cash from {len(backers)} natural persons, "
                              f"then subscribed to fund {fund}",
                    "evidence": "SettlementCash.transfer events from persons' accounts, then Subscribed",
                })
    return out


# ------------------------------------------------------------------ findings and score

def findings(run_dir: Path) -> list[dict]:
    """Every regulator finding on the run in `run_dir`."""
    run_dir = Path(run_dir)
    contracts = _contracts(run_dir)
    out: list[dict] = []
    if "WarehouseReceipt" in contracts:
        out += _receipt_findings(run_dir)
    if "Disclosure" in contracts:
        out += _disclosure_findings(run_dir)
    if "IdentityRegistry" in contracts:
        out += _split_identities(run_dir)
    if "SettlementCash" in contracts:
        out += _disguised_vehicles(run_dir)
    if "EquityMarket" in contracts:
        out += _nominee_holders(run_dir)
    return out


def _norm(value):
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, (list, tuple)):
        return tuple(sorted(_norm(v) for v in value))
    return value


def match_key(kind: str, fields: dict) -> tuple:
    """What identifies one violation of `kind`: the kind and its identifying subject fields."""
    return (kind,) + tuple(_norm(fields.get(f)) for f in KEYS.get(kind, ()))


def score(run_dir: Path, found: list[dict] | None = None) -> dict:
    """The findings matched against ground_truth.json's regulator plants."""
    run_dir = Path(run_dir)
    found = findings(run_dir) if found is None else found
    truth = json.loads((run_dir / "ground_truth.json").read_text(encoding="utf-8"))
    plants = [p for p in truth if p.get("detect") == REGULATOR]
    unmatched = {i: match_key(p["kind"], p["subject"]) for i, p in enumerate(plants)}
    true_positives, false_positives = [], []
    for f in found:
        key = match_key(f["kind"], f)
        hit = next((i for i, k in unmatched.items() if k == key), None)
        if hit is None:
            false_positives.append(f)
        else:
            del unmatched[hit]
            true_positives.append({"kind": f["kind"], "plant": plants[hit]["id"], "key": list(key[1:])})
    false_negatives = [{"kind": plants[i]["kind"], "plant": plants[i]["id"], "key": list(k[1:])}
                       for i, k in unmatched.items()]
    tp, fp, fn = len(true_positives), len(false_positives), len(false_negatives)
    return {
        "plants": len(plants), "findings": len(found),
        "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "matched": true_positives,
        "unexpected": [{k: v for k, v in f.items() if k in ("kind", "detail", *KEYS.get(f["kind"], ()))}
                       for f in false_positives],
        "missed": false_negatives,
    }
