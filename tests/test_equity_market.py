"""The regional equity market business chain: AccountLinkage and EquityMarket, every
state-changing function and every refusal reason. Disclosure has its own file.

The `equity` fixture builds the chain with a holder cap of 3 so the cap is cheap to reach.
Each `equity.send` is one block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from conftest import DAY, PERSON, T0, reverted
from ledger.chain.run import open_chain
from ledger.tooling.abi import to_jsonable
from ledger.chain.consortium import Consortium, Contract, Ticket
from ledger.errors import PilotLedgerError
from ledger.chain.node import Node
from ledger.chain.roles import GovernanceAction, Role
from ledger.chain.access import adopt_declared_roles
from scenarios.compliance import EQUITY_RULES, deploy_compliance, register_rules

CAP = 3
YEAR = 365 * DAY
JOINT_STOCK, LIMITED_LIABILITY = 0, 1
LISTED, DELISTED = 1, 2
OPEN, ALLOTTED, CANCELLED = 1, 2, 3
CO = b"CO-0001".ljust(32, b"\0")
CO2 = b"CO-0002".ljust(32, b"\0")
FILE = b"\x5a" * 32
REASON = b"merged into CO-0009".ljust(32, b"\0")
PRICE = 12

# Company and offering records, as the views return them.
ISSUER, FORM, STATUS, LISTED_AT, DATA_HASH, TOTAL = range(6)
O_COMPANY, O_PRICE, O_MAX, O_SUBSCRIBED, O_ALLOTTED, O_CLOSES, O_STATUS, O_NEW = range(8)


def h(raw: bytes) -> str:
    return "0x" + raw.hex()


def selector(signature: str) -> str:
    return h(keccak(signature.encode())[:4])


def holder_event(equity, identity: bytes, holders: int) -> dict:
    """HolderEntered/HolderExited as the compliance's holder-cap module emits them for company CO."""
    return {"token": h(equity.market.address), "asset": int.from_bytes(CO, "big"), "identity": h(identity),
            "units": 1, "holders": holders, "cap": CAP}


def ok(ticket: Ticket) -> Ticket:
    assert ticket.ok, (ticket.function, ticket.status, ticket.reason, ticket.detail)
    return ticket


def refused(ticket: Ticket, reason: str) -> bool:
    return ticket.status == "refused" and ticket.reason == reason


