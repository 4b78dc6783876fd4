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

Violations are planted along the way: some the chain must refuse, some that pass it and
are left for the regulator. The scenario keeps a shadow of every company's register so
that the ordinary business it generates is business the rules allow: any refusal that
was not planted shows up in the summary as unexpected.

Investor identities are derived as in share_transfer, keccak("identity/<seed>/<label>"),
and the first SHARED_PERSONS natural persons use share_transfer's labels (inv0001...),
which are natural persons there for any option values: with the same seed they are the
same people in both markets, for a look-through across markets.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from eth_hash.auto import keccak

from ledger.tooling.abi import bytes32, hex0x
from ledger.audit.anchors import Anchorer, anchors_on, chain_key
from ledger.chain.consortium import Consortium, Ticket
from ledger.errors import LedgerError
from ledger.trust.keys import Account
from ledger.chain.node import Node
from ledger.trust.privacy import data_hash
from ledger.chain.roles import Role

from .api import Option, Scenario, ScenarioContext, identity_of

BUSINESS, REGULATORY = "equity_market", "regulatory"
BUSINESS_CHAIN_ID, REGULATORY_CHAIN_ID = 20223, 20220
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
ALLOT_GAS_PER_SUBSCRIPTION = 120_000

# IdentityRegistry.Kind, EquityMarket.LegalForm, Disclosure.Kind, ReportRegistry.ReportKind
PERSON, INSTITUTION = 1, 2
JOINT_STOCK, LIMITED_LIABILITY = 0, 1
ANNUAL, SEMI_ANNUAL, AD_HOC = 0, 1, 2
KIND_NAMES = {ANNUAL: "annual", SEMI_ANNUAL: "semi-annual", AD_HOC: "ad hoc"}
REPORTS = (  # (ReportKind, name, the business chain's events it summarises)
    (0, "user-registration", ("IdentityRegistered", "AccountLinked")),
    (1, "asset-registration", ("CompanyListed",)),
    (2, "transfer-summary", ("SharesTransferred",)),
    (3, "settlement-summary", ("SharesAllotted",)),
)
ANNUAL_REPORT, SEMI_ANNUAL_REPORT = "annual-report-2021", "semi-annual-report-2022H1"

COMPANIES = (
    ("ZKXY", "Beijing Zhongke Xinyuan Technology Co., Ltd."),
    ("JYBIO", "Beijing Jingyuan Biopharma Co., Ltd."),
    ("HDNM", "Haidian New Materials Co., Ltd."),
    ("YSAGRI", "Yanshan Modern Agriculture Co., Ltd."),
    ("TZLOG", "Tongzhou Smart Logistics Co., Ltd."),
    ("CPEQ", "Changping Precision Equipment Co., Ltd."),
    ("SYAV", "Shunyi Aviation Services Co., Ltd."),
    ("DXMED", "Daxing Medical Devices Co., Ltd."),
    ("FTCUL", "Fengtai Cultural and Creative Co., Ltd."),
    ("HRENV", "Huairou Environmental Engineering Co., Ltd."),
)
AD_HOC_TOPICS = ("board-change", "major-contract", "equity-pledge", "related-party", "litigation",
                 "new-plant", "auditor-change")
SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo".split()
GIVEN = "Wei Fang Na Min Jing Lei Qiang Jun Yang Yong Yan Jie Tao Ming Chao Xiu Hua Ping Gang Hui".split()
FIRMS = "Jinghua Yanshan Tongzhou Haidian Chaoyang Fengtai Shunyi Changping Daxing Huairou".split()
FIRM_KINDS = ("Investment Co., Ltd.", "Technology Co., Ltd.", "Holdings Co., Ltd.", "Trading Co., Ltd.")


@dataclass(eq=False)
class Investor:
    label: str
    kind: int
    qualified_until: int  # 0: never qualified
    personal: dict = field(repr=False)
    id: bytes = b""
    agent: Node | None = None
    accounts: list[Account] = field(default_factory=list)  # linked at the depository
    unlinked: list[Account] = field(default_factory=list)  # linked to the identity only
    role: str = "ordinary"  # ordinary, employee, nominee

    def qualified_at(self, t: int) -> bool:
        return self.qualified_until >= t


@dataclass(eq=False)
class Company:
    index: int
    abbr: str
    name: str
    code: str
    node: Node
    form: int
    id: bytes
    holders: dict[bytes, int] = field(default_factory=dict)  # identity -> shares, as on chain
    offering: int | None = None  # the open offering, if any
    subscribers: set[bytes] = field(default_factory=set)  # identities subscribed to the open offering
    reserved: set[bytes] = field(default_factory=set)  # of those, the ones holding nothing yet
    subscriptions: int = 0
    keep_holders: bool = False  # holders never sell out (the nominee company: its count only grows)
    documents: dict[str, int] = field(default_factory=dict)  # name -> versions filed


