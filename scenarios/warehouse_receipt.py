"""Futures standard warehouse receipts (标准仓单) on the Shanghai Futures Exchange's receipt platform.

Designated delivery warehouses declare their stock of copper, aluminium and natural rubber and issue
receipts to traders (clients of futures companies, whose nodes hold their keys); the exchange registers
them, and the receipts circulate: transfers, deliveries against futures positions, splits and merges by
the issuing warehouse, pledges to banks (released on repayment, enforced on default), cancellation (注销)
when the goods are withdrawn, and expiry. The exchange inspects the warehouses' stock from time to time.

Planted along the way: violations the chain must refuse, each with its exact reason, and two left for the
regulator (a warehouse declaring stock it does not hold, found at a later inspection; one lot of goods
receipted at two warehouses and pledged to two banks). The scenario knows every receipt and stock, so its
ordinary business is always allowed: a refusal that was not planted stops the run.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import partial
from itertools import count
from typing import Callable

from eth_hash.auto import keccak

from ledger.tooling.abi import bytes32, hex0x
from ledger.chain.access import adopt_declared_roles
from ledger.chain.calls import Call, Ticket
from ledger.chain.consortium import BLOCK_TIME
from ledger.trust.keys import Account
from ledger.chain.node import Node
from ledger.chain.roles import Role

from .api import REGULATOR, Option, Scenario, ScenarioContext, ScenarioError, Schedule
from .books import pick
from .people import CROSS_MARKET, cross_market_institution
from .violations import OPTION as VIOLATIONS, Violations

GENESIS_TIME = 1646064000  # 2022-03-01 00:00 Beijing time
CHAIN_ID = 20222
DAY = 86400
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
TAIL_ROUNDS = 12  # business days after the last issuance: pledges end, receipts expire
EXTRA_ROUNDS = 30  # at most this many more days to place planted violations still waiting
SHORT_EXPIRY_SHARE = 0.1  # receipts issued with days, not months, of validity
DEFAULT_SHARE = 0.2  # pledges that end in default and are enforced
LONG_LIVED = 60 * DAY  # receipts valid for longer than this are never merged with shorter-lived ones
KG = bytes32("kg")


@dataclass(frozen=True)
class Commodity:
    name: str
    symbol: str  # the futures contract's code
    grade: str
    lot: int  # kg in one standard receipt unit; receipts hold whole units
    price: int  # CNY per tonne, to size loans

    @property
    def key(self) -> bytes:
        return bytes32(self.name)


COMMODITIES = (
    Commodity("copper", "CU", "Cu-CATH-1", 25_000, 70_000),
    Commodity("aluminium", "AL", "Al99.70", 25_000, 21_000),
    Commodity("rubber", "RU", "SCR-WF", 10_000, 13_500),
)
# Designated delivery warehouses: node code, organisation, site (the receipt's location).
WAREHOUSES = (
    ("CMST-SH", "China Storage & Development Shanghai Warehouse", "Shanghai Baoshan"),
    ("YS-BONDED", "Shanghai Yangshan Bonded Delivery Warehouse", "Shanghai Yangshan"),
    ("WGQ-LOG", "Waigaoqiao Logistics Delivery Warehouse", "Shanghai Waigaoqiao"),
    ("WUXI-DW", "Wuxi Metals Delivery Warehouse", "Wuxi Xishan"),
    ("NINGBO-DW", "Ningbo Beilun Port Delivery Warehouse", "Ningbo Beilun"),
    ("QINGDAO-DW", "Qingdao Huangdao Rubber Delivery Warehouse", "Qingdao Huangdao"),
)
BANKS = (
    ("BOB-TF", "Bank of Beijing Trade Finance"),
    ("BOSC-CF", "Bank of Shanghai Commodity Finance Centre"),
    ("PUDONG-TF", "Pudong Commercial Bank Trade Finance Department"),
)
BROKERS = (
    ("PUJIANG-FUT", "Pujiang Futures Co., Ltd."),
    ("HUANGPU-FUT", "Huangpu Futures Co., Ltd."),
    ("LUJIAZUI-FUT", "Lujiazui Futures Co., Ltd."),
)
PROVINCES = "Jiangxi Yunnan Hainan Zhejiang Jiangsu Guangdong Shandong Henan Tianjin Fujian".split()
FIRMS = "Tongda Hengxin Jinlu Huayu Zhongtai Ruifeng Xinghe Dongfang Baoli Changjiang Minfeng Jiahe".split()
FIRM_KINDS = ("Metals Trading Co., Ltd.", "Nonferrous Materials Co., Ltd.", "Rubber Products Co., Ltd.",
              "Supply Chain Management Co., Ltd.", "Industrial Co., Ltd.")


@dataclass(eq=False)
class Holder:
    """An account that can hold receipts: a trader's client account, or a bank's own."""

    name: str
    node: Node  # submits for it
    account: Account
    trader: bool

    @property
    def address(self) -> bytes:
        return self.account.address

    def send(self, call: Call) -> Ticket:
        return self.node.send(call, signer=self.account)


@dataclass(eq=False)
class Stock:
    """One warehouse's declared stock of one commodity."""

    warehouse: Node
    commodity: Commodity
    location: bytes  # the warehouse's site, as its receipts name it
    declared: int = 0
    live: int = 0  # on live receipts
    phantom: int = 0  # declared but not in the warehouse
    blocked: bool = False  # no more issuance: under investigation
    case: Callable[..., None] | None = None  # records the phantom's ground truth once an inspection shows it

    @property
    def room(self) -> int:
        return 0 if self.blocked or self.live >= self.declared else self.declared - self.live


