"""What the fund and equity markets plant alike: KYC onboarding with sealed personal data, ID numbers written
differently or wrongly, vehicles declared in front of people."""

from __future__ import annotations

import random
from collections import Counter

from ledger.chain.node import Node
from ledger.supervision import idnumbers
from ledger.supervision.rules import IdentityKind
from ledger.tooling.abi import hex0x
from ledger.trust.keys import Account

from ..api import ScenarioError, identity_of
from ..people import credit_code, person

from .plan import Draw, FULL_WIDTH, INSTITUTION, Market, PERSON, Story, VEHICLE, WIDTH


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
