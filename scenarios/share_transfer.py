"""Private-fund share transfer on the Beijing Equity Exchange Center's platform.

Fund managers run funds of every legal form; investor agents onboard investors
(persons, institutions, registered products and nested partnerships); investors
subscribe, then trade shares through request -> manager approval -> DvP
settlement. Known violations are planted along the way: some the chain must
refuse, some that pass it and are left for the regulator.

The scenario keeps a shadow of the register so that every ordinary transfer it
generates is one the rules allow: any refusal that was not planted shows up in
the summary as unexpected.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from eth_hash.auto import keccak

from ledger.trust.ca import ConsortiumCA
from ledger.chain.consortium import Consortium, Ticket
from ledger.errors import LedgerError
from ledger.trust.keys import Account
from ledger.chain.node import Node
from ledger.trust.privacy import data_hash
from ledger.chain.roles import GovernanceAction, Role

from .api import Option, Scenario, ScenarioContext, identity_of
from .share_exit import wind_down

GENESIS_TIME = 1641916800  # 2022-01-12 00:00 Beijing time
CHAIN_ID = 20221
DAY = 86400
MIN_INVESTMENT = 1_000_000  # CNY, and so shares (one share per yuan subscribed)
CAP_BY_FORM = (200, 200, 50, 50)  # contractual, joint-stock, limited partnership, LLC
FORM_NAMES = ("contractual", "joint-stock", "limited partnership", "LLC")
LOOK_THROUGH_DEPTH = 4
LOCKUP_DAYS = 30
LONG_LOCKUP_DAYS = 3 * 365
CAP_HEADROOM = 8  # ordinary business keeps small funds this far below their cap
UNLIMITED = 2**256 - 1
REJECT_REASON = b"price off market".ljust(32, b"\0")

# IdentityRegistry.Kind
PERSON, INSTITUTION, PRODUCT, VEHICLE = 1, 2, 3, 4
KIND_NAMES = {PERSON: "natural person", INSTITUTION: "institution", PRODUCT: "registered product",
              VEHICLE: "unregistered vehicle"}

SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo".split()
GIVEN = "Wei Fang Na Min Jing Lei Qiang Jun Yang Yong Yan Jie Tao Ming Chao Xiu Hua Ping Gang Hui".split()
FIRMS = "Jinghua Yanshan Tongzhou Haidian Chaoyang Fengtai Shunyi Changping Daxing Huairou".split()
FIRM_KINDS = ("Industrial Co., Ltd.", "Technology Co., Ltd.", "Holdings Co., Ltd.", "Trading Co., Ltd.")
PRODUCT_KINDS = ("National Social Security Fund Portfolio", "Enterprise Annuity Plan",
                 "Registered Private Equity Fund", "Securities Asset Management Plan")


class _NobodyFree(Exception):
    """Every holder a planted violation could use is in a pending transfer this round."""


@dataclass(eq=False)
class Investor:
    label: str
    kind: int
    qualified: bool
    personal: dict = field(repr=False)
    id: bytes = b""
    accounts: list[Account] = field(default_factory=list)
    agent: Node | None = None
    backers: list["Investor"] = field(default_factory=list)  # declared investors, for vehicles

    @property
    def units(self) -> int:
        """Holder units under PrivateFundShares' look-through rule."""
        return sum(b.units for b in self.backers) if self.kind == VEHICLE else 1

    @property
    def eligible(self) -> bool:
        """May become a holder: qualified, and so is everyone looked through."""
        return self.qualified and all(b.eligible for b in self.backers)


@dataclass
class FundState:
    id: int
    form: int
    manager: Node
    lockup_end: int
    holdings: dict[bytes, int] = field(default_factory=dict)  # account address -> shares
    by_identity: dict[bytes, int] = field(default_factory=dict)  # identity id -> shares
    units_of: dict[bytes, int] = field(default_factory=dict)  # identity id -> counted units
    units: int = 0
    # Pending transfers. An identity is never buying and selling in one fund at once, so a
    # seller's stake cannot move under its request, and a buyer's stake only grows.
    selling: set[bytes] = field(default_factory=set)
    buying: dict[bytes, int] = field(default_factory=dict)  # identity id -> pending purchases
    pending_new: dict[bytes, int] = field(default_factory=dict)  # non-holders buying in -> their units

    def units_if_buying(self, buyer: "Investor") -> int:
        """Holder units once every pending purchase settles, plus `buyer`'s if it is new."""
        new = buyer.id not in self.by_identity and buyer.id not in self.pending_new
        return self.units + sum(self.pending_new.values()) + (buyer.units if new else 0)

    def idle(self, identity: bytes) -> bool:
        return identity not in self.selling and identity not in self.buying

    @property
    def cap(self) -> int:
        return CAP_BY_FORM[self.form]

    @property
    def soft_cap(self) -> int:
        return self.cap - CAP_HEADROOM if self.cap < 100 else self.cap - 2 * CAP_HEADROOM


