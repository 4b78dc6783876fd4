"""The regional-equity market's planters (scenarios/regional_equity.py)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Callable

from eth_hash.auto import keccak

from ledger.chain.node import Node
from ledger.chain.roles import Role
from ledger.supervision import idnumbers
from ledger.supervision.rules import IdentityKind
from ledger.tooling.abi import bytes32, hex0x
from ledger.trust.keys import Account

from ..api import identity_of
from ..governance import Governance
from ..people import credit_code

from .plan import DAY, Draw, INSTITUTION, Kind, PERSON, Story, VEHICLE
from .identities import InvestorMarket, _nest, _vehicle_declared, feasible

if TYPE_CHECKING:
    from ..regional_equity import Company, RegionalEquity


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
        from .. import regional_equity
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