@dataclass
class Equity:
    """A regional equity market chain, deployed, with shortcuts that commit one block per call."""

    consortium: Consortium
    center: Node
    regulator: Node
    company: Node
    company2: Node
    depository: Node
    agent: Node
    registry: Contract
    identities: Contract
    linkage: Contract
    market: Contract
    disclosure: Contract

    @property
    def now(self) -> int:
        return self.consortium.head.timestamp

    def queue(self, node: Node, contract: Contract, function: str, *args, signer=None) -> Ticket:
        """Submits one call for the next block."""
        return node.send(contract.call(function, *args), signer=signer)

    def send(self, node: Node, contract: Contract, function: str, *args, signer=None) -> Ticket:
        """Submits one call and commits it in its own block."""
        ticket = self.queue(node, contract, function, *args, signer=signer)
        self.consortium.commit()
        return ticket

    def commit(self, tickets: list[Ticket]) -> None:
        """Commits the queued calls in one block; each must succeed."""
        self.consortium.commit()
        for ticket in tickets:
            ok(ticket)

    def _queue_account(self, label: str, identity: bytes | None, linked: bool):
        account = self.agent.hold(self.consortium.client_account(label))
        tickets = []
        if identity is not None:
            tickets.append(self.queue(self.agent, self.identities, "linkAccount", account.address, identity))
        if linked:
            tickets.append(self.queue(self.depository, self.linkage, "linkAccount", account.address, ref(label)))
        return account, tickets

    def account(self, label: str, identity: bytes | None = None, linked: bool = True):
        """A client account held by the agent, linked to `identity` and, if asked, at the depository."""
        account, tickets = self._queue_account(label, identity, linked)
        self.commit(tickets)
        return account

    def investors(self, *labels: str, qualified: bool = True, linked: bool = True) -> list:
        """Registered investors (identity, account), one account each, all set up in one block."""
        until = T0 + 3650 * DAY if qualified else 0
        made, tickets = [], []
        for label in labels:
            identity = label.encode().ljust(32, b"\0")
            tickets.append(self.queue(self.agent, self.identities, "registerIdentity", identity, b"\x11" * 32,
                                      PERSON, until))
            account, linking = self._queue_account(label, identity, linked)
            tickets += linking
            made.append((identity, account))
        self.commit(tickets)
        return made

    def investor(self, label: str, qualified: bool = True, linked: bool = True):
        return self.investors(label, qualified=qualified, linked=linked)[0]

    def link(self, account, label: str) -> Ticket:
        return self.send(self.depository, self.linkage, "linkAccount", account.address, ref(label))

    def list(self, company_id: bytes = CO, issuer: Node | None = None) -> Ticket:
        issuer = issuer or self.company
        return ok(self.send(self.center, self.market, "listCompany", company_id, issuer.address, JOINT_STOCK, FILE))

    def open_offering(self, company_id: bytes = CO, max_shares: int = 1000, lasts: int = 10 * DAY,
                      node: Node | None = None) -> Ticket:
        return self.send(node or self.company, self.market, "openOffering", company_id, PRICE, max_shares,
                         self.now + lasts)

    def offering(self, company_id: bytes = CO, max_shares: int = 1000, lasts: int = 10 * DAY) -> int:
        return ok(self.open_offering(company_id, max_shares, lasts)).event("OfferingOpened")["offeringId"]

    def subscribe(self, offering_id: int, account, shares: int) -> Ticket:
        return self.send(self.agent, self.market, "subscribe", offering_id, shares, signer=account)

    def close(self, offering_id: int) -> None:
        """Moves the clock past the offering's closing time."""
        self.consortium.advance(self.market.view("offering", offering_id)[O_CLOSES] - self.consortium.time + 1)

    def allot(self, offering_id: int, node: Node | None = None) -> Ticket:
        return self.send(node or self.company, self.market, "allot", offering_id)

    def transfer(self, account, to, shares: int, company_id: bytes = CO) -> Ticket:
        return self.send(self.agent, self.market, "transferShares", company_id, to.address, shares, signer=account)

    def holding(self, identity: bytes, company_id: bytes = CO) -> int:
        return self.market.view("holdingOf", company_id, identity)

    def holders(self, company_id: bytes = CO) -> set[str]:
        return {h(i) for i in self.market.view("holdersOf", company_id)}

    def record(self, company_id: bytes = CO) -> tuple:
        return self.market.view("company", company_id)

    def seed_holders(self, shares: dict, company_id: bytes = CO) -> None:
        """Allots `shares` (account -> shares) through one offering, closed at once."""
        oid = self.offering(company_id)
        self.commit([self.queue(self.agent, self.market, "subscribe", oid, n, signer=account)
                     for account, n in shares.items()])
        self.close(oid)
        ok(self.allot(oid))


def ref(label: str) -> bytes:
    return f"DEP-{label}".encode().ljust(32, b"\0")