@dataclass
class Filed:
    """A document version filed on chain, and its file."""

    company: Company
    name: str
    version: int
    kind: int
    uri: str
    path: Path
    content_hash: bytes
    ticket: Ticket


class RegionalEquity(Scenario):
    name = "regional_equity"
    title = "Regional equity market: offerings, disclosure, account linkage, anchored on a regulatory chain"
    options = (
        Option("companies", 6, "companies listed on the regional equity market", 3),
        Option("investors", 300, "investor identities onboarded", 60),
        Option("transfers", 600, "share transfers between investors", 0),
        Option("batch", 25, "transfers per block", 1),
        Option("cap", 200, "most holders a company may have (200 by law; smaller for quick runs)", 10),
        Option("anchor_interval", 10, "business-chain blocks between anchors on the regulatory chain", 1),
    )

    @classmethod
    def trading_rounds(cls, options: dict[str, int]) -> int:
        return -(-options["transfers"] // options["batch"])

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        return 9 + cls.trading_rounds(options)

    def run(self, ctx: ScenarioContext) -> None:
        _RegionalEquityRun(ctx).run()


class _RegionalEquityRun:
    def __init__(self, ctx: ScenarioContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.opts = ctx.options
        self.cap = ctx.options["cap"]
        # The business chain first: it is the run's primary chain (the summary's head hash).
        self.chain: Consortium = ctx.open_chain(BUSINESS, BUSINESS_CHAIN_ID, GENESIS_TIME,
                                                "Beijing Equity Exchange Center Consortium CA")
        self.regulatory: Consortium = ctx.open_chain(REGULATORY, REGULATORY_CHAIN_ID, GENESIS_TIME,
                                                     "CSRC Regulatory Chain CA")
        self.investors: list[Investor] = []
        self.by_id: dict[bytes, Investor] = {}
        self.companies: list[Company] = []
        self.filed: list[Filed] = []
        self.refs = 0  # depository account numbers handed out
        self.no_sell: set[bytes] = set()  # identities kept out of ordinary selling
        self.subscribed: list[tuple[Company, bytes, int]] = []  # accepted, not yet allotted
        self.last_report_end = 0

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        self.make_nodes()
        self.setup_regulatory()
        self.deploy()
        self.list_companies()
        self.onboard()
        self.offer()
        self.allot_initial()
        self.plant_cap_breach()
        self.timeline()
        self.finish()

    def commit(self) -> None:
        self.chain.commit()

    def commit_if_full(self, limit: int = 150) -> None:
        if self.chain.pending >= limit:
            self.commit()

    def at(self, t: int) -> None:
        """Moves the business chain's clock to `t` (never back)."""
        if t > self.chain.time:
            self.chain.advance(t - self.chain.time)

    def block_time(self, number: int) -> int:
        return self.chain.store.query("SELECT timestamp FROM blocks WHERE number = ?", (number,))[0][0]

    @property
    def run_dir(self) -> Path:
        return self.ctx.run_dir

    # ------------------------------------------------------------------- nodes

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
            node = add(abbr, name, Role.LISTED_COMPANY)
            code = f"BJEE-{880001 + i}"
            form = LIMITED_LIABILITY if i % 3 == 2 else JOINT_STOCK
            self.companies.append(Company(i, abbr, name, code, node, form, bytes32(code)))
        self.chain.anchored_on = self.regulatory.name  # so that an audit misses no regulatory chain
        self.chain.store.write_meta(self.chain.genesis_meta())

        radd = self.regulatory.add_node
        self.csrc = radd("CSRC", "China Securities Regulatory Commission, Regulatory Chain Operator",
                         Role.ADMIN | Role.REGULATOR | Role.VALIDATOR | Role.PLATFORM)
        self.csrc_bj = radd("CSRC-BJ", "CSRC Beijing Regulatory Bureau", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        self.reporter = radd("BJEE-REM", "Beijing Equity Exchange Center, Regional Equity Market (reporter)",
                             Role.EQUITY_CENTER)
        self.regulatory.store.write_meta(self.regulatory.genesis_meta())

    def setup_regulatory(self) -> None:
        """The regulator deploys the report registry and registers the business chain and its reporter."""
        registry = self.csrc.deploy("PermissionRegistry", *self.regulatory.founding_members()).contract_address
        self.csrc.deploy("ReportRegistry", registry)
        self.regulatory.commit()
        self.reports = self.regulatory.contract("ReportRegistry")
        ticket = self.csrc_bj.send(self.reports.call("registerChain", chain_key(BUSINESS), self.reporter.address))
        self.regulatory.commit()
        if not ticket.ok:
            raise LedgerError(f"the regulator could not register {BUSINESS}: {ticket.reason} {ticket.detail}")
        self.anchorer = Anchorer(self.chain, self.regulatory, self.reporter, self.opts["anchor_interval"])
        self.ctx.progress()

    def deploy(self) -> None:
        c = self.center
        registry = c.deploy("PermissionRegistry", *self.chain.founding_members()).contract_address
        identities = c.deploy("IdentityRegistry", registry).contract_address
        linkage = c.deploy("AccountLinkage", registry).contract_address
        market = c.deploy("EquityMarket", registry, identities, linkage, self.cap).contract_address
        c.deploy("Disclosure", registry, market, YEAR)
        self.commit()
        self.identities = self.chain.contract("IdentityRegistry")
        self.linkage = self.chain.contract("AccountLinkage")
        self.market = self.chain.contract("EquityMarket")
        self.disclosure = self.chain.contract("Disclosure")
        self.ctx.progress()

    def list_companies(self) -> None:
        """The center lists every company and sets its periodic disclosure deadlines."""
        for company in self.companies:
            record = {"name": company.name, "code": company.code, "legal_form": company.form,
                      "credit_code": f"9111{self.rng.randrange(10**13, 10**14)}"}
            data_hash = keccak(json.dumps(record, sort_keys=True).encode())
            self.center.send(self.market.call("listCompany", company.id, company.node.address, company.form,
                                              data_hash))
        self.commit()
        for company in self.companies:
            self.center.send(self.disclosure.call("setSchedule", company.id, ANNUAL_DUE, SEMI_ANNUAL_DUE))
        self.commit()
        n = len(self.companies)
        self.capped, self.nominee_company, self.missing = self.companies[0], self.companies[1], self.companies[2]
        self.tampered, self.late, self.corrected = (self.companies[3 % n], self.companies[4 % n],
                                                   self.companies[5 % n])
        self.nominee_company.keep_holders = True
        self.ctx.progress()

    # --------------------------------------------------------------- investors

    def personal_data(self, label: str, kind: int, qualified: bool) -> dict:
        """Fixed by (seed, operator secret, label), so a label is the same person whatever else the run
        holds, and nobody who knows only the seed can rebuild it."""
        rng = self.ctx.private_rng(label)
        if kind == PERSON:
            data = {"name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}{rng.choice(GIVEN).lower()}",
                    "id_number": f"1101{rng.randrange(10**13, 10**14)}"}
            if qualified:
                data |= {"financial_assets": rng.choice((5, 8, 10, 20, 50, 120)) * 100_000,
                         "experience_years": rng.randint(2, 15)}
            else:
                data |= {"financial_assets": rng.choice((1, 2, 3, 4)) * 100_000, "experience_years": rng.randint(0, 1)}
            return data
        return {"name": f"Beijing {rng.choice(FIRMS)} {rng.choice(FIRM_KINDS)}",
                "credit_code": f"9111{rng.randrange(10**13, 10**14)}",
                "net_assets": rng.choice((10, 20, 50, 100)) * 1_000_000}

    def new_investor(self, label: str, kind: int, qualified_until: int, role: str = "ordinary",
                     accounts: int = 1) -> Investor:
        investor = Investor(label, kind, qualified_until, self.personal_data(label, kind, qualified_until > 0),
                            identity_of(self.ctx.seed, label), role=role)
        investor.agent = self.agents[len(self.investors) % len(self.agents)]
        investor.accounts = [investor.agent.hold(self.chain.client_account(f"{label}/{i}")) for i in range(accounts)]
        self.investors.append(investor)
        self.by_id[investor.id] = investor
        return investor

    def depository_ref(self) -> bytes:
        self.refs += 1
        return bytes32(f"CSDC-BJ-A{self.refs:08d}")

    def register(self, investor: Investor) -> None:
        """KYC by the investor's agent (salted hash on chain, the data sealed in the agent's private
        store for the agent and the regulator), then linkage at the depository."""
        agent = investor.agent
        salt = self.ctx.salt(investor.label)
        self.ctx.private_store(self.chain, agent, self.regulator).put(investor.id, salt, investor.personal)
        agent.send(self.identities.call("registerIdentity", investor.id, data_hash(salt, investor.personal),
                                        investor.kind, investor.qualified_until))
        for account in investor.accounts + investor.unlinked:
            agent.send(self.identities.call("linkAccount", account.address, investor.id))
        for account in investor.accounts:
            self.depository.send(self.linkage.call("linkAccount", account.address, self.depository_ref()))
        self.commit_if_full()

    def onboard(self) -> None:
        n = self.opts["investors"]
        institutions = n * 12 // 100
        persons = n - institutions
        unqualified = set(self.rng.sample(range(persons), max(3, persons * 5 // 100)))
        lapsing = set(self.rng.sample(sorted(set(range(persons)) - unqualified), max(2, persons * 5 // 100)))
        two_years = GENESIS_TIME + 2 * YEAR
        others = 0
        for i in range(persons + institutions):
            if i < min(SHARED_PERSONS, persons):
                label = f"inv{i + 1:04d}"
            else:
                others += 1
                label = f"rem{others:04d}"
            kind = PERSON if i < persons else INSTITUTION
            if i in unqualified:
                until = 0
            elif i in lapsing:  # an assessment that lapses mid-year: may sell, may not buy
                until = self.rng.randrange(beijing(2022, 4, 1), beijing(2022, 8, 1))
            else:
                until = two_years
            self.new_investor(label, kind, until, accounts=2 if self.rng.random() < 0.15 else 1)
        self.unqualified = [i for i in self.investors if i.qualified_until == 0]
        # An investor whose agent opened a second account, registered to the identity but never
        # linked at the depository: the planted unlinked trade is sent from it.
        self.unlinked_trader = next(i for i in self.investors if i.kind == PERSON and i.qualified_until == two_years)
        self.unlinked_trader.unlinked.append(
            self.unlinked_trader.agent.hold(self.chain.client_account(f"{self.unlinked_trader.label}/unlinked")))
        self.no_sell.add(self.unlinked_trader.id)
        # Nominees: institutions that hold shares on behalf of many people who stay off the register.
        self.nominees = [self.new_investor(f"nominee{k + 1}", INSTITUTION, two_years, role="nominee")
                         for k in range(NOMINEES)]
        self.no_sell.update(i.id for i in self.nominees)
        for investor in self.investors:
            self.register(investor)
        # Planted: an investor agent links an account at the depository itself (the depository's power).
        stray = self.agents[0].hold(self.chain.client_account("stray/0"))
        ticket = self.agents[0].send(self.linkage.call("linkAccount", stray.address, bytes32("CSDC-BJ-FORGED")))
        self.ctx.plant("agent_links_at_depository", "ROLE_MISSING", ticket,
                       "an investor agent links an account at the depository, which only the depository may do",
                       node=self.agents[0].name, account=hex0x(stray.address))
        self.commit()
        self.ctx.progress()

    def buyers(self, at: int) -> list[Investor]:
        """Investors who may receive shares at time `at` (a day's margin on their qualification)."""
        return [i for i in self.investors if i.role != "nominee" and i.qualified_at(at + DAY)]

    # --------------------------------------------------------------- offerings

    def open_offering(self, company: Company, closes: int) -> None:
        price = self.rng.choice((2, 3, 4, 5, 6, 8, 10, 12))
        ticket = company.node.send(self.market.call("openOffering", company.id, price, MAX_OFFERED, closes))
        self.commit()
        if not ticket.ok:
            raise LedgerError(f"{company.code} could not open an offering: {ticket.reason} {ticket.detail}")
        company.offering = ticket.event("OfferingOpened")["offeringId"]
        company.subscribers, company.reserved, company.subscriptions = set(), set(), 0

    def room(self, company: Company) -> int:
        """New holders the company's open offering may still take."""
        return self.cap - len(company.holders) - len(company.reserved)

    def subscribe(self, investor: Investor, company: Company, shares: int | None = None) -> None:
        """An ordinary subscription, which the shadow says the market accepts."""
        new = investor.id not in company.holders and investor.id not in company.subscribers
        if new and self.room(company) < 1:
            raise LedgerError(f"scenario bug: {company.code} has no room for {investor.label}")
        shares = shares or self.rng.choice((1, 2, 3, 5, 8, 10, 20)) * 10_000
        account = self.rng.choice(investor.accounts)
        investor.agent.send(self.market.call("subscribe", company.offering, shares), signer=account)
        company.subscribers.add(investor.id)
        if new:
            company.reserved.add(investor.id)
        company.subscriptions += 1
        self.subscribed.append((company, investor.id, shares))
        self.commit_if_full()

    def offer(self) -> None:
        """Every company opens an offering; the capped company is subscribed up to the holder cap."""
        self.at(GENESIS_TIME + 2 * DAY)
        for company in self.companies:
            self.open_offering(company, OFFERING_CLOSES)
        allot_at = OFFERING_CLOSES + HOUR
        eligible = [i for i in self.buyers(allot_at) if i.role == "ordinary"]
        pool = list(eligible)
        self.rng.shuffle(pool)
        # The capped company: subscribed by holder-cap identities, topped up with its employees
        # when the market has too few investors, and some investors left out of it to buy later.
        capped = self.capped
        reserve = max(3, len(pool) // 10)
        fill = pool[:max(0, min(self.cap, len(pool) - reserve))]
        employees = [self.new_investor(f"{capped.abbr.lower()}-emp{k + 1:03d}", PERSON, GENESIS_TIME + 2 * YEAR,
                                       role="employee") for k in range(self.cap - len(fill))]
        for employee in employees:
            self.register(employee)
        self.commit()
        for investor in fill + employees:
            self.subscribe(investor, capped)
        # The others: each investor subscribes to one or two companies, while they have room.
        soft = {c: self.cap - max(2, self.cap // 10) - (NOMINEES if c is self.nominee_company else 0)
                for c in self.companies}
        others = [c for c in self.companies if c is not capped]
        first = [self.unlinked_trader] if self.unlinked_trader in eligible else []
        for investor in first + [i for i in eligible if i is not self.unlinked_trader]:
            chosen = self.rng.sample(others, min(len(others), self.rng.choice((1, 1, 2))))
            for company in chosen:
                if len(company.reserved) < soft[company] and self.room(company) > 0:
                    self.subscribe(investor, company)
        for nominee in self.nominees:
            self.subscribe(nominee, self.nominee_company, self.rng.choice((30, 50, 80)) * 10_000)
        # Planted: an investor below the qualified-investor thresholds subscribes.
        target = self.missing
        person = self.rng.choice(self.unqualified)
        ticket = person.agent.send(self.market.call("subscribe", target.offering, 10_000), signer=person.accounts[0])
        self.ctx.plant("unqualified_subscription", "NotQualified", ticket,
                       "a natural person below the qualified-investor thresholds subscribes to an offering",
                       investor=hex0x(person.id), company=hex0x(target.id), offering=target.offering)
        self.commit()
        self.ctx.progress()

    def allot(self, companies: list[Company], at: int) -> None:
        """Allots the companies' closed offerings at time `at`; the shadow credits every subscription."""
        self.at(at)
        tickets = []
        for company in companies:
            gas = 300_000 + ALLOT_GAS_PER_SUBSCRIPTION * company.subscriptions
            tickets.append((company, company.node.send(self.market.call("allot", company.offering, gas=gas))))
        self.commit()
        for company, ticket in tickets:
            if not ticket.ok:
                raise LedgerError(f"allotment of {company.code} was refused: {ticket.reason} {ticket.detail}")
            voided = ticket.event("OfferingAllotted")["voided"]
            if voided:
                raise LedgerError(f"scenario bug: {voided} subscriptions to {company.code} were voided")
        for company, identity, shares in self.subscribed:
            if company in companies:
                company.holders[identity] = company.holders.get(identity, 0) + shares
        self.subscribed = [s for s in self.subscribed if s[0] not in companies]
        for company in companies:
            company.offering, company.subscribers, company.reserved, company.subscriptions = None, set(), set(), 0

    def allot_initial(self) -> None:
        self.allot(self.companies, OFFERING_CLOSES + HOUR)
        if len(self.capped.holders) != self.cap:
            raise LedgerError(f"scenario bug: {self.capped.code} has {len(self.capped.holders)} holders, "
                              f"not the cap {self.cap}")
        self.compose_nominees()
        self.check_registers()
        self.ctx.progress()

    def compose_nominees(self) -> None:
        """Who stands behind each nominee: enough people that the nominee company's real holder count
        passes the cap. Two registered but unqualified investors are among them; the rest are people
        who never appear on the chain."""
        company = self.nominee_company
        direct = len(company.holders) - NOMINEES
        margin = max(5, self.cap // 20)
        people = self.cap - direct + margin
        split = [people // NOMINEES] * NOMINEES
        split[0] += people - sum(split)
        registered = self.rng.sample(self.unqualified, min(2, len(self.unqualified)))
        self.behind: dict[bytes, list[dict]] = {}
        for k, (nominee, count) in enumerate(zip(self.nominees, split)):
            listed = [{"identity": hex0x(p.id), "label": p.label, "registered": True}
                      for p in (registered if k == 0 else [])]
            for j in range(count - len(listed)):
                label = f"{nominee.label}/beneficiary{j + 1:03d}"
                listed.append({"identity": hex0x(identity_of(self.ctx.seed, label)), "label": label,
                               "registered": False})
            self.behind[nominee.id] = listed
            # The nominee's KYC agent records whom it holds for (beneficial-ownership KYC), sealed
            # for itself and the regulator: off chain, but there for a regulator to look through.
            self.ctx.private_store(self.chain, nominee.agent, self.regulator).declare(
                nominee.id, "nominee", {"company": company.code, "acts_for": [b["identity"] for b in listed]})

    def check_registers(self) -> None:
        """The shadow registers agree with the chain's."""
        for company in self.companies:
            on_chain = self.market.view("holderCount", company.id)
            if on_chain != len(company.holders):
                raise LedgerError(f"scenario bug: {company.code} has {on_chain} holders on chain, "
                                  f"{len(company.holders)} in the shadow")

    # ------------------------------------------------------------ chain plants

    def plant_cap_breach(self) -> None:
        """A holder of the full company sells part of a holding to a new holder."""
        company = self.capped
        seller_id = self.rng.choice(sorted(i for i in company.holders if i not in self.no_sell))
        seller = self.by_id[seller_id]
        buyer = self.rng.choice([i for i in self.buyers(self.chain.time) if i.id not in company.holders])
        shares = company.holders[seller_id] // 2
        ticket = seller.agent.send(self.market.call("transferShares", company.id, buyer.accounts[0].address, shares),
                                   signer=seller.accounts[0])
        self.ctx.plant("holder_cap_breach", "HolderCapExceeded", ticket,
                       f"a partial sale to a new holder would take a company holding the cap ({self.cap}) past it",
                       company=hex0x(company.id), seller=hex0x(seller.id), buyer=hex0x(buyer.id), shares=shares,
                       holders=len(company.holders), cap=self.cap)
        self.commit()

    def plant_unlinked_trade(self) -> None:
        """The investor's second account, never linked at the depository, sells shares."""
        trader = self.unlinked_trader
        held = [c for c in self.companies if c.holders.get(trader.id) and c.offering is None]
        company = held[0] if held else next(c for c in self.companies if c.offering is None)
        buyer = self.rng.choice([i for i in self.buyers(self.chain.time) if i is not trader])
        shares = max(1, company.holders.get(trader.id, 0) // 2)
        ticket = trader.agent.send(self.market.call("transferShares", company.id, buyer.accounts[0].address, shares),
                                   signer=trader.unlinked[0])
        self.ctx.plant("unlinked_account_trade", "AccountNotLinked", ticket,
                       "a sale from an investor's account that was never linked at the depository",
                       company=hex0x(company.id), seller=hex0x(trader.id), account=hex0x(trader.unlinked[0].address),
                       shares=shares)
        self.commit()

    def plant_foreign_filing(self) -> None:
        """One company's node files a document under another company."""
        intruder, victim = self.nominee_company, self.capped
        name = bytes32("adhoc-major-contract")
        ticket = intruder.node.send(self.disclosure.call("setDocument", victim.id, name,
                                                         f"{BUSINESS}/documents/{victim.code}/forged.txt",
                                                         keccak(b"forged notice"), AD_HOC))
        self.ctx.plant("filing_for_another_company", "NotIssuer", ticket,
                       "a listed company files a disclosure under another company's name",
                       company=hex0x(victim.id), node=intruder.node.name)
        self.commit()

    # -------------------------------------------------------------- disclosure

    def document_text(self, company: Company, name: str, version: int, rng: random.Random) -> str:
        revenue = rng.randrange(20_000, 900_000) * 1000
        profit = revenue * rng.randrange(-8, 25) // 100
        lines = [f"{company.name} ({company.code})", f"Document: {name}, version {version}",
                 "Filed on the Beijing Equity Exchange Center regional equity market.", "",
                 f"Operating revenue (CNY): {revenue:,}", f"Net profit (CNY): {profit:,}",
                 f"Holders of record: {len(company.holders)}"]
        if version > 1:
            lines.append("This version corrects and replaces the one filed before.")
        return "\n".join(lines) + "\n"

    def file_document(self, company: Company, name: str, kind: int) -> Filed:
        """Writes the document's file and files its hash on chain (a new version if the name exists)."""
        version = company.documents.get(name, 0) + 1
        rng = random.Random(f"document/{self.ctx.seed}/{company.code}/{name}/{version}")
        content = self.document_text(company, name, version, rng).encode()
        path = self.run_dir / BUSINESS / "documents" / company.code / f"{name}-v{version}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        uri = path.relative_to(self.run_dir).as_posix()
        ticket = company.node.send(self.disclosure.call("setDocument", company.id, bytes32(name), uri,
                                                        keccak(content), kind))
        self.commit()
        if not ticket.ok:
            raise LedgerError(f"{company.code} could not file {name}: {ticket.reason} {ticket.detail}")
        company.documents[name] = version
        filed = Filed(company, name, version, kind, uri, path, keccak(content), ticket)
        self.filed.append(filed)
        return filed

    def file_periodic(self, company: Company, name: str, kind: int, on_time: bool) -> Filed:
        filed = self.file_document(company, name, kind)
        met = filed.ticket.event("PeriodicReportFiled")
        if met["onTime"] != on_time:
            raise LedgerError(f"scenario bug: {company.code} {name} filed on time: {met['onTime']}")
        return filed

    # ---------------------------------------------------------------- trading

    def new_transfer(self, buyers: list[Investor]) -> tuple[Company, Investor, Investor, int] | None:
        """An ordinary transfer that every rule allows, by the shadow registers."""
        companies = [c for c in self.companies if c.offering is None and any(
            i not in self.no_sell for i in c.holders)]
        if not companies or len(buyers) < 2:
            return None
        for _ in range(30):
            company = self.rng.choice(companies)
            seller = self.by_id[self.rng.choice([i for i in company.holders if i not in self.no_sell])]
            buyer = self.rng.choice(buyers)
            if buyer is seller:
                continue
            balance = company.holders[seller.id]
            partial = balance >= 200
            whole = not company.keep_holders
            if not (partial or whole):
                continue
            if whole and (not partial or self.rng.random() < 0.25):
                amount = balance
            else:
                amount = self.rng.randrange(1, balance // 100) * 100
            if buyer.id not in company.holders and amount != balance and len(company.holders) >= self.cap:
                continue
            return company, seller, buyer, amount
        return None

    def transfer(self, company: Company, seller: Investor, buyer: Investor, amount: int) -> None:
        seller.agent.send(self.market.call("transferShares", company.id, self.rng.choice(buyer.accounts).address,
                                           amount), signer=self.rng.choice(seller.accounts))
        company.holders[seller.id] -= amount
        if not company.holders[seller.id]:
            del company.holders[seller.id]
        company.holders[buyer.id] = company.holders.get(buyer.id, 0) + amount

    def trading_round(self, count: int) -> None:
        buyers = self.buyers(self.chain.time)
        for _ in range(count):
            picked = self.new_transfer(buyers)
            if picked is None:
                break
            self.transfer(*picked)
        self.commit()
        self.ctx.progress()

    # --------------------------------------------------------------- timeline

    def timeline(self) -> None:
        """Trading rounds spread over the year, with filings, a follow-on offering, the planted
        refusals and the quarterly reports at their dates."""
        rng = self.rng
        events: list[tuple[int, int, object, tuple]] = []

        def add(t: int, action, *args) -> None:
            events.append((t, len(events), action, args))

        total, batch = self.opts["transfers"], self.opts["batch"]
        rounds = RegionalEquity.trading_rounds(self.opts)
        start, end = OFFERING_CLOSES + 2 * DAY, RUN_ENDS - DAY
        for k in range(rounds):
            add(start + (end - start) * (2 * k + 1) // (2 * rounds), self.trading_round,
                min(batch, total - k * batch))
        for company in self.companies:
            if company is self.late:
                add(ANNUAL_DUE + rng.randrange(5, 20) * DAY, self.file_periodic, company, ANNUAL_REPORT, ANNUAL, False)
            else:
                add(ANNUAL_DUE - rng.randrange(2, 24) * DAY, self.file_periodic, company, ANNUAL_REPORT, ANNUAL, True)
            if company is not self.missing:
                add(SEMI_ANNUAL_DUE - rng.randrange(2, 22) * DAY, self.file_periodic, company, SEMI_ANNUAL_REPORT,
                    SEMI_ANNUAL, True)
            topic = rng.choice(AD_HOC_TOPICS)
            t = rng.randrange(beijing(2022, 2, 1), beijing(2022, 9, 20))
            month = datetime.fromtimestamp(t, BEIJING).strftime("%Y%m")
            add(t, self.file_document, company, f"adhoc-{topic}-{month}", AD_HOC)
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
        for t, _, action, args in sorted(events, key=lambda e: (e[0], e[1])):
            self.at(t)
            action(*args)
        self.ctx.progress()

    def follow_on(self) -> None:
        """A second offering by the company with the most room, open ten days; trading in its shares
        pauses until allotment."""
        candidates = [c for c in self.companies if c is not self.capped and c is not self.nominee_company]
        company = max(candidates, key=lambda c: (self.cap - len(c.holders), -c.index))
        self.open_offering(company, FOLLOW_ON_CLOSES)
        buyers = [i for i in self.buyers(FOLLOW_ON_CLOSES + 2 * DAY) if i.role == "ordinary"]
        holders = [i for i in buyers if i.id in company.holders]
        newcomers = [i for i in buyers if i.id not in company.holders]
        for investor in self.rng.sample(holders, min(len(holders), self.rng.randint(3, 10))):
            self.subscribe(investor, company)
        room = min(self.room(company), self.rng.randint(5, 25))
        for investor in self.rng.sample(newcomers, min(len(newcomers), max(0, room))):
            self.subscribe(investor, company)
        self.commit()
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
            ticket = self.anchorer.tickets[-1]
            if not ticket.ok:
                raise LedgerError(f"the {name} report was refused: {ticket.reason} {ticket.detail}")
            reported = ticket.event("Reported")
            path = self.run_dir / uri
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "business_chain": BUSINESS, "kind": name, "events": list(events),
                "period_end": reported["periodEnd"], "business_block": head.number,
                "count": reported["count"], "digest": reported["digest"],
                "regulatory_block": ticket.block_number,
            }, indent=2) + "\n", encoding="utf-8")
        self.last_report_end = head.timestamp

    def plant_rewritten_anchor(self) -> None:
        """The reporter tries to anchor an already anchored height again with another hash."""
        first = anchors_on(self.regulatory.store, BUSINESS)[0]
        forged = keccak(b"rewritten/" + first.block_hash)
        ticket = self.reporter.send(self.reports.call("anchor", chain_key(BUSINESS), first.block_number, forged,
                                                      first.state_root, first.event_digest))
        self.ctx.plant("rewritten_anchor", "AnchorNotAfterLatest", ticket,
                       "the business chain's reporter anchors an already anchored block again with another hash",
                       chain=REGULATORY, business_chain=BUSINESS, block=first.block_number,
                       anchored_hash=hex0x(first.block_hash), forged_hash=hex0x(forged))
        self.regulatory.commit()

    # ------------------------------------------------------------------ finish

    def finish(self) -> None:
        self.at(RUN_ENDS)
        self.commit()
        self.check_registers()
        self.anchorer.anchor()
        self.file_reports()
        self.plant_rewritten_anchor()
        self.ctx.progress()
        self.plant_for_regulator()
        anchors = [t for t in self.anchorer.tickets if t.function == "anchor"]
        reports = [t for t in self.anchorer.tickets if t.function == "report"]
        self.ctx.extra.update({
            "anchors": sum(1 for t in anchors if t.ok),
            "reports_filed": sum(1 for t in reports if t.ok),
            "anchored_height": self.anchorer.anchored_height,
        })
        self.ctx.progress()

    def plant_for_regulator(self) -> None:
        head = self.chain.head
        # A semi-annual report never filed: overdue at the head, never flagged on chain.
        company = self.missing
        self.ctx.plant_for_regulator(
            "missed_disclosure_deadline",
            "a company never files its semi-annual report; the deadline passes without a filing",
            company=hex0x(company.id), code=company.code, document=SEMI_ANNUAL_REPORT, document_kind="semi-annual",
            due=SEMI_ANNUAL_DUE, head_time=head.timestamp,
        )
        # A filed document whose file was changed afterwards.
        filed = next(f for f in self.filed if f.company is self.tampered and f.name == ANNUAL_REPORT)
        text = filed.path.read_text(encoding="utf-8")
        altered = text.replace("Net profit (CNY): ", "Net profit (CNY): 1").encode()
        filed.path.write_bytes(altered)
        self.ctx.plant_for_regulator(
            "tampered_disclosure",
            "a disclosed document's file was changed after filing; it no longer matches the hash on chain",
            company=hex0x(filed.company.id), code=filed.company.code, document=filed.name, version=filed.version,
            uri=filed.uri, filed_hash=hex0x(filed.content_hash), content_hash=hex0x(keccak(altered)),
            filed_block=filed.ticket.block_number,
        )
        # More holders than the cap, reached through nominees.
        company = self.nominee_company
        on_chain = len(company.holders)
        people = sum(len(self.behind[n.id]) for n in self.nominees)
        real = on_chain - NOMINEES + people
        if real <= self.cap or any(n.id not in company.holders for n in self.nominees):
            raise LedgerError(f"scenario bug: the nominee company has {real} real holders, cap {self.cap}")
        self.ctx.plant_for_regulator(
            "nominee_holders",
            f"{NOMINEES} institutions hold shares for {people} people, taking the company past "
            f"{self.cap} real holders while the chain counts {on_chain}",
            company=hex0x(company.id), code=company.code, cap=self.cap, holders_on_chain=on_chain,
            real_holders=real,
            nominees=[{"identity": hex0x(n.id), "label": n.label, "name": n.personal["name"],
                       "shares": company.holders[n.id], "people": len(self.behind[n.id]),
                       "beneficiaries": self.behind[n.id]} for n in self.nominees],
        )
        # An annual report filed after its deadline (recorded on chain as late).
        filed = next(f for f in self.filed if f.company is self.late and f.name == ANNUAL_REPORT)
        self.ctx.plant_for_regulator(
            "late_disclosure",
            "a company files its annual report after the deadline",
            company=hex0x(filed.company.id), code=filed.company.code, document=filed.name, document_kind="annual",
            due=ANNUAL_DUE, filed_at=self.block_time(filed.ticket.block_number), filed_block=filed.ticket.block_number,
        )