@dataclass
class PendingTransfer:
    ticket: Ticket
    fund: FundState
    seller: Investor
    account: Account
    buyer: Investor
    buyer_account: Account
    amount: int
    request_id: int = 0
    fate: str | None = "settle"  # settle, reject, cancel, unapproved (planted: settle unapproved)


class ShareTransfer(Scenario):
    name = "share_transfer"
    title = "Private-fund share transfer: subscription, transfer with manager approval, DvP settlement"
    options = (
        Option("funds", 4, "funds on the platform, across the four legal forms", 3),
        Option("investors", 150, "investor identities onboarded", 60),
        Option("transfers", 1000, "share transfers requested", 0),
        Option("batch", 40, "transfer requests per block", 1),
        Option("exit_drill", 0, "wind the platform down at the end: pause, signed snapshot of every holding, "
                                "register export, check that no holding was lost", flag=True),
    )

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        return 12 + options["transfers"] // options["batch"] + 3 + 2 * options["exit_drill"]

    def run(self, ctx: ScenarioContext) -> None:
        _ShareTransferRun(ctx).run()


class _ShareTransferRun:
    def __init__(self, ctx: ScenarioContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.opts = ctx.options
        self.chain: Consortium = ctx.open_chain("fund_platform", CHAIN_ID, GENESIS_TIME,
                                                "Beijing Equity Exchange Consortium CA")
        self.investors: list[Investor] = []
        self.funds: list[FundState] = []
        self.frozen: set[bytes] = set()  # accounts under a freeze order
        self.pending: list[PendingTransfer] = []

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        self.make_nodes()
        self.deploy()
        self.govern_admission()
        self.onboard()
        self.create_funds()
        self.subscribe()
        self.plant_disguised_vehicle()
        self.plant_split_identity()
        self.close_offerings()
        self.membership_drills()
        self.trade()
        self.commit()
        if self.opts["exit_drill"]:
            self.ctx.extra["exit_drill"] = wind_down(self)

    def commit(self) -> None:
        if self.chain.commit() is not None:
            self.ctx.progress()

    def commit_if_full(self, limit: int = 150) -> None:
        if self.chain.pending >= limit:
            self.commit()

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
        # one certified by a CA the consortium does not trust.
        self.outsider = add("FINTECH-X", "Unlicensed Fintech Platform", Role(0), founding=False)
        rogue_ca = ConsortiumCA(self.ctx.keys, "Self-Signed Rogue CA", GENESIS_TIME - DAY)
        self.rogue = add("ROGUE", "Rogue Node", Role.PLATFORM, founding=False, ca=rogue_ca)
        self.latecomer = add("HD-WEALTH", "Haidian Wealth Partners", Role.INVESTOR_AGENT | Role.KYC_AGENT,
                             founding=False)
        self.chain.store.write_meta(self.chain.genesis_meta())

    def deploy(self) -> None:
        p = self.platform
        registry = p.deploy("PermissionRegistry", *self.chain.founding_members()).contract_address
        identities = p.deploy("IdentityRegistry", registry).contract_address
        cash = p.deploy("SettlementCash", registry, identities).contract_address
        p.deploy("PrivateFundShares", registry, identities, cash, list(CAP_BY_FORM), MIN_INVESTMENT,
                 LOOK_THROUGH_DEPTH)
        self.commit()
        self.registry = self.chain.contract("PermissionRegistry")
        self.identities = self.chain.contract("IdentityRegistry")
        self.cash = self.chain.contract("SettlementCash")
        self.shares = self.chain.contract("PrivateFundShares")

    def govern(self, action: GovernanceAction, node: Node, roles: Role = Role(0)) -> None:
        """Proposal by the platform, votes by the regulator and the custodian, then execution."""
        ticket = self.platform.send(self.registry.call("propose", int(action), node.address, node.org_id, int(roles)))
        self.commit()
        proposal = ticket.event("ProposalCreated")["id"]
        self.regulator.send(self.registry.call("vote", proposal))
        self.custodian.send(self.registry.call("vote", proposal))
        self.commit()
        self.platform.send(self.registry.call("execute", proposal))
        self.commit()

    def govern_admission(self) -> None:
        self.govern(GovernanceAction.ADD_MEMBER, self.latecomer, self.latecomer.roles)

    # --------------------------------------------------------------- investors

    def personal_data(self, kind: int, rng: random.Random) -> dict:
        if kind == PERSON:
            return {"name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}{rng.choice(GIVEN).lower()}",
                    "id_number": f"1101{rng.randrange(10**13, 10**14)}",
                    "financial_assets": rng.choice((3, 4, 5, 8, 12, 30)) * 1_000_000}
        if kind == PRODUCT:
            return {"name": f"{rng.choice(FIRMS)} {rng.choice(PRODUCT_KINDS)} No. {rng.randrange(1, 99)}",
                    "filing_code": f"S{rng.randrange(10**5, 10**6)}"}
        suffix = "Investment Partnership (LP)" if kind == VEHICLE else rng.choice(FIRM_KINDS)
        return {"name": f"Beijing {rng.choice(FIRMS)} {suffix}",
                "credit_code": f"9111{rng.randrange(10**13, 10**14)}",
                "net_assets": rng.choice((10, 20, 50, 100)) * 1_000_000}

    def new_investor(self, kind: int, qualified: bool = True, label: str | None = None) -> Investor:
        label = label or f"inv{len(self.investors) + 1:04d}"
        # Personal data comes from the investor's private stream (seed and operator secret); the run's
        # own stream still draws as many values, so that the rest of the run is the same whatever the secret.
        private = self.ctx.private_rng(label)
        self.personal_data(kind, self.rng)
        personal = self.personal_data(kind, private)
        if kind == PERSON and not qualified:
            self.rng.choice((200_000, 800_000, 1_500_000))
            personal["financial_assets"] = private.choice((200_000, 800_000, 1_500_000))
        investor = Investor(label, kind, qualified, personal)
        investor.id = identity_of(self.ctx.seed, label)
        investor.agent = self.agents[len(self.investors) % len(self.agents)]
        accounts = 2 if self.rng.random() < 0.15 else 1
        investor.accounts = [investor.agent.hold(self.chain.client_account(f"{label}/{i}")) for i in range(accounts)]
        self.investors.append(investor)
        return investor

    def register(self, investor: Investor) -> None:
        """KYC by the investor's agent: salted hash on chain, accounts linked, wallet funded and approved."""
        agent = investor.agent
        salt = self.ctx.salt(investor.label)
        self.ctx.private_store(self.chain, agent, self.regulator).put(investor.id, salt, investor.personal)
        until = GENESIS_TIME + 2 * 365 * DAY if investor.qualified else 0
        agent.send(self.identities.call("registerIdentity", investor.id, data_hash(salt, investor.personal),
                                        investor.kind, until))
        for account in investor.accounts:
            agent.send(self.identities.call("linkAccount", account.address, investor.id))
            self.custodian.send(self.cash.call("mint", account.address, 200_000_000))
            agent.send(self.cash.call("approve", self.shares.address, UNLIMITED), signer=account)
        self.commit_if_full()

    def declare(self, vehicle: Investor, backers: list[Investor]) -> None:
        vehicle.backers = backers
        bps = [10_000 // len(backers)] * len(backers)
        bps[0] += 10_000 - sum(bps)
        vehicle.agent.send(self.identities.call("declareInvestors", vehicle.id, [b.id for b in backers], bps))

    def onboard(self) -> None:
        n = self.opts["investors"]
        vehicles, products, institutions = max(6, n * 12 // 100), n * 8 // 100, n * 20 // 100
        persons = n - vehicles - products - institutions
        unqualified = max(3, persons * 8 // 100)
        people = [self.new_investor(PERSON, qualified=i >= unqualified) for i in range(persons)]
        for _ in range(institutions):
            self.new_investor(INSTITUTION)
        for _ in range(products):
            self.new_investor(PRODUCT)
        partnerships = [self.new_investor(VEHICLE) for _ in range(vehicles)]
        for investor in self.investors:
            self.register(investor)
        self.commit()

        qualified_people = [p for p in people if p.qualified]
        self.unqualified_people = [p for p in people if not p.qualified]
        # Ordinary partnerships declare two to five qualified backers.
        for vehicle in partnerships[3:]:
            self.declare(vehicle, self.rng.sample(qualified_people, self.rng.randint(2, 5)))
        # A partnership with an unqualified backer: it may not become a holder.
        self.tainted = partnerships[0]
        self.declare(self.tainted, self.rng.sample(qualified_people, 2) + [self.unqualified_people[0]])
        # Three levels of nesting, wide enough to break a small fund's cap on its own.
        self.deep, middle, leaf = partnerships[1], partnerships[2], partnerships[3]
        self.declare(middle, [leaf] + self.rng.sample(qualified_people, 8))
        self.commit()
        self.declare(self.deep, [middle] + self.rng.sample(qualified_people, 8))
        self.commit()
        self.ctx.progress()

    # ------------------------------------------------------------------- funds

    def create_funds(self) -> None:
        tickets = []
        for i in range(self.opts["funds"]):
            manager = self.managers[i % len(self.managers)]
            form = i % 4
            long_lockup = i == 1
            lockup_end = GENESIS_TIME + (LONG_LOCKUP_DAYS if long_lockup else LOCKUP_DAYS) * DAY
            ticket = manager.send(self.shares.call("createFund", form, self.custodian.address, lockup_end))
            tickets.append((ticket, form, manager, lockup_end))
        self.commit()
        for ticket, form, manager, lockup_end in tickets:
            self.funds.append(FundState(ticket.event("FundCreated")["fundId"], form, manager, lockup_end))

    def subscribe_one(self, investor: Investor, fund: FundState, amount: int, account: Account | None = None) -> None:
        account = account or investor.accounts[0]
        investor.agent.send(self.shares.call("subscribe", fund.id, amount), signer=account)
        self.credit(fund, investor, account, amount, investor.units)

    def subscribe(self) -> None:
        small = [f for f in self.funds if f.cap < 100]
        for investor in [i for i in self.investors if i.eligible and i is not self.deep]:
            funds = self.rng.sample(self.funds, min(len(self.funds), self.rng.choice((1, 1, 2))))
            # Small funds fill up first, so that their caps are within reach of the planted breach.
            filling = [f for f in small if f.units + investor.units <= f.soft_cap]
            if filling and not any(f in filling for f in funds):
                funds[0] = min(filling, key=lambda f: f.units)
            for fund in funds:
                if fund.units + investor.units > fund.soft_cap:
                    continue
                amount = self.rng.choice((10, 15, 20, 30, 50)) * 100_000
                self.subscribe_one(investor, fund, amount, self.rng.choice(investor.accounts))
            self.commit_if_full()
        self.commit()
        self.ctx.progress()

    def close_offerings(self) -> None:
        for fund in self.funds:
            fund.manager.send(self.shares.call("closeOffering", fund.id))
        self.commit()
        self.chain.advance((LOCKUP_DAYS + 1) * DAY)

    # ------------------------------------------------------------ shadow book

    def credit(self, fund: FundState, investor: Investor, account: Account, amount: int, units: int) -> None:
        if fund.by_identity.get(investor.id, 0) == 0:
            fund.units_of[investor.id] = units
            fund.units += units
        fund.by_identity[investor.id] = fund.by_identity.get(investor.id, 0) + amount
        fund.holdings[account.address] = fund.holdings.get(account.address, 0) + amount

    def debit(self, fund: FundState, investor: Investor, account: Account, amount: int) -> None:
        fund.holdings[account.address] -= amount
        if not fund.holdings[account.address]:
            del fund.holdings[account.address]
        fund.by_identity[investor.id] -= amount
        if not fund.by_identity[investor.id]:
            del fund.by_identity[investor.id]
            fund.units -= fund.units_of.pop(investor.id)

    def owner_of(self) -> dict[bytes, tuple[Investor, Account]]:
        return {a.address: (i, a) for i in self.investors for a in i.accounts}

    # ----------------------------------------------------- planted, regulator

    def plant_disguised_vehicle(self) -> None:
        """An 'institution' that is really pooling money from people, some unqualified.

        It counts as one holder on chain; the cash it received from its backers just
        before subscribing is on chain for the regulator to find."""
        shell = self.new_investor(INSTITUTION, label="shell-pool")
        shell.personal["name"] = "Beijing Ruixiang Trading Co., Ltd."
        self.register(shell)
        self.commit()
        backers = self.rng.sample(self.unqualified_people, 2) + self.rng.sample(
            [i for i in self.investors if i.kind == PERSON and i.qualified], 4)
        for backer in backers:
            backer.agent.send(self.cash.call("transfer", shell.accounts[0].address, 1_000_000),
                              signer=backer.accounts[0])
        self.commit()
        fund = max((f for f in self.funds if f.cap < 100), key=lambda f: f.units)
        self.subscribe_one(shell, fund, 6_000_000)
        self.commit()
        self.ctx.plant_for_regulator(
            "disguised_vehicle",
            "an institution pooling money from six natural persons (two unqualified) holds fund shares as one investor",
            identity="0x" + shell.id.hex(), fund=fund.id,
            backers=["0x" + b.id.hex() for b in backers],
        )

    def plant_split_identity(self) -> None:
        """One person onboarded twice under two identities, holding through both."""
        person = next(i for i in self.investors if i.kind == PERSON and i.qualified and i.accounts)
        twin = self.new_investor(PERSON, label="split-twin")
        twin.personal = dict(person.personal, name=person.personal["name"].upper())
        self.register(twin)
        self.commit()
        fund = self.funds[0]
        self.subscribe_one(twin, fund, 1_000_000)
        if fund.by_identity.get(person.id, 0) == 0:
            self.subscribe_one(person, fund, 1_000_000)
        self.commit()
        self.ctx.plant_for_regulator(
            "split_identity",
            "one natural person registered as two identities (same ID number) holds the same fund twice",
            identities=["0x" + person.id.hex(), "0x" + twin.id.hex()], fund=fund.id,
            id_number=person.personal["id_number"],
        )

    # ---------------------------------------------------------- planted, chain

    def membership_drills(self) -> None:
        """Gateway refusals: revoked, suspended, expired, untrusted, non-member, role missing."""
        self.govern(GovernanceAction.REVOKE, self.doomed_manager)
        self.chain.ca.revoke(self.doomed_manager.certificate, self.chain.time)
        self.govern(GovernanceAction.SUSPEND, self.latecomer)
        cases = [
            (self.doomed_manager, self.shares.call("createFund", 0, self.custodian.address, GENESIS_TIME),
             "revoked_node", "CERT_REVOKED", "a fund manager whose licence and certificate were revoked creates a fund"),
            (self.latecomer, self.identities.call("setQualification", self.investors[0].id, 0),
             "suspended_node", "MEMBER_SUSPENDED", "a suspended investor agent edits a qualification"),
            (self.temp_vendor, self.identities.call("setQualification", self.investors[1].id, 0),
             "expired_certificate", "CERT_EXPIRED", "a KYC vendor submits after its certificate expired"),
            (self.outsider, self.shares.call("settleTransfer", 1),
             "non_member_node", "NOT_MEMBER", "a node certified by the consortium CA but never admitted submits"),
            (self.rogue, self.shares.call("settleTransfer", 1),
             "untrusted_certificate", "CERT_UNTRUSTED", "a node with a self-issued certificate submits"),
            (self.agents[0], self.shares.call("freeze", self.funds[0].id, self.investors[2].accounts[0].address,
                                              UNLIMITED, keccak(b"forged order")),
             "missing_role", "ROLE_MISSING", "an investor agent tries to freeze holdings, a regulator's power"),
        ]
        for node, call, kind, reason, description in cases:
            self.ctx.plant(kind, reason, node.send(call), description, node=node.name)
        self.commit()

    def transferable_funds(self) -> list[FundState]:
        return [f for f in self.funds if f.lockup_end <= self.chain.time]

    def pick_seller(self, fund: FundState, owners) -> tuple[Investor, Account] | None:
        candidates = [a for a in fund.holdings if a not in self.frozen]
        self.rng.shuffle(candidates)
        for address in candidates:
            investor, account = owners[address]
            if fund.idle(investor.id):
                return investor, account
        return None

    def request(self, fund: FundState, seller: Investor, account: Account, buyer: Investor,
                amount: int, fate: str | None = "settle") -> PendingTransfer:
        """Sends a transfer request; a planted one (fate None) is expected to be refused and is not booked."""
        buyer_account = self.rng.choice(buyer.accounts)
        price = amount * self.rng.choice((95, 100, 104, 110, 120)) // 100
        ticket = seller.agent.send(
            self.shares.call("requestTransfer", fund.id, buyer_account.address, amount, price), signer=account)
        pending = PendingTransfer(ticket, fund, seller, account, buyer, buyer_account, amount, fate=fate)
        if fate is not None:
            fund.selling.add(seller.id)
            if buyer.id not in fund.by_identity and buyer.id not in fund.pending_new:
                fund.pending_new[buyer.id] = buyer.units
            fund.buying[buyer.id] = fund.buying.get(buyer.id, 0) + 1
        return pending

    def new_transfer(self, owners, eligible: list[Investor]) -> PendingTransfer | None:
        """An ordinary transfer that every rule allows, by the shadow book."""
        funds = self.transferable_funds()
        for _ in range(20):
            fund = self.rng.choice(funds)
            picked = self.pick_seller(fund, owners)
            if picked is None:
                continue
            seller, account = picked
            buyer = self.rng.choice(eligible)
            if buyer.id in fund.selling or buyer is seller:
                continue
            held = fund.holdings[account.address]
            identity_total = fund.by_identity[seller.id]
            amounts = []
            if identity_total - held == 0 or identity_total - held >= MIN_INVESTMENT:
                amounts.append(held)
            partial = [k * 100_000 for k in range(10, held // 100_000)
                       if identity_total - k * 100_000 >= MIN_INVESTMENT]
            amounts += partial[:5]
            # Every amount reaches the minimum on its own, so pending purchases never matter.
            amounts = [a for a in amounts if a >= MIN_INVESTMENT]
            if not amounts or fund.units_if_buying(buyer) > fund.soft_cap:
                continue
            fate = self.rng.choices(("settle", "reject", "cancel"), (94, 3, 3))[0]
            return self.request(fund, seller, account, buyer, self.rng.choice(amounts), fate)
        return None

    def finish(self, t: PendingTransfer, settled: bool) -> None:
        """Books a settled transfer and clears the pending marks of any finished one."""
        fund = t.fund
        if settled:
            self.debit(fund, t.seller, t.account, t.amount)
            self.credit(fund, t.buyer, t.buyer_account, t.amount, t.buyer.units)
        fund.selling.discard(t.seller.id)
        fund.buying[t.buyer.id] -= 1
        if not fund.buying[t.buyer.id]:
            del fund.buying[t.buyer.id]
            fund.pending_new.pop(t.buyer.id, None)

    def trade(self) -> None:
        """Rounds of one block each: new requests, approvals of the last round's, settlements of the one before."""
        owners = self.owner_of()
        eligible = [i for i in self.investors if i.eligible and i is not self.deep
                    and i.label not in ("shell-pool", "split-twin")]
        total = self.opts["transfers"]
        batch = self.opts["batch"]
        planned_rounds = max(1, -(-total // batch))
        plant_rounds: dict[int, list[str]] = {}
        for kind in self.PLANTS:
            # The cap breach goes first, while the small funds are still as full as subscription left
            # them: trading can only thin them out.
            round_ = self.rng.randrange(planned_rounds)
            plant_rounds.setdefault(0 if kind == "cap_breach" else round_, []).append(kind)
        requested = 0
        requested_last: list[PendingTransfer] = []
        approved_last: list[PendingTransfer] = []
        freeze_case, froze = None, False
        r = 0
        while (r < planned_rounds or requested < total or requested_last or approved_last or freeze_case
               or plant_rounds or not froze):
            # Settle what was approved last round; the unapproved plant is settled unapproved.
            for t in approved_last:
                call = self.shares.call("settleTransfer", t.request_id)
                if t.fate == "unapproved":
                    ticket = self.platform.send(call)
                    self.ctx.plant("unapproved_transfer", "TransferNotApproved", ticket,
                                   "the platform settles a transfer the manager never approved",
                                   request=t.request_id, fund=t.fund.id)
                    t.ticket = ticket
                else:
                    t.ticket = self.platform.send(call)
            # Approve (or reject, or let the requester cancel) last round's requests.
            settling = []
            for t in requested_last:
                if not t.ticket.ok:
                    raise LedgerError(f"an ordinary transfer request was refused: {t.ticket.reason} {t.ticket.detail}")
                t.request_id = t.ticket.event("TransferRequested")["requestId"]
                if t.fate == "settle":
                    t.fund.manager.send(self.shares.call("approveTransfer", t.request_id))
                    settling.append(t)
                elif t.fate == "reject":
                    t.fund.manager.send(self.shares.call("rejectTransfer", t.request_id, REJECT_REASON))
                    self.finish(t, settled=False)
                elif t.fate == "cancel":
                    t.seller.agent.send(self.shares.call("cancelTransfer", t.request_id), signer=t.account)
                    self.finish(t, settled=False)
                else:  # unapproved: goes straight to settlement
                    settling.append(t)
            # New requests.
            new: list[PendingTransfer] = []
            while requested < total and len(new) < batch:
                t = self.new_transfer(owners, eligible)
                if t is None:  # everyone who could trade is in a pending transfer
                    break
                requested += 1
                new.append(t)
            for kind in plant_rounds.pop(r, ()):
                try:
                    made = getattr(self, f"plant_{kind}")(owners, eligible)
                except _NobodyFree:
                    made = False
                if isinstance(made, PendingTransfer):
                    new.append(made)
                elif made is False:  # nobody free to plant it with this round: try the next one
                    plant_rounds.setdefault(r + 1, []).append(kind)
            if freeze_case is not None:
                freeze_case = self.advance_freeze(freeze_case, eligible, owners)
            elif r >= planned_rounds // 2 and not froze:
                try:
                    freeze_case, froze = self.start_freeze(owners), True
                except _NobodyFree:
                    pass

            self.commit()
            # Book what settled; release everything that is finished.
            for t in approved_last:
                if t.fate == "unapproved":
                    t.seller.agent.send(self.shares.call("cancelTransfer", t.request_id), signer=t.account)
                    self.finish(t, settled=False)
                    continue
                if not t.ticket.ok:
                    raise LedgerError(f"an ordinary settlement was refused: {t.ticket.reason} {t.ticket.detail}")
                self.finish(t, settled=True)
            approved_last, requested_last = settling, new
            r += 1

    # Contract refusals planted during trading, one per chosen round.
    PLANTS = ("unqualified_transferee", "unqualified_backer", "cap_breach", "lockup", "minimum_holding", "unapproved")

    def idle_seller(self, funds: list[FundState], owners, minimum: int = MIN_INVESTMENT
                    ) -> tuple[FundState, Investor, Account]:
        """A holder in no pending transfer whose whole stake in the fund sits in one account."""
        for fund in funds:
            for address, amount in sorted(fund.holdings.items()):
                investor, account = owners[address]
                if (amount >= minimum and fund.by_identity[investor.id] == amount and fund.idle(investor.id)
                        and address not in self.frozen):
                    return fund, investor, account
        raise _NobodyFree()

    def plant_unqualified_transferee(self, owners, eligible) -> None:
        fund, seller, account = self.idle_seller(self.transferable_funds(), owners)
        buyer = self.rng.choice(self.unqualified_people)
        t = self.request(fund, seller, account, buyer, fund.holdings[account.address], fate=None)
        self.ctx.plant("unqualified_transferee", "TransfereeNotQualified", t.ticket,
                       "shares offered to a natural person below the qualified-investor thresholds",
                       buyer="0x" + buyer.id.hex(), fund=fund.id)

    def plant_unqualified_backer(self, owners, eligible) -> None:
        fund, seller, account = self.idle_seller(self.transferable_funds(), owners)
        t = self.request(fund, seller, account, self.tainted, fund.holdings[account.address], fate=None)
        self.ctx.plant("unqualified_behind_vehicle", "UltimateInvestorNotQualified", t.ticket,
                       "shares offered to a partnership with an unqualified investor behind it",
                       buyer="0x" + self.tainted.id.hex(), fund=fund.id)

    def plant_cap_breach(self, owners, eligible) -> None:
        small = sorted((f for f in self.transferable_funds() if f.cap < 100), key=lambda f: -f.units)
        fund, seller, account = self.idle_seller(small, owners, minimum=2 * MIN_INVESTMENT)
        if fund.units + self.deep.units <= fund.cap:
            raise LedgerError("the nested partnership is too small to breach the cap")
        t = self.request(fund, seller, account, self.deep, MIN_INVESTMENT, fate=None)
        self.ctx.plant("cap_breach_nested_vehicle", "InvestorCapExceeded", t.ticket,
                       f"a three-level partnership ({self.deep.units} investors looked through) would take a "
                       f"{fund.cap}-investor fund past its cap", buyer="0x" + self.deep.id.hex(), fund=fund.id,
                       units_before=fund.units)

    def plant_lockup(self, owners, eligible) -> None:
        locked = [f for f in self.funds if f.lockup_end > self.chain.time]
        fund, seller, account = self.idle_seller(locked, owners)
        buyer = next(i for i in eligible if i is not seller)
        t = self.request(fund, seller, account, buyer, fund.holdings[account.address], fate=None)
        self.ctx.plant("lockup_breach", "LockupActive", t.ticket, "a transfer requested during the fund's lock-up",
                       fund=fund.id, lockup_end=fund.lockup_end)

    def plant_minimum_holding(self, owners, eligible) -> None:
        fund, seller, account = self.idle_seller(self.transferable_funds(), owners)
        amount = fund.by_identity[seller.id] - MIN_INVESTMENT // 2
        expected_left = MIN_INVESTMENT // 2
        buyer = next(i for i in eligible if i is not seller and fund.by_identity.get(i.id, 0) >= MIN_INVESTMENT)
        t = self.request(fund, seller, account, buyer, amount, fate=None)
        self.ctx.plant("below_minimum_holding", "BelowMinimumHolding", t.ticket,
                       "a partial transfer that would leave the seller under the 1,000,000 CNY minimum",
                       fund=fund.id, remaining=expected_left)

    def plant_unapproved(self, owners, eligible) -> PendingTransfer | bool:
        t = self.new_transfer(owners, eligible)
        if t is None:
            return False
        t.fate = "unapproved"
        return t

    def start_freeze(self, owners) -> dict:
        """A court freezes a whole holding; the holder then tries to sell, and the court orders it handed over."""
        fund, holder, account = self.idle_seller(self.transferable_funds(), owners)
        order = keccak(f"(2022) Jing 0105 Zhi Bao No. {self.rng.randrange(1000, 9999)}".encode())
        self.regulator.send(self.shares.call("freeze", fund.id, account.address, UNLIMITED, order))
        self.frozen.add(account.address)
        fund.selling.add(holder.id)
        return {"stage": 1, "fund": fund, "holder": holder, "account": account, "order": order}

    def advance_freeze(self, case: dict, eligible, owners) -> dict | None:
        fund, holder, account = case["fund"], case["holder"], case["account"]
        if case["stage"] == 1:
            # The buyer, later the creditor, is best an idle holder of the fund; else any idle investor.
            idle = [i for i in eligible if i is not holder and fund.idle(i.id)]
            buyer = next((i for i in idle if fund.by_identity.get(i.id, 0)), idle[0] if idle else None)
            if buyer is None:  # everyone is in a pending transfer: try next round
                return case
            t = self.request(fund, holder, account, buyer, fund.holdings[account.address], fate=None)
            self.ctx.plant("frozen_shares", "SharesFrozen", t.ticket, "a holder sells shares frozen by a court order",
                           fund=fund.id, order="0x" + case["order"].hex())
            case.update(stage=2, creditor=buyer)
            return case
        creditor: Investor = case["creditor"]
        if creditor.id in fund.selling:
            return case
        amount = fund.holdings[account.address]
        self.regulator.send(self.shares.call("forcedTransfer", fund.id, account.address, creditor.accounts[0].address,
                                             amount, case["order"]))
        self.debit(fund, holder, account, amount)
        self.credit(fund, creditor, creditor.accounts[0], amount, creditor.units)
        fund.selling.discard(holder.id)
        return None
