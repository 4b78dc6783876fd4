"""Investor rules of the fund and equity markets: who may invest (qualified investors, and the KYC
agents' decisions against the financial data they sealed), how many may (the investor cap after
look-through, at every height), and who they really are (one person behind several identities, ID
numbers that are not ID numbers, money pooled into an institution)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ledger.supervision import idnumbers
from ledger.supervision.catalogue.base import RULES_BY_ID, Check, Event, Param, Rule, evidence, register
from ledger.supervision.rules import IdentityKind

PRIVATE_FUNDS = ("Interim Measures for the Supervision and Administration of Private Investment Funds "
                 "(CSRC Order No. 105, 2014)")
REGIONAL_EQUITY = ("Trial Measures for the Supervision and Administration of Regional Equity Markets "
                   "(CSRC Order No. 132, 2017)")
SUITABILITY = ("Measures for the Suitability Management of Securities and Futures Investors (CSRC Order No. 130, 2016); "
               "GB 11643-1999 Citizen identification number")
BOTH_MARKETS = PRIVATE_FUNDS + "; " + REGIONAL_EQUITY

BEIJING = timezone(timedelta(hours=8))
DIRECT_PAYMENTS = ("transfer", "transferFrom")  # cash moved by its holder's own call, not by a settlement
PERSON, INSTITUTION, PRODUCT, VEHICLE = (IdentityKind.PERSON, IdentityKind.INSTITUTION, IdentityKind.PRODUCT,
                                        IdentityKind.VEHICLE)


def amount(value: object) -> int:
    """A figure as a KYC agent sealed it (a number, or text such as "9,500,000"); anything that is not a finite
    number counts as none, as a missing figure does."""
    if isinstance(value, str):
        value = value.replace(",", "").replace("_", "").strip()
        try:
            value = float(value)
        except ValueError:
            return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        return 0
    return int(value)


def _market(world) -> str | None:
    """The investor market a chain runs: funds or regional equity."""
    if "PrivateFundShares" in world.contracts:
        return "fund"
    if "EquityMarket" in world.contracts:
        return "equity"
    return None


class QualifiedInvestorCheck(Check):
    """An identity that enters an asset's look-through investors while not qualified. The chain checks
    everyone looked through when a holding is made; what it cannot see is a vehicle's investors changing
    after that, so this catches a person added behind a vehicle later, at any depth."""

    def on_block(self, block: int, time: int) -> None:
        world = self.world
        for asset in sorted(world.changed):
            entered = world.looked[asset] - world.previous.get(asset, frozenset())
            for identity in sorted(entered):
                if world.kind(identity) == VEHICLE and identity in world.declared:
                    continue
                record = world.identities.get(identity)
                if record is None or record.qualified_until >= time:
                    continue  # qualified, or never registered (a nominee's people): nothing to test
                self.report({"asset": asset, "identity": identity},
                            "{who} became an investor of {asset} (looked through) while not a qualified investor "
                            "(qualified until {until})",
                            {"who": identity, "asset": asset, "until": record.qualified_until},
                            (block, time), [world.who(identity)],
                            [{"type": "block", "chain": world.chain, "block": block, "time": time,
                              "what": "look-through investors of {asset} at the end of the block",
                              "values": {"asset": asset}}])


class KycAgainstDataCheck(Check):
    """A KYC agent's "qualified" against the financial data the same agent sealed for the regulator. Judged
    once the whole history is known (which market the chain runs may be deployed after the registration);
    an identity without a record that matches the chain is sealed_record's finding, not this one's."""

    def __init__(self, world, params) -> None:
        super().__init__(world, params)
        self.decisions: list[Event] = []

    def on_event(self, e: Event) -> None:
        if e.contract == "IdentityRegistry" and e.name in ("IdentityRegistered", "QualificationSet") \
                and e.args["qualifiedUntil"] >= e.time:  # declared qualified
            self.decisions.append(e)

    def finish(self) -> None:
        market = _market(self.world)
        for e in self.decisions:
            identity = e.args["id"].lower()
            kind = self.world.kind(identity)
            personal = self.world.personal(identity)
            if personal is None or market is None or kind not in (PERSON, INSTITUTION):
                continue
            shortfall = self._shortfall(market, kind, personal)
            if shortfall:
                message, values = shortfall
                self.report({"identity": identity}, "{who} was registered qualified by its KYC agent, but its sealed "
                            "data shows " + message, {"who": identity, **values}, e, [self.world.who(identity)],
                            [evidence(e, e.name), {"type": "sealed_record", "chain": e.chain, "identity": identity,
                                                   "what": "personal data sealed by the KYC agent, opened with the "
                                                           "regulator's key"}])

    def _shortfall(self, market: str, kind: int, data: dict) -> tuple[str, dict] | None:
        """(the rest of the message, its values) when the data falls short of the market's thresholds."""
        p = self.params
        value = lambda field: amount(data.get(field))  # noqa: E731
        below = "{figure} of {value} CNY, under {threshold} CNY"
        if kind == INSTITUTION:
            if value("net_assets") < p["institution_net_assets"]:
                return below, {"figure": "net assets", "value": value("net_assets"),
                               "threshold": p["institution_net_assets"]}
            return None
        if market == "fund":
            if value("financial_assets") < p["person_financial_assets"] and \
                    value("average_income") < p["person_average_income"]:
                return ("financial assets of {value} CNY (under {threshold} CNY) and an average income of {income} "
                        "CNY (under {income_threshold} CNY)",
                        {"value": value("financial_assets"), "threshold": p["person_financial_assets"],
                         "income": value("average_income"), "income_threshold": p["person_average_income"]})
            return None
        if value("financial_assets") < p["equity_financial_assets"]:
            return below, {"figure": "financial assets", "value": value("financial_assets"),
                           "threshold": p["equity_financial_assets"]}
        if value("experience_years") < p["equity_experience_years"]:
            return ("{value} years of investment experience, under {threshold}",
                    {"value": value("experience_years"), "threshold": p["equity_experience_years"]})
        return None


