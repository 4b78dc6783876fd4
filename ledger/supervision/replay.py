"""A chain's market state as the regulator rebuilds it from the sealed history, event by event:
identities and their qualification, accounts, vehicles' declarations, assets with their caps,
holdings, each asset's look-through investors at the end of every block, warehouse receipts and the
units of declared stock. Every rule reads it; none keeps a copy of its own."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import LedgerError
from ledger.supervision.rules import IdentityKind, investors_behind, text32


@dataclass(frozen=True)
class Event:
    """One decoded event of a chain's sealed history, with where it happened."""

    chain: str
    block: int
    time: int
    log_index: int
    tx: str | None
    function: str | None  # the function the transaction called
    contract: str
    name: str
    args: dict


@dataclass
class Identity:
    kind: int
    qualified_until: int
    registered_block: int
    registered_time: int
    agent: str | None = None
    data_hash: str | None = None  # the salted hash of its personal data, on chain


@dataclass
class Asset:
    asset: str  # "fund:N" or "company:0x<64 hex>"
    market: str  # "fund" or "company"
    label: str
    cap: int


@dataclass
class Sealed:
    """What the regulator opened with its key on one chain: personal data by identity with the salted hash it
    gives (to hold against the chain's), and the people each nominee holds for, by company asset."""

    personal: dict[str, dict] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    # Every further record opened for an identity, by its hash: a store planted in another member's folder must
    # not displace the agent's record that matches the chain.
    others: dict[str, dict[str, dict]] = field(default_factory=dict)
    opened: bool = False  # the regulator looked (False: no sealed data was at hand, nothing can be said of it)
    nominees: dict[str, dict[str, list[str]]] = field(default_factory=dict)


@dataclass
class Receipt:
    id: int
    warehouse: str
    commodity: str
    unit: str
    quantity: int
    certificate: str
    expiry: int
    issued: Event
    ended: Event | None = None  # cancelled, or consumed by a split or a merge
    cancelled: bool = False
    pledges: list[Event] = field(default_factory=list)


class ReceiptBook:
    """A chain's receipts, their lineage and pledges, and the certificates that started them."""

    def __init__(self) -> None:
        self.receipts: dict[int, Receipt] = {}
        self.started: dict[str, list[int]] = {}  # certificate -> receipts started on it

    def apply(self, e: Event) -> None:
        a = e.args
        if e.name == "ReceiptIssued":
            self._new(a["id"], e, a["warehouse"].lower(), text32(a["commodity"]), text32(a["unit"]), a["quantity"],
                      a["inspectionCertHash"].lower(), a["expiry"])
            self.started.setdefault(a["inspectionCertHash"].lower(), []).append(a["id"])
        elif e.name == "ReceiptSplit" and a["id"] in self.receipts:
            source = self.receipts[a["id"]]
            source.ended = e
            for part, quantity in zip(a["parts"], a["quantities"]):
                self._new(part, e, source.warehouse, source.commodity, source.unit, quantity, source.certificate,
                          source.expiry)
        elif e.name == "ReceiptsMerged":
            sources = [self.receipts[s] for s in a["sources"] if s in self.receipts]
            certificate = a["inspectionCertHash"].lower()
            first = sources[0] if sources else None
            self._new(a["id"], e, first.warehouse if first else "", first.commodity if first else "",
                      first.unit if first else "", a["quantity"], certificate,
                      min((s.expiry for s in sources), default=0))
            for s in sources:
                s.ended = e
            if certificate not in {s.certificate for s in sources}:  # the merge minted a certificate
                self.started.setdefault(certificate, []).append(a["id"])
        elif e.name == "ReceiptCancelled" and a["id"] in self.receipts:
            self.receipts[a["id"]].ended, self.receipts[a["id"]].cancelled = e, True
        elif e.name == "Pledged" and a["id"] in self.receipts:
            self.receipts[a["id"]].pledges.append(e)

    def _new(self, rid: int, e: Event, warehouse: str, commodity: str, unit: str, quantity: int, certificate: str,
             expiry: int) -> None:
        self.receipts[rid] = Receipt(rid, warehouse, commodity, unit, quantity, certificate, expiry, e)