def build_equity(run_dir: Path, cap: int = CAP) -> Equity:
    c = open_chain(run_dir, "equity_chain", 7, 31338, T0)
    center = c.add_node("CENTER", "Regional Equity Center",
                        Role.ADMIN | Role.PLATFORM | Role.VALIDATOR | Role.EQUITY_CENTER)
    regulator = c.add_node("REGULATOR", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
    company = c.add_node("COMPANY", "Listed Company", Role.LISTED_COMPANY)
    company2 = c.add_node("COMPANY2", "Another Company", Role.LISTED_COMPANY)
    depository = c.add_node("DEPOSITORY", "Depository", Role.DEPOSITORY)
    agent = c.add_node("AGENT", "Agent", Role.INVESTOR_AGENT | Role.KYC_AGENT)
    c.store.write_meta(c.genesis_meta())
    registry = center.deploy("PermissionRegistry", *c.founding_members()).contract_address
    identities = center.deploy("IdentityRegistry", registry).contract_address
    linkage = center.deploy("AccountLinkage", registry).contract_address
    compliance = deploy_compliance(center, registry, identities, EQUITY_RULES, linkage=linkage)
    market = center.deploy("EquityMarket", registry, identities, compliance, cap).contract_address
    center.deploy("Disclosure", registry, market, YEAR)
    block = c.commit()
    assert all(o.success for o in block.outcomes)
    adopt_declared_roles(c)
    register_rules(c, "EquityMarket", 0, EQUITY_RULES)
    return Equity(c, center, regulator, company, company2, depository, agent, *(
        c.contract(n) for n in ("PermissionRegistry", "IdentityRegistry", "AccountLinkage", "EquityMarket",
                                "Disclosure")))


@pytest.fixture
def equity(tmp_path: Path) -> Equity:
    built = build_equity(tmp_path)
    yield built
    built.consortium.store.close()


@pytest.fixture
def listed(equity: Equity) -> Equity:
    equity.list()
    return equity


@pytest.fixture
def held(listed: Equity):
    """Company CO with holders alice (60) and bob (40); carol is qualified and linked, holding nothing."""
    alice, bob, carol = listed.investors("alice", "bob", "carol")
    listed.seed_holders({alice[1]: 60, bob[1]: 40})
    return listed, alice, bob, carol


def propose(equity: Equity, action: GovernanceAction, account: bytes, roles: int = 0) -> int:
    t = ok(equity.send(equity.center, equity.registry, "propose", action, account, b"\0" * 32, roles))
    pid = t.event("ProposalCreated")["id"]
    ok(equity.send(equity.regulator, equity.registry, "vote", pid))
    return pid


# ---------------------------------------------------------- AccountLinkage


def test_link_account_records_link_both_ways(equity):
    account = equity.account("alice", linked=False)
    t = ok(equity.link(account, "alice"))
    assert t.event("AccountLinked") == {"account": h(account.address), "depositoryAccountRef": h(ref("alice")),
                                        "depository": h(equity.depository.address)}
    assert equity.linkage.view("isLinked", account.address) is True
    assert to_jsonable(equity.linkage.view("linkOf", account.address)) == [
        h(ref("alice")), h(equity.depository.address), equity.now]
    assert equity.linkage.view("accountOfRef", ref("alice")).lower() == h(account.address)


def test_link_account_refuses_empty_reference(equity):
    account = equity.account("alice", linked=False)
    t = equity.send(equity.depository, equity.linkage, "linkAccount", account.address, b"\0" * 32)
    assert reverted(t, "EmptyDepositoryRef") and t.detail == {"account": h(account.address)}


def test_link_account_refuses_account_already_linked(equity):
    account = equity.account("alice")
    t = equity.send(equity.depository, equity.linkage, "linkAccount", account.address, ref("other"))
    assert reverted(t, "AlreadyLinked")
    assert t.detail == {"account": h(account.address), "depositoryAccountRef": h(ref("alice"))}


def test_link_account_refuses_reference_linked_to_another_account(equity):
    alice = equity.account("alice")
    bob = equity.account("bob", linked=False)
    t = equity.send(equity.depository, equity.linkage, "linkAccount", bob.address, ref("alice"))
    assert reverted(t, "DepositoryRefInUse")
    assert t.detail == {"depositoryAccountRef": h(ref("alice")), "account": h(alice.address)}


def test_unlink_account_frees_account_and_reference(equity):
    alice = equity.account("alice")
    t = ok(equity.send(equity.depository, equity.linkage, "unlinkAccount", alice.address))
    assert t.event("AccountUnlinked") == {"account": h(alice.address), "depositoryAccountRef": h(ref("alice")),
                                          "depository": h(equity.depository.address)}
    assert equity.linkage.view("isLinked", alice.address) is False
    assert int(equity.linkage.view("accountOfRef", ref("alice")), 16) == 0
    bob = equity.account("bob", linked=False)
    ok(equity.send(equity.depository, equity.linkage, "linkAccount", bob.address, ref("alice")))


def test_unlink_account_refuses_unlinked_account(equity):
    ghost = equity.account("ghost", linked=False)
    t = equity.send(equity.depository, equity.linkage, "unlinkAccount", ghost.address)
    assert reverted(t, "AccountNotLinked") and t.detail == {"account": h(ghost.address)}


def test_linkage_needs_depository_role_at_gateway(equity):
    account = equity.account("alice", linked=False)
    assert refused(equity.send(equity.center, equity.linkage, "linkAccount", account.address, ref("a")),
                   "ROLE_MISSING")
    assert refused(equity.send(equity.agent, equity.linkage, "unlinkAccount", account.address), "ROLE_MISSING")


# ------------------------------------------------------------- companies


def test_list_company_records_company(equity):
    t = equity.list()
    assert t.event("CompanyListed") == {"companyId": h(CO), "issuer": h(equity.company.address),
                                        "legalForm": JOINT_STOCK, "dataHash": h(FILE),
                                        "center": h(equity.center.address), "holderCap": CAP}
    assert to_jsonable(equity.record()) == [h(equity.company.address), JOINT_STOCK, LISTED, equity.now, h(FILE), 0]
    assert equity.market.view("holderCap") == CAP


def test_list_company_refuses_zero_id(equity):
    t = equity.send(equity.center, equity.market, "listCompany", b"\0" * 32, equity.company.address, 0, FILE)
    assert reverted(t, "InvalidCompanyId")


def test_list_company_refuses_existing_id_even_when_delisted(listed):
    ok(listed.send(listed.center, listed.market, "delistCompany", CO, REASON))
    t = listed.send(listed.center, listed.market, "listCompany", CO, listed.company2.address, 1, FILE)
    assert reverted(t, "CompanyExists") and t.detail == {"companyId": h(CO)}


def test_list_company_refuses_issuer_without_listed_company_role(equity):
    t = equity.send(equity.center, equity.market, "listCompany", CO, equity.agent.address, 0, FILE)
    assert reverted(t, "NotListedCompany") and t.detail == {"issuer": h(equity.agent.address)}


def test_list_company_needs_equity_center_at_gateway(equity):
    t = equity.send(equity.company, equity.market, "listCompany", CO, equity.company.address, 0, FILE)
    assert refused(t, "ROLE_MISSING")


def test_center_stripped_of_role_is_refused_on_chain(equity):
    pid = propose(equity, GovernanceAction.SET_ROLES, equity.center.address,
                  roles=int(Role.ADMIN | Role.PLATFORM | Role.VALIDATOR))
    execute = equity.center.send(equity.registry.call("execute", pid))
    listing = equity.center.send(equity.market.call("listCompany", CO, equity.company.address, 0, FILE))
    equity.consortium.commit()
    assert execute.ok
    assert reverted(listing, "MissingRole")
    assert listing.detail == {"account": h(equity.center.address), "role": int(Role.EQUITY_CENTER)}


def test_delist_company_keeps_register(held):
    equity, (alice_id, _), _, _ = held
    t = ok(equity.send(equity.center, equity.market, "delistCompany", CO, REASON))
    assert t.event("CompanyDelisted") == {"companyId": h(CO), "reason": h(REASON),
                                          "center": h(equity.center.address)}
    assert equity.record()[STATUS] == DELISTED
    assert equity.holding(alice_id) == 60


def test_delist_company_refuses_unknown_and_delisted_company(listed):
    t = listed.send(listed.center, listed.market, "delistCompany", CO2, REASON)
    assert reverted(t, "UnknownCompany") and t.detail == {"companyId": h(CO2)}
    ok(listed.send(listed.center, listed.market, "delistCompany", CO, REASON))
    assert reverted(listed.send(listed.center, listed.market, "delistCompany", CO, REASON), "CompanyNotListed")


def test_company_view_refuses_unknown_company(equity):
    with pytest.raises(PilotLedgerError, match="UnknownCompany"):
        equity.record(CO2)


# ------------------------------------------------------------- offerings


def test_open_offering_records_offering(listed):
    closes = listed.now + 10 * DAY
    t = ok(listed.send(listed.company, listed.market, "openOffering", CO, PRICE, 500, closes))
    assert t.event("OfferingOpened") == {"offeringId": 1, "companyId": h(CO), "price": PRICE, "maxShares": 500,
                                         "closesAt": closes}
    assert listed.market.view("offering", 1) == (CO, PRICE, 500, 0, 0, closes, OPEN, 0)
    assert listed.market.view("offeringCount") == 1


def test_open_offering_refuses_unknown_and_delisted_company(listed):
    assert reverted(listed.open_offering(CO2), "UnknownCompany")
    ok(listed.send(listed.center, listed.market, "delistCompany", CO, REASON))
    assert reverted(listed.open_offering(), "CompanyNotListed")


def test_open_offering_refuses_another_companys_issuer(listed):
    t = listed.open_offering(node=listed.company2)
    assert reverted(t, "NotIssuer") and t.detail == {"companyId": h(CO), "caller": h(listed.company2.address)}


def test_open_offering_refuses_bad_terms(listed):
    assert reverted(listed.send(listed.company, listed.market, "openOffering", CO, 0, 10, listed.now + DAY),
                    "ZeroPrice")
    assert reverted(listed.open_offering(max_shares=0), "ZeroAmount")
    t = listed.send(listed.company, listed.market, "openOffering", CO, PRICE, 10, listed.now)
    assert reverted(t, "ClosingTimePassed") and t.detail["closesAt"] < t.detail["blockTime"]


def test_open_offering_needs_listed_company_role_at_gateway(listed):
    assert refused(listed.open_offering(node=listed.center), "ROLE_MISSING")


def test_subscribe_records_subscription(listed):
    alice_id, alice = listed.investor("alice")
    oid = listed.offering()
    t = ok(listed.subscribe(oid, alice, 30))
    assert t.event("Subscribed") == {"offeringId": oid, "account": h(alice.address), "identity": h(alice_id),
                                     "shares": 30}
    ok(listed.subscribe(oid, alice, 20))
    assert listed.market.view("subscribedBy", oid, alice_id) == 50
    assert to_jsonable(listed.market.view("subscriptions", oid)) == [[h(alice.address), h(alice_id), 30],
                                                                      [h(alice.address), h(alice_id), 20]]
    record = listed.market.view("offering", oid)
    assert record[O_SUBSCRIBED] == 50 and record[O_NEW] == 1
    assert listed.holding(alice_id) == 0  # nothing is held before allotment


def test_subscribe_refuses_unknown_offering(listed):
    _, alice = listed.investor("alice")
    t = listed.subscribe(9, alice, 1)
    assert reverted(t, "UnknownOffering") and t.detail == {"offeringId": 9}


def test_subscribe_refuses_offering_not_open(listed):
    _, alice = listed.investor("alice")
    oid = listed.offering()
    ok(listed.send(listed.company, listed.market, "cancelOffering", oid, REASON))
    t = listed.subscribe(oid, alice, 1)
    assert reverted(t, "OfferingNotOpen") and t.detail == {"offeringId": oid, "status": CANCELLED}


def test_subscribe_refuses_after_closing_time(listed):
    _, alice = listed.investor("alice")
    oid = listed.offering(lasts=DAY)
    listed.close(oid)
    t = listed.subscribe(oid, alice, 1)
    assert reverted(t, "SubscriptionPeriodOver")
    assert t.detail == {"offeringId": oid, "closesAt": listed.market.view("offering", oid)[O_CLOSES]}


def test_subscribe_refuses_delisted_company(listed):
    _, alice = listed.investor("alice")
    oid = listed.offering()
    ok(listed.send(listed.center, listed.market, "delistCompany", CO, REASON))
    assert reverted(listed.subscribe(oid, alice, 1), "CompanyNotListed")


def test_subscribe_refuses_zero_shares(listed):
    _, alice = listed.investor("alice")
    assert reverted(listed.subscribe(listed.offering(), alice, 0), "ZeroAmount")


def test_subscribe_is_first_come_and_refuses_more_than_left(listed):
    _, alice = listed.investor("alice")
    _, bob = listed.investor("bob")
    oid = listed.offering(max_shares=100)
    ok(listed.subscribe(oid, alice, 70))
    t = listed.subscribe(oid, bob, 40)
    assert reverted(t, "ExceedsSharesOffered") and t.detail == {"offeringId": oid, "remaining": 30, "requested": 40}
    ok(listed.subscribe(oid, bob, 30))


def test_subscribe_refuses_account_without_identity(listed):
    ghost = listed.account("ghost")
    t = listed.subscribe(listed.offering(), ghost, 1)
    assert reverted(t, "UnknownAccount") and t.detail == {"account": h(ghost.address)}


def test_subscribe_refuses_unqualified_investor(listed):
    dan_id, dan = listed.investor("dan", qualified=False)
    t = listed.subscribe(listed.offering(), dan, 1)
    assert reverted(t, "NotQualified") and t.detail == {"identity": h(dan_id)}


def test_subscribe_refuses_account_not_linked_at_depository(listed):
    _, eve = listed.investor("eve", linked=False)
    t = listed.subscribe(listed.offering(), eve, 1)
    assert reverted(t, "AccountNotLinked") and t.detail == {"account": h(eve.address)}


def test_subscribe_counts_cap_per_identity_with_holders_and_other_subscribers(held):
    equity, (_, alice), _, (carol_id, carol) = held
    _, dan = equity.investor("dan")
    oid = equity.offering()
    ok(equity.subscribe(oid, alice, 5))  # already a holder: no new holder
    ok(equity.subscribe(oid, carol, 5))  # third holder
    carol2 = equity.account("carol-2", carol_id)
    ok(equity.subscribe(oid, carol2, 5))  # carol again, through another account
    t = equity.subscribe(oid, dan, 5)
    assert reverted(t, "HolderCapExceeded") and t.detail == {"companyId": h(CO), "holders": 4, "cap": CAP}
    assert equity.market.view("offering", oid)[O_NEW] == 1


def test_allot_turns_subscriptions_into_holdings(listed):
    alice_id, alice = listed.investor("alice")
    bob_id, bob = listed.investor("bob")
    oid = listed.offering()
    ok(listed.subscribe(oid, alice, 30))
    ok(listed.subscribe(oid, bob, 20))
    ok(listed.subscribe(oid, alice, 10))
    listed.close(oid)
    t = ok(listed.allot(oid))
    assert [e for e in t.events if e[0] == "HolderEntered"] == [
        ("HolderEntered", holder_event(listed, alice_id, 1)),
        ("HolderEntered", holder_event(listed, bob_id, 2)),
    ]
    assert [e["shares"] for n, e in t.events if n == "SharesAllotted"] == [30, 20, 10]
    assert t.event("SharesAllotted") == {"offeringId": oid, "companyId": h(CO), "identity": h(alice_id),
                                         "account": h(alice.address), "shares": 30}
    assert t.event("OfferingAllotted") == {"offeringId": oid, "companyId": h(CO), "allotted": 60, "voided": 0}
    assert (listed.holding(alice_id), listed.holding(bob_id)) == (40, 20)
    assert listed.market.view("holdingOfAccount", CO, alice.address) == 40
    assert listed.holders() == {h(alice_id), h(bob_id)}
    assert listed.market.view("holderCount", CO) == 2
    assert listed.record()[TOTAL] == 60
    record = listed.market.view("offering", oid)
    assert record[O_STATUS] == ALLOTTED and record[O_ALLOTTED] == 60


def test_allot_by_center_before_closing_once_fully_subscribed(listed):
    alice_id, alice = listed.investor("alice")
    oid = listed.offering(max_shares=50)
    ok(listed.subscribe(oid, alice, 50))
    ok(listed.allot(oid, node=listed.center))
    assert listed.holding(alice_id) == 50


def test_allot_refuses_open_offering_not_fully_subscribed(listed):
    _, alice = listed.investor("alice")
    oid = listed.offering(max_shares=50)
    ok(listed.subscribe(oid, alice, 49))
    t = listed.allot(oid)
    assert reverted(t, "OfferingStillOpen")
    assert t.detail == {"offeringId": oid, "closesAt": listed.market.view("offering", oid)[O_CLOSES]}


def test_allot_refuses_unknown_offering_and_second_allotment(listed):
    assert reverted(listed.allot(5), "UnknownOffering")
    oid = listed.offering(lasts=DAY)
    listed.close(oid)
    t = ok(listed.allot(oid))
    assert t.event("OfferingAllotted")["allotted"] == 0
    t = listed.allot(oid)
    assert reverted(t, "OfferingNotOpen") and t.detail == {"offeringId": oid, "status": ALLOTTED}


def test_allot_refuses_another_issuer_and_member_without_role(listed):
    oid = listed.offering(lasts=DAY)
    listed.close(oid)
    t = listed.allot(oid, node=listed.company2)
    assert reverted(t, "NotIssuer") and t.detail == {"companyId": h(CO), "caller": h(listed.company2.address)}
    t = listed.allot(oid, node=listed.depository)
    assert reverted(t, "MissingRole")
    assert t.detail == {"account": h(listed.depository.address), "role": int(Role.LISTED_COMPANY)}


def test_allot_refuses_delisted_company(listed):
    oid = listed.offering(lasts=DAY)
    ok(listed.send(listed.center, listed.market, "delistCompany", CO, REASON))
    listed.close(oid)
    t = listed.allot(oid)
    assert reverted(t, "CompanyNotListed") and t.detail == {"companyId": h(CO)}


def test_allot_voids_subscriptions_that_no_longer_qualify(held):
    equity, (alice_id, alice), (bob_id, bob), (carol_id, carol) = held
    dan_id, dan = equity.investor("dan")
    fay_id, fay = equity.investor("fay")
    oid = equity.offering()
    ok(equity.subscribe(oid, alice, 5))
    ok(equity.subscribe(oid, carol, 6))  # the third holder: fits the cap at subscription
    ok(equity.subscribe(oid, bob, 7))
    # Then carol's qualification lapses, bob's account is unlinked and the cap fills up
    # through a transfer to dan; alice, already a holder, is still allotted.
    ok(equity.send(equity.agent, equity.identities, "setQualification", carol_id, equity.now))
    ok(equity.send(equity.depository, equity.linkage, "unlinkAccount", bob.address))
    ok(equity.transfer(alice, dan, 10))
    equity.close(oid)
    t = ok(equity.allot(oid))
    voided = [e for n, e in t.events if n == "SubscriptionVoided"]
    assert voided == [
        {"offeringId": oid, "identity": h(carol_id), "account": h(carol.address), "shares": 6,
         "reason": selector("NotQualified(bytes32)")},
        {"offeringId": oid, "identity": h(bob_id), "account": h(bob.address), "shares": 7,
         "reason": selector("AccountNotLinked(address)")},
    ]
    assert t.event("OfferingAllotted") == {"offeringId": oid, "companyId": h(CO), "allotted": 5, "voided": 2}
    assert equity.record()[TOTAL] == 105

    # Alice subscribes as a holder, then sells out to fay: at allotment she would be a
    # fourth holder, so the full cap voids her subscription.
    oid2 = equity.offering()
    ok(equity.subscribe(oid2, alice, 1))
    ok(equity.transfer(alice, fay, 55))  # alice leaves, fay enters: still three holders
    ok(equity.subscribe(oid2, fay, 1))
    equity.close(oid2)
    t = ok(equity.allot(oid2))
    assert t.event("SubscriptionVoided") == {"offeringId": oid2, "identity": h(alice_id),
                                             "account": h(alice.address), "shares": 1,
                                             "reason": selector("HolderCapExceeded(bytes32,uint256,uint32)")}
    assert equity.holders() == {h(bob_id), h(dan_id), h(fay_id)}


def test_cancel_offering_by_issuer_or_center(listed):
    oid = listed.offering()
    t = ok(listed.send(listed.company, listed.market, "cancelOffering", oid, REASON))
    assert t.event("OfferingCancelled") == {"offeringId": oid, "companyId": h(CO), "reason": h(REASON),
                                            "by": h(listed.company.address)}
    assert listed.market.view("offering", oid)[O_STATUS] == CANCELLED
    oid2 = listed.offering()
    ok(listed.send(listed.center, listed.market, "delistCompany", CO, REASON))
    ok(listed.send(listed.center, listed.market, "cancelOffering", oid2, REASON))  # after delisting too


def test_cancel_offering_refuses_unknown_closed_and_foreign(listed):
    assert reverted(listed.send(listed.company, listed.market, "cancelOffering", 4, REASON), "UnknownOffering")
    oid = listed.offering()
    assert reverted(listed.send(listed.company2, listed.market, "cancelOffering", oid, REASON), "NotIssuer")
    ok(listed.send(listed.company, listed.market, "cancelOffering", oid, REASON))
    t = listed.send(listed.center, listed.market, "cancelOffering", oid, REASON)
    assert reverted(t, "OfferingNotOpen") and t.detail == {"offeringId": oid, "status": CANCELLED}


def test_offering_views_refuse_unknown_offering(listed):
    for view in ("offering", "subscriptions"):
        with pytest.raises(PilotLedgerError, match="UnknownOffering"):
            listed.market.view(view, 3)


# ------------------------------------------------------------- transfers


def test_transfer_shares_moves_holding_between_identities(held):
    equity, (alice_id, alice), _, (carol_id, carol) = held
    t = ok(equity.transfer(alice, carol, 25))
    assert t.event("SharesTransferred") == {"companyId": h(CO), "fromIdentity": h(alice_id),
                                            "toIdentity": h(carol_id), "from": h(alice.address),
                                            "to": h(carol.address), "shares": 25}
    assert t.event("HolderEntered") == holder_event(equity, carol_id, 3)
    assert (equity.holding(alice_id), equity.holding(carol_id)) == (35, 25)
    assert equity.record()[TOTAL] == 100


def test_register_changes_emit_erc1155_transfer_single(listed):
    """Allotments and transfers each emit ERC-1155's TransferSingle, the company id as token id, between
    the accounts (zero for an allotment), so a standard indexer follows the register."""
    (_, alice), (_, bob) = listed.investors("alice", "bob")
    oid = listed.offering()
    ok(listed.subscribe(oid, alice, 30))
    listed.close(oid)
    t = ok(listed.allot(oid))
    company = int.from_bytes(CO, "big")
    assert t.event("TransferSingle") == {"operator": h(listed.company.address), "from": "0x" + "00" * 20,
                                         "to": h(alice.address), "id": company, "value": 30}
    t = ok(listed.transfer(alice, bob, 5))
    assert t.event("TransferSingle") == {"operator": h(alice.address), "from": h(alice.address),
                                         "to": h(bob.address), "id": company, "value": 5}


def test_transfer_of_whole_holding_releases_the_holder(held):
    equity, (alice_id, alice), (bob_id, bob), (carol_id, carol) = held
    t = ok(equity.transfer(bob, alice, 40))
    assert t.event("HolderExited") == holder_event(equity, bob_id, 1)
    assert equity.holders() == {h(alice_id)}
    ok(equity.transfer(alice, carol, 100))
    assert equity.holders() == {h(carol_id)}
    assert equity.market.view("holderCount", CO) == 1


def test_transfer_to_another_account_of_the_same_identity_counts_one_holder(held):
    equity, (alice_id, alice), (bob_id, bob), _ = held
    bob2 = equity.account("bob-2", bob_id)
    assert reverted(equity.transfer(bob, bob2, 10), "SameIdentity")
    ok(equity.transfer(alice, bob2, 10))
    assert equity.holding(bob_id) == 50 and equity.market.view("holderCount", CO) == 2


def test_transfer_refuses_unknown_and_delisted_company(held):
    equity, (_, alice), (_, bob), _ = held
    assert reverted(equity.transfer(alice, bob, 1, CO2), "UnknownCompany")
    ok(equity.send(equity.center, equity.market, "delistCompany", CO, REASON))
    assert reverted(equity.transfer(alice, bob, 1), "CompanyNotListed")


def test_transfer_refuses_zero_shares(held):
    equity, (_, alice), (_, bob), _ = held
    assert reverted(equity.transfer(alice, bob, 0), "ZeroAmount")


def test_transfer_refuses_accounts_without_identity(held):
    equity, (_, alice), _, _ = held
    ghost = equity.account("ghost")
    t = equity.transfer(alice, ghost, 1)
    assert reverted(t, "UnknownAccount") and t.detail == {"account": h(ghost.address)}
    assert reverted(equity.transfer(ghost, alice, 1), "UnknownAccount")


def test_transfer_refuses_unlinked_sender_or_receiver(held):
    equity, (_, alice), (_, bob), _ = held
    _, eve = equity.investor("eve", linked=False)
    t = equity.transfer(alice, eve, 1)
    assert reverted(t, "AccountNotLinked") and t.detail == {"account": h(eve.address)}
    ok(equity.send(equity.depository, equity.linkage, "unlinkAccount", alice.address))
    t = equity.transfer(alice, bob, 1)
    assert reverted(t, "AccountNotLinked") and t.detail == {"account": h(alice.address)}


def test_transfer_refuses_unqualified_receiver_but_lets_lapsed_holder_sell(held):
    equity, (alice_id, alice), (_, bob), _ = held
    dan_id, dan = equity.investor("dan", qualified=False)
    t = equity.transfer(alice, dan, 1)
    assert reverted(t, "TransfereeNotQualified") and t.detail == {"identity": h(dan_id)}
    ok(equity.send(equity.agent, equity.identities, "setQualification", alice_id, 0))
    ok(equity.transfer(alice, bob, 60))
    assert equity.holding(alice_id) == 0


def test_transfer_refuses_more_than_held(held):
    equity, (alice_id, alice), (_, bob), (_, carol) = held
    t = equity.transfer(alice, bob, 61)
    assert reverted(t, "InsufficientShares") and t.detail == {"identity": h(alice_id), "available": 60,
                                                              "needed": 61}
    assert reverted(equity.transfer(carol, bob, 1), "InsufficientShares")


def test_transfer_refuses_new_holder_beyond_cap_unless_seller_leaves(held):
    equity, (alice_id, alice), (bob_id, bob), (carol_id, carol) = held
    dan_id, dan = equity.investor("dan")
    ok(equity.transfer(alice, carol, 10))  # three holders: the cap
    t = equity.transfer(alice, dan, 10)
    assert reverted(t, "HolderCapExceeded") and t.detail == {"companyId": h(CO), "holders": 4, "cap": CAP}
    ok(equity.transfer(bob, carol, 1))  # between holders: fine at the cap
    ok(equity.transfer(bob, dan, 39))  # bob leaves as dan enters
    assert equity.holders() == {h(alice_id), h(carol_id), h(dan_id)}


def test_gateway_needs_investor_agent_for_subscribe_and_transfer(held):
    equity, (_, alice), (_, bob), _ = held
    t = equity.send(equity.depository, equity.market, "transferShares", CO, bob.address, 1)
    assert refused(t, "ROLE_MISSING")
    t = equity.send(equity.company, equity.market, "subscribe", 1, 1)
    assert refused(t, "ROLE_MISSING")