@dataclass(eq=False)
class Receipt:
    id: int
    stock: Stock
    quantity: int
    holder: Holder
    expiry: int
    cert: bytes
    registered: bool = False
    dead: str | None = None  # cancelled, expired, split, merged
    block: int | None = None  # of its last change (for a dead receipt, the one that ended it)
    lender: Holder | None = None
    pledge_end: int = 0
    repay_at: int | None = None  # None: the borrower defaults and the lender enforces at the term's end
    cancel_requested: bool = False
    reserved: bool = False  # kept out of ordinary business for a planted violation

    @property
    def commodity(self) -> Commodity:
        return self.stock.commodity

    @property
    def warehouse(self) -> Node:
        return self.stock.warehouse


class WarehouseReceipts(Scenario):
    name = "warehouse_receipt"
    title = ("Futures standard warehouse receipts: issue, register, transfer, split/merge, pledge, "
             "delivery, cancellation, expiry")
    options = (
        Option("receipts", 300, "warehouse receipts issued (before splits and merges)", 30, maximum=1_000_000),
        Option("warehouses", 3, "designated delivery warehouses", 2, maximum=1_000),
        Option("traders", 12, "traders, clients of the futures companies", 4, maximum=100_000),
        Option("banks", 2, "banks lending against pledged receipts", 1, maximum=1_000),
        Option("batch", 20, "receipts issued per block (one block per business day)", 1,
               maximum=10_000),
        VIOLATIONS,
    )

    @classmethod
    def issue_rounds(cls, options: dict[str, int]) -> int:
        return -(-options["receipts"] // options["batch"])

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        # deployment, role adoption (propose, vote, execute), the initial stock, then one block a day
        return 5 + cls.issue_rounds(options) + TAIL_ROUNDS

    def run(self, ctx: ScenarioContext) -> None:
        """The whole run, on this instance (the runner makes one per run)."""
        self.ctx, self.rng, self.opts = ctx, ctx.rng, ctx.options
        self.chain = ctx.open_chain("receipt_platform", CHAIN_ID, GENESIS_TIME,
                                    "Shanghai Futures Exchange Consortium CA")
        self.receipts: dict[int, Receipt] = {}
        self.stocks: list[Stock] = []
        self.busy: set[Receipt] = set()  # receipts with a transaction in the block being built
        self.issued = 0
        self.tried: set[Callable] = set()  # kinds of business done at least once
        self.defaults = 0
        self.certs, self.positions = count(1), count(1)  # serial numbers
        self.plants = Schedule("planted violations for the chain")
        self.cases = Schedule("cases for the regulator")

        self.make_nodes()
        self.deploy()
        self.declare_initial_stock()
        issue_rounds = self.issue_rounds(self.opts)
        planned = issue_rounds + TAIL_ROUNDS
        self.inspection_rounds = (1, max(issue_rounds * 3 // 4, 6))
        for plant in (self.double_pledge, self.over_issuance, self.transfer_while_pledged, self.use_after_cancellation,
                      self.non_warehouse_issuance, self.pledged_delivery, self.early_enforcement,
                      self.use_after_expiry, self.foreign_split, self.cancel_without_request):
            self.plants.at(self.rng.randrange(3, issue_rounds + 4), plant)
        self.cases.at(max(2, issue_rounds // 4), self.phantom_stock)
        self.cases.at(max(3, issue_rounds // 2), self.double_financing)
        self.violations = Violations(self, planned, EXTRA_ROUNDS - 1)  # --violations N, planted day by day
        r = 0
        while r < planned or self.plants.pending or self.cases.pending or self.regulator_cases() < 2 \
                or self.violations.pending:
            if r >= planned + EXTRA_ROUNDS:
                raise self.plants.give_up("planted violations never found a receipt to use") if self.plants.pending \
                    else self.cases.give_up("the regulator's cases never completed")
            self.business_day(r)
            r += 1

    def regulator_cases(self) -> int:
        return sum(p.detect == REGULATOR for p in self.ctx.planted)

    @property
    def now(self) -> int:
        """The timestamp the next block will carry."""
        return max(self.chain.time, self.chain.head.timestamp + BLOCK_TIME)

    def business_day(self, r: int) -> None:
        """One block: planted violations first (so they meet the state the scenario knows), then
        inspections and the regulator's cases, the receipts' lifecycle, circulation and issuance."""
        now = self.now
        self.plants.run(r)
        if r in self.inspection_rounds:
            self.inspect_all(r)
        self.cases.run(r)
        self.violations.run(r)
        self.mark_expired(now)
        self.finish_cancellations()
        self.settle_pledges(now)
        self.register_issued()
        self.circulate(now)
        self.issue_batch(now)
        self.settle()
        self.chain.advance(DAY)

    def act(self, receipt: Receipt, sent: Ticket, then: Callable[[Ticket], None] | None = None, **booked) -> Ticket:
        """An ordinary call on `receipt`, its only one in this block: the receipt's fields in `booked`
        change when it commits."""
        self.touch(receipt)

        def commit(ticket: Ticket) -> None:
            vars(receipt).update(booked, block=ticket.block_number)
            if then:
                then(ticket)

        return self.ctx.expect_ok(sent, commit)

    def settle(self) -> None:
        self.chain.commit()
        self.busy.clear()

    # -------------------------------------------------------------- consortium

    def make_nodes(self) -> None:
        add = self.chain.add_node
        self.exchange = add("SHFE", "Shanghai Futures Exchange",
                            Role.ADMIN | Role.PLATFORM | Role.FUTURES_EXCHANGE | Role.VALIDATOR)
        self.regulator = add("CSRC-SH", "CSRC Shanghai Regulatory Bureau", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        self.warehouses: list[Node] = []
        for i in range(self.opts["warehouses"]):
            code, organisation, site = WAREHOUSES[i] if i < len(WAREHOUSES) else (
                f"DW-{i + 1:02d}", f"Designated Delivery Warehouse No. {i + 1}", f"Delivery Site {i + 1}")
            self.warehouses.append(add(code, organisation, Role.WAREHOUSE))
            self.stocks += [Stock(self.warehouses[-1], COMMODITIES[(i + k) % 3], bytes32(site)) for k in (0, 1)]
        self.banks: list[Holder] = []
        for i in range(self.opts["banks"]):
            code, organisation = BANKS[i] if i < len(BANKS) else (
                f"BANK-{i + 1:02d}", f"Commodity Finance Bank No. {i + 1}")
            node = add(code, organisation, Role.LENDER | (Role.VALIDATOR if i == 0 else Role(0)))
            self.banks.append(Holder(organisation, node, node.account, trader=False))
        self.brokers = [add(code, organisation, Role.TRADER) for code, organisation in BROKERS]
        self.traders: list[Holder] = []
        for i in range(self.opts["traders"]):
            name = f"{self.rng.choice(PROVINCES)} {self.rng.choice(FIRMS)} {self.rng.choice(FIRM_KINDS)}"
            broker = self.brokers[i % len(self.brokers)]
            if i == 0:  # the investment institution of the other markets, with its one unified account
                name = cross_market_institution(self.ctx.private_rng(CROSS_MARKET))["name"]
                account = broker.hold(self.ctx.unified_account(CROSS_MARKET))
            else:
                account = broker.hold(self.chain.client_account(f"trader{i + 1:03d}"))
            self.traders.append(Holder(name, broker, account, trader=True))

    def deploy(self) -> None:
        registry = self.ctx.deploy(self.exchange, "PermissionRegistry", *self.chain.founding_members())
        self.wr = self.ctx.deploy(self.exchange, "WarehouseReceipt", registry.address)
        self.chain.commit()
        adopt_declared_roles(self.chain)  # the contract's role table, mapped by governance

    def declare_initial_stock(self) -> None:
        per_stock = self.opts["receipts"] * 3 // len(self.stocks) + 1  # about three units a receipt
        for stock in self.stocks:
            self.declare(stock, max(4, per_stock * self.rng.randint(40, 80) // 100) * stock.commodity.lot)
        self.settle()

    def declare(self, stock: Stock, quantity: int) -> Ticket:
        stock.declared = quantity
        return self.ctx.expect_ok(stock.warehouse.send(self.wr.declareStock(stock.commodity.key, quantity, KG)))

    # ------------------------------------------------------------ issuance

    def new_cert(self, warehouse: Node) -> bytes:
        return keccak(f"{self.ctx.seed}/{warehouse.name}/inspection certificate/{next(self.certs)}".encode())

    def issue_call(self, commodity: Commodity, quantity: int, location: bytes, cert: bytes, expiry: int,
                   owner: Holder) -> Call:
        return self.wr.issue(commodity.key, bytes32(commodity.grade), quantity, KG, location, cert, expiry,
                             owner.address)

    def issue(self, stock: Stock, quantity: int, owner: Holder, expiry: int, cert: bytes | None = None,
              then: Callable[[Receipt], None] | None = None, reserved: bool = False) -> Ticket:
        """An ordinary issuance within the stock's room; the receipt is known once its block commits."""
        if quantity > stock.room:
            raise ScenarioError(f"shadow error: issuing {quantity} with {stock.room} room")
        cert = cert or self.new_cert(stock.warehouse)
        stock.live += quantity
        self.issued += 1

        def issued(ticket: Ticket) -> None:
            receipt = Receipt(ticket.event("ReceiptIssued")["id"], stock, quantity, owner, expiry, cert,
                              reserved=reserved)
            self.receipts[receipt.id] = receipt
            if then:
                then(receipt)

        call = self.issue_call(stock.commodity, quantity, stock.location, cert, expiry, owner)
        return self.ctx.expect_ok(stock.warehouse.send(call), then=issued)

    def issue_batch(self, now: int) -> None:
        honest = [s for s in self.stocks if not s.blocked and not s.phantom]
        for _ in range(max(0, min(self.opts["batch"], self.opts["receipts"] - self.issued))):
            stock = self.rng.choice(honest)
            quantity = self.rng.choice((1, 1, 2, 2, 3, 4, 6)) * stock.commodity.lot
            if stock.room < quantity:  # goods arrive and the warehouse declares them first
                restock = quantity - stock.room + self.rng.randint(8, 24) * stock.commodity.lot
                self.declare(stock, stock.declared + restock)
            bait = self.issued == 0  # the first receipt is short-lived, kept for the use-after-expiry plant
            if bait or self.rng.random() < SHORT_EXPIRY_SHARE:
                expiry = now + self.rng.randint(4, 9) * DAY + DAY // 2
            else:
                expiry = now + self.rng.randint(180, 360) * DAY
            self.issue(stock, quantity, self.rng.choice(self.traders), expiry, reserved=bait)

    def register_issued(self) -> None:
        for receipt in self.live():
            if not receipt.registered and receipt not in self.busy:
                self.act(receipt, self.exchange.send(self.wr.register(receipt.id)), registered=True)

    # ------------------------------------------------------------ receipts

    def live(self) -> list[Receipt]:
        return [r for r in self.receipts.values() if r.dead is None]

    def touch(self, receipt: Receipt) -> None:
        if receipt in self.busy:
            raise ScenarioError(f"shadow error: receipt {receipt.id} used twice in one block")
        self.busy.add(receipt)

    def idle(self, receipt: Receipt, now: int) -> bool:
        """Live, registered, unpledged, in no other transaction or request, and valid for two more days."""
        return (receipt.dead is None and receipt.registered and receipt.lender is None
                and not receipt.cancel_requested and not receipt.reserved and receipt not in self.busy
                and now + 2 * DAY < receipt.expiry)

    def other_trader(self, holder: Holder) -> Holder:
        return self.rng.choice([t for t in self.traders if t is not holder])

    # ------------------------------------------------------------ lifecycle

    # Stock figures change as each call is sent, in the block's order, because a later call in the
    # same block (a declaration, an issuance) meets them so.

    def mark_expired(self, now: int) -> None:
        """The issuing warehouse marks receipts past their expiry, freeing their quantity."""
        for receipt in self.live():
            if now >= receipt.expiry and not receipt.reserved and receipt not in self.busy:
                receipt.stock.live -= receipt.quantity
                self.act(receipt, receipt.warehouse.send(self.wr.markExpired(receipt.id)), dead="expired")

    def finish_cancellations(self) -> None:
        """The warehouse cancels receipts whose holders asked, as the goods leave."""
        for receipt in self.live():
            if receipt.cancel_requested and receipt not in self.busy:
                stock = receipt.stock
                stock.live -= receipt.quantity
                stock.declared = max(0, stock.declared - receipt.quantity)
                self.act(receipt, receipt.warehouse.send(self.wr.cancel(receipt.id)), dead="cancelled")

    def settle_pledges(self, now: int) -> None:
        """Loans repaid are released by the lender; defaulted ones are enforced once the term ends."""
        for receipt in self.live():
            if receipt.lender is None or receipt in self.busy or receipt.reserved:
                continue
            bank = receipt.lender.node
            if receipt.repay_at is not None and now >= receipt.repay_at:
                self.act(receipt, bank.send(self.wr.release(receipt.id)), lender=None)
            elif receipt.repay_at is None and now >= receipt.pledge_end:
                self.act(receipt, bank.send(self.wr.enforce(receipt.id)), holder=receipt.lender, lender=None)

    # ---------------------------------------------------------- circulation

    def circulate(self, now: int) -> None:
        """Merges of matching lots, then single-receipt business for a share of the idle receipts."""
        budget = 2 * self.opts["batch"]
        # A merged receipt expires with the earliest of its sources: holders never merge a short-lived
        # receipt into long-lived ones.
        lots: dict[tuple, list[Receipt]] = {}
        for receipt in self.live():
            if self.idle(receipt, now) and receipt.holder.trader:
                lots.setdefault((receipt.holder, receipt.stock, receipt.expiry > now + LONG_LIVED), []).append(receipt)
        for group in lots.values():
            if len(group) >= 2 and budget > 0 and (self.merge not in self.tried or self.rng.random() < 0.12):
                self.merge(group[:self.rng.choice((2, 2, 3))])
                self.tried.add(self.merge)
                budget -= 1
        business = {self.transfer: 30, self.deliver: 15, self.pledge: 25, self.split: 12, self.request_cancel: 8}
        candidates = [r for r in self.live() if self.idle(r, now)]
        self.rng.shuffle(candidates)
        for receipt in candidates:
            if budget <= 0:
                break
            if self.rng.random() >= 0.35:
                continue
            if receipt.holder.trader:
                action = self.rng.choices(list(business), list(business.values()))[0]
                first = [a for a in business if a not in self.tried]  # every kind of business at least once
                if first and first[0](receipt, now):
                    self.tried.add(first[0])
                    budget -= 1
                    continue
            else:  # a bank that took the receipt on default sells it or withdraws the goods
                action = self.rng.choices((self.transfer, self.request_cancel), (60, 40))[0]
            if action(receipt, now):
                self.tried.add(action)
                budget -= 1

    def transfer(self, receipt: Receipt, now: int) -> Ticket:
        to = self.other_trader(receipt.holder)
        return self.act(receipt, receipt.holder.send(self.wr.transfer(receipt.id, to.address)), holder=to,
                        cancel_requested=False)

    def position_ref(self, commodity: Commodity, now: int) -> bytes:
        """The exchange's reference of a delivered position: contract month (next month) and a serial."""
        day = datetime.datetime.fromtimestamp(now, BEIJING)
        year, month = (day.year, day.month + 1) if day.month < 12 else (day.year + 1, 1)
        return bytes32(f"{commodity.symbol}{year % 100:02d}{month:02d} D{next(self.positions):05d}")

    def deliver(self, receipt: Receipt, now: int) -> Ticket:
        buyer = self.other_trader(receipt.holder)
        call = self.wr.deliver(receipt.id, buyer.address, self.position_ref(receipt.commodity, now))
        return self.act(receipt, self.exchange.send(call), holder=buyer, cancel_requested=False)

    def pledge(self, receipt: Receipt, now: int, bank: Holder | None = None,
               repay: bool | None = None) -> Ticket | None:
        """Pledges `receipt` to `bank` (one chosen), or None when the loan would outlive the receipt."""
        if repay is None:  # the first borrower defaults, on a short loan; then one in five
            repay = self.defaults > 0 and self.rng.random() >= DEFAULT_SHARE
        term_days = self.rng.randint(3, 12) if self.defaults or repay else 3
        if now + term_days * DAY + 2 * DAY >= receipt.expiry:
            return None
        self.defaults += not repay
        bank = bank or self.rng.choice(self.banks)
        value = receipt.quantity * receipt.commodity.price // 1000
        amount = max(10_000, value * self.rng.randint(50, 70) // 100 // 10_000 * 10_000)
        repay_at = now + self.rng.randint(1, term_days) * DAY if repay else None
        return self.act(receipt, receipt.holder.send(self.wr.pledge(receipt.id, bank.address, amount, term_days * DAY)),
                        lender=bank, repay_at=repay_at,
                        then=lambda ticket: setattr(receipt, "pledge_end", ticket.event("Pledged")["end"]))

    def split(self, receipt: Receipt, now: int) -> Ticket | None:
        lot = receipt.commodity.lot
        units = receipt.quantity // lot
        if units < 2:
            return None
        cuts = sorted(self.rng.sample(range(1, units), min(units - 1, self.rng.choice((1, 1, 2)))))
        quantities = [(b - a) * lot for a, b in zip([0] + cuts, cuts + [units])]

        def parts(ticket: Ticket) -> None:
            for part, quantity in zip(ticket.event("ReceiptSplit")["parts"], quantities):
                self.receipts[part] = Receipt(part, receipt.stock, quantity, receipt.holder, receipt.expiry,
                                              receipt.cert, registered=receipt.registered)

        return self.act(receipt, receipt.warehouse.send(self.wr.split(receipt.id, quantities)), parts, dead="split")

    def merge(self, group: list[Receipt]) -> None:
        first = group[0]
        for receipt in group:
            self.touch(receipt)

        def merged(ticket: Ticket) -> None:
            event = ticket.event("ReceiptsMerged")  # the merged certificate is the chain's, as sealed
            self.receipts[event["id"]] = Receipt(
                event["id"], first.stock, sum(r.quantity for r in group), first.holder, min(r.expiry for r in group),
                bytes.fromhex(event["inspectionCertHash"][2:]), registered=first.registered)
            for receipt in group:
                receipt.dead, receipt.block = "merged", ticket.block_number

        self.ctx.expect_ok(first.warehouse.send(self.wr.merge([r.id for r in group])), then=merged)

    def request_cancel(self, receipt: Receipt, now: int) -> Ticket:
        return self.act(receipt, receipt.holder.send(self.wr.requestCancellation(receipt.id)), cancel_requested=True)

    # --------------------------------------------------------- inspections

    def inspect_all(self, r: int) -> None:
        """The exchange inspects every declared stock; a phantom declaration shows, and is corrected."""
        for stock in self.stocks:
            warehouse, commodity, observed = stock.warehouse, stock.commodity, stock.declared - stock.phantom
            report = keccak(f"SHFE inspection report/{self.ctx.seed}/{warehouse.name}/{commodity.name}/"
                            f"day {r}".encode())
            inspected = self.ctx.expect_ok(self.exchange.send(
                self.wr.inspectStock(warehouse.address, commodity.key, observed, report)))
            if stock.phantom:
                found = partial(stock.case, inspected, stock.declared, stock.live, observed, report)
                correction = self.wr.correctDeclaration(warehouse.address, commodity.key, observed, report)
                self.ctx.expect_ok(self.exchange.send(correction), then=found)
                stock.declared, stock.phantom, stock.blocked = observed, 0, True

    # ----------------------------------------------------- planted, regulator

    def phantom_stock(self) -> None:
        """A warehouse declares goods it does not hold and issues receipts against them at once."""
        now = self.now
        # Among the warehouses' stocks of a commodity no other warehouse keeps, if there are any (so that
        # the double financing below always finds a second warehouse for its commodity), the one with the
        # least free stock: the few receipts it issues already exceed what it holds.
        stocks = [s for s in self.stocks if s.warehouse is not self.warehouses[0]]
        alone = [s for s in stocks if not any(o.commodity is s.commodity for o in self.stocks
                                              if o.warehouse is not s.warehouse)]
        stock = min(alone or stocks, key=lambda s: s.room)
        lot = stock.commodity.lot
        # Short-lived receipts at this stock may expire before the inspection, which frees their quantity:
        # the phantom covers them too, so that the live quantity still exceeds the goods when inspected.
        expiring = sum(r.quantity for r in self.live() if r.stock is stock and r.expiry <= now + LONG_LIVED)
        phantom = self.rng.randint(6, 12) * lot + expiring
        left = stock.room + phantom
        declaration = self.declare(stock, stock.declared + phantom)
        stock.phantom, owner, receipts = phantom, self.rng.choice(self.traders), []
        stock.case = partial(self.phantom_found, stock, phantom, declaration, owner, receipts)
        while left:
            quantity = min(left, self.rng.randint(3, 6) * lot)
            self.issue(stock, quantity, owner, now + self.rng.randint(180, 360) * DAY, then=receipts.append)
            left -= quantity

    def phantom_found(self, stock: Stock, phantom: int, declaration: Ticket, owner: Holder, receipts: list[Receipt],
                      inspected: Ticket, declared: int, live: int, observed: int, report: bytes, _: Ticket) -> None:
        self.ctx.plant_for_regulator(
            "stock_short",
            f"{stock.warehouse.organisation} declares {phantom} kg of {stock.commodity.name} "
            f"it does not hold and issues receipts against it; the exchange's later inspection observes less "
            f"than declared (StockInspected) and corrects the declaration (DeclarationCorrected)",
            warehouse=hex0x(stock.warehouse.address), warehouse_name=stock.warehouse.name,
            commodity=stock.commodity.name, phantom=phantom, declared=declared, observed=observed, live=live,
            shortfall=max(0, live - observed), receipts=[rc.id for rc in receipts],
            holder=hex0x(owner.address), declared_block=declaration.block_number,
            inspected_block=inspected.block_number, inspection_report=hex0x(report))

    def receipt_to_double(self, now: int) -> tuple[Receipt, list[Stock]] | None:
        """A long-dated receipt, and the stocks of its commodity at the other honest warehouses."""
        candidates = [r for r in self.live() if self.idle(r, now) and r.holder.trader and now + 200 * DAY < r.expiry]
        self.rng.shuffle(candidates)
        for first in candidates:
            seconds = [s for s in self.stocks if s.warehouse not in (self.warehouses[0], first.warehouse)
                       and s.commodity is first.commodity and not s.phantom and not s.blocked]
            if seconds:
                return first, seconds
        return None

    def double_financing(self):
        """One lot of goods receipted at two warehouses (the second reuses the first's inspection
        certificate), then both receipts pledged to two banks. A story over several business days."""
        while not (found := self.receipt_to_double(now := self.now)):
            yield
        first, seconds = found
        second_stock = self.rng.choice(seconds)
        if second_stock.room < first.quantity:  # goods arrive at the second warehouse first
            self.declare(second_stock, second_stock.declared + first.quantity - second_stock.room)
        first.reserved = True  # both out of ordinary business until pledged below
        self.touch(first)
        second: list[Receipt] = []
        issue = self.issue(second_stock, first.quantity, first.holder, now + self.rng.randint(180, 360) * DAY,
                           cert=first.cert, then=second.append, reserved=True)
        while not (second and second[0].registered):
            yield
        now = self.now
        banks = [self.banks[0], self.banks[1 % len(self.banks)]]
        pledges = []
        for receipt, bank in zip((first, second[0]), banks):
            receipt.reserved = False
            pledges.append(self.pledge(receipt, now, bank=bank, repay=True))
            if pledges[-1] is None:
                raise ScenarioError("shadow error: a long-dated receipt could not be pledged")
        self.ctx.expect_ok(pledges[-1], then=lambda _: self.ctx.plant_for_regulator(
            "double_financing",
            f"one lot of {first.commodity.name} receipted twice: {second[0].warehouse.organisation} issues "
            f"a receipt on the inspection certificate of a receipt from {first.warehouse.organisation}, "
            f"and the holder pledges both receipts to {banks[0].name} and {banks[1].name}",
            receipts=[first.id, second[0].id], warehouses=[first.warehouse.name, second[0].warehouse.name],
            inspection_cert=hex0x(first.cert), commodity=first.commodity.name, quantity=first.quantity,
            holder=hex0x(first.holder.address), lenders=[hex0x(b.address) for b in banks],
            issued_block=issue.block_number, pledged_block=pledges[0].block_number))

    # ---------------------------------------------------------- planted, chain
    # Each is planted first in its block, where the scenario knows the state, and returns False (to be
    # tried the next day) while nothing it needs exists yet.

    def plant(self, kind: str, expected: str, sent: Ticket, description: str, receipt: Receipt | None = None,
              **subject) -> bool:
        if receipt is not None:
            subject = {"receipt": receipt.id, "warehouse": receipt.warehouse.name,
                       "holder": hex0x(receipt.holder.address), **subject}
        self.ctx.plant(kind, expected, sent, description, **subject)
        return True

    def pledged_receipt(self, registered: bool = False) -> Receipt | None:
        now = self.now
        return pick(self.rng, [r for r in self.live() if r.lender is not None and r.holder.trader and now < r.expiry
                               and now < r.pledge_end and (r.registered or not registered)])

    def double_pledge(self) -> bool:
        if not (receipt := self.pledged_receipt()):
            return False
        second = self.rng.choice([b for b in self.banks if b is not receipt.lender] or self.banks)
        return self.plant("double_pledge", "AlreadyPledged",
                          receipt.holder.send(self.wr.pledge(receipt.id, second.address, 1_000_000, 5 * DAY)),
                          "a holder pledges a receipt already pledged, to a second lender", receipt,
                          lender=hex0x(receipt.lender.address), second_lender=hex0x(second.address))

    def over_issuance(self) -> bool:
        stock = self.rng.choice([s for s in self.stocks if not s.blocked and not s.phantom and s.declared >= s.live])
        commodity = stock.commodity
        quantity = stock.declared - stock.live + self.rng.randint(1, 4) * commodity.lot
        owner = self.rng.choice(self.traders)
        call = self.issue_call(commodity, quantity, stock.location, self.new_cert(stock.warehouse),
                               self.now + 200 * DAY, owner)
        return self.plant("over_issuance", "ExceedsDeclaredStock", stock.warehouse.send(call),
                          "a warehouse issues a receipt beyond its declared stock", warehouse=stock.warehouse.name,
                          commodity=commodity.name, declared=stock.declared, live=stock.live, quantity=quantity)

    def transfer_while_pledged(self) -> bool:
        if not (receipt := self.pledged_receipt()):
            return False
        to = self.other_trader(receipt.holder)
        return self.plant("transfer_while_pledged", "ReceiptPledged",
                          receipt.holder.send(self.wr.transfer(receipt.id, to.address)),
                          "a holder transfers a pledged receipt without the lender", receipt,
                          lender=hex0x(receipt.lender.address), to=hex0x(to.address))

    def use_after_cancellation(self) -> bool:
        if not (receipt := pick(self.rng, [r for r in self.receipts.values() if r.dead == "cancelled"])):
            return False
        if receipt.holder.trader:
            call, what = self.wr.pledge(receipt.id, self.rng.choice(self.banks).address, 1_000_000, 5 * DAY), "pledges"
        else:
            call, what = self.wr.transfer(receipt.id, self.rng.choice(self.traders).address), "transfers"
        return self.plant("use_after_cancellation", "ReceiptNotLive", receipt.holder.send(call),
                          f"the last holder of a cancelled receipt {what} it as if the goods were still there",
                          receipt, cancelled_block=receipt.block)

    def non_warehouse_issuance(self) -> bool:
        broker = self.rng.choice(self.brokers)
        commodity = self.rng.choice(COMMODITIES)
        owner = self.rng.choice(self.traders)
        call = self.issue_call(commodity, 2 * commodity.lot, bytes32("Shanghai Minhang"),
                               keccak(f"{self.ctx.seed}/{broker.name}/self-made certificate".encode()),
                               self.now + 200 * DAY, owner)
        return self.plant("non_warehouse_issuance", "ROLE_MISSING", broker.send(call),
                          "a futures company, not a designated delivery warehouse, issues a receipt",
                          node=broker.name, node_address=hex0x(broker.address), commodity=commodity.name)

    def pledged_delivery(self) -> bool:
        if not (receipt := self.pledged_receipt(registered=True)):
            return False
        buyer = self.other_trader(receipt.holder)
        call = self.wr.deliver(receipt.id, buyer.address, self.position_ref(receipt.commodity, self.now))
        return self.plant("pledged_delivery", "ReceiptPledged", self.exchange.send(call),
                          "a pledged receipt is tendered for delivery against a futures position", receipt,
                          lender=hex0x(receipt.lender.address), buyer=hex0x(buyer.address))

    def early_enforcement(self) -> bool:
        if not (receipt := self.pledged_receipt()):
            return False
        return self.plant("early_enforcement", "TermNotEnded", receipt.lender.node.send(self.wr.enforce(receipt.id)),
                          "a lender seizes a pledged receipt before the loan's term has ended", receipt,
                          lender=hex0x(receipt.lender.address), term_end=receipt.pledge_end)

    def use_after_expiry(self) -> bool:
        receipt = next(iter(self.receipts.values()), None)  # the first issued, reserved for this
        if receipt is None or self.now < receipt.expiry:
            return False
        to = self.other_trader(receipt.holder)
        receipt.reserved = False  # the issuing warehouse marks it expired later in this block
        return self.plant("use_after_expiry", "Expired", receipt.holder.send(self.wr.transfer(receipt.id, to.address)),
                          "a holder transfers a receipt past its expiry, before anyone marked it expired",
                          receipt, expiry=receipt.expiry)

    def foreign_split(self) -> bool:
        now = self.now
        if not (receipt := pick(self.rng, [r for r in self.live() if now < r.expiry
                                            and r.quantity >= 2 * r.commodity.lot])):
            return False
        other = self.rng.choice([w for w in self.warehouses if w is not receipt.warehouse])
        lot = receipt.commodity.lot
        return self.plant("foreign_split", "NotIssuingWarehouse",
                          other.send(self.wr.split(receipt.id, [lot, receipt.quantity - lot])),
                          "a warehouse splits a receipt that another warehouse issued", receipt, caller=other.name)

    def cancel_without_request(self) -> bool:
        now = self.now
        if not (receipt := pick(self.rng, [r for r in self.live() if now < r.expiry and r.lender is None
                                            and not r.cancel_requested])):
            return False
        return self.plant("cancel_without_request", "CancellationNotRequested",
                          receipt.warehouse.send(self.wr.cancel(receipt.id)),
                          "a warehouse cancels a receipt its holder never asked to cancel", receipt)