class SealedRecordCheck(Check):
    """A registered identity whose KYC record, opened with the regulator's key, is missing or is not the data the
    salted hash on chain commits to: the agent's decision rests on nothing the regulator can check."""

    def finish(self) -> None:
        world = self.world
        if not world.sealed.opened:
            return  # no sealed data at hand (an index alone): nothing can be said of the records
        for identity, record in sorted(world.identities.items()):
            if world.personal(identity) is not None:
                continue
            problem = "no sealed record" if identity not in world.sealed.personal else \
                "the sealed record differs from the hash on chain"
            self.report({"identity": identity}, "{who}: {problem}", {"who": identity, "problem": problem},
                        (record.registered_block, record.registered_time), [world.who(identity)],
                        [{"type": "sealed_record", "chain": world.chain, "identity": identity, "what": problem}])


class InvestorCapCheck(Check):
    """An asset's distinct look-through investors above its cap, at the end of any block: each stretch in
    breach is a range of the one finding, a breach later cured included."""

    def on_block(self, block: int, time: int) -> None:
        world = self.world
        for asset in sorted(world.changed):
            info = world.assets.get(asset)
            if info is None or not info.cap:
                continue
            count = len(world.looked[asset])
            if info.cap * self.params["near_cap"] <= count <= info.cap:
                self.warn({"asset": asset}, "{asset} has {count} investors after look-through, near its cap of {cap}",
                          {"asset": asset, "count": count, "cap": info.cap})
            self.breach({"asset": asset}, "{asset} had {count} investors after look-through, over its cap of {cap}",
                        {"asset": asset, "count": count, "cap": info.cap, "direct": len(world.holders(asset))},
                        block, time, count > info.cap, [world.asset_party(asset)],
                        [{"type": "block", "chain": world.chain, "block": block, "time": time,
                          "what": "{count} investors after look-through, {direct} on the register",
                          "values": {"count": count, "direct": len(world.holders(asset))}}])


class SplitIdentityCheck(Check):
    """One person registered as several identities on one chain: their sealed ID numbers, normalised, agree."""

    def finish(self) -> None:
        world = self.world
        by_number: dict[str, list[str]] = {}
        for identity in sorted(world.identities):
            data = world.personal(identity) or {}
            if data.get("id_number"):
                by_number.setdefault(idnumbers.normalise(data["id_number"]), []).append(identity)
        for number, identities in sorted(by_number.items()):
            if len(identities) < 2:
                continue
            first = min(identities, key=world.registered_at)
            last = max(identities, key=world.registered_at)
            self.report({"identities": identities}, "one person (ID number {number}) is registered as {n} identities",
                        {"number": number, "n": len(identities)}, world.registered_at(last), [world.who(i) for i in identities],
                        [{"type": "sealed_record", "chain": world.chain, "identity": i,
                          "what": "ID number written {number}, the first registration" if i == first
                          else "ID number written {number}", "values": {"number": world.personal(i)["id_number"]}}
                         for i in identities])


class InvalidIdNumberCheck(Check):
    """A natural person's sealed ID number that is not a GB 11643 number."""

    def finish(self) -> None:
        world = self.world
        for identity in sorted(world.identities):
            data = world.personal(identity)
            if data is None or world.kind(identity) != PERSON:
                continue
            registered = world.identities[identity].registered_time
            on = datetime.fromtimestamp(registered, BEIJING).date() if registered else None
            problem = idnumbers.problem(str(data.get("id_number", "")), on)
            if problem:
                self.report({"identity": identity}, "{who}'s ID number {number} is not valid: {problem}",
                            {"who": identity, "number": data.get("id_number"), "problem": problem},
                            world.registered_at(identity),
                            [world.who(identity)], [{"type": "sealed_record", "chain": world.chain,
                                                     "identity": identity, "what": "sealed personal data"}])


