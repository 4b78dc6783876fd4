"""Futures standard warehouse receipts (标准仓单) on the Shanghai Futures Exchange's receipt platform.

Designated delivery warehouses declare their stock of copper, aluminium and
natural rubber and issue receipts to traders (clients of futures companies,
whose nodes hold their keys); the exchange registers them, and the receipts
circulate: transfers, deliveries against futures positions, splits and merges
by the issuing warehouse, pledges to banks (released on repayment, enforced on
default), cancellation (注销) when the goods are withdrawn, and expiry. The
exchange inspects the warehouses' stock from time to time.

Known violations are planted along the way: some the chain must refuse, each
with the exact reason it was planted to trigger, and two that pass the chain and
are left for the regulator (a warehouse declaring stock it does not hold, found
at a later inspection; one lot of goods receipted at two warehouses and pledged
to two banks).

The scenario keeps a shadow of every receipt and every stock so that all the
ordinary business it generates is allowed: any refusal that was not planted
shows up in the summary as unexpected (and stops the run at once).
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from eth_hash.auto import keccak

from ledger.tooling.abi import bytes32, hex0x
from ledger.chain.consortium import BLOCK_TIME, Consortium, Ticket
from ledger.errors import LedgerError
from ledger.trust.keys import Account
from ledger.chain.node import Node
from ledger.chain.roles import Role

from .api import Option, Scenario, ScenarioContext

GENESIS_TIME = 1646064000  # 2022-03-01 00:00 Beijing time
CHAIN_ID = 20222
DAY = 86400
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
TAIL_ROUNDS = 12  # business days after the last issuance: pledges end, receipts expire
EXTRA_ROUNDS = 30  # at most this many more days to place planted violations still waiting
SHORT_EXPIRY_SHARE = 0.1  # receipts issued with days, not months, of validity
DEFAULT_SHARE = 0.2  # pledges that end in default and are enforced
TRADER_ACTIONS = ("transfer", "deliver", "pledge", "split", "request_cancel")
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


@dataclass(eq=False)
class Warehouse:
    node: Node
    site: str
    stocks: list["Stock"] = field(default_factory=list)

    @property
    def location(self) -> bytes:
        return bytes32(self.site)


@dataclass(eq=False)
class Stock:
    """The shadow of one (warehouse, commodity) stock record."""

    warehouse: Warehouse
    commodity: Commodity
    declared: int = 0
    live: int = 0
    phantom: int = 0  # declared but not in the warehouse
    blocked: bool = False  # no more issuance: under investigation

    @property
    def room(self) -> int:
        return 0 if self.blocked or self.live >= self.declared else self.declared - self.live

    @property
    def physical(self) -> int:
        return self.declared - self.phantom


@dataclass(eq=False)
class Receipt:
    """The shadow of one receipt."""

    id: int
    stock: Stock
    quantity: int
    holder: Holder
    expiry: int
    cert: bytes
    registered: bool = False
    dead: str | None = None  # cancelled, expired, split, merged
    dead_block: int | None = None
    lender: Holder | None = None
    pledge_end: int = 0
    repay_at: int | None = None  # None: the borrower defaults and the lender enforces at the term's end
    cancel_requested: bool = False
    reserved: bool = False  # kept out of ordinary business for a planted violation

    @property
    def commodity(self) -> Commodity:
        return self.stock.commodity

    @property
    def warehouse(self) -> Warehouse:
        return self.stock.warehouse


@dataclass
class _Op:
    ticket: Ticket
    then: Callable[[Ticket], None] | None


class WarehouseReceipts(Scenario):
    name = "warehouse_receipt"
    title = ("Futures standard warehouse receipts: issue, register, transfer, split/merge, pledge, "
             "delivery, cancellation, expiry")
    options = (
        Option("receipts", 300, "warehouse receipts issued (before splits and merges)", 30),
        Option("warehouses", 3, "designated delivery warehouses", 2),
        Option("traders", 12, "traders, clients of the futures companies", 4),
        Option("banks", 2, "banks lending against pledged receipts", 1),
        Option("batch", 20, "receipts issued per block (one block per business day)", 1),
    )

    @classmethod
    def issue_rounds(cls, options: dict[str, int]) -> int:
        return -(-options["receipts"] // options["batch"])

    @classmethod
    def expected_steps(cls, options: dict[str, int]) -> int:
        return 2 + cls.issue_rounds(options) + TAIL_ROUNDS

    def run(self, ctx: ScenarioContext) -> None:
        _WarehouseReceiptRun(ctx).run()


class _WarehouseReceiptRun:
    def __init__(self, ctx: ScenarioContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.opts = ctx.options
        self.chain: Consortium = ctx.open_chain("receipt_platform", CHAIN_ID, GENESIS_TIME,
                                                "Shanghai Futures Exchange Consortium CA")
        self.receipts: dict[int, Receipt] = {}
        self.stocks: list[Stock] = []
        self.ops: list[_Op] = []
        self.busy: set[int] = set()  # receipts with a transaction in the block being built
        self.issued = 0
        self.merged = 0
        self.done: Counter[str] = Counter()
        self.defaults = 0
        self.cert_serial = 0
        self.position_serial = 0
        # A short-lived receipt kept out of business for the use-after-expiry plant: None until one is
        # claimed, False while it is being issued.
        self.expired_bait: Receipt | bool | None = None
        self.phantom: dict | None = None
        self.double: dict | None = None

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        self.make_nodes()
        self.deploy()
        self.declare_initial_stock()
        issue_rounds = WarehouseReceipts.issue_rounds(self.opts)
        planned = issue_rounds + TAIL_ROUNDS
        self.inspection_rounds = (1, max(issue_rounds * 3 // 4, 6))
        self.phantom_round = max(2, issue_rounds // 4)
        self.double_round = max(3, issue_rounds // 2)
        self.plant_rounds: dict[int, list[str]] = {}
        for kind in self.PLANTS:
            self.plant_rounds.setdefault(self.rng.randrange(3, issue_rounds + 4), []).append(kind)
        r = 0
        while r < planned or self.unfinished():
            if r >= planned + EXTRA_ROUNDS:
                raise LedgerError(f"planted violations never found a receipt to use: {self.plant_rounds}, "
                                  f"phantom stock {self.phantom and 'revealed' in self.phantom}, "
                                  f"double financing {self.double and self.double['stage']}")
            self.business_day(r)
            r += 1

    def unfinished(self) -> bool:
        return bool(self.plant_rounds) or self.phantom is None or "revealed" not in self.phantom or (
            self.double is None or self.double["stage"] != "done")

    @property
    def now(self) -> int:
        """The timestamp the next block will carry."""
        return max(self.chain.time, self.chain.head.timestamp + BLOCK_TIME)

    def commit(self) -> None:
        if self.chain.commit() is not None:
            self.ctx.progress()

    def send(self, node: Node, function: str, *args, signer: Account | None = None,
             then: Callable[[Ticket], None] | None = None) -> Ticket:
        """An ordinary call: the shadow says it is allowed, so a refusal stops the run."""
        ticket = node.send(self.contract.call(function, *args), signer=signer)
        self.ops.append(_Op(ticket, then))
        return ticket

    def settle(self) -> None:
        """Commits the block being built and books every ordinary call's outcome in the shadow."""
        self.commit()
        ops, self.ops = self.ops, []
        self.busy.clear()
        for op in ops:
            if not op.ticket.ok:
                raise LedgerError(f"an ordinary {op.ticket.function} was refused: {op.ticket.reason} "
                                  f"{op.ticket.detail}")
            if op.then:
                op.then(op.ticket)

    def business_day(self, r: int) -> None:
        """One block: planted violations first (so they meet the state the shadow knows), then
        inspections and the special cases, the receipts' lifecycle, circulation and issuance."""
        now = self.now
        for kind in self.plant_rounds.pop(r, ()):
            if not getattr(self, f"plant_{kind}")(now):
                self.plant_rounds.setdefault(r + 1, []).append(kind)
        if r in self.inspection_rounds:
            self.inspect_all(r)
        if r >= self.phantom_round and self.phantom is None:
            self.declare_phantom_stock(now)
        if r >= self.double_round:
            self.advance_double_financing(now)
        self.mark_expired(now)
        self.finish_cancellations()
        self.settle_pledges(now)
        self.register_issued()
        self.circulate(now)
        self.issue_batch(now)
        self.settle()
        self.after_day(r)
        self.chain.advance(DAY)

    # -------------------------------------------------------------- consortium

    def make_nodes(self) -> None:
        add = self.chain.add_node
        self.exchange = add("SHFE", "Shanghai Futures Exchange",
                            Role.ADMIN | Role.PLATFORM | Role.FUTURES_EXCHANGE | Role.VALIDATOR)
        self.regulator = add("CSRC-SH", "CSRC Shanghai Regulatory Bureau",
                             Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        self.warehouses: list[Warehouse] = []
        for i in range(self.opts["warehouses"]):
            code, organisation, site = WAREHOUSES[i] if i < len(WAREHOUSES) else (
                f"DW-{i + 1:02d}", f"Designated Delivery Warehouse No. {i + 1}", f"Delivery Site {i + 1}")
            warehouse = Warehouse(add(code, organisation, Role.WAREHOUSE), site)
            for commodity in (COMMODITIES[i % 3], COMMODITIES[(i + 1) % 3]):
                stock = Stock(warehouse, commodity)
                warehouse.stocks.append(stock)
                self.stocks.append(stock)
            self.warehouses.append(warehouse)
        self.banks: list[Holder] = []
        for i in range(self.opts["banks"]):
            code, organisation = BANKS[i] if i < len(BANKS) else (
                f"BANK-{i + 1:02d}", f"Commodity Finance Bank No. {i + 1}")
            roles = Role.LENDER | (Role.VALIDATOR if i == 0 else Role(0))
            node = add(code, organisation, roles)
            self.banks.append(Holder(organisation, node, node.account, trader=False))
        self.brokers = [add(code, organisation, Role.TRADER) for code, organisation in BROKERS]
        self.traders: list[Holder] = []
        names: set[str] = set()
        for i in range(self.opts["traders"]):
            name = f"{self.rng.choice(PROVINCES)} {self.rng.choice(FIRMS)} {self.rng.choice(FIRM_KINDS)}"
            if name in names:
                name = f"{name} (No. {i + 1})"
            names.add(name)
            broker = self.brokers[i % len(self.brokers)]
            account = broker.hold(self.chain.client_account(f"trader{i + 1:03d}"))
            self.traders.append(Holder(name, broker, account, trader=True))
        self.chain.store.write_meta(self.chain.genesis_meta())

    def deploy(self) -> None:
        registry = self.exchange.deploy("PermissionRegistry", *self.chain.founding_members()).contract_address
        self.exchange.deploy("WarehouseReceipt", registry)
        self.commit()
        self.contract = self.chain.contract("WarehouseReceipt")

    def declare_initial_stock(self) -> None:
        per_stock = self.opts["receipts"] * 3 // len(self.stocks) + 1  # about three units a receipt
        for stock in self.stocks:
            units = max(4, per_stock * self.rng.randint(40, 80) // 100)
            self.declare(stock, units * stock.commodity.lot)
        self.settle()

    def declare(self, stock: Stock, quantity: int) -> Ticket:
        stock.declared = quantity
        return self.send(stock.warehouse.node, "declareStock", stock.commodity.key, quantity, KG)

    # ------------------------------------------------------------ issuance

    def new_cert(self, warehouse: Warehouse) -> bytes:
        self.cert_serial += 1
        return keccak(f"{self.ctx.seed}/{warehouse.node.name}/inspection certificate/{self.cert_serial}".encode())

    def issue(self, stock: Stock, quantity: int, owner: Holder, expiry: int, cert: bytes | None = None,
              then: Callable[[Receipt], None] | None = None) -> Ticket:
        """An ordinary issuance within the stock's room; the receipt joins the shadow when its block commits."""
        if quantity > stock.room:
            raise LedgerError(f"shadow error: issuing {quantity} with {stock.room} room")
        cert = cert or self.new_cert(stock.warehouse)
        stock.live += quantity
        self.issued += 1
        commodity = stock.commodity
        return self.send(stock.warehouse.node, "issue", commodity.key, bytes32(commodity.grade), quantity, KG,
                         stock.warehouse.location, cert, expiry, owner.address,
                         then=partial(self._issued, stock, quantity, owner, expiry, cert, then))

    def _issued(self, stock, quantity, owner, expiry, cert, then, ticket: Ticket) -> None:
        rid = ticket.event("ReceiptIssued")["id"]
        receipt = Receipt(rid, stock, quantity, owner, expiry, cert)
        self.receipts[rid] = receipt
        if then:
            then(receipt)

    def issue_batch(self, now: int) -> None:
        count = min(self.opts["batch"], self.opts["receipts"] - self.issued)
        honest = [s for s in self.stocks if not s.blocked and not s.phantom]
        for _ in range(max(0, count)):
            stock = self.rng.choice(honest)
            quantity = self.rng.choice((1, 1, 2, 2, 3, 4, 6)) * stock.commodity.lot
            if stock.room < quantity:  # goods arrive and the warehouse declares them first
                restock = quantity - stock.room + self.rng.randint(8, 24) * stock.commodity.lot
                self.declare(stock, stock.declared + restock)
            then = None
            short = self.expired_bait is None or self.rng.random() < SHORT_EXPIRY_SHARE
            if short:
                expiry = now + self.rng.randint(4, 9) * DAY + DAY // 2
                if self.expired_bait is None:
                    self.expired_bait = False  # claimed: it becomes the receipt once issued
                    then = self._bait
            else:
                expiry = now + self.rng.randint(180, 360) * DAY
            self.issue(stock, quantity, self.rng.choice(self.traders), expiry, then=then)

    def _bait(self, receipt: Receipt) -> None:
        receipt.reserved = True
        self.expired_bait = receipt

    def register_issued(self) -> None:
        for receipt in self.live():
            if not receipt.registered and receipt.id not in self.busy:
                self.touch(receipt)
                self.send(self.exchange, "register", receipt.id, then=partial(self._registered, receipt))

    @staticmethod
    def _registered(receipt: Receipt, ticket: Ticket) -> None:
        receipt.registered = True

    # ----------------------------------------------------------- the shadow

    def live(self) -> list[Receipt]:
        return [r for r in self.receipts.values() if r.dead is None]

    def touch(self, receipt: Receipt) -> None:
        if receipt.id in self.busy:
            raise LedgerError(f"shadow error: receipt {receipt.id} used twice in one block")
        self.busy.add(receipt.id)

    def idle(self, receipt: Receipt, now: int) -> bool:
        """Live, registered, unpledged, in no other transaction or request, and valid for two more days."""
        return (receipt.dead is None and receipt.registered and receipt.lender is None
                and not receipt.cancel_requested and not receipt.reserved and receipt.id not in self.busy
                and now + 2 * DAY < receipt.expiry)

    def kill(self, receipt: Receipt, how: str, ticket: Ticket) -> None:
        receipt.dead, receipt.dead_block, receipt.lender = how, ticket.block_number, None

    def other_trader(self, holder: Holder) -> Holder:
        return self.rng.choice([t for t in self.traders if t is not holder])

    # ------------------------------------------------------------ lifecycle

    # Stock figures change in the shadow as each call is sent, in the block's order, because a later
    # call in the same block (a declaration, an issuance) meets them so.

    def mark_expired(self, now: int) -> None:
        """The issuing warehouse marks receipts past their expiry, freeing their quantity."""
        for receipt in self.live():
            if now >= receipt.expiry and not receipt.reserved and receipt.id not in self.busy:
                self.touch(receipt)
                receipt.stock.live -= receipt.quantity
                self.send(receipt.warehouse.node, "markExpired", receipt.id,
                          then=partial(self.kill, receipt, "expired"))

    def finish_cancellations(self) -> None:
        """The warehouse cancels receipts whose holders asked, as the goods leave."""
        for receipt in self.live():
            if receipt.cancel_requested and receipt.id not in self.busy:
                self.touch(receipt)
                stock = receipt.stock
                stock.live -= receipt.quantity
                stock.declared = max(0, stock.declared - receipt.quantity)
                self.send(receipt.warehouse.node, "cancel", receipt.id, then=partial(self.kill, receipt, "cancelled"))

    def settle_pledges(self, now: int) -> None:
        """Loans repaid are released by the lender; defaulted ones are enforced once the term ends."""
        for receipt in self.live():
            if receipt.lender is None or receipt.id in self.busy or receipt.reserved:
                continue
            if receipt.repay_at is not None and now >= receipt.repay_at:
                self.touch(receipt)
                self.send(receipt.lender.node, "release", receipt.id, then=partial(self._released, receipt))
            elif receipt.repay_at is None and now >= receipt.pledge_end:
                self.touch(receipt)
                self.send(receipt.lender.node, "enforce", receipt.id, then=partial(self._enforced, receipt))

    @staticmethod
    def _released(receipt: Receipt, ticket: Ticket) -> None:
        receipt.lender = None

    @staticmethod
    def _enforced(receipt: Receipt, ticket: Ticket) -> None:
        receipt.holder, receipt.lender = receipt.lender, None

    # ---------------------------------------------------------- circulation

    def circulate(self, now: int) -> None:
        """Merges of matching lots, then single-receipt business for a share of the idle receipts."""
        budget = 2 * self.opts["batch"]
        # A merged receipt expires with the earliest of its sources: holders never merge a short-lived
        # receipt into long-lived ones.
        lots: dict[tuple, list[Receipt]] = {}
        for receipt in self.live():
            if self.idle(receipt, now) and receipt.holder.trader:
                long_lived = receipt.expiry > now + LONG_LIVED
                lots.setdefault((id(receipt.holder), id(receipt.stock), long_lived), []).append(receipt)
        for group in lots.values():
            if len(group) >= 2 and budget > 0 and (not self.merged or self.rng.random() < 0.12):
                self.merge(group[:self.rng.choice((2, 2, 3))])
                self.merged += 1
                budget -= 1
        candidates = [r for r in self.live() if self.idle(r, now)]
        self.rng.shuffle(candidates)
        for receipt in candidates:
            if budget <= 0:
                break
            if self.rng.random() >= 0.35:
                continue
            if receipt.holder.trader:
                action = self.rng.choices(TRADER_ACTIONS, (30, 15, 25, 12, 8))[0]
                first = [a for a in TRADER_ACTIONS if not self.done[a]]  # every transition at least once
                if first and getattr(self, first[0])(receipt, now):
                    self.done[first[0]] += 1
                    budget -= 1
                    continue
            else:  # a bank that took the receipt on default sells it or withdraws the goods
                action = self.rng.choices(("transfer", "request_cancel"), (60, 40))[0]
            if getattr(self, action)(receipt, now):
                self.done[action] += 1
                budget -= 1

    def transfer(self, receipt: Receipt, now: int) -> bool:
        to = self.other_trader(receipt.holder)
        self.touch(receipt)
        self.send(receipt.holder.node, "transfer", receipt.id, to.address, signer=receipt.holder.account,
                  then=partial(self._moved, receipt, to))
        return True

    @staticmethod
    def _moved(receipt: Receipt, to: Holder, ticket: Ticket) -> None:
        receipt.holder, receipt.cancel_requested = to, False

    def position_ref(self, commodity: Commodity, now: int) -> bytes:
        """The exchange's reference of a delivered position: contract month (next month) and a serial."""
        self.position_serial += 1
        day = datetime.datetime.fromtimestamp(now, BEIJING)
        year, month = (day.year, day.month + 1) if day.month < 12 else (day.year + 1, 1)
        return bytes32(f"{commodity.symbol}{year % 100:02d}{month:02d} D{self.position_serial:05d}")

    def deliver(self, receipt: Receipt, now: int) -> bool:
        buyer = self.other_trader(receipt.holder)
        self.touch(receipt)
        self.send(self.exchange, "deliver", receipt.id, buyer.address, self.position_ref(receipt.commodity, now),
                  then=partial(self._moved, receipt, buyer))
        return True

    def pledge(self, receipt: Receipt, now: int, bank: Holder | None = None, repay: bool | None = None) -> bool:
        if repay is None:  # the first borrower defaults, on a short loan; then one in five
            repay = self.defaults > 0 and self.rng.random() >= DEFAULT_SHARE
        term_days = self.rng.randint(3, 12) if self.defaults or repay else 3
        term = term_days * DAY
        if now + term + 2 * DAY >= receipt.expiry:
            return False
        self.defaults += not repay
        bank = bank or self.rng.choice(self.banks)
        commodity = receipt.commodity
        value = receipt.quantity * commodity.price // 1000
        amount = max(10_000, value * self.rng.randint(50, 70) // 100 // 10_000 * 10_000)
        repay_at = now + self.rng.randint(1, term_days) * DAY if repay else None
        self.touch(receipt)
        self.send(receipt.holder.node, "pledge", receipt.id, bank.address, amount, term,
                  signer=receipt.holder.account, then=partial(self._pledged, receipt, bank, repay_at))
        return True

    @staticmethod
    def _pledged(receipt: Receipt, bank: Holder, repay_at: int | None, ticket: Ticket) -> None:
        receipt.lender, receipt.repay_at = bank, repay_at
        receipt.pledge_end = ticket.event("Pledged")["end"]

    def split(self, receipt: Receipt, now: int) -> bool:
        lot = receipt.commodity.lot
        units = receipt.quantity // lot
        if units < 2:
            return False
        cuts = sorted(self.rng.sample(range(1, units), min(units - 1, self.rng.choice((1, 1, 2)))))
        quantities = [(b - a) * lot for a, b in zip([0] + cuts, cuts + [units])]
        self.touch(receipt)
        self.send(receipt.warehouse.node, "split", receipt.id, quantities,
                  then=partial(self._split, receipt, quantities))
        return True

    def _split(self, receipt: Receipt, quantities: list[int], ticket: Ticket) -> None:
        self.kill(receipt, "split", ticket)
        for part, quantity in zip(ticket.event("ReceiptSplit")["parts"], quantities):
            self.receipts[part] = Receipt(part, receipt.stock, quantity, receipt.holder, receipt.expiry,
                                          receipt.cert, registered=receipt.registered)

    def merge(self, group: list[Receipt]) -> None:
        for receipt in group:
            self.touch(receipt)
        self.send(group[0].warehouse.node, "merge", [r.id for r in group], then=partial(self._merged, group))

    def _merged(self, group: list[Receipt], ticket: Ticket) -> None:
        first = group[0]
        certs = [r.cert for r in group]
        cert = first.cert if len(set(certs)) == 1 else keccak(b"".join(certs))
        rid = ticket.event("ReceiptsMerged")["id"]
        self.receipts[rid] = Receipt(rid, first.stock, sum(r.quantity for r in group), first.holder,
                                     min(r.expiry for r in group), cert, registered=first.registered)
        for receipt in group:
            self.kill(receipt, "merged", ticket)

    def request_cancel(self, receipt: Receipt, now: int) -> bool:
        self.touch(receipt)
        self.send(receipt.holder.node, "requestCancellation", receipt.id, signer=receipt.holder.account,
                  then=partial(self._cancel_requested, receipt))
        return True

    @staticmethod
    def _cancel_requested(receipt: Receipt, ticket: Ticket) -> None:
        receipt.cancel_requested = True

    # --------------------------------------------------------- inspections

    def inspection_hash(self, stock: Stock, r: int) -> bytes:
        return keccak(f"SHFE inspection report/{self.ctx.seed}/{stock.warehouse.node.name}/"
                      f"{stock.commodity.name}/day {r}".encode())

    def inspect_all(self, r: int) -> None:
        """The exchange inspects every declared stock; a phantom declaration shows, and is corrected."""
        for stock in self.stocks:
            report = self.inspection_hash(stock, r)
            ticket = self.send(self.exchange, "inspectStock", stock.warehouse.node.address, stock.commodity.key,
                               stock.physical, report)
            if stock.phantom:
                self.phantom.update(revealed=ticket, declared_at_inspection=stock.declared,
                                    live_at_inspection=stock.live, observed=stock.physical, report=report)
                self.send(self.exchange, "correctDeclaration", stock.warehouse.node.address, stock.commodity.key,
                          stock.physical, report)
                stock.declared, stock.phantom, stock.blocked = stock.physical, 0, True

    # ----------------------------------------------------- planted, regulator

    def declare_phantom_stock(self, now: int) -> None:
        """A warehouse declares goods it does not hold and issues receipts against them at once."""
        # Among the warehouses' stocks of a commodity no other warehouse keeps, if there are any (so that
        # the double financing below always finds a second warehouse for its commodity), the one with the
        # least free stock: the few receipts it issues already exceed what it holds.
        stocks = [s for w in self.warehouses[1:] for s in w.stocks]
        alone = [s for s in stocks if not any(o.commodity is s.commodity for o in self.stocks
                                              if o.warehouse is not s.warehouse)]
        stock = min(alone or stocks, key=lambda s: s.room)
        lot = stock.commodity.lot
        # Short-lived receipts at this stock may expire before the inspection, which frees their quantity:
        # the phantom covers them too, so that the live quantity still exceeds the goods when inspected.
        expiring = sum(r.quantity for r in self.live() if r.stock is stock and r.expiry <= now + LONG_LIVED)
        phantom = self.rng.randint(6, 12) * lot + expiring
        room_before = stock.room
        ticket = self.declare(stock, stock.declared + phantom)
        stock.phantom = phantom
        owner = self.rng.choice(self.traders)
        self.phantom = {"stock": stock, "declared": ticket, "phantom": phantom, "owner": owner, "receipts": []}
        left = room_before + phantom
        while left:
            quantity = min(left, self.rng.randint(3, 6) * lot)
            self.issue(stock, quantity, owner, now + self.rng.randint(180, 360) * DAY,
                       then=self.phantom["receipts"].append)
            left -= quantity

    def advance_double_financing(self, now: int) -> None:
        """One lot of goods receipted at two warehouses (the second reuses the first's inspection
        certificate), then both receipts pledged to two banks."""
        case = self.double
        if case is None:
            candidates = [r for r in self.live()
                          if self.idle(r, now) and r.holder.trader and now + 200 * DAY < r.expiry]
            self.rng.shuffle(candidates)
            for first in candidates:
                seconds = [s for w in self.warehouses[1:] if w is not first.warehouse for s in w.stocks
                           if s.commodity is first.commodity and not s.phantom and not s.blocked]
                if seconds:
                    break
            else:
                return
            second_stock = self.rng.choice(seconds)
            if second_stock.room < first.quantity:  # goods arrive at the second warehouse first
                self.declare(second_stock, second_stock.declared + first.quantity - second_stock.room)
            first.reserved = True
            self.touch(first)
            self.double = case = {"stage": "issued", "first": first, "stock": second_stock}
            case["issue"] = self.issue(second_stock, first.quantity, first.holder,
                                       now + self.rng.randint(180, 360) * DAY, cert=first.cert,
                                       then=partial(self._double_issued, case))
        elif case["stage"] == "registered":
            first, second = case["first"], case["second"]
            banks = [self.banks[0], self.banks[1 % len(self.banks)]]
            for receipt, bank in zip((first, second), banks):
                receipt.reserved = False
                if not self.pledge(receipt, now, bank=bank, repay=True):
                    raise LedgerError("shadow error: a long-dated receipt could not be pledged")
            case.update(stage="pledged", banks=banks, pledges=[o.ticket for o in self.ops[-2:]])

    def _double_issued(self, case: dict, receipt: Receipt) -> None:
        receipt.reserved = True
        case.update(stage="issued", second=receipt)

    def after_day(self, r: int) -> None:
        """Ground truth for the regulator, written once its last block is committed."""
        phantom = self.phantom
        if phantom and "revealed" in phantom and "planted" not in phantom:
            stock: Stock = phantom["stock"]
            phantom["planted"] = self.ctx.plant_for_regulator(
                "phantom_stock",
                f"{stock.warehouse.node.organisation} declares {phantom['phantom']} kg of {stock.commodity.name} "
                f"it does not hold and issues receipts against it; the exchange's later inspection observes less "
                f"than declared (StockInspected) and corrects the declaration (DeclarationCorrected)",
                warehouse=stock.warehouse.node.name, warehouse_address=hex0x(stock.warehouse.node.address),
                commodity=stock.commodity.name, phantom=phantom["phantom"],
                declared=phantom["declared_at_inspection"], observed=phantom["observed"],
                live=phantom["live_at_inspection"],
                shortfall=max(0, phantom["live_at_inspection"] - phantom["observed"]),
                receipts=[rc.id for rc in phantom["receipts"]], holder=hex0x(phantom["owner"].address),
                declared_block=phantom["declared"].block_number, inspected_block=phantom["revealed"].block_number,
                inspection_report=hex0x(phantom["report"]))
        case = self.double
        if case is None:
            return
        if case["stage"] == "issued" and "second" in case and case["second"].registered:
            case["stage"] = "registered"
        elif case["stage"] == "pledged":
            first, second = case["first"], case["second"]
            self.ctx.plant_for_regulator(
                "double_financing",
                f"one lot of {first.commodity.name} receipted twice: {second.warehouse.node.organisation} issues "
                f"a receipt on the inspection certificate of a receipt from {first.warehouse.node.organisation}, "
                f"and the holder pledges both receipts to {case['banks'][0].name} and {case['banks'][1].name}",
                receipts=[first.id, second.id], warehouses=[first.warehouse.node.name, second.warehouse.node.name],
                inspection_cert=hex0x(first.cert), commodity=first.commodity.name, quantity=first.quantity,
                holder=hex0x(first.holder.address), lenders=[hex0x(b.address) for b in case["banks"]],
                issued_block=case["issue"].block_number, pledged_block=case["pledges"][0].block_number)
            case["stage"] = "done"

    # ---------------------------------------------------------- planted, chain

    # Refused by the chain, each planted first in its block, where the shadow knows the state.
    PLANTS = ("double_pledge", "over_issuance", "transfer_while_pledged", "use_after_cancellation",
              "non_warehouse_issuance", "pledged_delivery", "early_enforcement", "use_after_expiry",
              "foreign_split", "cancel_without_request")

    def pledged_receipts(self, now: int) -> list[Receipt]:
        return [r for r in self.live() if r.lender is not None and r.holder.trader and now < r.expiry
                and now < r.pledge_end]

    def plant(self, kind: str, expected: str, ticket: Ticket, description: str, receipt: Receipt | None = None,
              **subject) -> bool:
        if receipt is not None:
            subject = {"receipt": receipt.id, "warehouse": receipt.warehouse.node.name,
                       "holder": hex0x(receipt.holder.address), **subject}
        self.ctx.plant(kind, expected, ticket, description, **subject)
        return True

    def plant_double_pledge(self, now: int) -> bool:
        pledged = self.pledged_receipts(now)
        if not pledged:
            return False
        receipt = self.rng.choice(pledged)
        others = [b for b in self.banks if b is not receipt.lender] or self.banks
        second = self.rng.choice(others)
        ticket = receipt.holder.node.send(self.contract.call("pledge", receipt.id, second.address, 1_000_000,
                                                             5 * DAY), signer=receipt.holder.account)
        return self.plant("double_pledge", "AlreadyPledged", ticket,
                          "a holder pledges a receipt already pledged, to a second lender", receipt,
                          lender=hex0x(receipt.lender.address), second_lender=hex0x(second.address))

    def plant_over_issuance(self, now: int) -> bool:
        stocks = [s for s in self.stocks if not s.blocked and not s.phantom and s.declared >= s.live]
        stock = self.rng.choice(stocks)
        commodity = stock.commodity
        quantity = stock.declared - stock.live + self.rng.randint(1, 4) * commodity.lot
        owner = self.rng.choice(self.traders)
        ticket = stock.warehouse.node.send(self.contract.call(
            "issue", commodity.key, bytes32(commodity.grade), quantity, KG, stock.warehouse.location,
            self.new_cert(stock.warehouse), now + 200 * DAY, owner.address))
        return self.plant("over_issuance", "ExceedsDeclaredStock", ticket,
                          "a warehouse issues a receipt beyond its declared stock", warehouse=stock.warehouse.node.name,
                          commodity=commodity.name, declared=stock.declared, live=stock.live, quantity=quantity)

    def plant_transfer_while_pledged(self, now: int) -> bool:
        pledged = self.pledged_receipts(now)
        if not pledged:
            return False
        receipt = self.rng.choice(pledged)
        to = self.other_trader(receipt.holder)
        ticket = receipt.holder.node.send(self.contract.call("transfer", receipt.id, to.address),
                                          signer=receipt.holder.account)
        return self.plant("transfer_while_pledged", "ReceiptPledged", ticket,
                          "a holder transfers a pledged receipt without the lender", receipt,
                          lender=hex0x(receipt.lender.address), to=hex0x(to.address))

    def plant_use_after_cancellation(self, now: int) -> bool:
        cancelled = [r for r in self.receipts.values() if r.dead == "cancelled"]
        if not cancelled:
            return False
        receipt = self.rng.choice(cancelled)
        holder = receipt.holder
        if holder.trader:
            call = self.contract.call("pledge", receipt.id, self.rng.choice(self.banks).address, 1_000_000, 5 * DAY)
            what = "pledges"
        else:
            call = self.contract.call("transfer", receipt.id, self.rng.choice(self.traders).address)
            what = "transfers"
        ticket = holder.node.send(call, signer=holder.account)
        return self.plant("use_after_cancellation", "ReceiptNotLive", ticket,
                          f"the last holder of a cancelled receipt {what} it as if the goods were still there",
                          receipt, cancelled_block=receipt.dead_block)

    def plant_non_warehouse_issuance(self, now: int) -> bool:
        broker = self.rng.choice(self.brokers)
        commodity = self.rng.choice(COMMODITIES)
        owner = self.rng.choice(self.traders)
        ticket = broker.send(self.contract.call(
            "issue", commodity.key, bytes32(commodity.grade), 2 * commodity.lot, KG, bytes32("Shanghai Minhang"),
            keccak(f"{self.ctx.seed}/{broker.name}/self-made certificate".encode()), now + 200 * DAY,
            owner.address))
        return self.plant("non_warehouse_issuance", "ROLE_MISSING", ticket,
                          "a futures company, not a designated delivery warehouse, issues a receipt",
                          node=broker.name, node_address=hex0x(broker.address), commodity=commodity.name)

    def plant_pledged_delivery(self, now: int) -> bool:
        pledged = [r for r in self.pledged_receipts(now) if r.registered]
        if not pledged:
            return False
        receipt = self.rng.choice(pledged)
        buyer = self.other_trader(receipt.holder)
        ticket = self.exchange.send(self.contract.call("deliver", receipt.id, buyer.address,
                                                       self.position_ref(receipt.commodity, now)))
        return self.plant("pledged_delivery", "ReceiptPledged", ticket,
                          "a pledged receipt is tendered for delivery against a futures position", receipt,
                          lender=hex0x(receipt.lender.address), buyer=hex0x(buyer.address))

    def plant_early_enforcement(self, now: int) -> bool:
        pledged = self.pledged_receipts(now)
        if not pledged:
            return False
        receipt = self.rng.choice(pledged)
        ticket = receipt.lender.node.send(self.contract.call("enforce", receipt.id))
        return self.plant("early_enforcement", "TermNotEnded", ticket,
                          "a lender seizes a pledged receipt before the loan's term has ended", receipt,
                          lender=hex0x(receipt.lender.address), term_end=receipt.pledge_end)

    def plant_use_after_expiry(self, now: int) -> bool:
        receipt = self.expired_bait
        if not receipt or now < receipt.expiry:
            return False
        to = self.other_trader(receipt.holder)
        ticket = receipt.holder.node.send(self.contract.call("transfer", receipt.id, to.address),
                                          signer=receipt.holder.account)
        receipt.reserved = False  # the issuing warehouse marks it expired later in this block
        return self.plant("use_after_expiry", "Expired", ticket,
                          "a holder transfers a receipt past its expiry, before anyone marked it expired",
                          receipt, expiry=receipt.expiry)

    def plant_foreign_split(self, now: int) -> bool:
        receipts = [r for r in self.live() if now < r.expiry and r.quantity >= 2 * r.commodity.lot]
        if not receipts:
            return False
        receipt = self.rng.choice(receipts)
        other = self.rng.choice([w for w in self.warehouses if w is not receipt.warehouse])
        lot = receipt.commodity.lot
        ticket = other.node.send(self.contract.call("split", receipt.id, [lot, receipt.quantity - lot]))
        return self.plant("foreign_split", "NotIssuingWarehouse", ticket,
                          "a warehouse splits a receipt that another warehouse issued", receipt,
                          caller=other.node.name)

    def plant_cancel_without_request(self, now: int) -> bool:
        receipts = [r for r in self.live() if now < r.expiry and r.lender is None and not r.cancel_requested]
        if not receipts:
            return False
        receipt = self.rng.choice(receipts)
        ticket = receipt.warehouse.node.send(self.contract.call("cancel", receipt.id))
        return self.plant("cancel_without_request", "CancellationNotRequested", ticket,
                          "a warehouse cancels a receipt its holder never asked to cancel", receipt)
