"""A regional equity market on a business chain, supervised through a regulatory chain.

The Beijing Equity Exchange Center's regional equity market (区域性股权市场) runs the
business chain `equity_market`: the center lists companies, which open offerings that
qualified investors subscribe to (认股) and later disclose their annual, semi-annual and
ad-hoc documents (信息披露); investors trade shares between accounts linked at the
depository (账户对接). The regulator runs the regulatory chain `regulatory` (监管链): the
center's reporter node anchors the business chain there every `anchor_interval` blocks and
at the end of the run, and files the CSRC's user registration, asset registration,
transfer and settlement reports at each quarter end and at the end.

Disclosed documents stay off chain, in RUN_DIR/equity_market/documents/<company>/, with
their keccak on chain; each URI is the file's path relative to the run directory.

Violations are planted along the way: some the chain must refuse, some that pass it and are
left for the regulator. Every company's register is mirrored so that ordinary trades are ones
the rules allow: a refusal that was not planted shows in the summary as unexpected.

The first SHARED_PERSONS natural persons carry share_transfer's labels (inv0001...), so with
the same seed they are the same identities in both markets, for a look-through across them.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from eth_hash.auto import keccak

from ledger.audit.anchors import Anchorer, anchors_on, chain_key
from ledger.chain.access import adopt_declared_roles
from ledger.chain.calls import Call, Ticket
from ledger.chain.consortium import block_gas_limit
from ledger.chain.node import Node
from ledger.chain.roles import Role
from ledger.errors import ConfigError
from ledger.tooling.abi import bytes32, hex0x
from ledger.trust.keys import Account

from .api import IdentityKind, Option, Scenario, ScenarioContext, ScenarioError, identity_of
from .compliance import EQUITY_RULES, deploy_compliance, register_rules
from .people import CROSS_MARKET, credit_code, cross_market_institution, organisation, person
from .violations import OPTION as VIOLATIONS, Violations

BUSINESS, REGULATORY = "equity_market", "regulatory"
GENESIS_TIME = 1641916800  # 2022-01-12 00:00 Beijing time, as share_transfer
HOUR, DAY = 3600, 86400
YEAR = 365 * DAY
BEIJING = timezone(timedelta(hours=8))


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=BEIJING).timestamp())


OFFERING_CLOSES = beijing(2022, 1, 26, 15)
ANNUAL_DUE = beijing(2022, 4, 30, 23, 59)  # the 2021 annual report
SEMI_ANNUAL_DUE = beijing(2022, 8, 31, 23, 59)  # the 2022 semi-annual report
FOLLOW_ON_OPENS = beijing(2022, 6, 1, 9)
FOLLOW_ON_CLOSES = beijing(2022, 6, 10, 15)
QUARTER_ENDS = (beijing(2022, 3, 31, 23, 59), beijing(2022, 6, 30, 23, 59))
RUN_ENDS = beijing(2022, 9, 30, 15)

SHARED_PERSONS = 37  # share_transfer's inv0001..inv0037 are natural persons for any --investors >= 60
NOMINEES = 3
MAX_OFFERED = 100_000_000
ALLOT_GAS = 300_000
ALLOT_GAS_PER_SUBSCRIPTION = 180_000  # measured about 140,000 with the compliance modules

PERSON, INSTITUTION = IdentityKind.PERSON, IdentityKind.INSTITUTION
JOINT_STOCK, LIMITED_LIABILITY = 0, 1  # EquityMarket.LegalForm
ANNUAL, SEMI_ANNUAL, AD_HOC = 0, 1, 2  # Disclosure.Kind
REPORTS = (  # (ReportRegistry.ReportKind, name, the business chain's events it summarises)
    (0, "user-registration", ("IdentityRegistered", "AccountLinked")),
    (1, "asset-registration", ("CompanyListed",)),
    (2, "transfer-summary", ("SharesTransferred",)),
    (3, "settlement-summary", ("SharesAllotted",)),
)
ANNUAL_REPORT, SEMI_ANNUAL_REPORT = "annual-report-2021", "semi-annual-report-2022H1"

COMPANIES = (
    ("ZKXY", "Beijing Zhongke Xinyuan Technology Co., Ltd."), ("JYBIO", "Beijing Jingyuan Biopharma Co., Ltd."),
    ("HDNM", "Haidian New Materials Co., Ltd."), ("YSAGRI", "Yanshan Modern Agriculture Co., Ltd."),
    ("TZLOG", "Tongzhou Smart Logistics Co., Ltd."), ("CPEQ", "Changping Precision Equipment Co., Ltd."),
    ("SYAV", "Shunyi Aviation Services Co., Ltd."), ("DXMED", "Daxing Medical Devices Co., Ltd."),
    ("FTCUL", "Fengtai Cultural and Creative Co., Ltd."), ("HRENV", "Huairou Environmental Engineering Co., Ltd."),
)
AD_HOC_TOPICS = ("board-change", "major-contract", "equity-pledge", "related-party", "litigation",
                 "new-plant", "auditor-change")
FIRM_KINDS = ("Investment Co., Ltd.", "Technology Co., Ltd.", "Holdings Co., Ltd.", "Trading Co., Ltd.")


@dataclass(eq=False)
class Investor:
    label: str
    kind: IdentityKind
    qualified_until: int  # 0: never qualified
    personal: dict = field(repr=False)
    id: bytes
    agent: Node
    accounts: list[Account]  # linked at the depository
    unlinked: list[Account] = field(default_factory=list)  # linked to the identity only
    role: str = "ordinary"  # ordinary, employee, nominee


@dataclass(eq=False)
class Company:
    index: int
    abbr: str
    name: str
    code: str
    node: Node
    form: int
    id: bytes
    holders: dict[bytes, int] = field(default_factory=dict)  # identity -> shares: the register, mirrored
    offering: int | None = None  # the open offering, if any
    subscriptions: list[tuple[bytes, int]] = field(default_factory=list)  # to it: (identity, shares)
    keep_holders: bool = False  # holders never sell out (the nominee company: its count only grows)

    @property
    def reserved(self) -> set[bytes]:
        """Subscribers who hold nothing yet: each takes a holder's place at allotment."""
        return {i for i, _ in self.subscriptions if i not in self.holders}


