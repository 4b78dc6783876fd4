"""Violations the detectors never saw: `run scenario NAME --violations N` plants N violations drawn at
random, written against the rule catalogue (the rule ids and their semantics), not against any detector.

Each violation is drawn from the run's seed (random.Random(f"violations/{seed}/{market}")): its rule among
those that apply to the market, the business step it starts at, and its shape (look-through depth and
width, a vehicle re-declared after it entered, a cure later or none, how an ID number is written, how a
document goes wrong ...). A planter then carries it out through ordinary members' ordinary calls, calls the
chain accepts: an investor agent's declaration, a KYC agent's registration, a person's cash transfer, a
warehouse's declaration, the exchange's inspection, a company's filing. Each records its ground truth with
ctx.plant_for_regulator(rule id, description, **the rule's subject fields), values in the catalogue's
formats (asset "fund:N" / "company:0x<64 hex>", identities and companies 0x + 64 hex, a warehouse its
account address 0x + 40 hex, a commodity its name).

A scenario hooks in with three lines: `Violations(self, steps)` when its main loop starts, `run(step)`
between blocks of that loop (the planters see and update the scenario's own books, so its ordinary
business stays something the chain allows) and `pending` in the loop's condition (a story that cures a
breach later keeps the loop going). With N = 0 (the default) none of these sends or draws anything: the
run is the same, byte for byte.

Not planted: receipt_after_end. WarehouseReceipt refuses every call on a receipt past its expiry (Expired)
or once it is dead (ReceiptNotLive), register, transfer, delivery, pledge, release, enforcement, split,
merge, cancellation alike; only markExpired, which ends it, takes an expired receipt. No ordinary call can
use a receipt after its end."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, Callable, Iterator

from eth_hash.auto import keccak

from ledger.chain.node import Node
from ledger.chain.roles import Role
from ledger.supervision import idnumbers
from ledger.supervision.rules import IdentityKind
from ledger.tooling.abi import bytes32, hex0x
from ledger.trust.keys import Account

from .api import Option, ScenarioError, identity_of
from .governance import Governance
from .people import credit_code, person
from .schedule import Schedule

if TYPE_CHECKING:
    from .regional_equity import Company, RegionalEquity
    from .share_transfer import Fund, ShareTransfer
    from .warehouse_receipt import Stock, WarehouseReceipts

OPTION = Option("violations", 0, "violations planted at random for the regulator to find (ground truth only)")
GRACE = 60  # steps after the planned ones a violation may still wait for what it needs
PERSON, INSTITUTION, VEHICLE = IdentityKind.PERSON, IdentityKind.INSTITUTION, IdentityKind.VEHICLE
DAY = 86400
TWO_YEARS = 2 * 365 * DAY
WIDTH = 40  # investors per declaration when many are declared (the registry allows 50)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
Story = Iterator[None]


def spread(seed: int, total: int, markets: list[str]) -> dict[str, int]:
    """`total` violations over `markets` (scenario names): as even as can be, the remainder to markets
    drawn from the seed."""
    counts = {name: total // len(markets) for name in markets}
    for name in random.Random(f"violations/{seed}").sample(sorted(markets), total % len(markets)):
        counts[name] += 1
    return counts


# ------------------------------------------------------------------------------------------ ID numbers

def written_differently(number: str, how: str) -> str:
    """The same 18-digit ID number as another agent might have typed it."""
    if how == "lower_x":
        return number[:-1] + "x"
    if how == "spaces":
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    if how == "full_width":
        return number.translate(FULL_WIDTH)
    if how == "legacy15":  # the first-generation card: no century, no check digit
        return number[:6] + number[8:17]
    raise ValueError(how)


def feasible(number: str, how: str) -> bool:
    return (how != "lower_x" or number.endswith("X")) and (how != "legacy15" or number[6:8] == "19")


def flawed(number: str, flaw: str) -> str:
    """A number with one flaw that GB 11643 rejects."""
    if flaw == "check_digit":
        good = idnumbers.check_digit(number[:17])
        return number[:17] + next(c for c in "0123456789X" if c != good)
    if flaw == "birth_date":  # 30 February, with the check digit of the number as typed
        first17 = number[:10] + "0230" + number[14:17]
        return first17 + idnumbers.check_digit(first17)
    if flaw == "length":
        return number[:-1]  # one digit short: 17 characters
    raise ValueError(flaw)


# ------------------------------------------------------------------------------------------- planning

@dataclass(frozen=True)
class Kind:
    """A rule as a market plants it: its weight in the draw, and how a shape is drawn."""

    weight: int
    shape: Callable[[random.Random], dict]


@dataclass
class Draw:
    index: int
    kind: str
    step: int
    shape: dict
    entries: int = 1  # ground-truth entries it records


class Violations:
    """The violations planted in one run of one market's scenario."""

    def __init__(self, scenario: Any, steps: int, grace: int = GRACE) -> None:
        ctx = scenario.ctx
        self.count = int(ctx.options.get("violations", 0) or 0)
        self.steps = max(1, steps)
        self.grace = grace
        self.schedule = Schedule("violations planted for the regulator")
        self.last = -1
        self.market: Market | None = None
        if self.count:
            market = MARKETS[scenario.name]
            self.market = market(scenario, random.Random(f"violations/{ctx.seed}/{scenario.name}"))

    @property
    def pending(self) -> bool:
        return bool(self.count) and (self.market is None or not self.market.planned or self.schedule.pending)

    def times(self, start: int, end: int) -> list[int]:
        """For a scenario run on a timeline: the times of the steps, evenly over [start, end) (none for N = 0)."""
        if not self.count:
            return []
        times = [start + (end - start) * (2 * k + 1) // (2 * self.steps) for k in range(self.steps)]
        self.market.times = times
        return times

    def run(self, step: int) -> None:
        """Plants what is due at business step `step` (nothing for N = 0)."""
        if not self.count:
            return
        market = self.market
        if not market.planned:
            for draw in market.plan(self.count, self.steps):
                self.schedule.at(draw.step, market.planter(draw))
        self.last = market.step = step
        self.schedule.run(step)
        if self.schedule.pending and step >= self.steps + self.grace:
            raise self.schedule.give_up(f"still waiting {self.grace} steps after the last planned one")
        if not self.schedule.pending and market.recorded != self.count:
            raise ScenarioError(f"{market.recorded} violations recorded, {self.count} planned")

    def drain(self, step: Callable[[], None]) -> None:
        """Runs the violations still under way to their end, `step()` moving the business on between steps."""
        while self.pending:
            step()
            self.run(self.last + 1)


class Market:
    """The planters of one market: `kinds` to draw from, one planter (a story over business steps) each."""

    kinds: dict[str, Kind] = {}

    def __init__(self, scenario: Any, rng: random.Random) -> None:
        self.s = scenario
        self.ctx = scenario.ctx
        self.rng = rng
        self.planned = False
        self.recorded = 0
        self.step = 0
        self.times: list[int] = []

    # -------------------------------------------------------------- plan

    def capacity(self, kind: str) -> int | None:
        """How many plants of `kind` the run can hold (None: no limit)."""
        return None

    def group(self, kind: str) -> str:
        """Rules sharing one capacity (the stocks a receipt market can plant on) name one group."""
        return kind

    def plan(self, total: int, steps: int) -> list[Draw]:
        """`total` ground-truth entries: rules by weight (within what the market can hold), a step each,
        shapes; a shape recording two entries only while two are still to plant."""
        self.planned = True
        left = {self.group(k): self.capacity(k) for k in self.kinds}
        draws: list[Draw] = []
        while sum(d.entries for d in draws) < total:
            open_ = [k for k in self.kinds if left[self.group(k)] is None or left[self.group(k)] > 0]
            if not open_:
                raise ScenarioError(f"this run can hold no more violations than {len(draws)}: give it more "
                                    f"funds, companies or warehouses")
            kind = self.rng.choices(open_, [self.kinds[k].weight for k in open_])[0]
            if left[self.group(kind)] is not None:
                left[self.group(kind)] -= 1
            shape = self.kinds[kind].shape(self.rng)
            entries = 2 if shape.get("also") else 1
            if entries > total - sum(d.entries for d in draws):
                shape["also"], entries = None, 1
            draws.append(Draw(len(draws) + 1, kind, self.step_for(kind, shape, steps), shape, entries))
        return draws

    def step_for(self, kind: str, shape: dict, steps: int) -> int:
        return self.rng.randrange(steps)

    def planter(self, draw: Draw) -> Callable[[], object]:
        story = getattr(self, draw.kind)

        def plant() -> object:
            return story(draw)

        plant.__name__ = f"{draw.kind} #{draw.index}"
        return plant

    # ------------------------------------------------------------ record

    def record(self, kind: str, description: str, **subject) -> None:
        """Ground truth, and its id in the summary's "violations" (which plants are the generator's)."""
        planted = self.ctx.plant_for_regulator(kind, description, **subject)
        self.ctx.extra.setdefault("violations", []).append(planted.id)
        self.recorded += 1

    def label(self, draw: Draw, role: str) -> str:
        """A new identity's label (its id and private data come from it): one per market, draw and role."""
        return f"violation/{self.s.name}/{draw.index:03d}/{role}"

    def pick(self, items: list) -> Any:
        return self.rng.choice(items) if items else None


# ------------------------------------------------------------------------------------- investor markets

class InvestorMarket(Market):
    """What the fund and equity markets share: KYC onboarding, the sealed personal data, ID numbers."""

    agents: list[Node]

    def setup_people(self, people: list[tuple[bytes, dict]]) -> None:
        """The registered persons' ID numbers, normalised, to keep every new one distinct."""
        self.numbers = Counter(idnumbers.normalise(p["id_number"]) for _, p in people if p.get("id_number"))
        self.requalified: set[bytes] = set()

    def fresh_person(self, label: str, qualified: bool, ending_x: bool = False, born_19xx: bool = True) -> dict:
        """A new person's data, from the label's private stream, whose ID number is nobody else's."""
        rng = self.ctx.private_rng(label)
        while True:
            data = person(rng)
            number = data["id_number"]
            if (not ending_x or number.endswith("X")) and (not born_19xx or number[6:8] == "19") \
                    and not self.numbers[idnumbers.normalise(number)]:
                break
        self.numbers[idnumbers.normalise(data["id_number"])] += 1
        return data | self.finances(rng, qualified)

    def finances(self, rng: random.Random, qualified: bool) -> dict:
        raise NotImplementedError

    def register(self, agent: Node, label: str, kind: IdentityKind, personal: dict, until: int,
                 accounts: tuple[Account, ...] = ()) -> bytes:
        identity = identity_of(self.ctx.seed, label)
        self.s.kyc.register(agent, label, identity, kind, personal, until, accounts)
        return identity

    def organisation(self, label: str, kind: IdentityKind, net_assets: int | None = None) -> dict:
        rng = self.ctx.private_rng(label)
        suffix = "Investment Partnership (LP)" if kind == VEHICLE else "Asset Management Co., Ltd."
        name = f"Beijing {rng.choice(('Hengtai', 'Ruiyuan', 'Kunlun', 'Xinghai', 'Boyuan', 'Dingsheng'))} {suffix}"
        return {"name": name, "credit_code": credit_code(rng),
                "net_assets": net_assets if net_assets is not None else rng.choice((12, 20, 50, 80)) * 1_000_000}

    @staticmethod
    def kyc_shape(rng: random.Random) -> dict:
        return {"who": rng.choice(("person", "person", "institution", "requalify")),
                "flaw": rng.choice(("assets", "missing"))}

    @staticmethod
    def split_shape(rng: random.Random) -> dict:
        return {"how": rng.choice(("lower_x", "spaces", "full_width", "legacy15")),
                "who": rng.choice(("existing", "new")), "gap": rng.randint(0, 3),
                "name": rng.choice(("same", "upper", "no_space"))}

    @staticmethod
    def invalid_shape(rng: random.Random) -> dict:
        return {"flaw": rng.choice(("check_digit", "birth_date", "length")), "qualified": rng.random() < 0.6}

    # ------------------------------------------------------------ planters

    def split_identity(self, draw: Draw) -> Story:
        """One person onboarded twice, by two agents, the ID number written differently the second time."""
        how = draw.shape["how"]
        original = self.existing_person(how) if draw.shape["who"] == "existing" else None
        if original is None:
            label = self.label(draw, "person")
            data = self.fresh_person(label, qualified=True, ending_x=how == "lower_x")
            first_agent = self.pick(self.agents)
            identity = self.register(first_agent, label, PERSON, data, self.qualified_until())
            until = self.qualified_until()
            for _ in range(draw.shape["gap"]):
                yield
        else:
            identity, data, first_agent, until = original
        second_agent = self.pick([a for a in self.agents if a is not first_agent])
        name = {"same": data["name"], "upper": data["name"].upper(),
                "no_space": data["name"].replace(" ", "")}[draw.shape["name"]]
        twin_data = dict(data, name=name, id_number=written_differently(data["id_number"], how))
        twin = self.register(second_agent, self.label(draw, "twin"), PERSON, twin_data, until)
        self.record("split_identity",
                    f"one person onboarded twice, by {first_agent.name} and {second_agent.name}, the ID number "
                    f"written {how.replace('_', ' ')} the second time",
                    identities=sorted([hex0x(identity), hex0x(twin)]))

    def invalid_id_number(self, draw: Draw) -> None:
        label = self.label(draw, "person")
        qualified = draw.shape["qualified"]
        data = self.fresh_person(label, qualified)
        data["id_number"] = flawed(data["id_number"], draw.shape["flaw"])
        if idnumbers.problem(data["id_number"]) is None:
            raise ScenarioError(f"the flawed ID number {data['id_number']} passes GB 11643")
        agent = self.pick(self.agents)
        identity = self.register(agent, label, PERSON, data, self.qualified_until() if qualified else 0)
        self.record("invalid_id_number",
                    f"{agent.name} onboards a person whose ID number fails GB 11643 ({draw.shape['flaw']})",
                    identity=hex0x(identity))

    def kyc_against_data(self, draw: Draw) -> None:
        """A KYC agent registers (or re-qualifies) someone qualified whose own sealed data says otherwise."""
        who, label = draw.shape["who"], self.label(draw, "investor")
        if who == "requalify" and (found := self.requalifiable()):
            identity, agent = found
            self.requalified.add(identity)
            self.ctx.expect_ok(agent.send(self.s.identities.setQualification(identity, self.qualified_until())))
            what = "re-qualifies an investor it had found unqualified"
        elif who == "institution":
            agent = self.pick(self.agents)
            identity = self.register(agent, label, INSTITUTION,
                                     self.organisation(label, INSTITUTION, self.rng.randint(2, 9) * 1_000_000),
                                     self.qualified_until())
            what = "registers an institution qualified with net assets under 10,000,000 CNY"
        else:
            agent = self.pick(self.agents)
            data = self.fresh_person(label, qualified=False)
            if draw.shape["flaw"] == "missing":
                data = {k: v for k, v in data.items() if k in ("name", "id_number")}
            identity = self.register(agent, label, PERSON, data, self.qualified_until())
            what = "registers a person qualified whose sealed financial data is under the thresholds"
        self.record("kyc_against_data", f"{agent.name} {what}", identity=hex0x(identity))

    # -------------------------------------------------------------- market

    def qualified_until(self) -> int:
        raise NotImplementedError

    def existing_person(self, how: str) -> tuple[bytes, dict, Node, int] | None:
        raise NotImplementedError

    def requalifiable(self) -> tuple[bytes, Node] | None:
        raise NotImplementedError


def _vehicle_declared(market: "InvestorMarket", draw: Draw, agent: Node, people: list[bytes], tag: str) -> list[bytes]:
    """`people` as one declaration's investors: themselves when few, else sub-vehicles of WIDTH each."""
    if len(people) <= WIDTH:
        return list(people)
    groups = []
    for g, start in enumerate(range(0, len(people), WIDTH)):
        label = market.label(draw, f"{tag}{g + 1}")
        sub = market.register(agent, label, VEHICLE, market.organisation(label, VEHICLE), market.qualified_until())
        market.declare(agent, sub, people[start:start + WIDTH])
        groups.append(sub)
    return groups


def _nest(market: "InvestorMarket", draw: Draw, agent: Node, top: list[bytes], newcomer: bytes, depth: int,
          width: int) -> list[bytes]:
    """The vehicle's new investors: its own `top` investors, spread over `depth` levels of new sub-vehicles
    (up to `width` of them kept at each level), `newcomer` at the deepest. Nobody is added but `newcomer`."""
    levels: list[list[bytes]] = []
    rest = list(top)
    for _ in range(depth):
        keep, rest = rest[:width], rest[width:]
        levels.append(keep)
    levels[-1] = levels[-1] + rest + [newcomer]
    inner: bytes | None = None
    for level in range(depth - 1, 0, -1):
        label = market.label(draw, f"level{level + 1}")
        sub = market.register(agent, label, VEHICLE, market.organisation(label, VEHICLE), market.qualified_until())
        market.declare(agent, sub, levels[level] + ([inner] if inner else []))
        inner = sub
    return levels[0] + ([inner] if inner else [])


# -------------------------------------------------------------------------------------------- funds

def _fund_qualified_shape(rng: random.Random) -> dict:
    return {"via": rng.choice(("holding", "newcomer")), "depth": rng.randint(1, 3), "width": rng.randint(0, 2),
            "after": rng.randint(0, 3), "person": rng.choice(("registered", "new"))}


def _cap_shape(rng: random.Random) -> dict:
    return {"via": rng.choice(("holding", "newcomer")), "over": rng.randint(1, 5), "cure": rng.random() < 0.5,
            "cure_after": rng.randint(1, 4), "after": rng.randint(0, 2)}


def _pooling_shape(rng: random.Random) -> dict:
    return {"persons": rng.randint(2, 5), "delay": rng.randint(0, 2), "each": rng.choice((2, 3, 5))}


class FundMarket(InvestorMarket):
    """share_transfer's private funds: look-through of vehicles, investor caps, pooling, KYC."""

    kinds = {
        "qualified_investor": Kind(3, _fund_qualified_shape),
        "investor_cap": Kind(2, _cap_shape),
        "split_identity": Kind(2, InvestorMarket.split_shape),
        "invalid_id_number": Kind(1, InvestorMarket.invalid_shape),
        "kyc_against_data": Kind(2, InvestorMarket.kyc_shape),
        "pooling_institution": Kind(2, _pooling_shape),
    }

    def __init__(self, scenario: "ShareTransfer", rng: random.Random) -> None:
        super().__init__(scenario, rng)
        from . import share_transfer
        self.st = share_transfer
        self.ready = False

    def capacity(self, kind: str) -> int | None:
        """A cap breach per small transferable fund; a few unqualified entrants per transferable fund."""
        funds = [i for i in range(self.s.opts["funds"]) if i != 1]
        if kind == "investor_cap":
            return sum(1 for i in funds if self.st.CAP_BY_FORM[i % 4] < 100)
        if kind == "qualified_investor":
            return 3 * len(funds)
        return None

    def setup(self) -> None:
        """The scenario's books, read once its main loop has started."""
        if self.ready:
            return
        self.ready = True
        s, st = self.s, self.st
        self.agents = list(s.agents)
        self.until = {i.id: (st.GENESIS_TIME + 2 * 365 * st.DAY if i.qualified else 0) for i in s.investors}
        self.kind = {i.id: i.kind for i in s.investors}
        self.declared = {i.id: [b.id for b in i.backers] for i in s.investors if i.backers}
        self.by_id = {i.id: i for i in s.investors}
        self.untouchable = self.tree(s.deep.id) | self.tree(s.tainted.id)  # the chain's own planted refusals
        self.setup_people([(i.id, i.personal) for i in s.investors if i.kind == PERSON])
        self.capped: set[int] = set()  # funds with a cap breach planted (one each)
        self.breached: set[int] = set()  # funds over their cap now, by a planted breach
        self.for_good: set[int] = set()  # ... that is never cured
        self.entrants: Counter = Counter()  # fund -> unqualified entrants planted (one look-through investor each)
        self.held: set[tuple[int, bytes]] = set()  # (fund, vehicle) kept out of trading
        self.claims: dict[tuple[int, Any], int] = {}  # (fund, newcomer) -> units it will take there
        self.used: set[bytes] = set()  # unqualified persons put behind a vehicle

    # -------------------------------------------------------- the books

    def qualified_until(self) -> int:
        return self.st.GENESIS_TIME + 2 * 365 * self.st.DAY

    def finances(self, rng: random.Random, qualified: bool) -> dict:
        if qualified:
            return {"financial_assets": rng.choice((3, 4, 5, 8, 12, 30)) * 1_000_000}
        return {"financial_assets": rng.choice((200_000, 800_000, 1_500_000, 2_500_000)),
                "average_income": rng.choice((120_000, 260_000, 380_000))}

    def register(self, agent: Node, label: str, kind: IdentityKind, personal: dict, until: int,
                 accounts: tuple[Account, ...] = ()) -> bytes:
        identity = super().register(agent, label, kind, personal, until, accounts)
        self.until[identity], self.kind[identity] = until, kind
        return identity

    def declare(self, agent: Node, vehicle: bytes, investors: list[bytes]) -> None:
        self.s.kyc.declare(agent, vehicle, investors)
        self.declared[vehicle] = list(investors)

    def tree(self, identity: bytes) -> set[bytes]:
        """`identity` and every identity it is looked through to, vehicles included."""
        seen, stack = set(), [identity]
        while stack:
            x = stack.pop()
            if x not in seen:
                seen.add(x)
                stack.extend(self.declared.get(x, ()))
        return seen

    def expand(self, ids) -> set[bytes]:
        return {x for i in ids for x in self.tree(i) if not self.declared.get(x)}

    def holders(self, fund: "Fund") -> set:
        return {self.s.owners[a][0] for a in fund.holdings}

    def members(self, fund: "Fund", leaving: bool = False) -> set[bytes]:
        """The fund's look-through investors now; with `leaving`, without those who may sell out in this block."""
        holders = self.holders(fund)
        if leaving:
            holders = {h for h in holders if h not in fund.selling or (fund.id, h.id) in self.held}
        return self.expand(h.id for h in holders)

    def most(self, fund: "Fund") -> int:
        """The most look-through investors the fund may have at the end of this block."""
        return len(self.members(fund) | self.expand(i.id for i in fund.buying_in))

    def room(self, fund: "Fund", buyer=None) -> int:
        """Holder units the chain lets newcomers take in `fund`, keeping two spare: less what the pending
        purchases take and what newcomers on their way to it (but `buyer`) claimed."""
        claimed = sum(units for (f, who), units in self.claims.items() if f == fund.id and who is not buyer)
        return fund.cap - 2 - fund.units - sum(i.units for i in fund.buying_in) - claimed - self.entrants[fund.id]

    def idle(self, fund: "Fund", investor) -> bool:
        return (investor not in fund.buying and not any(investor in f.buying for f in self.s.funds)
                and (investor not in fund.selling or (fund.id, investor.id) in self.held))

    def funds_of(self, vehicle: bytes) -> list["Fund"]:
        return [f for f in self.s.funds if any(vehicle in self.tree(h.id) for h in self.holders(f))]

    def hold(self, fund: "Fund", investor) -> None:
        """Keeps the vehicle out of trading from now on: its holding stays as planted."""
        self.held.add((fund.id, investor.id))
        fund.selling.add(investor)
        if investor in getattr(self.s, "buyers", []):
            self.s.buyers.remove(investor)

    def holding_vehicle(self, allowed: Callable[["Fund"], bool]) -> tuple[Any, "Fund"] | None:
        """A vehicle of the scenario's that holds exactly one fund (directly), idle, declared by nobody."""
        inside = {x for v, inv in self.declared.items() for x in inv}
        candidates = []
        for investor in self.s.investors:
            if investor.kind != VEHICLE or investor.id not in self.declared or investor.id in self.untouchable \
                    or investor.id in inside:
                continue
            funds = self.funds_of(investor.id)
            if len(funds) == 1 and allowed(funds[0]) and funds[0].stake(investor) and self.idle(funds[0], investor):
                candidates.append((investor, funds[0]))
        return self.pick(candidates)

    def transferable(self, allowed: Callable[["Fund"], bool]) -> "Fund | None":
        return self.pick([f for f in self.s.transferable_funds if allowed(f)])

    # ---------------------------------------------------------- entering

    def newcomer(self, draw: Draw, kind: IdentityKind, label: str, personal: dict, mint: bool = True):
        """A new investor of the platform's (an Investor of the scenario's), its one account linked."""
        investor = self.st.Investor(label, kind, True, personal, identity_of(self.ctx.seed, label))
        investor.agent = self.pick(self.agents)
        investor.accounts = [investor.agent.hold(self.s.chain.client_account(f"{label}/0"))]
        self.s.owners.update((a.address, (investor, a)) for a in investor.accounts)
        self.until[investor.id], self.kind[investor.id] = self.qualified_until(), kind
        if mint:
            self.s.register(investor)
        else:
            self.s.kyc.register(investor.agent, label, investor.id, kind, personal, self.qualified_until())
            for account in investor.accounts:
                self.s.kyc.link(investor.agent, account, investor.id)
                self.ctx.expect_ok(investor.agent.send(self.s.cash.approve(self.s.shares.address, self.st.UNLIMITED),
                                                       signer=account))
        return investor

    def buy_in(self, fund: "Fund", buyer, budget: int | None = None, hold: bool = False) -> bool:
        """An ordinary purchase by `buyer` from an idle holder, approved and settled in the rounds after
        (the scenario's own transfer story); False when nobody can sell it one now. Within the chain's cap
        by two holder units (not the scenario's headroom, which its own trading keeps)."""
        if buyer.units > self.room(fund, buyer):
            return False
        st = self.st
        for _ in range(20):
            picked = self.s.pick_seller(fund)
            if picked is None:
                return False
            seller, account = picked
            if seller is buyer or (fund.id, seller.id) in self.held:
                continue
            held, stake = fund.holdings[account.address], fund.stake(seller)
            whole = held >= st.MIN_INVESTMENT and (stake == held or stake - held >= st.MIN_INVESTMENT)
            amounts = [held] if whole else []
            amounts += [k * 100_000 for k in range(10, held // 100_000) if stake - k * 100_000 >= st.MIN_INVESTMENT][:5]
            amounts = [a for a in amounts if budget is None or a * 120 // 100 <= budget]
            if amounts:
                self.s.new_requests.append(self.s.request(fund, seller, account, buyer, self.rng.choice(amounts)))
                self.claims.pop((fund.id, buyer), None)  # among the pending purchases now
                if hold:  # never a seller, not even between its purchase settling and the next step
                    self.hold(fund, buyer)
                return True
        return False

    def enter(self, draw: Draw, allowed: Callable[["Fund"], bool], backers: int,
              claim: Callable[["Fund"], None]) -> Iterator[None]:
        """A new partnership, declaring `backers` investors already in the fund, buys into a transferable
        fund (`claim`ed at once, so that no other violation under way picks it against its rules); returns
        (vehicle, fund) once the purchase has settled."""
        while not (fund := self.transferable(lambda f: allowed(f) and self.room(f) >= backers)):
            yield
        claim(fund)
        label = self.label(draw, "partnership")
        inside = sorted(i for i in self.members(fund, leaving=True) if i in self.by_id and self.kind.get(i) == PERSON
                        and self.until.get(i, 0) > self.s.chain.time + DAY and i not in self.used)
        vehicle = self.newcomer(draw, VEHICLE, label, self.organisation(label, VEHICLE))
        self.claims[fund.id, vehicle] = backers
        self.s.declare(vehicle, [self.by_id[i] for i in self.rng.sample(inside, min(len(inside), backers))]
                       or [self.pick([i for i in self.s.investors if i.kind == PERSON and i.qualified])])
        self.declared[vehicle.id] = [b.id for b in vehicle.backers]
        yield
        while not self.buy_in(fund, vehicle, hold=True):
            yield
        while not fund.stake(vehicle):
            yield
        return vehicle, fund

    # ------------------------------------------------------------ planters

    def qualified_investor(self, draw: Draw) -> Story:
        """An unqualified person added behind a vehicle after it entered a fund, 1 to 3 levels deep."""
        self.setup()
        shape = draw.shape

        def allowed(f: "Fund") -> bool:
            # A few per fund, within its cap; any number in a fund whose planted breach is never cured (the
            # one cap finding per fund stays one).
            return (f.id not in self.breached and self.entrants[f.id] < 3) or f.id in self.for_good

        def claim(f: "Fund") -> None:  # the unqualified entrant's place, taken now
            self.entrants[f.id] += 1

        found = self.holding_vehicle(allowed) if shape["via"] == "holding" else None
        if found:
            vehicle, fund = found
            self.hold(fund, vehicle)
            claim(fund)
        else:
            vehicle, fund = yield from self.enter(
                draw, lambda f: allowed(f) and (f.id in self.for_good or f.cap - self.most(f) > 4), 2, claim)
        for _ in range(shape["after"]):
            yield
        while (self.most(fund) + 1 > fund.cap and fund.id not in self.for_good) or not fund.stake(vehicle):
            if not fund.stake(vehicle):
                raise ScenarioError(f"vehicle {vehicle.label} left fund {fund.id} while held")
            yield
        members = self.members(fund)
        unqualified = self.unqualified(members)
        if shape["person"] == "new" or unqualified is None:
            label = self.label(draw, "person")
            agent = self.pick(self.agents)
            unqualified = self.register(agent, label, PERSON, self.fresh_person(label, qualified=False), 0)
        self.used.add(unqualified)
        top = list(self.declared[vehicle.id])
        self.declare(vehicle.agent, vehicle.id,
                     _nest(self, draw, vehicle.agent, top, unqualified, shape["depth"], shape["width"]))
        self.record("qualified_investor",
                    f"{vehicle.personal['name']} re-declares its investors after entering fund {fund.id}: an "
                    f"unqualified person is now behind it, {shape['depth']} level(s) down",
                    asset=f"fund:{fund.id}", identity=hex0x(unqualified))

    def unqualified(self, members: set[bytes]) -> bytes | None:
        people = [p.id for p in self.s.unqualified_people[1:] if p.id not in members and p.id not in self.used
                  and p.id not in self.requalified]
        return self.pick(people)

    def investor_cap(self, draw: Draw) -> Story:
        """A vehicle re-declared after it entered a small fund, with enough new investors behind it to take
        the fund past its cap; cured later by declaring its old investors again, or never."""
        self.setup()
        shape = draw.shape

        def allowed(f: "Fund") -> bool:
            return f.id not in self.capped and f.cap < 100

        def claim(f: "Fund") -> None:  # one breach per fund, and no unqualified entrant planted meanwhile
            self.capped.add(f.id)
            self.breached.add(f.id)
            if not shape["cure"]:
                self.for_good.add(f.id)

        found = self.holding_vehicle(allowed) if shape["via"] == "holding" else None
        if found:
            vehicle, fund = found
            self.hold(fund, vehicle)
            claim(fund)
        else:
            vehicle, fund = yield from self.enter(draw, allowed, 2, claim)
        for _ in range(shape["after"]):
            yield
        base = self.members(fund, leaving=True)
        everyone = self.members(fund)
        need = fund.cap - len(base) + shape["over"]
        pool = sorted(i.id for i in self.s.investors if i.kind == PERSON and i.qualified and i.id not in everyone
                      and i.id not in self.untouchable)
        people = self.rng.sample(pool, min(len(pool), need))
        for k in range(need - len(people)):
            label = self.label(draw, f"investor{k + 1}")
            people.append(self.register(vehicle.agent, label, PERSON, self.fresh_person(label, qualified=True),
                                        self.qualified_until()))
        before = list(self.declared[vehicle.id])
        self.declare(vehicle.agent, vehicle.id,
                     before + _vehicle_declared(self, draw, vehicle.agent, people, "group"))
        self.record("investor_cap",
                    f"{vehicle.personal['name']} re-declares its investors after entering fund {fund.id}, "
                    f"{len(people)} more: {len(base) + len(people)} or more investors after look-through, cap "
                    f"{fund.cap}" + (f"; cured {shape['cure_after']} round(s) later" if shape["cure"] else ""),
                    asset=f"fund:{fund.id}")
        if shape["cure"]:
            for _ in range(shape["cure_after"]):
                yield
            self.declare(vehicle.agent, vehicle.id, before)
            self.breached.discard(fund.id)

    def pooling_institution(self, draw: Draw) -> Story:
        """An institution paid directly by natural persons, which then buys fund shares."""
        self.setup()
        s, shape = self.s, draw.shape
        label = self.label(draw, "institution")
        institution = self.newcomer(draw, INSTITUTION, label, self.organisation(label, INSTITUTION), mint=False)
        payers = [i for i in s.investors if i.kind == PERSON and i.accounts
                  and s.cash.balanceOf(i.accounts[0].address) >= 20_000_000]
        each = shape["each"] * 1_000_000
        for payer in self.rng.sample(payers, shape["persons"]):
            self.ctx.expect_ok(payer.agent.send(s.cash.transfer(institution.accounts[0].address, each),
                                                signer=payer.accounts[0]))
        for _ in range(shape["delay"] + 1):
            yield
        budget = each * shape["persons"]
        while not (fund := self.transferable(lambda f: f.cap - self.most(f) > 2)) \
                or not self.buy_in(fund, institution, budget):
            yield
        while not fund.stake(institution):
            yield
        self.record("pooling_institution",
                    f"{institution.personal['name']} receives cash directly from {shape['persons']} natural "
                    f"persons, then buys shares of fund {fund.id}",
                    identity=hex0x(institution.id), asset=f"fund:{fund.id}")

    def split_identity(self, draw: Draw) -> Story:
        self.setup()
        return (yield from super().split_identity(draw))

    def invalid_id_number(self, draw: Draw) -> None:
        self.setup()
        super().invalid_id_number(draw)

    def kyc_against_data(self, draw: Draw) -> None:
        self.setup()
        super().kyc_against_data(draw)

    def existing_person(self, how: str) -> tuple[bytes, dict, Node, int] | None:
        candidates = [i for i in self.s.investors if i.kind == PERSON
                      and self.numbers[idnumbers.normalise(i.personal["id_number"])] == 1
                      and idnumbers.problem(i.personal["id_number"]) is None and feasible(i.personal["id_number"], how)]
        found = self.pick(candidates)
        if found is None:
            return None
        self.numbers[idnumbers.normalise(found.personal["id_number"])] += 1
        return found.id, found.personal, found.agent, self.until[found.id]

    def requalifiable(self) -> tuple[bytes, Node] | None:
        """An unqualified person the scenario can spare (it keeps two for its planted refusals)."""
        people = [p for p in self.s.unqualified_people[1:] if p.id not in self.used]
        if len(people) <= 2:
            return None
        found = self.pick(people)
        self.s.unqualified_people.remove(found)
        return found.id, found.agent


# ------------------------------------------------------------------------------------------- equity

def _equity_qualified_shape(rng: random.Random) -> dict:
    return {"depth": rng.randint(1, 3), "width": rng.randint(0, 2), "after": rng.randint(0, 3),
            "person": rng.choice(("registered", "new")), "backers": rng.randint(2, 3)}


def _equity_cap_shape(rng: random.Random) -> dict:
    return {"via": rng.choice(("nominee", "vehicle", "redeclared")), "over": rng.randint(1, 5),
            "cure": rng.random() < 0.5, "cure_after": rng.randint(1, 4), "after": rng.randint(1, 3)}


def _disclosure_shape(rng: random.Random) -> dict:
    return {"report": rng.choice(("annual", "semi-annual")), "due_in": rng.randint(5, 30),
            "late_by": rng.randint(2, 30), "flagged": rng.random() < 0.5}


def _document_shape(rng: random.Random) -> dict:
    return {"how": rng.choice(("changed", "deleted", "outside")), "target": rng.choice(("filed", "own")),
            "after": rng.randint(0, 3), "uri": rng.randrange(4)}


NEW_COMPANIES = (
    ("BJHT", "Beijing Huatong Intelligent Manufacturing Co., Ltd."), ("YZLAB", "Yizhuang Life Sciences Co., Ltd."),
    ("MTGDIG", "Mentougou Digital Media Co., Ltd."), ("PGFOOD", "Pinggu Green Food Co., Ltd."),
    ("MYWATER", "Miyun Water Technology Co., Ltd."), ("YQENER", "Yanqing New Energy Co., Ltd."),
)
OUTSIDE_URIS = ("../outside.txt", "{chain}/documents/../../outside.txt",
                "{chain}/documents/{code}/../../../../{code}-notice.txt", "{chain}/notices/{code}/{name}.txt")


class EquityMarket(InvestorMarket):
    """regional_equity: holders after look-through (vehicles, nominees), KYC, disclosure."""

    kinds = {
        "investor_cap": Kind(2, _equity_cap_shape),
        "qualified_investor": Kind(2, _equity_qualified_shape),
        "kyc_against_data": Kind(2, InvestorMarket.kyc_shape),
        "split_identity": Kind(1, InvestorMarket.split_shape),
        "invalid_id_number": Kind(1, InvestorMarket.invalid_shape),
        "late_disclosure": Kind(2, _disclosure_shape),
        "missed_disclosure": Kind(2, _disclosure_shape),
        "document_mismatch": Kind(2, _document_shape),
    }
    def __init__(self, scenario: "RegionalEquity", rng: random.Random) -> None:
        super().__init__(scenario, rng)
        from . import regional_equity
        self.re = regional_equity
        self.ready = False

    def capacity(self, kind: str) -> int | None:
        if kind == "investor_cap":
            return self.s.opts["companies"] - 1  # not the nominee company, whose cap the scenario breaks
        return None

    def step_for(self, kind: str, shape: dict, steps: int) -> int:
        """A disclosure planted early enough that its deadline (and the late filing) fall inside the run."""
        if kind in ("late_disclosure", "missed_disclosure"):
            room = [k for k, t in enumerate(self.times) if t + (shape["due_in"] + shape["late_by"] + 3) * DAY
                    < self.times[-1]]
            return self.rng.choice(room or [0])
        return self.rng.randrange(steps)

    def setup(self) -> None:
        if self.ready:
            return
        self.ready = True
        s = self.s
        self.agents = list(s.agents)
        self.declared: dict[bytes, list[bytes]] = {}
        self.nominees: dict[bytes, set[bytes]] = {}  # my nominees -> the people they hold for
        self.setup_people([(i.id, i.personal) for i in s.investors if i.kind == PERSON])
        self.refs = count(1)
        self.listed = count(1)
        self.capped: set[bytes] = set()
        self.used: set[bytes] = set()
        self.spoilt: set[tuple[bytes, str, int]] = {(s.tampered.id, self.re.ANNUAL_REPORT, 1)}
        self.behind = {n: {bytes.fromhex(b["identity"][2:]) for b in people} for n, people in s.behind.items()}
        self.spared = {bytes.fromhex(b["identity"][2:]) for people in s.behind.values() for b in people}

    # -------------------------------------------------------- the books

    def qualified_until(self) -> int:
        return self.re.GENESIS_TIME + 2 * self.re.YEAR

    def finances(self, rng: random.Random, qualified: bool) -> dict:
        if qualified:
            return {"financial_assets": rng.choice((5, 8, 10, 20, 50)) * 100_000,
                    "experience_years": rng.randint(2, 15)}
        if rng.random() < 0.5:
            return {"financial_assets": rng.choice((1, 2, 3, 4)) * 100_000, "experience_years": rng.randint(2, 8)}
        return {"financial_assets": rng.choice((6, 10, 30)) * 100_000, "experience_years": rng.randint(0, 1)}

    def register(self, agent: Node, label: str, kind: IdentityKind, personal: dict, until: int,
                 accounts: tuple[Account, ...] = ()) -> bytes:
        identity = super().register(agent, label, kind, personal, until, accounts)
        for account in accounts:
            self.s.ok(self.s.depository, self.s.linkage.linkAccount(
                account.address, bytes32(f"CSDC-BJ-V{next(self.refs):08d}")))
        return identity

    def declare(self, agent: Node, vehicle: bytes, investors: list[bytes]) -> None:
        self.s.kyc.declare(agent, vehicle, investors)
        self.declared[vehicle] = list(investors)

    def expand(self, identity: bytes, seen: set[bytes] | None = None) -> set[bytes]:
        seen = seen if seen is not None else set()
        if identity in seen:
            return set()
        seen.add(identity)
        if identity in self.nominees:
            return set(self.nominees[identity])
        if identity in self.declared:
            return {x for i in self.declared[identity] for x in self.expand(i, seen)}
        return {identity}

    def members(self, company: "Company") -> set[bytes]:
        out: set[bytes] = set()
        for holder in company.holders:
            out |= self.behind[holder] if company is self.s.nominee_company and holder in self.behind \
                else self.expand(holder)
        return out

    def companies(self, allowed: Callable[["Company"], bool] = lambda c: True) -> list["Company"]:
        s = self.s
        return [c for c in s.companies if c is not s.nominee_company and c.offering is None and allowed(c)
                and any(i not in s.no_sell for i in c.holders)]

    def qualified_people(self, exclude: set[bytes]) -> list[bytes]:
        """Registered persons qualified to the end of the run, other than `exclude`."""
        return sorted(i.id for i in self.s.investors if i.kind == PERSON and i.role != "nominee"
                      and i.qualified_until >= self.qualified_until() and i.id not in exclude)

    def onboard(self, label: str, kind: IdentityKind, personal: dict) -> "Member":
        agent = self.pick(self.agents)
        account = agent.hold(self.s.chain.client_account(f"{label}/0"))
        identity = self.register(agent, label, kind, personal, self.qualified_until(), (account,))
        self.s.chain.commit()
        return Member(label, identity, personal["name"], agent, account)

    def buy_in(self, company: "Company", buyer: "Member", whole: bool = False) -> None:
        """An ordinary sale to `buyer` by a holder the scenario trades for: part of a holding while the
        company has room for a holder more (and not `whole`), else all of it."""
        s = self.s
        seller = s.by_id[self.pick(sorted(i for i in company.holders if i not in s.no_sell))]
        balance = company.holders[seller.id]
        if not whole and len(company.holders) < s.cap and balance >= 200 and self.rng.random() < 0.6:
            amount = self.rng.randrange(1, balance // 100) * 100
        else:
            amount = balance
        s.ok(seller.agent, s.market.transferShares(company.id, buyer.account.address, amount), seller.accounts[0])
        company.holders[seller.id] -= amount
        if not company.holders[seller.id]:
            del company.holders[seller.id]
        company.holders[buyer.id] = amount
        s.no_sell.add(buyer.id)
        s.chain.commit()

    def sell_out(self, company: "Company", holder: "Member") -> None:
        """`holder` sells its whole holding to an ordinary qualified investor."""
        s = self.s
        buyer = self.pick([i for i in s.buyers(s.chain.time) if i.role == "ordinary"])
        amount = company.holders.pop(holder.id)
        s.ok(holder.agent, s.market.transferShares(company.id, buyer.accounts[0].address, amount), holder.account)
        company.holders[buyer.id] = company.holders.get(buyer.id, 0) + amount
        s.chain.commit()

    # ------------------------------------------------------------ planters

    def backers(self, company: "Company", most: int) -> list[bytes]:
        """Up to `most` ordinary holders of the company to declare behind a partnership, kept on the register
        from now on (so the partnership never adds anyone to the count); one seller is always left."""
        s = self.s
        sellable = sorted(i for i in company.holders if i not in s.no_sell)
        ordinary = [i for i in sellable if s.by_id[i].role == "ordinary"]
        chosen = self.rng.sample(ordinary, max(0, min(most, len(ordinary), len(sellable) - 1)))
        s.no_sell.update(chosen)
        return chosen

    def with_backers(self, company: "Company") -> bool:
        s = self.s
        sellable = [i for i in company.holders if i not in s.no_sell]
        return len(sellable) >= 2 and any(s.by_id[i].role == "ordinary" for i in sellable)

    def qualified_investor(self, draw: Draw) -> Story:
        """A partnership buys in declaring holders of the company; later it re-declares, an unqualified
        person now behind it, 1 to 3 levels down."""
        self.setup()
        shape, s = draw.shape, self.s
        # Within its cap, or already planted past it (the one cap finding per company stays one).
        while not (company := self.pick(self.companies(
                lambda c: (len(self.members(c)) <= s.cap or c.id in self.capped) and self.with_backers(c)))):
            yield
        backers = self.backers(company, shape["backers"])
        label = self.label(draw, "partnership")
        vehicle = self.onboard(label, VEHICLE, self.organisation(label, VEHICLE))
        self.declare(vehicle.agent, vehicle.id, backers)
        # A full company: the partnership buys a whole holding, so that the person added later fits.
        self.buy_in(company, vehicle, whole=len(self.members(company)) >= s.cap)
        for _ in range(shape["after"]):
            yield
        while len(self.members(company)) + 1 > s.cap and company.id not in self.capped:
            yield
        members = self.members(company)
        person = self.pick([i.id for i in s.unqualified if i.id not in members and i.id not in self.used
                            and i.id not in self.requalified and i.id not in self.spared])
        if shape["person"] == "new" or person is None:
            plabel = self.label(draw, "person")
            person = self.register(self.pick(self.agents), plabel, PERSON, self.fresh_person(plabel, False), 0)
        self.used.add(person)
        self.declare(vehicle.agent, vehicle.id,
                     _nest(self, draw, vehicle.agent, backers, person, shape["depth"], shape["width"]))
        s.chain.commit()
        self.record("qualified_investor",
                    f"{vehicle.name} re-declares its investors after buying shares of {company.code}: an "
                    f"unqualified person is now behind it, {shape['depth']} level(s) down",
                    asset=f"company:{hex0x(company.id)}", identity=hex0x(person))

    def investor_cap(self, draw: Draw) -> Story:
        """A nominee or a partnership holding for more people than the company has room for: past its
        holder cap after look-through (once the nominee's declaration is sealed, the partnership declares,
        or re-declares after entering); cured later by selling out (or re-declaring), or never."""
        self.setup()
        shape, s = draw.shape, self.s
        via = shape["via"]
        while not (company := self.pick(self.companies(
                lambda c: c.id not in self.capped and (via != "redeclared" or self.with_backers(c))))):
            yield
        self.capped.add(company.id)
        label = self.label(draw, via)
        kind = INSTITUTION if via == "nominee" else VEHICLE
        holder = self.onboard(label, kind, self.organisation(label, kind))
        backers = self.backers(company, 2) if via == "redeclared" else []
        if backers:
            self.declare(holder.agent, holder.id, backers)
        self.buy_in(company, holder)
        for _ in range(shape["after"] if via == "redeclared" else 0):
            yield
        base = self.members(company) - ({holder.id} if via != "redeclared" else set())
        need = s.cap - len(base) + shape["over"]
        people = self.rng.sample(pool := self.qualified_people(base | self.used), min(len(pool), need))
        for k in range(need - len(people)):
            plabel = self.label(draw, f"investor{k + 1}")
            if via == "nominee":  # people who never appear on the chain, as beneficial owners often are
                people.append(identity_of(self.ctx.seed, plabel))
            else:
                people.append(self.register(holder.agent, plabel, PERSON, self.fresh_person(plabel, True),
                                            self.qualified_until()))
        if via == "nominee":
            self.nominees[holder.id] = set(people)
            self.ctx.private_store(s.chain, holder.agent, s.regulator).declare(
                holder.id, "nominee", {"company": company.code, "acts_for": [hex0x(p) for p in people]})
            what = f"a nominee holds shares of {company.code} for {len(people)} people"
        else:
            self.declare(holder.agent, holder.id,
                         backers + _vehicle_declared(self, draw, holder.agent, people, "group"))
            s.chain.commit()
            what = (f"a partnership holding shares of {company.code} re-declares its investors, {len(people)} more"
                    if backers else f"a partnership holding shares of {company.code} declares {len(people)} investors")
        self.record("investor_cap",
                    f"{what}: {len(self.members(company))} holders after look-through, cap {s.cap}"
                    + (f"; cured {shape['cure_after']} step(s) later" if shape["cure"] else ""),
                    asset=f"company:{hex0x(company.id)}")
        if shape["cure"]:
            for _ in range(shape["cure_after"]):
                yield
            if via == "redeclared":
                self.declare(holder.agent, holder.id, backers)
                s.chain.commit()
            else:
                self.sell_out(company, holder)

    def new_company(self, draw: Draw, annual: int, semi_annual: int) -> "Company":
        """A company admitted to the chain by governance and listed by the center, its deadlines set."""
        s = self.s
        n = next(self.listed)
        abbr, name = NEW_COMPANIES[(n - 1) % len(NEW_COMPANIES)]
        if n > len(NEW_COMPANIES):
            abbr, name = f"{abbr}{n}", f"{name} (No. {n})"
        node = s.chain.add_node(abbr, name, Role.LISTED_COMPANY, founding=False)
        Governance(self.ctx, s.center, (s.regulator,)).admit(node)
        code = f"BJEE-{890000 + n}"
        company = self.re.Company(len(s.companies) + 100 + n, abbr, name, code, node, self.re.JOINT_STOCK,
                                  bytes32(code))
        record = {"name": name, "code": code, "legal_form": company.form, "credit_code": credit_code(self.rng)}
        s.ok(s.center, s.market.listCompany(company.id, node.address, company.form,
                                            keccak(json.dumps(record, sort_keys=True).encode())))
        s.chain.commit()
        s.ok(s.center, s.disclosure.setSchedule(company.id, annual, semi_annual))
        s.chain.commit()
        return company

    def deadline(self, draw: Draw) -> tuple[int, int, int, str]:
        """(annual due, semi-annual due, the due, the report's name) of a new company's one tracked report."""
        due = self.s.chain.time + draw.shape["due_in"] * DAY
        if draw.shape["report"] == "annual":
            return due, 0, due, self.re.ANNUAL_REPORT
        return 0, due, due, self.re.SEMI_ANNUAL_REPORT

    def file(self, company: "Company", name: str, kind: int, uri: str | None = None) -> tuple[str, int]:
        """The company files document `name` (its file written under the documents folder unless `uri` says
        elsewhere, and then not written); returns its uri and version."""
        s = self.s
        version = len(s.disclosure.documentHistory(company.id, bytes32(name))) + 1
        content = (f"{company.name} ({company.code})\nDocument: {name}, version {version}\n"
                   f"Filed on the Beijing Equity Exchange Center regional equity market.\n").encode()
        if uri is None:
            path = self.ctx.run_dir / self.re.BUSINESS / "documents" / company.code / f"{name}-v{version}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            uri = path.relative_to(self.ctx.run_dir).as_posix()
        s.ok(company.node, s.disclosure.setDocument(company.id, bytes32(name), uri, keccak(content), kind))
        s.chain.commit()
        return uri, version

    def late_disclosure(self, draw: Draw) -> Story:
        """A newly listed company files its first periodic report after the deadline."""
        self.setup()
        annual, semi, due, name = self.deadline(draw)
        company = self.new_company(draw, annual, semi)
        while self.s.chain.time <= due + draw.shape["late_by"] * DAY:
            yield
        self.file(company, name, self.re.ANNUAL if annual else self.re.SEMI_ANNUAL)
        self.record("late_disclosure",
                    f"{company.name}, listed during the run, files its {draw.shape['report']} report after its "
                    f"deadline", company=hex0x(company.id), document=name)

    def missed_disclosure(self, draw: Draw) -> Story:
        """A newly listed company never files its first periodic report; the deadline passes."""
        self.setup()
        annual, semi, due, _ = self.deadline(draw)
        company = self.new_company(draw, annual, semi)
        while self.s.chain.time <= due + DAY:
            yield
        if draw.shape["flagged"]:
            self.s.ok(self.s.regulator, self.s.disclosure.checkOverdue(company.id))
            self.s.chain.commit()
        self.record("missed_disclosure",
                    f"{company.name}, listed during the run, never files its {draw.shape['report']} report; the "
                    f"deadline passes" + (" (flagged on chain by the regulator)" if draw.shape["flagged"] else ""),
                    company=hex0x(company.id), document_kind=draw.shape["report"], due=due)

    def document_mismatch(self, draw: Draw) -> Story:
        """A filed document whose file is changed or deleted afterwards, or whose uri leaves the documents folder."""
        self.setup()
        s, shape = self.s, draw.shape
        name = f"adhoc-notice-{draw.index:03d}"
        company = self.pick(s.companies)
        if shape["how"] == "outside":
            uri = OUTSIDE_URIS[shape["uri"]].format(chain=self.re.BUSINESS, code=company.code, name=name)
            self.file(company, name, self.re.AD_HOC, uri)
            self.record("document_mismatch", f"{company.code} files a document whose uri ({uri}) leaves the run's "
                        f"documents folder", company=hex0x(company.id), document=name, version=1)
            return
        filed = self.filed_version() if shape["target"] == "filed" else None
        if filed is None:
            uri, version = self.file(company, name, self.re.AD_HOC)
            filed = (company, name, version, uri)
            for _ in range(shape["after"] + 1):
                yield
        company, name, version, uri = filed
        self.spoilt.add((company.id, name, version))
        path = self.ctx.run_dir / uri
        if shape["how"] == "deleted":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes() + b"Amended after filing: figures restated.\n")
        self.record("document_mismatch", f"the file of {company.code}'s {name} (version {version}) is "
                    f"{shape['how']} after filing", company=hex0x(company.id), document=name, version=version)

    def filed_version(self) -> tuple["Company", str, int, str] | None:
        """A version the scenario filed, its file in the documents folder and untouched."""
        s = self.s
        found = []
        for company, name in sorted(s.filed, key=lambda k: (k[0].index, k[1])):
            for v, document in enumerate(s.disclosure.documentHistory(company.id, bytes32(name)), start=1):
                inside = document.uri.startswith(f"{self.re.BUSINESS}/documents/")
                if (company.id, name, v) not in self.spoilt and inside and (self.ctx.run_dir / document.uri).is_file():
                    found.append((company, name, v, document.uri))
        return self.pick(found)

    def split_identity(self, draw: Draw) -> Story:
        self.setup()
        return (yield from super().split_identity(draw))

    def invalid_id_number(self, draw: Draw) -> None:
        self.setup()
        super().invalid_id_number(draw)
        self.s.chain.commit()

    def kyc_against_data(self, draw: Draw) -> None:
        self.setup()
        super().kyc_against_data(draw)
        self.s.chain.commit()

    def existing_person(self, how: str) -> tuple[bytes, dict, Node, int] | None:
        candidates = [i for i in self.s.investors if i.kind == PERSON and i.role != "nominee"
                      and self.numbers[idnumbers.normalise(i.personal["id_number"])] == 1
                      and idnumbers.problem(i.personal["id_number"]) is None and feasible(i.personal["id_number"], how)]
        found = self.pick(candidates)
        if found is None:
            return None
        self.numbers[idnumbers.normalise(found.personal["id_number"])] += 1
        return found.id, found.personal, found.agent, found.qualified_until

    def requalifiable(self) -> tuple[bytes, Node] | None:
        people = [i for i in self.s.unqualified if i.id not in self.used and i.id not in self.requalified
                  and i.id not in self.spared]
        found = self.pick(people)
        return (found.id, found.agent) if found else None


@dataclass(eq=False)
class Member:
    """An investor the equity planters onboarded: one account, linked at the depository."""

    label: str
    id: bytes
    name: str
    agent: Node
    account: Account


# ----------------------------------------------------------------------------------------- receipts

def _double_shape(rng: random.Random) -> dict:
    return {"where": rng.choice(("other_warehouse", "same_stock")), "holder": rng.choice(("same", "other"))}


def _short_shape(rng: random.Random) -> dict:
    return {"how": rng.choice(("declared_phantom", "goods_gone")), "lots": rng.randint(2, 10),
            "issue": rng.random() < 0.5, "correct": rng.random() < 0.5, "wait": rng.randint(0, 2)}


def _undo_shape(rng: random.Random) -> dict:
    return {"also": "stock_short" if rng.random() < 0.5 else None, "cut_to": rng.randint(2, 40),
            "factor": rng.choice((5, 20, 100)), "issue": rng.randint(1, 3), "wait": rng.randint(0, 2)}


class ReceiptMarket(Market):
    """warehouse_receipt: receipts on one certificate, stock found short, declarations that undo inspections."""

    kinds = {
        "double_financing": Kind(3, _double_shape),
        "stock_short": Kind(2, _short_shape),
        "declaration_undoes_inspection": Kind(2, _undo_shape),
    }

    def __init__(self, scenario: "WarehouseReceipts", rng: random.Random) -> None:
        super().__init__(scenario, rng)
        self.used: set = set()  # stocks planted on (each then kept out of ordinary business)
        self.certs: set[bytes] = set()
        self.mine: list = []  # the ground truth this market recorded

    def capacity(self, kind: str) -> int | None:
        """One stock planted on per plant (both stock rules share them): every stock but the scenario's own
        phantom and one left for ordinary issuance."""
        if kind == "double_financing":
            return None
        return 2 * self.s.opts["warehouses"] - 2

    def group(self, kind: str) -> str:
        return "stocks" if kind != "double_financing" else kind

    def step_for(self, kind: str, shape: dict, steps: int) -> int:
        return self.rng.randrange(1, max(2, steps - 4))

    def record(self, kind: str, description: str, **subject) -> None:
        super().record(kind, description, **subject)
        self.mine.append(self.ctx.planted[-1])  # not the scenario's own cases, which stocks() waits for

    @property
    def now(self) -> int:
        return self.s.now

    def stock(self) -> "Stock | None":
        """A stock to plant on, once the scenario's own regulator cases (its phantom stock, its double
        financing, which need stocks of their own) are done: honest, never planted on, holding two lots or
        more; one honest stock is always left for ordinary issuance."""
        s = self.s
        own = sum(1 for p in s.ctx.planted if p.detect == "regulator" and p not in self.mine)
        done = not s.cases.pending and own >= 2
        honest = [st for st in s.stocks if not st.blocked and not st.phantom]
        if not done or len(honest) < 2:
            return None
        return self.pick([st for st in honest if st not in self.used and st.case is None
                          and st.declared >= 2 * st.commodity.lot])

    def quiet(self, steps: int) -> bool:
        """No inspection by the scenario in the next `steps` steps (this one included)."""
        return not any(self.step <= i <= self.step + steps for i in self.s.inspection_rounds)

    def report(self, stock: "Stock", what: str) -> bytes:
        return keccak(f"SHFE inspection report/{self.ctx.seed}/{stock.warehouse.name}/{stock.commodity.name}/"
                      f"{what}/{self.now}".encode())

    def block(self, stock: "Stock") -> None:
        """Out of ordinary business from now on: no more receipts or declarations from the scenario."""
        self.used.add(stock)
        stock.blocked = True

    # ------------------------------------------------------------ planters

    def double_financing(self, draw: Draw) -> Story:
        """A second receipt started on the inspection certificate of a live one, at another warehouse or
        the same stock; both kept out of circulation (so that no third one meets the certificate)."""
        s, shape = self.s, draw.shape
        while True:
            now = self.now
            certs = Counter(r.cert for r in s.receipts.values())
            first = self.pick([r for r in s.live() if s.idle(r, now) and r.holder.trader and certs[r.cert] == 1
                               and r.cert not in self.certs])
            honest = [st for st in s.stocks if not st.blocked and not st.phantom]
            if first is not None and honest:
                break
            yield
        same = [st for st in honest if st.commodity is first.commodity]
        others = [st for st in same if st.warehouse is not first.warehouse]
        if shape["where"] == "other_warehouse" and others:
            stock = self.pick(others)
        elif first.stock in honest:
            stock = first.stock
        else:
            stock = self.pick(same or honest)
        first.reserved = True
        self.certs.add(first.cert)
        if stock.room < first.quantity:  # goods arrive and the warehouse declares them first
            extra = self.rng.randint(1, 8) * stock.commodity.lot
            s.declare(stock, stock.declared + first.quantity - stock.room + extra)
        owner = first.holder if shape["holder"] == "same" else s.other_trader(first.holder)
        s.issue(stock, first.quantity, owner, now + self.rng.randint(180, 360) * DAY, cert=first.cert, reserved=True)
        self.record("double_financing",
                    f"{stock.warehouse.organisation} issues a receipt for {first.quantity} kg of "
                    f"{first.commodity.name} on the inspection certificate of receipt {first.id} "
                    f"({first.warehouse.organisation})", inspection_cert=hex0x(first.cert))

    def stock_short(self, draw: Draw) -> Story:
        """The exchange's inspection finds less than the warehouse declared: goods declared that never came
        (perhaps receipted at once), or goods gone; the declaration corrected, or left standing."""
        s, shape = self.s, draw.shape
        while not (stock := self.stock()) or not self.quiet(shape["wait"]):
            yield
        self.block(stock)
        lot = stock.commodity.lot
        if shape["how"] == "declared_phantom":
            missing = shape["lots"] * lot
            s.declare(stock, stock.declared + missing)
            if shape["issue"]:
                stock.blocked = False
                quantity = min(stock.room, self.rng.randint(1, shape["lots"]) * lot)
                if quantity:
                    s.issue(stock, quantity, self.pick(s.traders), self.now + self.rng.randint(180, 360) * DAY)
                stock.blocked = True
            for _ in range(shape["wait"]):
                yield
        else:
            missing = min(stock.declared, shape["lots"] * lot)
        observed = stock.declared - missing
        report = self.report(stock, "inspection")
        self.ctx.expect_ok(s.exchange.send(s.wr.inspectStock(stock.warehouse.address, stock.commodity.key, observed,
                                                             report)))
        if shape["correct"]:
            self.ctx.expect_ok(s.exchange.send(s.wr.correctDeclaration(stock.warehouse.address, stock.commodity.key,
                                                                       observed, report)))
        stock.declared = observed  # what is in store: a later inspection by the scenario finds it again
        self.record("stock_short",
                    f"the exchange finds {observed} kg of {stock.commodity.name} at {stock.warehouse.organisation}, "
                    f"which declared {observed + missing} kg" + ("; it corrects the declaration" if shape["correct"]
                                                                 else "; the declaration stands"),
                    warehouse=hex0x(stock.warehouse.address), commodity=stock.commodity.name)

    def declaration_undoes_inspection(self, draw: Draw) -> Story:
        """The exchange cuts a declaration (after an inspection that found it short, or by a correction
        alone); before any new inspection the warehouse declares far more again and issues against it."""
        s, shape = self.s, draw.shape
        while not (stock := self.stock()) or not self.quiet(shape["wait"]):
            yield
        self.block(stock)
        lot = stock.commodity.lot
        declared = stock.declared
        cut = max(lot, declared * shape["cut_to"] // 100 // lot * lot)
        if cut >= declared:
            cut = declared - lot
        report = self.report(stock, "cut")
        if shape["also"]:
            self.ctx.expect_ok(s.exchange.send(s.wr.inspectStock(stock.warehouse.address, stock.commodity.key, cut,
                                                                 report)))
            self.record("stock_short",
                        f"the exchange finds {cut} kg of {stock.commodity.name} at {stock.warehouse.organisation}, "
                        f"which declared {declared} kg", warehouse=hex0x(stock.warehouse.address),
                        commodity=stock.commodity.name)
        self.ctx.expect_ok(s.exchange.send(s.wr.correctDeclaration(stock.warehouse.address, stock.commodity.key, cut,
                                                                   report)))
        stock.declared = cut
        for _ in range(shape["wait"]):
            yield
        again = max(cut * shape["factor"], stock.live + (shape["issue"] + 2) * 6 * lot) // lot * lot
        s.declare(stock, again)
        stock.blocked = False
        for _ in range(shape["issue"]):
            quantity = min(stock.room, self.rng.choice((2, 4, 6)) * lot)
            if quantity:
                s.issue(stock, quantity, self.pick(s.traders), self.now + self.rng.randint(180, 360) * DAY)
        stock.blocked = True
        self.record("declaration_undoes_inspection",
                    f"{stock.warehouse.organisation} declares {again} kg of {stock.commodity.name} after the exchange "
                    f"cut its declaration to {cut} kg, with no inspection since, and issues receipts against it",
                    warehouse=hex0x(stock.warehouse.address), commodity=stock.commodity.name)


MARKETS: dict[str, type[Market]] = {"share_transfer": FundMarket, "regional_equity": EquityMarket,
                                    "warehouse_receipt": ReceiptMarket}
