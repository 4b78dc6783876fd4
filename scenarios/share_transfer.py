"""Private-fund share transfer on the Beijing Equity Exchange Center's platform.

Fund managers run funds of every legal form; investor agents onboard investors (persons, institutions,
registered products and nested partnerships); investors subscribe, then trade shares through request ->
manager approval -> DvP settlement. Known violations are planted along the way: some the chain must
refuse, some that pass it and are left for the regulator.

The platform keeps its own book of who holds what, so that every ordinary transfer it generates is one
the rules allow (holder units counted by ledger.supervision.rules' look-through, as the contract counts
them); every ordinary call is sent with ctx.expect_ok, so a refusal that was not planted stops the run.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Iterator

from eth_hash.auto import keccak

from ledger.trust.ca import ConsortiumCA
from ledger.chain.access import adopt_declared_roles
from ledger.chain.roles import GovernanceAction
from ledger.errors import LedgerError
from ledger.supervision.rules import look_through

from .compliance import FUND_RULES, deploy_compliance, register_rules
from .api import (Account, IdentityKind, Node, Option, Role, Scenario, ScenarioContext, Schedule, Ticket,
                  identity_of)
from .governance import Governance
from .people import CROSS_MARKET, FIRMS, credit_code, cross_market_institution, person
from .share_exit import wind_down
from .violations import OPTION as VIOLATIONS, Violations

GENESIS_TIME = 1641916800  # 2022-01-12 00:00 Beijing time
CHAIN_ID = 20221
DAY = 86400
MIN_INVESTMENT = 1_000_000  # CNY, and so shares (one share per yuan subscribed)
CAP_BY_FORM = (200, 200, 50, 50)  # contractual, joint-stock, limited partnership, LLC
MARKET_EXHAUSTED_ROUNDS = 50  # rounds past the planned ones with nothing under way and no seller: stop trading
LOOK_THROUGH_DEPTH = 4
LOCKUP_DAYS = 30
LONG_LOCKUP_DAYS = 3 * 365
CAP_HEADROOM = 8  # ordinary business keeps small funds this far below their cap
UNLIMITED = 2**256 - 1
PRICES = (95, 100, 104, 110, 120)  # a transfer's price, in percent of its shares' subscription price
# Cash an ordinary purchase leaves in the buyer's account: room for a payment sent in the same block that the
# platform's book does not follow (a planted pooling institution's backers pay it up to 5,000,000 each).
CASH_MARGIN = 5_000_000
PERSON, INSTITUTION, PRODUCT, VEHICLE = (IdentityKind.PERSON, IdentityKind.INSTITUTION, IdentityKind.PRODUCT,
                                         IdentityKind.VEHICLE)

FIRM_KINDS = ("Industrial Co., Ltd.", "Technology Co., Ltd.", "Holdings Co., Ltd.", "Trading Co., Ltd.")
PRODUCT_KINDS = ("National Social Security Fund Portfolio", "Enterprise Annuity Plan",
                 "Registered Private Equity Fund", "Securities Asset Management Plan")


@dataclass(eq=False)
class Investor:
    label: str
    kind: IdentityKind
    qualified: bool
    personal: dict = field(repr=False)
    id: bytes = b""
    accounts: list[Account] = field(default_factory=list)
    agent: Node | None = None
    backers: list["Investor"] = field(default_factory=list)  # declared investors, for vehicles (all at onboarding)

    # PrivateFundShares' look-through of this investor, by the one Python rule.
    @cached_property
    def units(self) -> int:
        """Holder units it adds to a fund it joins."""
        return look_through(self, lambda i: i.kind, lambda i: i.backers, None, LOOK_THROUGH_DEPTH).units

    @cached_property
    def eligible(self) -> bool:
        """May become a holder: qualified, and so is everyone looked through."""
        return look_through(self, lambda i: i.kind, lambda i: i.backers, lambda i: i.qualified,
                            LOOK_THROUGH_DEPTH).ok


@dataclass(eq=False)
class Fund:
    """A fund in the platform's book: its holdings (as on chain) and the transfers under way in it. An
    investor is never buying and selling in one fund at once, so a seller's stake cannot move under its
    request, and a buyer's stake only grows."""

    id: int  # known once its creation commits
    form: int
    manager: Node
    lockup_end: int
    owners: dict[bytes, tuple[Investor, Account]] = field(repr=False)  # the platform's: account -> investor
    holdings: dict[bytes, int] = field(default_factory=dict)  # account address -> shares
    selling: set[Investor] = field(default_factory=set)
    buying: Counter = field(default_factory=Counter)  # investor -> pending purchases
    buying_in: set[Investor] = field(default_factory=set)  # buyers who held nothing when they first asked

    @property
    def cap(self) -> int:
        return CAP_BY_FORM[self.form]

    @property
    def soft_cap(self) -> int:
        return self.cap - CAP_HEADROOM if self.cap < 100 else self.cap - 2 * CAP_HEADROOM

    @property
    def units(self) -> int:
        """Holder units of the identities holding, by the look-through rule."""
        return sum(i.units for i in {self.owners[a][0] for a in self.holdings})

    def created(self, ticket: Ticket) -> None:
        self.id = ticket.event("FundCreated")["fundId"]

    def stake(self, investor: Investor) -> int:
        return sum(self.holdings.get(a.address, 0) for a in investor.accounts)

    def idle(self, investor: Investor) -> bool:
        return investor not in self.selling and investor not in self.buying

    def credit(self, account: Account, amount: int) -> None:
        self.holdings[account.address] = self.holdings.get(account.address, 0) + amount

    def move(self, account: Account, to: Account, amount: int) -> None:
        self.holdings[account.address] -= amount
        if not self.holdings[account.address]:
            del self.holdings[account.address]
        self.credit(to, amount)

    def reserve(self, seller: Investor, buyer: Investor) -> None:
        """Marks a transfer under way."""
        self.selling.add(seller)
        if not self.stake(buyer):
            self.buying_in.add(buyer)
        self.buying[buyer] += 1

    def release(self, seller: Investor, buyer: Investor) -> None:
        """Clears the marks of a transfer that settled or ended."""
        self.selling.discard(seller)
        self.buying[buyer] -= 1
        if not self.buying[buyer]:
            del self.buying[buyer]
            self.buying_in.discard(buyer)


