"""The supervision rule catalogue on histories written by hand, not by the scenarios: each rule against the
regulation's wording (a breach later cured, a person added behind a vehicle after entry, a lapse that is
not a breach, a declaration that undoes an inspection), and the ID-number rules against GB 11643."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from ledger.errors import ConfigError
from ledger.present.i18n import language, translator
from ledger.supervision import idnumbers
from ledger.supervision.catalogue import CATALOGUE, Evaluation, resolve_params, select
from ledger.supervision.replay import Event, Sealed, World
from ledger.supervision.rules import investors_behind

DAY = 86_400
T0 = 1_650_000_000
FAR = T0 + 400 * DAY


def ident(n: int) -> str:
    return "0x" + f"{n:064x}"


class History:
    """A chain's history written event by event, fed to every rule of the catalogue."""

    def __init__(self, sealed: Sealed | None = None, rules=None, **params) -> None:
        self.evaluation = Evaluation(World("hand", sealed), resolve_params(params), select(rules))
        self.block, self.log = 0, 0
        self.opened: dict[int, list] = {}

    def at(self, block: int) -> "History":
        if self.block:
            self.opened[self.block] = self.evaluation.end_block(self.block, self.time)
        self.block, self.log = block, 0
        return self

    @property
    def time(self) -> int:
        return T0 + self.block * DAY

    def emit(self, contract: str, name: str, function: str | None = None, **args) -> "History":
        self.evaluation.feed(Event("hand", self.block, self.time, self.log, f"0x{self.block:02x}{self.log:062x}",
                                   function, contract, name, args))
        self.log += 1
        return self

    def register(self, n: int, kind: int, until: int = FAR) -> "History":
        return self.emit("IdentityRegistry", "IdentityRegistered", id=ident(n), kind=kind, qualifiedUntil=until,
                         agent="0x" + "aa" * 20)

    def declare(self, vehicle: int, investors: list[int]) -> "History":
        bps = [10_000 // len(investors)] * len(investors)
        bps[0] += 10_000 - sum(bps)
        return self.emit("IdentityRegistry", "InvestorsDeclared", vehicle=ident(vehicle),
                         investors=[ident(i) for i in investors], sharesBps=bps, agent="0x" + "aa" * 20)

    def subscribe(self, fund: int, n: int, amount: int = 1_000_000) -> "History":
        return self.emit("PrivateFundShares", "Subscribed", fundId=fund, account="0x" + "bb" * 20,
                         identity=ident(n), amount=amount)

    def finish(self) -> list:
        head = (self.block, self.time)
        if self.block:
            self.opened[self.block] = self.evaluation.end_block(*head)
        return self.evaluation.finish(head)


PERSON, INSTITUTION, VEHICLE = 1, 2, 4


def fund_with_vehicle(h: History, cap: int = 3) -> History:
    h.at(1).emit("PrivateFundShares", "FundCreated", fundId=1, manager="0x" + "cc" * 20, custodian="0x" + "dd" * 20,
                 form=2, cap=cap, lockupEnd=0)
    for n in range(1, 8):
        h.register(n, PERSON)
    h.register(100, VEHICLE).declare(100, [1, 2])
    return h.at(2).subscribe(1, 100)


def test_a_cap_breached_by_redeclaration_and_cured_is_one_finding_with_its_range():
    h = fund_with_vehicle(History(rules=["investor_cap"]))
    h.at(3).declare(100, [1, 2, 3, 4, 5])  # after entry: five people behind a vehicle that entered with two
    h.at(4).subscribe(1, 6)
    h.at(5).declare(100, [1, 2])  # cured
    [found] = h.finish()
    assert found.rule == "investor_cap" and found.subject == {"asset": "fund:1"}
    assert found.ranges == [(3, 5)] and found.cured
    assert found.values["count"] == 6 and found.values["cap"] == 3  # the worst moment
    assert [f.rule for f in h.opened[3]] == ["investor_cap"]  # what the monitor alerts on, at the block


def test_a_cap_breached_twice_has_two_ranges_and_lasts_at_the_head():
    h = fund_with_vehicle(History(rules=["investor_cap"]))
    h.at(3).declare(100, [1, 2, 3, 4])
    h.at(4).declare(100, [1])
    h.at(5).declare(100, [1, 2, 3, 4, 5, 6])
    [found] = h.finish()
    assert found.ranges == [(3, 4), (5, None)] and not found.cured


def test_a_person_added_behind_a_vehicle_after_entry_must_be_qualified():
    h = fund_with_vehicle(History(rules=["qualified_investor"]), cap=50)
    h.register(200, PERSON, until=0).register(101, VEHICLE).declare(101, [200, 3])
    h.at(3).declare(100, [1, 2, 101])  # depth two: the unqualified person comes in through a second vehicle
    [found] = h.finish()
    assert found.subject == {"asset": "fund:1", "identity": ident(200)} and found.first_block == 3


def test_a_qualification_lapsing_while_holding_is_not_a_breach():
    h = fund_with_vehicle(History(rules=["qualified_investor"]), cap=50)
    h.at(3).emit("IdentityRegistry", "QualificationSet", id=ident(1), qualifiedUntil=T0, agent="0x" + "aa" * 20)
    h.at(4).subscribe(1, 2)
    assert h.finish() == []


def test_an_unregistered_person_behind_a_nominee_is_not_judged_unqualified():
    sealed = Sealed(nominees={"company:" + ident(9): {ident(300): [ident(301), ident(302)]}})
    h = History(sealed, rules=["qualified_investor", "investor_cap"])
    h.at(1).emit("EquityMarket", "CompanyListed", companyId=ident(9), issuer="0x" + "cc" * 20, legalForm=0,
                 dataHash=ident(0), center="0x" + "dd" * 20, holderCap=1)
    h.register(300, INSTITUTION)
    h.at(2).emit("EquityMarket", "SharesAllotted", offeringId=1, companyId=ident(9), identity=ident(300),
                 account="0x" + "bb" * 20, shares=10)
    [found] = h.finish()  # two people behind one nominee: over a cap of one; neither is on record as unqualified
    assert found.rule == "investor_cap" and found.values["count"] == 2


@pytest.mark.parametrize("data,threshold,expected", [
    ({"financial_assets": 2_000_000}, None, True),
    ({"financial_assets": 2_000_000, "average_income": 600_000}, None, False),
    ({"financial_assets": 4_000_000}, None, False),
    ({"financial_assets": 4_000_000}, 5_000_000, True),  # a stricter threshold, configured
])
def test_kyc_decisions_are_checked_against_the_sealed_financial_data(data, threshold, expected):
    params = {"kyc_against_data.person_financial_assets": threshold} if threshold else {}
    h = History(Sealed(personal={ident(1): {"name": "Wang Wei", **data}}), rules=["kyc_against_data"], **params)
    h.at(1).emit("PrivateFundShares", "FundCreated", fundId=1, manager="0x" + "cc" * 20,
                 custodian="0x" + "dd" * 20, form=2, cap=50, lockupEnd=0)
    h.register(1, PERSON)
    found = h.finish()
    assert bool(found) == expected
    if found:
        assert found[0].who[0]["name"] == "Wang Wei"


def test_unknown_parameters_are_refused():
    with pytest.raises(ConfigError, match="unknown rule parameter"):
        resolve_params({"investor_cap.nope": 1})
    with pytest.raises(ConfigError, match="unknown rule"):
        select(["no_such_rule"])


def test_a_declaration_that_undoes_an_inspection():
    wh, copper = "0x" + "11" * 20, "0x" + b"copper".ljust(32, b"\0").hex()
    h = History(rules=["declaration_undoes_inspection", "stock_short"])
    h.at(1).emit("WarehouseReceipt", "StockDeclared", warehouse=wh, commodity=copper, declared=5000,
                 unit=copper, live=0)
    h.at(2).emit("WarehouseReceipt", "StockInspected", warehouse=wh, commodity=copper, observed=50, declared=5000,
                 live=0, inspectionHash=ident(1))
    h.emit("WarehouseReceipt", "DeclarationCorrected", warehouse=wh, commodity=copper, previous=5000, declared=50,
           live=0, inspectionHash=ident(1))
    h.at(3).emit("WarehouseReceipt", "StockDeclared", "declareStock", warehouse=wh, commodity=copper, declared=5000,
                 unit=copper, live=0)
    found = {f.rule: f for f in h.finish()}
    assert set(found) == {"stock_short", "declaration_undoes_inspection"}
    assert found["declaration_undoes_inspection"].subject == {"warehouse": wh, "commodity": "copper"}
    assert found["declaration_undoes_inspection"].first_block == 3


def test_a_cancellation_lowering_the_declaration_undoes_nothing():
    wh, zinc = "0x" + "11" * 20, "0x" + b"zinc".ljust(32, b"\0").hex()
    h = History(rules=["declaration_undoes_inspection"])
    h.at(1).emit("WarehouseReceipt", "StockDeclared", warehouse=wh, commodity=zinc, declared=900, unit=zinc, live=0)
    h.at(2).emit("WarehouseReceipt", "StockInspected", warehouse=wh, commodity=zinc, observed=500, declared=900,
                 live=800, inspectionHash=ident(1))  # short, the declaration left standing
    h.at(3).emit("WarehouseReceipt", "StockDeclared", "cancel", warehouse=wh, commodity=zinc, declared=800, unit=zinc,
                 live=700)
    assert h.finish() == []


def test_a_confirming_inspection_allows_a_new_declaration():
    wh, tin = "0x" + "11" * 20, "0x" + b"tin".ljust(32, b"\0").hex()
    h = History(rules=["declaration_undoes_inspection"])
    h.at(1).emit("WarehouseReceipt", "DeclarationCorrected", warehouse=wh, commodity=tin, previous=900,
                 declared=100, live=0, inspectionHash=ident(1))
    h.at(2).emit("WarehouseReceipt", "StockInspected", warehouse=wh, commodity=tin, observed=400, declared=100,
                 live=0, inspectionHash=ident(2))
    h.at(3).emit("WarehouseReceipt", "StockDeclared", "declareStock", warehouse=wh, commodity=tin, declared=400,
                 unit=tin, live=0)
    assert h.finish() == []


def test_a_receipt_moved_after_its_expiry():
    wh = "0x" + "11" * 20
    h = History(rules=["receipt_after_end"])
    h.at(1).emit("WarehouseReceipt", "ReceiptIssued", id=7, warehouse=wh, owner="0x" + "22" * 20,
                 commodity=ident(0), grade=ident(0), quantity=10, unit=ident(0), location=ident(0),
                 inspectionCertHash=ident(5), expiry=T0 + 2 * DAY)
    h.at(2).emit("WarehouseReceipt", "ReceiptTransferred", id=7, **{"from": "0x" + "22" * 20, "to": "0x" + "33" * 20})
    h.at(3).emit("WarehouseReceipt", "ReceiptTransferred", id=7, **{"from": "0x" + "33" * 20, "to": "0x" + "44" * 20})
    [found] = h.finish()
    assert found.subject == {"receipt": 7} and found.first_block == 3 and found.values["why"] == "expired"


def test_investors_behind_counts_each_person_once_through_cycles_and_nominees():
    declared = {"V1": [("P1", 5000), ("V2", 5000)], "V2": [("P1", 5000), ("V1", 5000)]}
    assert investors_behind(["V1", "P2"], declared) == {"P1", "P2"}
    assert investors_behind(["N"], {}, {"N": ["P3", "P4"]}) == {"P3", "P4"}


@pytest.mark.parametrize("written,same_as", [
    ("11010519491231002X", "11010519491231002X"),
    ("11010519491231002x", "11010519491231002X"),
    ("110105 19491231 002X", "11010519491231002X"),
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width
    ("110105491231002", "11010519491231002X"),  # the 15-digit first-generation number
])
def test_id_numbers_are_normalised_as_an_agent_meant_them(written, same_as):
    assert idnumbers.normalise(written) == same_as
    assert idnumbers.problem(written) is None


@pytest.mark.parametrize("bad", ["11010519491231002Y", "110105194912310021", "11010519491331002X", "ID-12345",
                                 "01010519491231002X"])
def test_invalid_id_numbers_are_named(bad):
    assert idnumbers.problem(bad)


def test_a_made_number_is_valid():
    assert idnumbers.problem(idnumbers.make("110108", date(1985, 6, 30), 17)) is None


def _templates() -> set[str]:
    """Every message template the rules report with (the literal second argument of report/breach/warn, and
    the `what` of evidence), read from the source."""
    found = set()
    for path in sorted(Path("ledger/supervision/catalogue").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("report", "breach", "warn"):
                if isinstance(node.args[1], ast.Constant):
                    found.add(node.args[1].value)
    return found


def test_every_rule_title_and_message_reads_in_chinese():
    _ = translator("findings")
    with language("zh"):
        texts = [t for r in CATALOGUE for t in (r.title, r.regulation, r.article, r.evidence) if t]
        texts += [t for r in CATALOGUE for p in r.params for t in (p.unit, p.doc)]
        missing = [t for t in texts + sorted(_templates()) if _(t) == t]
    assert not missing, missing


# ------------------------------------------------------------ what an outside tester tried (and must hold)

def test_a_vehicle_declaring_only_itself_counts_as_itself():
    h = fund_with_vehicle(History(rules=["investor_cap"]), cap=2)
    h.register(101, VEHICLE).declare(101, [101])
    h.at(3).declare(100, [1, 2, 101])  # two people and a vehicle that holds for nobody but itself
    [found] = h.finish()
    assert found.values["count"] == 3


def test_a_deadline_missed_stays_missed_after_a_new_schedule_or_a_delisting():
    company = ident(9)
    h = History(rules=["missed_disclosure"])
    h.at(1).emit("Disclosure", "ScheduleSet", companyId=company, annualDue=T0 + 2 * DAY, semiAnnualDue=FAR,
                 center="0x" + "cc" * 20)
    h.at(5).emit("Disclosure", "ScheduleSet", companyId=company, annualDue=FAR, semiAnnualDue=FAR,
                 center="0x" + "cc" * 20)
    h.at(6).emit("EquityMarket", "CompanyDelisted", companyId=company, reason=ident(0), center="0x" + "cc" * 20)
    [found] = h.finish()
    assert found.subject == {"company": company, "document_kind": "annual", "due": T0 + 2 * DAY}
    assert found.first_block == 5


def test_cash_pulled_by_the_institution_is_pooling_too():
    h = History(rules=["pooling_institution"])
    h.at(1).register(1, PERSON).register(2, PERSON).register(50, INSTITUTION)
    for n, account in ((1, "0x" + "01" * 20), (2, "0x" + "02" * 20), (50, "0x" + "50" * 20)):
        h.emit("IdentityRegistry", "AccountLinked", account=account, id=ident(n), agent="0x" + "aa" * 20)
    h.at(2)
    for payer in ("0x" + "01" * 20, "0x" + "02" * 20):
        h.emit("SettlementCash", "Transfer", "transferFrom", **{"from": payer, "to": "0x" + "50" * 20, "value": 10})
    h.at(3).subscribe(1, 50)
    [found] = h.finish()
    assert found.subject == {"identity": ident(50), "asset": "fund:1"}


def test_a_sealed_record_that_is_not_the_one_on_chain_is_no_evidence():
    """An agent hashes one record on chain and seals another for the regulator: the sealed one proves nothing
    (sealed_record), and kyc_against_data does not trust it."""
    sealed = Sealed(personal={ident(1): {"net_assets": 50_000_000}}, hashes={ident(1): ident(7)}, opened=True)
    h = History(sealed, rules=["sealed_record", "kyc_against_data"])
    h.at(1).emit("PrivateFundShares", "FundCreated", fundId=1, manager="0x" + "cc" * 20,
                 custodian="0x" + "dd" * 20, form=2, cap=50, lockupEnd=0)
    h.emit("IdentityRegistry", "IdentityRegistered", id=ident(1), kind=INSTITUTION, qualifiedUntil=FAR,
           agent="0x" + "aa" * 20, dataHash=ident(8))
    h.register(2, INSTITUTION)  # no record at all
    found = {f.subject["identity"]: f.values["problem"] for f in h.finish()}
    assert found == {ident(1): "the sealed record differs from the hash on chain", ident(2): "no sealed record"}


@pytest.mark.parametrize("figure", ["9,500,000", "nine million", float("inf"), float("nan"), None, [1]])
def test_any_sealed_figure_is_judged_without_a_crash(figure):
    h = History(Sealed(personal={ident(1): {"net_assets": figure}}), rules=["kyc_against_data"])
    h.at(1).emit("PrivateFundShares", "FundCreated", fundId=1, manager="0x" + "cc" * 20,
                 custodian="0x" + "dd" * 20, form=2, cap=50, lockupEnd=0)
    h.register(1, INSTITUTION)
    [found] = h.finish()  # every one of them is under 10,000,000 CNY, or no figure at all
    assert found.rule == "kyc_against_data"


def test_a_kyc_decision_before_the_market_was_deployed_is_judged_too():
    h = History(Sealed(personal={ident(1): {"net_assets": 1_000_000}}), rules=["kyc_against_data"])
    h.at(1).register(1, INSTITUTION)
    h.at(2).emit("PrivateFundShares", "FundCreated", fundId=1, manager="0x" + "cc" * 20,
                 custodian="0x" + "dd" * 20, form=2, cap=50, lockupEnd=0)
    assert [f.rule for f in h.finish()] == ["kyc_against_data"]


@pytest.mark.parametrize("written", ["110105\u201319491231002X", "1101051949\u200b1231002X",
                                     "\u0661\u0661\u0660\u0661\u0660\u066519491231002X"])
def test_dashes_invisible_characters_and_other_digits_are_normalised(written):
    assert idnumbers.normalise(written) == "11010519491231002X"


def test_a_province_that_does_not_exist_and_a_birth_after_registration_are_invalid():
    assert idnumbers.problem("39010519491231002X")
    number = idnumbers.make("110108", date(2021, 6, 30), 17)
    assert idnumbers.problem(number, on=date(2021, 1, 1)) and not idnumbers.problem(number, on=date(2022, 1, 1))


@pytest.mark.parametrize("uri,problem", [
    ("eq/documents/a\0b.txt", "the file name is not a valid path (not read)"),
    ("eq/documents/folder", "the name is not a regular file (not read)"),
    ("eq/documents/pipe", "the name is not a regular file (not read)"),
    ("eq/../outside.txt", "the file is named outside the documents folder (not read)"),
    ("eq/documents/gone.txt", "the file is missing"),
])
def test_a_document_name_is_never_followed_where_it_should_not_be(tmp_path, uri, problem):
    import os

    (tmp_path / "eq" / "documents" / "folder").mkdir(parents=True)
    os.mkfifo(tmp_path / "eq" / "documents" / "pipe")  # reading it would wait for ever
    (tmp_path / "outside.txt").write_text("not a filing")
    world = World("eq", ledger=tmp_path / "eq" / "ledger.sqlite")
    evaluation = Evaluation(world, rules=select(["document_mismatch"]))
    evaluation.feed(Event("eq", 1, T0, 0, None, "setDocument", "Disclosure", "DocumentUpdated",
                          {"companyId": ident(9), "name": ident(0), "kind": 2, "uri": uri, "oldHash": ident(0),
                           "newHash": ident(3), "version": 1}))
    [found] = evaluation.finish((1, T0))
    assert found.values["problem"] == problem
