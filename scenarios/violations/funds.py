"""The private-fund market's planters (scenarios/share_transfer.py)."""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ledger.chain.node import Node
from ledger.supervision import idnumbers
from ledger.supervision.rules import IdentityKind
from ledger.tooling.abi import hex0x
from ledger.trust.keys import Account

from ..api import ScenarioError, identity_of

from .plan import DAY, Draw, INSTITUTION, Kind, PERSON, Story, VEHICLE
from .identities import InvestorMarket, _nest, _vehicle_declared, feasible

if TYPE_CHECKING:
    from ..share_transfer import Fund, ShareTransfer


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
        from .. import share_transfer
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

    def vehicle_in(self, draw: Draw, allowed: Callable[["Fund"], bool], claim: Callable[["Fund"], None],
                   entering: Callable[["Fund"], bool] | None = None) -> Iterator[None]:
        """A vehicle in a fund `allowed` admits, as the draw's shape says: one already holding it (held from now
        on), or a new one entering a fund `entering` admits (default: `allowed`); the fund is `claim`ed either
        way. Returns (vehicle, fund)."""
        found = self.holding_vehicle(allowed) if draw.shape["via"] == "holding" else None
        if found:
            vehicle, fund = found
            self.hold(fund, vehicle)
            claim(fund)
            return found
        return (yield from self.enter(draw, entering or allowed, 2, claim))

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

        vehicle, fund = yield from self.vehicle_in(
            draw, allowed, claim, lambda f: allowed(f) and (f.id in self.for_good or f.cap - self.most(f) > 4))
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

        vehicle, fund = yield from self.vehicle_in(draw, allowed, claim)
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