class World:
    """One chain's state. `apply` an event at a time; `end_block` once a block's events are applied."""

    def __init__(self, chain: str, sealed: Sealed | None = None, tokens: dict[str, str] | None = None,
                 ledger: Path | None = None, run_dir: Path | None = None) -> None:
        self.chain = chain
        self.sealed = sealed or Sealed()
        self.tokens = tokens or {}  # market contract address -> its name (for HolderCapModule's counts)
        self.ledger = ledger  # the chain's ledger file, for rules that check files beside it
        self.chain_dir = ledger.parent if ledger else None
        self.run_dir = run_dir  # the run the chain is read from (its name in the run is `chain`)
        self.holders_on_chain: dict[str, int] = {}  # asset -> the chain's own count (HolderCapModule)
        self.identities: dict[str, Identity] = {}
        self.accounts: dict[str, str] = {}  # account -> identity
        self.declared: dict[str, list[tuple[str, int]]] = {}  # vehicle -> [(investor, bps)], the latest
        self.assets: dict[str, Asset] = {}
        self.balances: dict[str, dict[str, int]] = {}  # asset -> identity -> amount
        self.orgs: dict[str, str] = {}  # member account -> organisation code
        self.contracts: set[str] = set()  # contract names seen emitting
        self.block = self.time = 0
        self.looked: dict[str, frozenset[str]] = {}  # asset -> look-through investors at the last block end
        self.previous: dict[str, frozenset[str]] = {}  # ... at the block end before
        self.changed: set[str] = set()  # assets whose look-through changed in the last block
        self._dirty: set[str] = set()
        self._graph_changed = False
        self.receipts = ReceiptBook()
        self.stock_units: dict[tuple[str, str], str] = {}  # (warehouse, commodity) -> its declared stock's unit

    # ------------------------------------------------------------------ reading

    def qualified(self, identity: str, time: int) -> bool:
        record = self.identities.get(identity)
        return record is not None and record.qualified_until >= time

    def kind(self, identity: str) -> int:
        record = self.identities.get(identity)
        return record.kind if record else IdentityKind.NONE

    def personal(self, identity: str) -> dict | None:
        """The personal data the regulator opened for `identity`, if its salted hash is the one on chain (a
        record that does not match is no evidence of anything: sealed_record reports it)."""
        record = self.identities.get(identity)
        if record is None:
            return None
        if record.data_hash == self.sealed.hashes.get(identity):
            return self.sealed.personal.get(identity)
        return self.sealed.others.get(identity, {}).get(record.data_hash)

    def who(self, identity: str) -> dict:
        """An identity as a finding names it: its id, its name where the regulator opened it, its kind."""
        name = (self.personal(identity) or {}).get("name")
        return {"id": identity, "name": name if isinstance(name, str) else None,
                "kind": IdentityKind(self.kind(identity)).label}

    def registered_at(self, identity: str) -> tuple[int, int]:
        """(block, time) of an identity's registration; (0, 0) for one never registered."""
        record = self.identities.get(identity)
        return (record.registered_block, record.registered_time) if record else (0, 0)

    def asset_party(self, asset: str) -> dict:
        info = self.assets.get(asset)
        return {"id": asset, "name": info.label if info else asset, "kind": info.market if info else "asset"}

    def org(self, account: str) -> dict:
        return {"id": account, "name": self.orgs.get(account), "kind": "member"}

    def holders(self, asset: str) -> list[str]:
        return sorted(h for h, n in self.balances.get(asset, {}).items() if n > 0)

    def investors(self, asset: str) -> frozenset[str]:
        """`asset`'s look-through investors now: direct holders, vehicles looked through to their declared
        investors, a company's nominees to the people they hold for (distinct identities)."""
        return frozenset(investors_behind(self.holders(asset), self.declared,
                                          self.sealed.nominees.get(asset, {})))

    # ------------------------------------------------------------------ replay

    def apply(self, e: Event) -> None:
        self.block, self.time = e.block, e.time
        self.contracts.add(e.contract)
        if e.contract == "WarehouseReceipt":
            self.receipts.apply(e)
        handler = getattr(self, f"_{e.contract}_{e.name}", None)
        if handler is not None:
            handler(e.args)

    def end_block(self, block: int, time: int) -> None:
        """Recomputes the look-through of every asset the block may have changed."""
        self.block, self.time = block, time
        dirty = set(self.assets) if self._graph_changed else self._dirty
        self.changed = set()
        for asset in sorted(dirty):
            now = self.investors(asset)
            before = self.looked.get(asset, frozenset())
            if now != before:
                self.previous[asset] = before
                self.looked[asset] = now
                self.changed.add(asset)
        self._dirty, self._graph_changed = set(), False

    def _credit(self, asset: str, identity: str | None, amount: int) -> None:
        if identity is None:
            return
        book = self.balances.setdefault(asset, {})
        book[identity] = book.get(identity, 0) + amount
        self._dirty.add(asset)

    def _move(self, asset: str, src: str, dst: str, amount: int) -> None:
        self._credit(asset, self.accounts.get(src.lower()), -amount)
        self._credit(asset, self.accounts.get(dst.lower()), amount)

    def _WarehouseReceipt_StockDeclared(self, a: dict) -> None:
        self.stock_units[(a["warehouse"].lower(), text32(a["commodity"]))] = text32(a["unit"])

    def _PermissionRegistry_MemberAdded(self, a: dict) -> None:
        self.orgs[a["account"].lower()] = text32(a["orgId"])

    def _IdentityRegistry_IdentityRegistered(self, a: dict) -> None:
        self.identities[a["id"].lower()] = Identity(a["kind"], a["qualifiedUntil"], self.block, self.time,
                                                   a.get("agent"), str(a.get("dataHash", "")).lower() or None)

    def _IdentityRegistry_QualificationSet(self, a: dict) -> None:
        record = self.identities.get(a["id"].lower())
        if record is not None:
            record.qualified_until = a["qualifiedUntil"]

    def _IdentityRegistry_AccountLinked(self, a: dict) -> None:
        self.accounts[a["account"].lower()] = a["id"].lower()

    def _IdentityRegistry_InvestorsDeclared(self, a: dict) -> None:
        merged: dict[str, int] = {}
        for investor, bps in zip(a["investors"], a["sharesBps"]):  # a repeated investor (older chains) sums
            merged[investor.lower()] = merged.get(investor.lower(), 0) + bps
        self.declared[a["vehicle"].lower()] = list(merged.items())
        self._graph_changed = True

    def _PrivateFundShares_FundCreated(self, a: dict) -> None:
        asset = f"fund:{a['fundId']}"
        self.assets[asset] = Asset(asset, "fund", f"fund {a['fundId']}", a["cap"])

    def _PrivateFundShares_Subscribed(self, a: dict) -> None:
        self._credit(f"fund:{a['fundId']}", a["identity"].lower(), a["amount"])

    def _PrivateFundShares_TransferSettled(self, a: dict) -> None:
        self._move(f"fund:{a['fundId']}", a["from"], a["to"], a["amount"])

    _PrivateFundShares_ForcedTransfer = _PrivateFundShares_TransferSettled

    def _HolderCapModule_HolderEntered(self, a: dict) -> None:
        market = self.tokens.get(a["token"].lower())
        asset = f"fund:{a['asset']}" if market == "PrivateFundShares" else f"company:0x{a['asset']:064x}"
        self.holders_on_chain[asset] = a["holders"]

    _HolderCapModule_HolderExited = _HolderCapModule_HolderEntered

    def _EquityMarket_CompanyListed(self, a: dict) -> None:
        asset = f"company:{a['companyId'].lower()}"
        self.assets[asset] = Asset(asset, "company", text32(a["companyId"]), a["holderCap"])

    def _EquityMarket_SharesAllotted(self, a: dict) -> None:
        self._credit(f"company:{a['companyId'].lower()}", a["identity"].lower(), a["shares"])

    def _EquityMarket_SharesTransferred(self, a: dict) -> None:
        asset = f"company:{a['companyId'].lower()}"
        self._credit(asset, a["fromIdentity"].lower(), -a["shares"])
        self._credit(asset, a["toIdentity"].lower(), a["shares"])