class PoolingInstitutionCheck(Check):
    """An institution that natural persons pay directly (SettlementCash.transfer, not a settlement), which
    then invests: money pooled from people and invested under one name, never looked through."""

    def __init__(self, world, params) -> None:
        super().__init__(world, params)
        self.backers: dict[str, dict[str, Event]] = {}  # institution -> person -> the last payment

    def on_event(self, e: Event) -> None:
        world = self.world
        if e.contract == "SettlementCash" and e.name == "Transfer" and e.function in DIRECT_PAYMENTS:
            src = world.accounts.get(e.args["from"].lower())
            dst = world.accounts.get(e.args["to"].lower())
            if src and dst and src != dst and world.kind(src) == PERSON and world.kind(dst) == INSTITUTION:
                self.backers.setdefault(dst, {})[src] = e
            return
        acquired = self._acquired(e)
        if acquired is None:
            return
        institution, asset = acquired
        backers = self.backers.get(institution, {})
        if len(backers) < self.params["min_backers"]:
            return
        payments = sorted(backers.values(), key=lambda p: (p.block, p.log_index))
        self.report({"identity": institution, "asset": asset},
                    "{who} received cash from {n} natural persons directly, then invested in {asset}",
                    {"who": institution, "n": len(backers), "asset": asset}, e,
                    [world.who(institution)] + [world.who(b) for b in sorted(backers)],
                    [evidence(p, "SettlementCash.transfer from a person") for p in payments]
                    + [evidence(e, e.name)])

    def _acquired(self, e: Event) -> tuple[str, str] | None:
        a, world = e.args, self.world
        if e.contract == "PrivateFundShares" and e.name == "Subscribed":
            return a["identity"].lower(), f"fund:{a['fundId']}"
        if e.contract == "PrivateFundShares" and e.name in ("TransferSettled", "ForcedTransfer"):
            to = world.accounts.get(a["to"].lower())
            return (to, f"fund:{a['fundId']}") if to else None
        if e.contract == "EquityMarket" and e.name == "SharesAllotted":
            return a["identity"].lower(), f"company:{a['companyId'].lower()}"
        if e.contract == "EquityMarket" and e.name == "SharesTransferred":
            return a["toIdentity"].lower(), f"company:{a['companyId'].lower()}"
        return None


register(Rule(
    "qualified_investor", "investors", "Qualified investors only, everyone looked through included",
    BOTH_MARKETS, "private fund measures, Articles 11 and 13(2)", (),
    "the asset, the identity, the block whose end first shows it among the asset's look-through investors",
    QualifiedInvestorCheck, ("asset", "identity")))
register(Rule(
    "kyc_against_data", "investors", "A KYC agent's 'qualified' contradicts the financial data it sealed",
    BOTH_MARKETS, "private fund measures, Article 12",
    (Param("institution_net_assets", 10_000_000, "CNY", "an institution's net assets"),
     Param("person_financial_assets", 3_000_000, "CNY", "a person's financial assets (funds)"),
     Param("person_average_income", 500_000, "CNY", "a person's average yearly income over three years (funds)"),
     Param("equity_financial_assets", 500_000, "CNY", "a person's financial assets (regional equity)"),
     Param("equity_experience_years", 2, "years", "a person's investment experience (regional equity)")),
    "the registration or re-qualification transaction and the sealed record, opened with the regulator's key",
    KycAgainstDataCheck, ("identity",), needs_sealed=True))
register(Rule(
    "investor_cap", "investors", "Investor cap per fund and per company, after look-through",
    BOTH_MARKETS, "private fund measures, Articles 11 and 13(2)",
    (Param("near_cap", 0.9, "of the cap", "the share of its cap at which an asset raises a warning"),),
    "every block range in breach, the count and the cap (nominees counted as the people they hold for)",
    InvestorCapCheck, ("asset",)))
register(Rule(
    "sealed_record", "investors", "A KYC record missing, or not the data the chain's hash commits to", SUITABILITY,
    None, (), "the identity's registration and what its agent's private store holds", SealedRecordCheck,
    ("identity",), needs_sealed=True))
register(Rule(
    "split_identity", "investors", "One person behind several identities", SUITABILITY, None, (),
    "the identities and their sealed ID numbers as each agent wrote them", SplitIdentityCheck, ("identities",), needs_sealed=True))
register(Rule(
    "invalid_id_number", "investors", "An ID number that is not a valid citizen ID number", SUITABILITY,
    "GB 11643-1999, the check digit", (), "the sealed record", InvalidIdNumberCheck,
    ("identity",), needs_sealed=True))
register(Rule(
    "pooling_institution", "investors", "Money pooled from natural persons into an institution that invests",
    PRIVATE_FUNDS, "Article 13(2)",
    (Param("min_backers", 2, "persons", "natural persons paying one institution before it invests"),),
    "the direct cash transfers from each person, then the subscription or acquisition", PoolingInstitutionCheck, ("identity", "asset")))


RULES: tuple[Rule, ...] = tuple(r for r in RULES_BY_ID.values() if r.check.__module__ == __name__)