class RegionalEquity(Scenario):
    name = "regional_equity"
    title = "Regional equity market: offerings, disclosure, account linkage, anchored on a regulatory chain"
    options = (
        Option("companies", 6, "companies listed on the regional equity market", 3, maximum=1_000),
        Option("investors", 300, "investor identities onboarded", 60, maximum=1_000_000),
        Option("transfers", 600, "share transfers between investors", 0, maximum=10_000_000),
        Option("batch", 25, "transfers per block", 1, maximum=10_000),
        Option("cap", 200, "most holders a company may have (200 by law; smaller for quick runs)", 10,
               maximum=1_000_000),
        Option("anchor_interval", 10, "business-chain blocks between anchors on the regulatory chain", 1,
               maximum=1_000_000),
        VIOLATIONS,
    )

    @classmethod
    def resolve_options(cls, given: dict[str, int | None]) -> dict[str, int]:
        """The options, and one more check: the capped company's allotment, one transaction of `--cap`
        subscriptions, must fit in a block."""
        options = super().resolve_options(given)
        limit = block_gas_limit()
        most = (limit - ALLOT_GAS) // ALLOT_GAS_PER_SUBSCRIPTION
        if options["cap"] > most:
            raise ConfigError(f"--cap must be at most {most:,} (the capped company's allotment of one subscription "
                              f"per holder must fit in a block's {limit:,} gas), got {options['cap']:,}")
        return options

    @classmethod
    def trading_rounds(cls, options: dict[str, int]) -> int:
        return -(-options["transfers"] // options["batch"])

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        """Blocks on both chains, about: setup and governance, one per trading round (filings wait for one),
        one per report, and the anchors."""
        business = 30 + options["companies"] + options["investors"] // 200 + cls.trading_rounds(options)
        return business + 7 + business // options["anchor_interval"]

    def run(self, ctx: ScenarioContext) -> None:
        self.ctx, self.rng, self.opts, self.cap = ctx, ctx.rng, ctx.options, ctx.options["cap"]
        # The business chain first: it is the run's primary chain (the summary's head hash).
        self.chain = ctx.open_chain(BUSINESS, 20223, GENESIS_TIME, "Beijing Equity Exchange Center Consortium CA")
        self.regulatory = ctx.open_chain(REGULATORY, 20220, GENESIS_TIME, "CSRC Regulatory Chain CA")
        self.investors: list[Investor] = []
        self.by_id: dict[bytes, Investor] = {}
        self.companies: list[Company] = []
        self.filed: dict[tuple[Company, str], Ticket] = {}  # a document's first filing
        self.filing: dict[tuple[Company, str], Ticket] = {}  # a document's last filing
        self.waiting: list[tuple[Ticket, int]] = []  # filings waiting for a block: (ticket, time it must be in by)
        self.accounts_opened = itertools.count(1)  # depository account numbers
        self.no_sell: set[bytes] = set()  # identities kept out of ordinary selling
        self.last_report_end = 0

        self.make_nodes()
        self.setup_regulatory()
        self.deploy()
        self.list_companies()
        self.onboard()
        self.offer()
        self.allot(self.companies, OFFERING_CLOSES + HOUR)
        self.compose_nominees()
        self.check_registers()
        self.plant_cap_breach()
        self.timeline()
        self.finish()

    def at(self, t: int) -> None:
        """Moves the business chain's clock to `t` (never back)."""
        if t > self.chain.time:
            self.chain.advance(t - self.chain.time)

    def ok(self, node: Node, call: Call, signer: Account | None = None) -> Ticket:
        """Ordinary business: `node` sends `call`, which must commit."""
        return self.ctx.expect_ok(node.send(call, signer=signer))

    def plant(self, kind: str, reason: str, sender: Node, call: Call, description: str, /,
              signer: Account | None = None, **subject) -> None:
        """`sender` sends a violation its chain must refuse with `reason`, in a block of its own."""
        self.ctx.plant(kind, reason, sender.send(call, signer=signer), description, **subject)
        self.ctx.chain_of(sender).commit()

    # ------------------------------------------------------------------- setup

    def make_nodes(self) -> None:
        add = self.chain.add_node
        self.center = add("BJEE-REM", "Beijing Equity Exchange Center, Regional Equity Market",
                          Role.ADMIN | Role.PLATFORM | Role.VALIDATOR | Role.EQUITY_CENTER)
        self.regulator = add("CSRC-BJ", "CSRC Beijing Regulatory Bureau", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        self.depository = add("CSDC-BJ", "China Securities Depository and Clearing, Beijing",
                              Role.DEPOSITORY | Role.VALIDATOR)
        self.agents = [
            add("HX-SEC", "Huaxing Securities Investor Services", Role.INVESTOR_AGENT | Role.KYC_AGENT),
            add("JC-WEALTH", "Jingcheng Wealth Management Agency", Role.INVESTOR_AGENT | Role.KYC_AGENT),
        ]
        for i in range(self.opts["companies"]):
            abbr, name = COMPANIES[i % len(COMPANIES)]
            if i >= len(COMPANIES):
                abbr, name = f"{abbr}{i // len(COMPANIES) + 1}", f"{name} (No. {i // len(COMPANIES) + 1})"
            code, form = f"BJEE-{880001 + i}", LIMITED_LIABILITY if i % 3 == 2 else JOINT_STOCK
            node = add(abbr, name, Role.LISTED_COMPANY)
            self.companies.append(Company(i, abbr, name, code, node, form, bytes32(code)))
        self.chain.anchored_on = self.regulatory.name  # in the genesis record: an audit misses no regulatory chain

        radd = self.regulatory.add_node
        self.csrc = radd("CSRC", "China Securities Regulatory Commission, Regulatory Chain Operator",
                         Role.ADMIN | Role.REGULATOR | Role.VALIDATOR | Role.PLATFORM)
        self.csrc_bj = radd("CSRC-BJ", "CSRC Beijing Regulatory Bureau", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        self.reporter = radd("BJEE-REM", "Beijing Equity Exchange Center, Regional Equity Market (reporter)",
                             Role.EQUITY_CENTER)

    def setup_regulatory(self) -> None:
        """The regulator deploys the report registry and registers the business chain and its reporter."""
        registry = self.csrc.deploy("PermissionRegistry", *self.regulatory.founding_members()).contract_address
        self.csrc.deploy("ReportRegistry", registry)
        self.regulatory.commit()
        adopt_declared_roles(self.regulatory)
        self.reports = self.ctx.contract(self.regulatory, "ReportRegistry")
        self.ok(self.csrc_bj, self.reports.registerChain(chain_key(BUSINESS), self.reporter.address))
        self.regulatory.commit()
        self.anchorer = Anchorer(self.chain, self.regulatory, self.reporter, self.opts["anchor_interval"])

    def deploy(self) -> None:
        c = self.center
        registry = c.deploy("PermissionRegistry", *self.chain.founding_members()).contract_address
        identities = c.deploy("IdentityRegistry", registry).contract_address
        linkage = c.deploy("AccountLinkage", registry).contract_address
        compliance = deploy_compliance(c, registry, identities, EQUITY_RULES, linkage=linkage)
        market = c.deploy("EquityMarket", registry, identities, compliance, self.cap).contract_address
        c.deploy("Disclosure", registry, market, YEAR)
        self.chain.commit()
        adopt_declared_roles(self.chain)  # the contracts' role tables, mapped by governance
        register_rules(self.chain, "EquityMarket", 0, EQUITY_RULES)  # holders counted per identity
        self.identities, self.linkage, self.market, self.disclosure = (self.ctx.contract(self.chain, name) for name in (
            "IdentityRegistry", "AccountLinkage", "EquityMarket", "Disclosure"))
        self.kyc = self.ctx.kyc(self.chain, self.identities, self.regulator)

    def list_companies(self) -> None:
        """The center lists every company and sets its periodic disclosure deadlines."""
        for company in self.companies:
            record = {"name": company.name, "code": company.code, "legal_form": company.form,
                      "credit_code": credit_code(self.rng)}
            self.ok(self.center, self.market.listCompany(company.id, company.node.address, company.form,
                                                         keccak(json.dumps(record, sort_keys=True).encode())))
        self.chain.commit()
        for company in self.companies:
            self.ok(self.center, self.disclosure.setSchedule(company.id, ANNUAL_DUE, SEMI_ANNUAL_DUE))
        self.chain.commit()
        n = len(self.companies)
        self.capped, self.nominee_company, self.missing = self.companies[0], self.companies[1], self.companies[2]
        self.tampered, self.late, self.corrected = (self.companies[3 % n], self.companies[4 % n],
                                                   self.companies[5 % n])
        self.nominee_company.keep_holders = True

    # --------------------------------------------------------------- investors

    def new_investor(self, label: str, kind: IdentityKind, qualified_until: int, role: str = "ordinary",
                     accounts: int = 1) -> Investor:
        """Personal data from (seed, operator secret, label): a label is the same person whatever else
        the run holds, and nobody who knows only the seed can rebuild it. The cross-market institution
        (scenarios.people.CROSS_MARKET) keeps its own record and uses its one unified account."""
        rng = self.ctx.private_rng(label)
        if label == CROSS_MARKET:
            agent = self.agents[len(self.investors) % len(self.agents)]
            investor = Investor(label, kind, qualified_until, cross_market_institution(rng),
                                identity_of(self.ctx.seed, label), agent, [agent.hold(self.ctx.unified_account(label))])
            self.investors.append(investor)
            self.by_id[investor.id] = investor
            return investor
        if kind == PERSON:
            assets, years = ((5, 8, 10, 20, 50, 120), (2, 15)) if qualified_until else ((1, 2, 3, 4), (0, 1))
            personal = person(rng) | {"financial_assets": rng.choice(assets) * 100_000,
                                      "experience_years": rng.randint(*years)}
        else:
            personal = organisation(rng, FIRM_KINDS) | {"net_assets": rng.choice((10, 20, 50, 100)) * 1_000_000}
        agent = self.agents[len(self.investors) % len(self.agents)]
        investor = Investor(label, kind, qualified_until, personal, identity_of(self.ctx.seed, label), agent,
                            [agent.hold(self.chain.client_account(f"{label}/{i}")) for i in range(accounts)],
                            role=role)
        self.investors.append(investor)
        self.by_id[investor.id] = investor
        return investor

    def register(self, investor: Investor) -> None:
        """KYC by the investor's agent, then linkage at the depository."""
        self.kyc.register(investor.agent, investor.label, investor.id, investor.kind, investor.personal,
                          investor.qualified_until, investor.accounts + investor.unlinked)
        for account in investor.accounts:
            ref = bytes32(f"CSDC-BJ-A{next(self.accounts_opened):08d}")
            self.ok(self.depository, self.linkage.linkAccount(account.address, ref))

    def onboard(self) -> None:
        n = self.opts["investors"]
        persons = n - n * 12 // 100
        shared = min(SHARED_PERSONS, persons)
        unqualified = set(self.rng.sample(range(persons), max(3, persons * 5 // 100)))
        lapsing = set(self.rng.sample(sorted(set(range(persons)) - unqualified), max(2, persons * 5 // 100)))
        two_years = GENESIS_TIME + 2 * YEAR
        for i in range(n):
            # A lapsing assessment ends mid-year: its holder may sell then, but not buy.
            until = 0 if i in unqualified else (self.rng.randrange(beijing(2022, 4, 1), beijing(2022, 8, 1))
                                                if i in lapsing else two_years)
            # The first institution is the one that also invests in a private fund and trades warehouse receipts.
            self.new_investor(CROSS_MARKET if i == persons else f"inv{i + 1:04d}" if i < shared
                              else f"rem{i + 1 - shared:04d}",
                              PERSON if i < persons else INSTITUTION, until,
                              accounts=2 if self.rng.random() < 0.15 else 1)
        self.unqualified = [i for i in self.investors if i.qualified_until == 0]
        # An investor whose agent opened a second account, registered to the identity but never
        # linked at the depository: the planted unlinked trade is sent from it.
        trader = self.unlinked_trader = next(i for i in self.investors
                                             if i.kind == PERSON and i.qualified_until == two_years)
        trader.unlinked.append(trader.agent.hold(self.chain.client_account(f"{trader.label}/unlinked")))
        # Nominees: institutions that hold shares on behalf of many people who stay off the register.
        self.nominees = [self.new_investor(f"nominee{k + 1}", INSTITUTION, two_years, role="nominee")
                         for k in range(NOMINEES)]
        self.cross_market = next(i for i in self.investors if i.label == CROSS_MARKET)
        self.no_sell.update([trader.id, self.cross_market.id] + [i.id for i in self.nominees])
        for investor in self.investors:
            self.register(investor)
        stray = self.agents[0].hold(self.chain.client_account("stray/0"))
        self.plant("agent_links_at_depository", "ROLE_MISSING", self.agents[0],
                   self.linkage.linkAccount(stray.address, bytes32("CSDC-BJ-FORGED")),
                   "an investor agent links an account at the depository, which only the depository may do",
                   node=self.agents[0].name, account=hex0x(stray.address))

    def buyers(self, at: int) -> list[Investor]:
        """Investors who may receive shares at time `at` (a day's margin on their qualification)."""
        return [i for i in self.investors if i.role != "nominee" and i.qualified_until >= at + DAY]

    # --------------------------------------------------------------- offerings

    def open_offering(self, company: Company, closes: int) -> None:
        """Opens the company's offering in the block being built; its id is known once that block commits."""
        def opened(ticket: Ticket) -> None:
            company.offering = ticket.event("OfferingOpened")["offeringId"]

        price = self.rng.choice((2, 3, 4, 5, 6, 8, 10, 12))
        self.ctx.expect_ok(company.node.send(self.market.openOffering(company.id, price, MAX_OFFERED, closes)),
                           then=opened)

    def room(self, company: Company) -> int:
        """New holders the company's open offering may still take."""
        return self.cap - len(company.holders) - len(company.reserved)

    def subscribe(self, investor: Investor, company: Company, shares: int | None = None) -> None:
        """An ordinary subscription, which the mirrored register says the market accepts."""
        if investor.id not in company.holders and investor.id not in company.reserved and self.room(company) < 1:
            raise ScenarioError(f"{company.code} has no room for {investor.label}")
        shares = shares or self.rng.choice((1, 2, 3, 5, 8, 10, 20)) * 10_000
        self.ok(investor.agent, self.market.subscribe(company.offering, shares), self.rng.choice(investor.accounts))
        company.subscriptions.append((investor.id, shares))

    def offer(self) -> None:
        """Every company opens an offering; the capped company is subscribed up to the holder cap."""
        self.at(GENESIS_TIME + 2 * DAY)
        for company in self.companies:
            self.open_offering(company, OFFERING_CLOSES)
        self.chain.commit()  # every company's offering in one block
        eligible = [i for i in self.buyers(OFFERING_CLOSES + HOUR) if i.role == "ordinary"]
        pool = list(eligible)
        self.rng.shuffle(pool)
        # The capped company: subscribed by holder-cap identities, topped up with its employees
        # when the market has too few investors, and some investors left out of it to buy later.
        capped = self.capped
        fill = pool[:max(0, min(self.cap, len(pool) - max(3, len(pool) // 10)))]
        employees = [self.new_investor(f"{capped.abbr.lower()}-emp{k + 1:03d}", PERSON, GENESIS_TIME + 2 * YEAR,
                                       role="employee") for k in range(self.cap - len(fill))]
        for employee in employees:
            self.register(employee)
        self.chain.commit()
        for investor in fill + employees:
            self.subscribe(investor, capped)
        # The others: each investor subscribes to one or two companies, while they have room.
        soft = {c: self.cap - max(2, self.cap // 10) - (NOMINEES if c is self.nominee_company else 0)
                for c in self.companies}
        others = [c for c in self.companies if c is not capped]
        first = [i for i in (self.unlinked_trader, self.cross_market) if i in eligible]
        for investor in first + [i for i in eligible if i not in first]:
            for company in self.rng.sample(others, min(len(others), self.rng.choice((1, 1, 2)))):
                if len(company.reserved) < soft[company] and self.room(company) > 0:
                    self.subscribe(investor, company)
        for nominee in self.nominees:
            self.subscribe(nominee, self.nominee_company, self.rng.choice((30, 50, 80)) * 10_000)
        target, unqualified = self.missing, self.rng.choice(self.unqualified)
        self.plant("unqualified_subscription", "NotQualified", unqualified.agent,
                   self.market.subscribe(target.offering, 10_000),
                   "a natural person below the qualified-investor thresholds subscribes to an offering",
                   signer=unqualified.accounts[0], investor=hex0x(unqualified.id), company=hex0x(target.id),
                   offering=target.offering)

    def allot(self, companies: list[Company], at: int) -> None:
        """Allots the companies' closed offerings at time `at`, none voided, into the mirrored registers."""
        def none_voided(ticket: Ticket) -> None:
            if voided := ticket.event("OfferingAllotted")["voided"]:
                raise ScenarioError(f"allotment voided {voided} subscriptions ({ticket.node})")

        self.at(at)
        for company in companies:
            gas = ALLOT_GAS + ALLOT_GAS_PER_SUBSCRIPTION * len(company.subscriptions)
            self.ctx.expect_ok(company.node.send(self.market.allot(company.offering, gas=gas)), then=none_voided)
        self.chain.commit()
        for company in companies:
            for identity, shares in company.subscriptions:
                company.holders[identity] = company.holders.get(identity, 0) + shares
            company.offering, company.subscriptions = None, []

    def compose_nominees(self) -> None:
        """Who stands behind each nominee: enough people that the nominee company's real holder count
        passes the cap. Two registered but unqualified investors are among them; the rest are people
        who never appear on the chain."""
        company = self.nominee_company
        people = self.cap - (len(company.holders) - NOMINEES) + max(5, self.cap // 20)
        split = [people // NOMINEES] * NOMINEES
        split[0] += people - sum(split)
        registered = self.rng.sample(self.unqualified, min(2, len(self.unqualified)))
        self.behind: dict[bytes, list[dict]] = {}
        for k, (nominee, count) in enumerate(zip(self.nominees, split)):
            listed = [{"identity": hex0x(p.id), "label": p.label, "registered": True}
                      for p in (registered if k == 0 else [])]
            listed += [{"identity": hex0x(identity_of(self.ctx.seed, label)), "label": label, "registered": False}
                       for label in (f"{nominee.label}/beneficiary{j + 1:03d}" for j in range(count - len(listed)))]
            self.behind[nominee.id] = listed
            # The nominee's KYC agent records whom it holds for (beneficial-ownership KYC), sealed
            # for itself and the regulator: off chain, but there for a regulator to look through.
            self.ctx.private_store(self.chain, nominee.agent, self.regulator).declare(
                nominee.id, "nominee", {"company": company.code, "acts_for": [b["identity"] for b in listed]})

    def check_registers(self) -> None:
        """The mirrored registers agree with the chain's."""
        for company in self.companies:
            if (on_chain := self.market.holderCount(company.id)) != len(company.holders):
                raise ScenarioError(f"{company.code} has {on_chain} holders on chain, {len(company.holders)} "
                                    f"in the mirror")

    # ------------------------------------------------------------ chain plants

    def plant_cap_breach(self) -> None:
        """A holder of the full company sells part of a holding to a new holder."""
        company = self.capped
        seller = self.by_id[self.rng.choice(sorted(i for i in company.holders if i not in self.no_sell))]
        buyer = self.rng.choice([i for i in self.buyers(self.chain.time) if i.id not in company.holders])
        shares = company.holders[seller.id] // 2
        self.plant("holder_cap_breach", "HolderCapExceeded", seller.agent,
                   self.market.transferShares(company.id, buyer.accounts[0].address, shares),
                   f"a partial sale to a new holder would take a company holding the cap ({self.cap}) past it",
                   signer=seller.accounts[0], company=hex0x(company.id), seller=hex0x(seller.id),
                   buyer=hex0x(buyer.id), shares=shares, holders=len(company.holders), cap=self.cap)

    def plant_unlinked_trade(self) -> None:
        """The investor's second account, never linked at the depository, sells shares."""
        trader = self.unlinked_trader
        held = [c for c in self.companies if c.holders.get(trader.id) and c.offering is None]
        company = held[0] if held else next(c for c in self.companies if c.offering is None)
        buyer = self.rng.choice([i for i in self.buyers(self.chain.time) if i is not trader])
        shares = max(1, company.holders.get(trader.id, 0) // 2)
        self.plant("unlinked_account_trade", "AccountNotLinked", trader.agent,
                   self.market.transferShares(company.id, buyer.accounts[0].address, shares),
                   "a sale from an investor's account that was never linked at the depository",
                   signer=trader.unlinked[0], company=hex0x(company.id), seller=hex0x(trader.id),
                   account=hex0x(trader.unlinked[0].address), shares=shares)

    def plant_foreign_filing(self) -> None:
        """One company's node files a document under another company."""
        intruder, victim = self.nominee_company, self.capped
        self.plant("filing_for_another_company", "NotIssuer", intruder.node, self.disclosure.setDocument(
                       victim.id, bytes32("adhoc-major-contract"), f"{BUSINESS}/documents/{victim.code}/forged.txt",
                       keccak(b"forged notice"), AD_HOC),
                   "a listed company files a disclosure under another company's name",
                   company=hex0x(victim.id), node=intruder.node.name)

    def plant_rewritten_anchor(self) -> None:
        """The reporter tries to anchor an already anchored height again with another hash."""
        first = anchors_on(self.regulatory.store, BUSINESS)[0]
        forged = keccak(b"rewritten/" + first.block_hash)
        self.plant("rewritten_anchor", "AnchorNotAfterLatest", self.reporter,
                   self.reports.anchor(chain_key(BUSINESS), first.block_number, forged, first.state_root,
                                       first.event_digest),
                   "the business chain's reporter anchors an already anchored block again with another hash",
                   chain=REGULATORY, business_chain=BUSINESS, block=first.block_number,
                   anchored_hash=hex0x(first.block_hash), forged_hash=hex0x(forged))

    # -------------------------------------------------------------- disclosure

    def file_document(self, company: Company, name: str, kind: int, on_time: bool | None = None) -> None:
        """Writes the document's file and files its hash on chain (a new version if the name exists); a
        periodic report must be recorded as filed `on_time` or not."""
        def deadline(ticket: Ticket) -> None:
            if on_time is not None and (met := ticket.event("PeriodicReportFiled")["onTime"]) != on_time:
                raise ScenarioError(f"{company.code} {name} filed on time: {met}")

        if (before := self.filing.get((company, name))) and before.status == "pending":
            self.chain.commit()  # this version counts the one before, on chain
        version = len(self.disclosure.documentHistory(company.id, bytes32(name))) + 1
        rng = random.Random(f"document/{self.ctx.seed}/{company.code}/{name}/{version}")
        revenue = rng.randrange(20_000, 900_000) * 1000
        profit = revenue * rng.randrange(-8, 25) // 100
        lines = [f"{company.name} ({company.code})", f"Document: {name}, version {version}",
                 "Filed on the Beijing Equity Exchange Center regional equity market.", "",
                 f"Operating revenue (CNY): {revenue:,}", f"Net profit (CNY): {profit:,}",
                 f"Holders of record: {len(company.holders)}"]
        if version > 1:
            lines.append("This version corrects and replaces the one filed before.")
        content = ("\n".join(lines) + "\n").encode()
        path = self.ctx.run_dir / BUSINESS / "documents" / company.code / f"{name}-v{version}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        uri = path.relative_to(self.ctx.run_dir).as_posix()
        ticket = self.ctx.expect_ok(company.node.send(self.disclosure.setDocument(
            company.id, bytes32(name), uri, keccak(content), kind)), then=deadline)
        self.filing[company, name] = ticket
        self.waiting.append((ticket, {ANNUAL: ANNUAL_DUE, SEMI_ANNUAL: SEMI_ANNUAL_DUE}.get(kind, RUN_ENDS)
                             if on_time else RUN_ENDS))
        self.filed.setdefault((company, name), ticket)

    # ---------------------------------------------------------------- trading

    def trade(self, buyers: list[Investor]) -> bool:
        """An ordinary transfer that every rule allows, by the mirrored registers (False: none found)."""
        companies = [c for c in self.companies if c.offering is None and any(
            i not in self.no_sell for i in c.holders)]
        if not companies or len(buyers) < 2:
            return False
        for _ in range(30):
            company = self.rng.choice(companies)
            seller = self.by_id[self.rng.choice([i for i in company.holders if i not in self.no_sell])]
            buyer = self.rng.choice(buyers)
            balance = company.holders[seller.id]
            partial, whole = balance >= 200, not company.keep_holders  # sell part of it, or all
            if buyer is seller or not (partial or whole):
                continue
            if whole and (not partial or self.rng.random() < 0.25):
                amount = balance
            else:
                amount = self.rng.randrange(1, balance // 100) * 100
            if buyer.id not in company.holders and amount != balance and len(company.holders) >= self.cap:
                continue
            self.ok(seller.agent, self.market.transferShares(company.id, self.rng.choice(buyer.accounts).address,
                                                             amount), self.rng.choice(seller.accounts))
            company.holders[seller.id] -= amount
            if not company.holders[seller.id]:
                del company.holders[seller.id]
            company.holders[buyer.id] = company.holders.get(buyer.id, 0) + amount
            return True
        return False

    def trading_round(self, count: int) -> None:
        buyers = self.buyers(self.chain.time)
        for _ in range(count):
            if not self.trade(buyers):
                break
        self.chain.commit()

    # --------------------------------------------------------------- timeline

    def timeline(self) -> None:
        """Trading rounds spread over the year, with filings, a follow-on offering, the planted
        refusals and the quarterly reports at their dates."""
        rng = self.rng
        events: list[tuple[int, int, object, tuple]] = []

        def add(t: int, action, *args) -> None:
            events.append((t, len(events), action, args))

        total, batch = self.opts["transfers"], self.opts["batch"]
        rounds = self.trading_rounds(self.opts)
        start, end = OFFERING_CLOSES + 2 * DAY, RUN_ENDS - DAY
        for k in range(rounds):
            add(start + (end - start) * (2 * k + 1) // (2 * rounds), self.trading_round,
                min(batch, total - k * batch))
        for company in self.companies:
            late = company is self.late
            add(ANNUAL_DUE + (rng.randrange(5, 20) if late else -rng.randrange(2, 24)) * DAY, self.file_document,
                company, ANNUAL_REPORT, ANNUAL, not late)
            if company is not self.missing:
                add(SEMI_ANNUAL_DUE - rng.randrange(2, 22) * DAY, self.file_document, company, SEMI_ANNUAL_REPORT,
                    SEMI_ANNUAL, True)
            topic = rng.choice(AD_HOC_TOPICS)
            t = rng.randrange(beijing(2022, 2, 1), beijing(2022, 9, 20))
            add(t, self.file_document, company, f"adhoc-{topic}-{datetime.fromtimestamp(t, BEIJING):%Y%m}", AD_HOC)
        # A correction replaces an annual report after filing (the history stays on chain).
        add(beijing(2022, 6, 15) + rng.randrange(0, 10) * DAY, self.file_document, self.corrected, ANNUAL_REPORT,
            ANNUAL)
        # A disclosure after the semi-annual deadline, so the chain's head is past it at the end.
        add(RUN_ENDS - 2 * HOUR, self.file_document, self.capped, "adhoc-board-resolution-202209", AD_HOC)
        add(FOLLOW_ON_OPENS, self.follow_on)
        add(rng.randrange(beijing(2022, 2, 10), beijing(2022, 3, 20)), self.plant_unlinked_trade)
        add(ANNUAL_DUE - rng.randrange(5, 15) * DAY, self.plant_foreign_filing)
        for quarter_end in QUARTER_ENDS:
            add(quarter_end, self.file_reports)
        self.violations = Violations(self, 30)  # --violations N, planted at 30 steps spread over the year
        for k, t in enumerate(self.violations.times(start, end)):
            add(t, self.violations.run, k)
        for t, _, action, args in sorted(events, key=lambda e: (e[0], e[1])):
            # Filings wait for the next trading round's block, but never past a deadline they must meet;
            # anything else starts from a chain that has them.
            waiting = [due for ticket, due in self.waiting if ticket.status == "pending"]
            if action not in (self.file_document, self.trading_round) or t >= min(waiting, default=t + 1) - HOUR:
                self.commit_filings()
            self.at(t)
            action(*args)
        self.commit_filings()

    def commit_filings(self) -> None:
        if self.chain.pending:
            self.chain.commit()
        self.waiting = []

    def follow_on(self) -> None:
        """A second offering by the company with the most room, open ten days; trading in its shares
        pauses until allotment."""
        candidates = [c for c in self.companies if c is not self.capped and c is not self.nominee_company]
        company = max(candidates, key=lambda c: (self.cap - len(c.holders), -c.index))
        self.open_offering(company, FOLLOW_ON_CLOSES)
        self.chain.commit()
        buyers = [i for i in self.buyers(FOLLOW_ON_CLOSES + 2 * DAY) if i.role == "ordinary"]
        holders = [i for i in buyers if i.id in company.holders]
        newcomers = [i for i in buyers if i.id not in company.holders]
        for investor in self.rng.sample(holders, min(len(holders), self.rng.randint(3, 10))):
            self.subscribe(investor, company)
        room = min(self.room(company), self.rng.randint(5, 25))
        for investor in self.rng.sample(newcomers, min(len(newcomers), max(0, room))):
            self.subscribe(investor, company)
        self.chain.commit()
        self.allot([company], FOLLOW_ON_CLOSES + HOUR)

    # ------------------------------------------------------- regulatory chain

    def file_reports(self) -> None:
        """The four CSRC reports, for the period ending at the business chain's head."""
        head = self.chain.head
        if head.timestamp <= self.last_report_end:
            return
        for kind, name, events in REPORTS:
            uri = f"{REGULATORY}/reports/{BUSINESS}/{name}-{head.timestamp}.json"
            self.anchorer.report(kind, events, uri)
            ticket = self.ctx.expect_ok(self.anchorer.tickets[-1])  # committed already: checked at once
            reported = ticket.event("Reported")
            path = self.ctx.run_dir / uri
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "business_chain": BUSINESS, "kind": name, "events": list(events), "period_end": reported["periodEnd"],
                "business_block": head.number, "count": reported["count"], "digest": reported["digest"],
                "regulatory_block": ticket.block_number}, indent=2) + "\n", encoding="utf-8")
        self.last_report_end = head.timestamp

    # ------------------------------------------------------------------ finish

    def finish(self) -> None:
        self.violations.drain(lambda: self.at(min(self.chain.time + DAY, RUN_ENDS - HOUR)))
        self.at(RUN_ENDS)
        self.chain.commit()
        self.check_registers()
        self.anchorer.anchor()
        self.file_reports()
        self.plant_rewritten_anchor()
        self.plant_for_regulator()
        tickets = self.anchorer.tickets
        self.ctx.extra.update({
            "anchors": sum(1 for t in tickets if t.function == "anchor" and t.ok),
            "reports_filed": sum(1 for t in tickets if t.function == "report" and t.ok),
            "anchored_height": self.anchorer.anchored_height,
        })

    def plant_for_regulator(self) -> None:
        company = self.missing
        self.ctx.plant_for_regulator(
            "missed_disclosure",
            "a company never files its semi-annual report; the deadline passes without a filing",
            company=hex0x(company.id), code=company.code, document=SEMI_ANNUAL_REPORT, document_kind="semi-annual",
            due=SEMI_ANNUAL_DUE, head_time=self.chain.head.timestamp)
        company, filing = self.tampered, self.filed[self.tampered, ANNUAL_REPORT]
        filed = filing.event("DocumentUpdated")
        path = self.ctx.run_dir / filed["uri"]
        altered = path.read_text(encoding="utf-8").replace("Net profit (CNY): ", "Net profit (CNY): 1").encode()
        path.write_bytes(altered)
        self.ctx.plant_for_regulator(
            "document_mismatch",
            "a disclosed document's file was changed after filing; it no longer matches the hash on chain",
            company=hex0x(company.id), code=company.code, document=ANNUAL_REPORT, version=filed["version"],
            uri=filed["uri"], filed_hash=filed["newHash"], content_hash=hex0x(keccak(altered)),
            filed_block=filing.block_number)
        company = self.nominee_company
        on_chain = len(company.holders)
        people = sum(len(self.behind[n.id]) for n in self.nominees)
        real = on_chain - NOMINEES + people
        if real <= self.cap or any(n.id not in company.holders for n in self.nominees):
            raise ScenarioError(f"the nominee company has {real} real holders, cap {self.cap}")
        self.ctx.plant_for_regulator(
            "investor_cap",
            f"{NOMINEES} institutions hold shares for {people} people, taking the company past "
            f"{self.cap} real holders while the chain counts {on_chain}",
            asset=f"company:{hex0x(company.id)}", company=hex0x(company.id), code=company.code, cap=self.cap, holders_on_chain=on_chain,
            real_holders=real,
            nominees=[{"identity": hex0x(n.id), "label": n.label,
                       "shares": company.holders[n.id], "people": len(self.behind[n.id]),
                       "beneficiaries": self.behind[n.id]} for n in self.nominees])
        for nominee in self.nominees:
            for beneficiary in (b for b in self.behind[nominee.id] if b["registered"]):
                self.ctx.plant_for_regulator(
                    "qualified_investor", "an unqualified investor holds the company's shares behind a nominee",
                    asset=f"company:{hex0x(company.id)}", identity=beneficiary["identity"], label=beneficiary["label"],
                    nominee=hex0x(nominee.id))
        company, filing = self.late, self.filed[self.late, ANNUAL_REPORT]
        self.ctx.plant_for_regulator(
            "late_disclosure", "a company files its annual report after the deadline",
            company=hex0x(company.id), code=company.code, document=ANNUAL_REPORT, document_kind="annual",
            due=ANNUAL_DUE, filed_at=self.chain.store.block(filing.block_number).timestamp,
            filed_block=filing.block_number)