# ---------------------------------------------------------------------- reading a run

SOURCES = ("PermissionRegistry", "IdentityRegistry", "PrivateFundShares", "EquityMarket", "HolderCapModule",
           "SettlementCash", "WarehouseReceipt", "Disclosure")  # the contracts whose events the rules read
MARKETS = ("PrivateFundShares", "EquityMarket")


def read_history(ledger: Path, chain: str) -> tuple[list[Event], tuple[int, int], dict[str, str]]:
    """A sealed ledger's events of SOURCES in order, its head (block, time), and its market contracts by
    address. Call it on a ledger that holds (ledger.audit.verify.sealed_ledgers)."""
    from ledger.chain.reader import LedgerReader

    with LedgerReader(ledger) as reader:
        times = {b.number: b.timestamp for b in reader.blocks()}
        functions = {tx.hash: tx.function for tx in reader.transactions()}
        tokens = {"0x" + c.address.hex(): c.name for c in reader.contracts() if c.name in MARKETS}
        events = [Event(chain, e.block_number, times.get(e.block_number, 0), e.log_index, "0x" + e.tx_hash.hex(),
                        functions.get(e.tx_hash), e.contract, e.name, e.args)
                  for e in reader.events(contracts=SOURCES, decoded=True) if e.name]
    head = max(times, default=0)
    return events, (head, times.get(head, 0)), tokens