@dataclass(eq=False)
class Transfer:
    ticket: Ticket
    fund: Fund
    seller: Investor
    account: Account
    buyer: Investor
    buyer_account: Account
    amount: int
    fate: str | None  # settle, reject, cancel, unapproved (planted: settled unapproved); None: planted refusal
    price: int = 0
    paying: Counter = field(default_factory=Counter, repr=False)  # the platform's: account -> pending payments
    request_id: int = 0

    def requested(self, ticket: Ticket) -> None:
        self.request_id = ticket.event("TransferRequested")["requestId"]

    def settled(self, _: Ticket) -> None:
        self.fund.move(self.account, self.buyer_account, self.amount)
        self.ended()

    def ended(self) -> None:
        """Clears the marks of a transfer that settled (its block committed) or ended unsettled."""
        self.fund.release(self.seller, self.buyer)
        self.paying[self.buyer_account.address] -= self.price


class ShareTransfer(Scenario):
    name = "share_transfer"
    title = "Private-fund share transfer: subscription, transfer with manager approval, DvP settlement"
    options = (
        Option("funds", 4, "funds on the platform, across the four legal forms", 3, maximum=1_000),
        Option("investors", 150, "investor identities onboarded", 60, maximum=1_000_000),
        Option("transfers", 1000, "share transfers requested", 0, maximum=10_000_000),
        Option("batch", 40, "transfer requests per block", 1, maximum=10_000),
        Option("exit_drill", 0, "wind the platform down at the end: pause, signed snapshot of every holding, "
                                "register export, check that no holding was lost", flag=True),
        VIOLATIONS,
    )

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        """About one block per trading round, plus onboarding, governance and the drills (an estimate)."""
        return 20 + options["investors"] // 200 + options["transfers"] // options["batch"] + 2 * options["exit_drill"]

    def run(self, ctx: ScenarioContext) -> None:
        self.ctx, self.rng, self.opts = ctx, ctx.rng, ctx.options
        self.chain = ctx.open_chain("fund_platform", CHAIN_ID, GENESIS_TIME, "Beijing Equity Exchange Consortium CA")
        self.commit = self.chain.commit
        self.investors: list[Investor] = []
        self.owners: dict[bytes, tuple[Investor, Account]] = {}  # account address -> its investor, the account
        self.funds: list[Fund] = []
        self.frozen: set[bytes] = set()  # accounts under a freeze order
        self.paying: Counter = Counter()  # account address -> what its pending purchases will pay
        self.long_term: set[bytes] = set()  # accounts never selling: the cross-market institution's, a nested vehicle's
        self.make_nodes()
        self.deploy()
        self.governance.admit(self.latecomer)
        # Each block carries all the work that can go together; a step that needs an earlier one's
        # result on chain waits for the next block.
        self.onboard()  # registrations; the ordinary declarations queued
        self.create_funds()  # in the declarations' block
        self.pay_shell()  # the disguised vehicle's backers pay it, in the same block
        self.commit()
        self.declare(self.deep, [self.middle] + self.rng.sample(self.qualified_people, 8))
        self.subscribe()  # in the top partnership's block, and the planted holdings with them
        self.plant_disguised_vehicle()
        self.plant_split_identity()
        self.commit()
        self.close_offerings()
        self.membership_drills()
        self.trade()
        self.commit()
        if self.opts["exit_drill"]:
            self.ctx.extra["exit_drill"] = wind_down(self)

    # -------------------------------------------------------------- consortium

    def make_nodes(self) -> None:
        add = self.chain.add_node
        self.platform = add("BJEE", "Beijing Equity Exchange Center",
                            Role.ADMIN | Role.PLATFORM | Role.VALIDATOR | Role.KYC_AGENT)
        self.regulator = add("CSRC-BJ", "CSRC Beijing Regulatory Bureau", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        self.custodian = add("CUSTODY", "Capital Custody Bank, Fund Custody Department",
                             Role.ADMIN | Role.CUSTODIAN | Role.CASH_ISSUER | Role.VALIDATOR)
        self.managers = [
            add("YANQI-AM", "Yanqi Lake Asset Management", Role.FUND_MANAGER | Role.VALIDATOR),
            add("ZGC-GROWTH", "Zhongguancun Growth Capital Partners", Role.FUND_MANAGER),
        ]
        self.agents = [
            add("HX-SEC", "Huaxing Securities Investor Services", Role.INVESTOR_AGENT | Role.KYC_AGENT),
            add("JC-WEALTH", "Jingcheng Wealth Management Agency", Role.INVESTOR_AGENT | Role.KYC_AGENT),
        ]
        self.doomed_manager = add("XC-CAP", "Xicheng Capital (licence later withdrawn)", Role.FUND_MANAGER)
        self.temp_vendor = add("KYC-TEMP", "Temporary KYC Vendor (30-day certificate)", Role.KYC_AGENT,
                               cert_days=LOCKUP_DAYS // 2)
        # Nodes that are not members: one certified by the consortium CA but never voted in,
        # one certified by a CA the consortium does not trust, one voted in after genesis.
        self.outsider = add("FINTECH-X", "Unlicensed Fintech Platform", Role(0), founding=False)
        rogue_ca = ConsortiumCA(self.ctx.keys, "Self-Signed Rogue CA", GENESIS_TIME - DAY)
        self.rogue = add("ROGUE", "Rogue Node", Role.PLATFORM, founding=False, ca=rogue_ca)
        self.latecomer = add("HD-WEALTH", "Haidian Wealth Partners", Role.INVESTOR_AGENT | Role.KYC_AGENT,
                             founding=False)

    def deploy(self) -> None:
        p = self.platform
        registry = p.deploy("PermissionRegistry", *self.chain.founding_members()).contract_address
        identities = p.deploy("IdentityRegistry", registry).contract_address
        cash = p.deploy("SettlementCash", registry, identities).contract_address
        compliance = deploy_compliance(p, registry, identities, FUND_RULES)
        p.deploy("PrivateFundShares", registry, identities, cash, compliance, list(CAP_BY_FORM), MIN_INVESTMENT)
        self.commit()
        adopt_declared_roles(self.chain)  # the contracts' role tables, mapped by governance
        register_rules(self.chain, "PrivateFundShares", LOOK_THROUGH_DEPTH, FUND_RULES)
        self.identities, self.cash, self.shares = (self.ctx.contract(self.chain, name) for name in (
            "IdentityRegistry", "SettlementCash", "PrivateFundShares"))
        self.kyc = self.ctx.kyc(self.chain, self.identities, self.regulator)
        self.governance = Governance(self.ctx, self.platform, (self.regulator, self.custodian))

    # --------------------------------------------------------------- investors

    @staticmethod
    def personal_data(kind: IdentityKind, qualified: bool, rng: random.Random) -> dict:
        if kind == PERSON:
            data = person(rng) | {"financial_assets": rng.choice((3, 4, 5, 8, 12, 30)) * 1_000_000}
            if not qualified:
                data["financial_assets"] = rng.choice((200_000, 800_000, 1_500_000))
            return data
        if kind == PRODUCT:
            return {"name": f"{rng.choice(FIRMS)} {rng.choice(PRODUCT_KINDS)} No. {rng.randrange(1, 99)}",
                    "filing_code": f"S{rng.randrange(10**5, 10**6)}"}
        suffix = "Investment Partnership (LP)" if kind == VEHICLE else rng.choice(FIRM_KINDS)
        return {"name": f"Beijing {rng.choice(FIRMS)} {suffix}", "credit_code": credit_code(rng),
                "net_assets": rng.choice((10, 20, 50, 100)) * 1_000_000}

    def new_investor(self, kind: IdentityKind, qualified: bool = True, label: str | None = None,
                     unified: bool = False) -> Investor:
        """A new investor, its agent in turn; `unified`: it uses its one account of every market
        (ScenarioContext.unified_account) instead of accounts of this chain's own."""
        label = label or f"inv{len(self.investors) + 1:04d}"
        # Personal data comes from the investor's private stream (seed and operator secret); the run's
        # own stream still draws as many values, so that the rest of the run is the same whatever the secret.
        self.personal_data(kind, qualified, self.rng)
        personal = self.personal_data(kind, qualified, self.ctx.private_rng(label))
        investor = Investor(label, kind, qualified, personal, identity_of(self.ctx.seed, label))
        investor.agent = self.agents[len(self.investors) % len(self.agents)]
        accounts = 2 if self.rng.random() < 0.15 else 1
        investor.accounts = [investor.agent.hold(self.ctx.unified_account(label))] if unified else [
            investor.agent.hold(self.chain.client_account(f"{label}/{i}")) for i in range(accounts)]
        self.owners.update((a.address, (investor, a)) for a in investor.accounts)
        self.investors.append(investor)
        return investor

    def register(self, investor: Investor) -> None:
        """KYC by the investor's agent; each account linked, funded by the custodian and approved for the shares."""
        agent = investor.agent
        self.kyc.register(agent, investor.label, investor.id, investor.kind, investor.personal,
                          GENESIS_TIME + 2 * 365 * DAY if investor.qualified else 0)
        for account in investor.accounts:
            self.kyc.link(agent, account, investor.id)
            self.ctx.expect_ok(self.custodian.send(self.cash.mint(account.address, 200_000_000)))
            self.ctx.expect_ok(agent.send(self.cash.approve(self.shares.address, UNLIMITED), signer=account))

    def declare(self, vehicle: Investor, backers: list[Investor]) -> None:
        vehicle.backers = backers
        self.kyc.declare(vehicle.agent, vehicle.id, [b.id for b in backers])

    def onboard(self) -> None:
        n = self.opts["investors"]
        vehicles, products, institutions = max(6, n * 12 // 100), n * 8 // 100, n * 20 // 100
        persons = n - vehicles - products - institutions
        unqualified = max(3, persons * 8 // 100)
        people = [self.new_investor(PERSON, qualified=i >= unqualified) for i in range(persons)]
        # The first institution is the one that also takes part in the equity and warehouse receipt markets.
        self.cross_market = self.new_investor(INSTITUTION, label=CROSS_MARKET, unified=True)
        self.cross_market.personal = cross_market_institution(self.ctx.private_rng(CROSS_MARKET))
        self.long_term.update(a.address for a in self.cross_market.accounts)
        for _ in range(institutions - 1):
            self.new_investor(INSTITUTION)
        for _ in range(products):
            self.new_investor(PRODUCT)
        partnerships = [self.new_investor(VEHICLE) for _ in range(vehicles)]
        # Planted for the regulator (below): an 'institution' pooling people's money, and a person
        # onboarded a second time under another identity.
        self.shell = self.new_investor(INSTITUTION, label="shell-pool")
        self.shell.personal["name"] = "Beijing Ruixiang Trading Co., Ltd."
        self.twice = next(i for i in self.investors if i.kind == PERSON and i.qualified and i.accounts)
        self.twin = self.new_investor(PERSON, label="split-twin")
        self.twin.personal = dict(self.twice.personal, name=self.twice.personal["name"].upper())
        for investor in self.investors:
            self.register(investor)
        self.commit()  # blocks as full as the gas limit lets them be (Consortium.submit splits them)

        qualified_people = self.qualified_people = [p for p in people if p.qualified]
        self.unqualified_people = [p for p in people if not p.qualified]
        # Ordinary partnerships declare two to five qualified backers.
        for vehicle in partnerships[3:]:
            self.declare(vehicle, self.rng.sample(qualified_people, self.rng.randint(2, 5)))
        # A partnership with an unqualified backer: it may not become a holder.
        self.tainted = partnerships[0]
        self.declare(self.tainted, self.rng.sample(qualified_people, 2) + [self.unqualified_people[0]])
        # Three levels of nesting, wide enough to break a small fund's cap on its own.
        # (The top one declares the middle one once that declaration is on chain: run() does.)
        # The middle one keeps what it subscribes (a holding looked through two levels, for the regulator).
        self.deep, self.middle, leaf = partnerships[1], partnerships[2], partnerships[3]
        self.declare(self.middle, [leaf] + self.rng.sample(qualified_people, 8))
        self.long_term.update(a.address for a in self.middle.accounts)

    # ------------------------------------------------------------------- funds

    def create_funds(self) -> None:
        """Funds of each form in turn, each manager in turn; the second fund has a long lock-up."""
        for i in range(self.opts["funds"]):
            fund = Fund(0, i % 4, self.managers[i % len(self.managers)],
                        GENESIS_TIME + (LONG_LOCKUP_DAYS if i == 1 else LOCKUP_DAYS) * DAY, self.owners)
            self.ctx.expect_ok(fund.manager.send(self.shares.createFund(fund.form, self.custodian.address,
                                                                        fund.lockup_end)), then=fund.created)
            self.funds.append(fund)

    def subscribe_one(self, investor: Investor, fund: Fund, amount: int, account: Account | None = None) -> None:
        account = account or investor.accounts[0]
        self.ctx.expect_ok(investor.agent.send(self.shares.subscribe(fund.id, amount), signer=account))
        fund.credit(account, amount)

    def subscribe(self) -> None:
        """Every eligible investor subscribes to one or two funds, in one block (the gas limit may split it);
        the investors planted for the regulator subscribe later, on their own stories."""
        small = [f for f in self.funds if f.cap < 100]
        locked = self.funds[1]  # the long lock-up: a few holders, for the planted early sale
        for investor in [i for i in self.investors if i.eligible and i not in (self.deep, self.shell, self.twin)]:
            funds = self.rng.sample(self.funds, min(len(self.funds), self.rng.choice((1, 1, 2))))
            # Small funds fill up first, one after the other, so that however many funds there are, one has
            # its cap within reach of the planted breach.
            filling = [f for f in small if f.units + investor.units <= f.soft_cap]
            if filling and (fullest := max(filling, key=lambda f: f.units)) not in funds:
                funds[0] = fullest
            if len(locked.holdings) < 3 and locked not in funds:
                funds.append(locked)
            if investor is self.cross_market:  # a long-term stake in the fund with the most room
                funds = [max(self.funds, key=lambda f: f.cap)]
            for fund in funds:
                if fund.units + investor.units > fund.soft_cap:
                    continue
                amount = self.rng.choice((10, 15, 20, 30, 50)) * 100_000
                self.subscribe_one(investor, fund, amount, self.rng.choice(investor.accounts))

    def close_offerings(self) -> None:
        for fund in self.funds:
            self.ctx.expect_ok(fund.manager.send(self.shares.closeOffering(fund.id)))
        self.commit()
        self.chain.advance((LOCKUP_DAYS + 1) * DAY)

    # ----------------------------------------------------- planted, regulator

    def pay_shell(self) -> None:
        """Six people, two of them unqualified, pay the disguised vehicle (registered with everyone) the money
        it will subscribe with."""
        self.shell_backers = self.rng.sample(self.unqualified_people, 2) + self.rng.sample(
            [i for i in self.investors if i.kind == PERSON and i.qualified and i is not self.twin], 4)
        for backer in self.shell_backers:
            self.ctx.expect_ok(backer.agent.send(self.cash.transfer(self.shell.accounts[0].address, 1_000_000),
                                                 signer=backer.accounts[0]))

    def plant_disguised_vehicle(self) -> None:
        """An 'institution' that is really pooling money from people, some unqualified.

        It counts as one holder on chain; the cash it received from its backers just
        before subscribing is on chain for the regulator to find."""
        shell, backers = self.shell, self.shell_backers
        fund = max((f for f in self.funds if f.cap < 100), key=lambda f: f.units)
        self.subscribe_one(shell, fund, 6_000_000)
        self.ctx.plant_for_regulator(
            "pooling_institution",
            "an institution pooling money from six natural persons (two unqualified) holds fund shares as one investor",
            identity="0x" + shell.id.hex(), asset=f"fund:{fund.id}", backers=["0x" + b.id.hex() for b in backers])

    def plant_split_identity(self) -> None:
        """One person onboarded twice under two identities, holding through both."""
        person, twin = self.twice, self.twin
        fund = self.funds[0]
        self.subscribe_one(twin, fund, 1_000_000)
        if not fund.stake(person):
            self.subscribe_one(person, fund, 1_000_000)
        self.ctx.plant_for_regulator(
            "split_identity",
            "one natural person registered as two identities (same ID number) holds the same fund twice",
            identities=["0x" + person.id.hex(), "0x" + twin.id.hex()], labels=[person.label, twin.label],
            fund=fund.id)

    # ---------------------------------------------------------- planted, chain

    def membership_drills(self) -> None:
        """Gateway refusals: revoked, suspended, expired, untrusted, non-member, role missing."""
        self.governance.decide_all([(GovernanceAction.REVOKE, self.doomed_manager, Role(0)),
                                    (GovernanceAction.SUSPEND, self.latecomer, Role(0))])
        self.governance.revoke_certificate(self.doomed_manager)
        cases = [
            (self.doomed_manager, self.shares.createFund(0, self.custodian.address, GENESIS_TIME),
             "revoked_node", "CERT_REVOKED", "a fund manager whose licence and certificate were revoked creates a fund"),
            (self.latecomer, self.identities.setQualification(self.investors[0].id, 0),
             "suspended_node", "MEMBER_SUSPENDED", "a suspended investor agent edits a qualification"),
            (self.temp_vendor, self.identities.setQualification(self.investors[1].id, 0),
             "expired_certificate", "CERT_EXPIRED", "a KYC vendor submits after its certificate expired"),
            (self.outsider, self.shares.settleTransfer(1),
             "non_member_node", "NOT_MEMBER", "a node certified by the consortium CA but never admitted submits"),
            (self.rogue, self.shares.settleTransfer(1),
             "untrusted_certificate", "CERT_UNTRUSTED", "a node with a self-issued certificate submits"),
            (self.agents[0], self.shares.freeze(self.funds[0].id, self.investors[2].accounts[0].address, UNLIMITED,
                                                keccak(b"forged order")),
             "missing_role", "ROLE_MISSING", "an investor agent tries to freeze holdings, a regulator's power"),
        ]
        for node, call, kind, reason, description in cases:
            self.ctx.plant(kind, reason, node.send(call), description, node=node.name)
        # Refused at the gateway, recorded with the first trading round's block.

    # ----------------------------------------------------------------- trading

    @property
    def transferable_funds(self) -> list[Fund]:
        return [f for f in self.funds if f.lockup_end <= self.chain.time]

    def trade(self) -> None:
        """Rounds of one block each: every transfer under way takes its next step, new ones are requested;
        the planted refusals and the court's freeze order along the way."""
        self.buyers = [i for i in self.investors if i.eligible and i is not self.deep
                       and i.label not in ("shell-pool", "split-twin")]
        total, batch = self.opts["transfers"], self.opts["batch"]
        rounds = max(1, -(-total // batch))
        plants, court = Schedule("planted transfer refusals"), Schedule("the court's freeze order")
        for plant in (self.plant_unqualified_transferee, self.plant_unqualified_backer, self.plant_cap_breach,
                      self.plant_lockup, self.plant_minimum_holding, self.plant_unapproved):
            # The cap breach goes first, while the small funds are still as full as subscription left
            # them: trading can only thin them out.
            round_ = self.rng.randrange(rounds)
            plants.at(0 if plant == self.plant_cap_breach else round_, plant)
        court.at(rounds // 2, self.court_order)
        transfers, requested, r = Schedule("transfers under way"), 0, 0
        violations = Violations(self, rounds)  # --violations N: planted between the rounds' business
        idle = 0  # rounds in a row past the planned ones in which nothing was under way and nobody could trade
        while r < rounds or requested < total or transfers.pending or plants.pending or court.pending \
                or violations.pending:
            transfers.run(r)
            self.new_requests: list[Transfer] = []
            # The planted refusals first, so that they meet the book as the block starts (the cap breach
            # at round 0 finds the small funds as subscription left them); then the round's requests.
            plants.run(r)
            while requested < total and len(self.new_requests) < batch and (t := self.new_transfer()):
                requested += 1
                self.new_requests.append(t)
            idle = 0 if self.new_requests or transfers.pending or violations.pending or r < rounds else idle + 1
            if idle > MARKET_EXHAUSTED_ROUNDS:  # too few investors for the transfers asked: never a hang
                for stuck in (plants, court):
                    if stuck.pending:  # nothing moves any more: it never will
                        raise stuck.give_up(f"nobody could trade for {MARKET_EXHAUSTED_ROUNDS} rounds")
                self.ctx.extra["transfers_requested"] = requested
                break
            court.run(r)
            violations.run(r)
            for t in self.new_requests:
                transfers.at(r + 1, partial(self.after_request, t))
            self.commit()
            r += 1

    def new_transfer(self) -> Transfer | None:
        """An ordinary transfer that every rule allows, by the platform's book; None only if nobody can trade
        now: everyone who could sell is in a pending transfer, or has nobody who may buy. The buyer is drawn
        from every investor; one who may not take the shares (a newcomer to a fund at its cap) gives way to
        one who may, a holder of the fund: a holder's purchase never adds to the fund's holder units, so a
        market whose funds are full still fills its batch."""
        funds = self.transferable_funds
        buyers: set[Investor] | None = None
        for fund in self.rng.sample(funds, len(funds)):
            room = fund.soft_cap - fund.units - sum(i.units for i in fund.buying_in)  # for newcomers
            able: list[Investor] | None = None  # the fund's holders who may buy more now
            for seller, account in self.sellers(fund):
                held, stake = fund.holdings[account.address], fund.stake(seller)
                # The whole account, or round lots: never leaving the seller under the minimum, and each
                # reaching it on its own, so pending purchases never matter.
                amounts = [held] if held >= MIN_INVESTMENT and (stake == held or stake - held >= MIN_INVESTMENT) else []
                amounts += [k * 100_000 for k in range(10, held // 100_000)
                            if stake - k * 100_000 >= MIN_INVESTMENT][:5]
                if not amounts:
                    continue
                amount = self.rng.choice(amounts)
                buyer = self.rng.choice(self.buyers)
                paying = self.rng.choice(buyer.accounts)
                new = not fund.stake(buyer) and buyer not in fund.buying_in
                if buyer is seller or buyer in fund.selling or (new and buyer.units > room) \
                        or not self.can_pay(paying, amount):
                    if able is None:
                        buyers = buyers if buyers is not None else set(self.buyers)
                        able = [i for i in self.holders(fund) if i in buyers and i not in fund.selling]
                    if not able:
                        break
                    if not (others := [i for i in able if i is not seller]):
                        continue
                    buyer = self.rng.choice(others)
                    paying = self.rng.choice(buyer.accounts)
                    if not self.can_pay(paying, amount):
                        continue
                fate = self.rng.choices(("settle", "reject", "cancel"), (94, 3, 3))[0]
                return self.request(fund, seller, account, buyer, amount, fate, paying)
        return None

    def holders(self, fund: Fund) -> list[Investor]:
        """The fund's holders, each once, in the order of the book."""
        return list(dict.fromkeys(self.owners[a][0] for a in fund.holdings))

    def sellers(self, fund: Fund) -> Iterator[tuple[Investor, Account]]:
        """The fund's holders in no pending transfer, by account, in random order."""
        candidates = [a for a in fund.holdings if a not in self.frozen and a not in self.long_term]
        self.rng.shuffle(candidates)
        for address in candidates:
            investor, account = self.owners[address]
            if fund.idle(investor):
                yield investor, account

    def pick_seller(self, fund: Fund) -> tuple[Investor, Account] | None:
        return next(self.sellers(fund), None)

    def request(self, fund: Fund, seller: Investor, account: Account, buyer: Investor, amount: int,
                fate: str | None = "settle", buyer_account: Account | None = None) -> Transfer:
        """Sends a transfer request; a planted one (fate None) is expected to be refused and is not booked."""
        buyer_account = buyer_account or self.rng.choice(buyer.accounts)
        price = amount * self.rng.choice(PRICES) // 100
        ticket = seller.agent.send(self.shares.requestTransfer(fund.id, buyer_account.address, amount, price),
                                   signer=account)
        t = Transfer(ticket, fund, seller, account, buyer, buyer_account, amount, fate, price, self.paying)
        if fate is not None:
            self.ctx.expect_ok(ticket, then=t.requested)
            fund.reserve(seller, buyer)
            self.paying[buyer_account.address] += price
        return t

    def can_pay(self, account: Account, amount: int) -> bool:
        """The account can pay for `amount` shares at any price when the purchase settles: its cash at the
        head, less what its pending purchases will take and what a payment sent in this block may."""
        most = amount * max(PRICES) // 100
        return self.cash.balanceOf(account.address) - self.paying[account.address] - CASH_MARGIN >= most

    def after_request(self, t: Transfer):
        """A transfer's life from the round after its request, a round a step: the manager approves or
        rejects it (or its requester cancels it), then the platform settles it, DvP, booked when the block
        commits. The planted unapproved one goes straight to settlement, is refused, and is withdrawn."""
        if t.fate == "reject":
            self.ctx.expect_ok(t.fund.manager.send(self.shares.rejectTransfer(
                t.request_id, b"price off market".ljust(32, b"\0"))))
            t.ended()
            return
        if t.fate == "cancel":
            self.cancel(t)
            return
        if t.fate == "settle":
            self.ctx.expect_ok(t.fund.manager.send(self.shares.approveTransfer(t.request_id)))
        yield
        t.ticket = self.platform.send(self.shares.settleTransfer(t.request_id))
        if t.fate != "unapproved":
            self.ctx.expect_ok(t.ticket, then=t.settled)
            return
        self.ctx.plant("unapproved_transfer", "TransferNotApproved", t.ticket,
                       "the platform settles a transfer the manager never approved",
                       request=t.request_id, fund=t.fund.id)
        yield
        self.cancel(t)

    def cancel(self, t: Transfer) -> None:
        self.ctx.expect_ok(t.seller.agent.send(self.shares.cancelTransfer(t.request_id), signer=t.account))
        t.ended()

    # Contract refusals planted during trading, each in a chosen round; one that finds nobody free
    # (everyone is in a pending transfer) returns False and is tried the next round.

    def idle_seller(self, funds: list[Fund], minimum: int = MIN_INVESTMENT) -> tuple[Fund, Investor, Account] | None:
        """A holder in no pending transfer whose whole stake in the fund sits in one account."""
        for fund in funds:
            for address, amount in sorted(fund.holdings.items()):
                investor, account = self.owners[address]
                if (amount >= minimum and fund.stake(investor) == amount and fund.idle(investor)
                        and address not in self.frozen and address not in self.long_term):
                    return fund, investor, account
        return None

    def refused_request(self, picked: tuple[Fund, Investor, Account], to: Investor, kind: str, reason: str,
                        description: str, amount: int = 0, **subject) -> bool:
        """A planted request, of the seller's whole account unless `amount`, that the chain must refuse."""
        fund, seller, account = picked
        t = self.request(fund, seller, account, to, amount or fund.holdings[account.address], fate=None)
        self.ctx.plant(kind, reason, t.ticket, description, **subject)
        return True

    def plant_unqualified_transferee(self) -> bool:
        if not (picked := self.idle_seller(self.transferable_funds)):
            return False
        buyer = self.rng.choice(self.unqualified_people)
        return self.refused_request(picked, buyer, "unqualified_transferee", "TransfereeNotQualified",
                                    "shares offered to a natural person below the qualified-investor thresholds",
                                    buyer="0x" + buyer.id.hex(), fund=picked[0].id)

    def plant_unqualified_backer(self) -> bool:
        if not (picked := self.idle_seller(self.transferable_funds)):
            return False
        return self.refused_request(picked, self.tainted, "unqualified_behind_vehicle", "UltimateInvestorNotQualified",
                                    "shares offered to a partnership with an unqualified investor behind it",
                                    buyer="0x" + self.tainted.id.hex(), fund=picked[0].id)

    def plant_cap_breach(self) -> bool:
        deep = self.deep
        small = sorted((f for f in self.transferable_funds if f.cap < 100), key=lambda f: -f.units)
        if small and small[0].units + deep.units <= small[0].cap:
            raise LedgerError("the nested partnership is too small to breach the cap")
        if not (picked := self.idle_seller([f for f in small if f.units + deep.units > f.cap],
                                           minimum=2 * MIN_INVESTMENT)):
            return False
        fund = picked[0]
        return self.refused_request(picked, deep, "cap_breach_nested_vehicle", "InvestorCapExceeded",
                                    f"a three-level partnership ({deep.units} investors looked through) would take "
                                    f"a {fund.cap}-investor fund past its cap", MIN_INVESTMENT,
                                    buyer="0x" + deep.id.hex(), fund=fund.id, units_before=fund.units)

    def plant_lockup(self) -> bool:
        if not (picked := self.idle_seller([f for f in self.funds if f.lockup_end > self.chain.time])):
            return False
        buyer = next(i for i in self.buyers if i is not picked[1])
        return self.refused_request(picked, buyer, "lockup_breach", "LockupActive",
                                    "a transfer requested during the fund's lock-up",
                                    fund=picked[0].id, lockup_end=picked[0].lockup_end)

    def plant_minimum_holding(self) -> bool:
        for fund in self.transferable_funds:  # a fund with a seller and another holder
            if (picked := self.idle_seller([fund])) and (buyer := next(
                    (i for i in self.buyers if i is not picked[1] and fund.stake(i) >= MIN_INVESTMENT), None)):
                break
        else:
            return False
        fund, seller, _ = picked
        return self.refused_request(picked, buyer, "below_minimum_holding", "BelowMinimumHolding",
                                    "a partial transfer that would leave the seller under the 1,000,000 CNY minimum",
                                    fund.stake(seller) - MIN_INVESTMENT // 2, fund=fund.id,
                                    remaining=MIN_INVESTMENT // 2)

    def plant_unapproved(self) -> bool:
        """An ordinary request, approved by nobody: the platform settles it next round, and is refused."""
        if (t := self.new_transfer()) is None:
            return False
        t.fate = "unapproved"
        self.new_requests.append(t)
        return True

    def court_order(self):
        """A court freezes a whole holding; the holder then tries to sell (planted), and the court orders
        the holding handed over to a creditor. A story over several rounds."""
        while (picked := self.idle_seller(self.transferable_funds)) is None:
            yield
        fund, holder, account = picked
        order = keccak(f"(2022) Jing 0105 Zhi Bao No. {self.rng.randrange(1000, 9999)}".encode())
        self.ctx.expect_ok(self.regulator.send(self.shares.freeze(fund.id, account.address, UNLIMITED, order)))
        self.frozen.add(account.address)
        fund.selling.add(holder)
        yield
        # The buyer, later the creditor, is best an idle holder of the fund; else any idle investor.
        while not (idle := [i for i in self.buyers if i is not holder and fund.idle(i)]):
            yield
        creditor = next((i for i in idle if fund.stake(i)), idle[0])
        self.refused_request(picked, creditor, "frozen_shares", "SharesFrozen",
                             "a holder sells shares frozen by a court order", fund=fund.id, order="0x" + order.hex())
        yield
        while creditor in fund.selling:
            yield
        amount = fund.holdings[account.address]
        self.ctx.expect_ok(self.regulator.send(self.shares.forcedTransfer(
            fund.id, account.address, creditor.accounts[0].address, amount, order)))
        fund.move(account, creditor.accounts[0], amount)
        fund.selling.discard(holder)