def active_regulators(ledger: Path) -> list[str]:
    """The organisations holding the REGULATOR role on a (holding) ledger's chain now, active members only, as
    the sealed registry events give them: a regulator suspended or revoked is no longer the regulator."""
    from ledger.chain.reader import LedgerReader
    from ledger.chain.roles import MemberStatus, Role

    with LedgerReader(ledger) as reader:
        membership = reader.membership_at()
    return sorted({text32(m.org_id) for _, m in membership.members()
                   if m.roles & Role.REGULATOR and m.status == MemberStatus.ACTIVE})


def open_sealed(chain_dir: Path) -> Sealed:
    """What the chain's regulators open of its members' private stores, each with its own keystore's privacy
    key: personal data by identity, and the nominee declarations by company asset."""
    from ledger.trust.keystore import open_keystore
    from ledger.trust.privacy import PRIVATE_FILE, data_hash, read_declarations, read_records

    stores = sorted((chain_dir / "nodes").glob(f"*/{PRIVATE_FILE}"))
    sealed = Sealed(opened=True)
    if not stores:
        return sealed
    regulators = active_regulators(chain_dir / "ledger.sqlite")
    keys = [open_keystore(chain_dir, r).privacy_key for r in regulators]

    def opened(sealed_item) -> dict | None:
        """The item opened, or None: for another reader, or malformed or altered (a member's file may hold
        anything; what cannot be read is no evidence, and sealed_record names an identity left without it)."""
        try:
            return next((data for data in (sealed_item.open(key) for key in keys) if data is not None), None)
        except (LedgerError, ValueError, TypeError):
            return None

    def items(read, store: Path) -> list:
        try:
            return read(store)
        except (sqlite3.Error, LedgerError, ValueError, TypeError):
            return []  # not a store this code wrote: nothing in it is read

    for store in stores:
        for record in items(read_records, store):
            data = opened(record)
            if isinstance(data, dict):
                identity, digest = "0x" + record.identity.hex(), "0x" + data_hash(record.salt, data).hex()
                if identity in sealed.personal:
                    sealed.others.setdefault(identity, {})[digest] = data
                else:
                    sealed.personal[identity], sealed.hashes[identity] = data, digest
        for declaration in items(read_declarations, store):
            data = opened(declaration) if declaration.kind == "nominee" else None
            asset = company_asset(data.get("company")) if isinstance(data, dict) else None
            if asset and isinstance(data.get("acts_for"), list):
                # Every store's people, together: a declaration another member plants can add to whom a nominee
                # holds for, never take anyone away (nothing on chain says which store is the nominee agent's).
                people = sealed.nominees.setdefault(asset, {}).setdefault("0x" + declaration.identity.hex(), [])
                people += [p for p in (str(p).lower() for p in data["acts_for"]) if p not in people]
    return sealed


def company_asset(company: object) -> str | None:
    """A company as an agent names it (its code, any case, or its id) as the asset `company:0x<64 hex>`."""
    text = str(company or "").strip()
    if text.lower().startswith("0x") and len(text) == 66:
        return "company:" + text.lower()
    raw = text.upper().encode()
    return "company:0x" + raw.ljust(32, b"\0").hex() if text and len(raw) <= 32 else None
