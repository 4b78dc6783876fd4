"""WarehouseReceipt: every transition and every refusal reason, on a real chain.

A small warehouse-receipt consortium: the futures exchange (which deploys the
contracts), two designated delivery warehouses, two banks, two traders (one with a
client account it holds) and the regulator. Each send is one block. Grouped by
function: stock declarations, issue, register, transfer, deliver, split, merge,
pledge/release/enforce, cancellation, expiry, views, the two permission layers, and
a property test that split and merge conserve quantity."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import eth  # noqa: F401  py-evm raises the recursion limit on import: do it before hypothesis runs
import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings, strategies as st

from conftest import DAY, T0, reverted
from ledger.chain.access import adopt_declared_roles
from ledger.chain.run import open_chain
from ledger.chain.consortium import Consortium, Contract, Ticket
from ledger.errors import PilotLedgerError
from ledger.trust.keys import Account
from ledger.chain.node import Node
from ledger.chain.roles import GovernanceAction, Role

# WarehouseReceipt.State and .MergeField
NONE, ISSUED, REGISTERED, CANCELLED, EXPIRED, SPLIT, MERGED = range(7)
HOLDER, COMMODITY, GRADE, LOCATION, REGISTRATION = range(5)
# Receipt record fields, as the `receipt` view returns them.
(R_COMMODITY, R_GRADE, R_QUANTITY, R_UNIT, R_LOCATION, R_CERT, R_EXPIRY, R_ISSUED_AT, R_WAREHOUSE, R_HOLDER,
 R_STATE, R_CANCEL_REQUESTED) = range(12)
# Stock record fields, as the `stockOf` view returns them.
S_UNIT, S_DECLARED, S_LIVE, S_DECLARED_AT, S_INSPECTED_AT, S_OBSERVED, S_INSPECTION = range(7)


def b32(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


def h(raw: bytes) -> str:
    """Bytes as tickets and decoded errors show them."""
    return "0x" + raw.hex()


CU, AL, ZN = b32("copper"), b32("aluminium"), b32("zinc")
KG, T = b32("kg"), b32("t")
GRADE_A, GRADE_B = b32("Cu-CATH-1"), b32("Cu-CATH-2")
LOC, LOC2 = b32("Shanghai Yangshan 3"), b32("Shanghai Waigaoqiao 7")
CERT, CERT2 = keccak(b"inspection certificate 1"), keccak(b"inspection certificate 2")
REPORT = keccak(b"exchange inspection report 2022-03")
POSITION = b32("CU2203 short 881")
EXPIRY = T0 + 365 * DAY
LOT = 25_000  # kg: one copper lot
STOCK = 10 * LOT
LOAN = 3_000_000
ZERO = b"\0" * 20


@dataclass
class Chain:
    """The receipt consortium and shortcuts to drive it one block per call."""

    consortium: Consortium
    exchange: Node
    wh1: Node
    wh2: Node
    bank: Node
    bank2: Node
    trader: Node
    trader2: Node
    regulator: Node
    client: Account  # a client account the first trader holds
    registry: Contract
    receipts: Contract

    def send(self, node: Node, function: str, *args, signer: Account | None = None) -> Ticket:
        ticket = node.send(self.receipts.call(function, *args), signer=signer)
        self.consortium.commit()
        return ticket

    def view(self, function: str, *args):
        return self.receipts.view(function, *args)


def build(run_dir: Path, seed: int = 7) -> Chain:
    c = open_chain(run_dir, "receipt_chain", seed, 31338, T0)
    exchange = c.add_node("EXCHANGE", "Futures Exchange",
                          Role.ADMIN | Role.PLATFORM | Role.FUTURES_EXCHANGE | Role.VALIDATOR)
    wh1 = c.add_node("WH1", "Yangshan Delivery Warehouse", Role.WAREHOUSE)
    wh2 = c.add_node("WH2", "Waigaoqiao Delivery Warehouse", Role.WAREHOUSE)
    bank = c.add_node("BANK", "Bank", Role.LENDER)
    bank2 = c.add_node("BANK2", "Second Bank", Role.LENDER)
    trader = c.add_node("TRADER", "Trader", Role.TRADER)
    trader2 = c.add_node("TRADER2", "Second Trader", Role.TRADER)
    regulator = c.add_node("REGULATOR", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
    client = trader.hold(c.client_account("client-1"))
    c.store.write_meta(c.genesis_meta())
    registry = exchange.deploy("PermissionRegistry", *c.founding_members()).contract_address
    exchange.deploy("WarehouseReceipt", registry)
    block = c.commit()
    assert all(o.success for o in block.outcomes)
    adopt_declared_roles(c)
    return Chain(c, exchange, wh1, wh2, bank, bank2, trader, trader2, regulator, client,
                 c.contract("PermissionRegistry"), c.contract("WarehouseReceipt"))


def ok(ticket: Ticket) -> Ticket:
    assert ticket.ok, (ticket.function, ticket.status, ticket.reason, ticket.detail)
    return ticket


def declare(wr: Chain, *stocks: tuple[Node, bytes]) -> None:
    """Declares STOCK kg of each (warehouse, commodity), all in one block."""
    tickets = [node.send(wr.receipts.call("declareStock", commodity, STOCK, KG)) for node, commodity in stocks]
    wr.consortium.commit()
    for t in tickets:
        ok(t)


@pytest.fixture
def wr(tmp_path: Path) -> Chain:
    built = build(tmp_path)
    declare(built, (built.wh1, CU), (built.wh1, AL), (built.wh2, CU))
    yield built
    built.consortium.store.close()


# ------------------------------------------------------------------ helpers


def issue(wr: Chain, *, node: Node | None = None, quantity: int = LOT, owner: bytes | None = None,
          commodity: bytes = CU, grade: bytes = GRADE_A, unit: bytes = KG, location: bytes = LOC,
          cert: bytes = CERT, expiry: int = EXPIRY) -> Ticket:
    owner = wr.trader.address if owner is None else owner
    return wr.send(node or wr.wh1, "issue", commodity, grade, quantity, unit, location, cert, expiry, owner)


def issued(wr: Chain, **kwargs) -> int:
    return ok(issue(wr, **kwargs)).event("ReceiptIssued")["id"]


def registered(wr: Chain, **kwargs) -> int:
    rid = issued(wr, **kwargs)
    ok(wr.send(wr.exchange, "register", rid))
    return rid


def record(wr: Chain, rid: int) -> tuple:
    return wr.view("receipt", rid)


def holder(wr: Chain, rid: int) -> str:
    return record(wr, rid)[R_HOLDER].lower()


def state(wr: Chain, rid: int) -> int:
    return record(wr, rid)[R_STATE]


def live(wr: Chain, warehouse: Node | None = None, commodity: bytes = CU) -> int:
    return wr.view("liveQuantity", (warehouse or wr.wh1).address, commodity)


def declared(wr: Chain, warehouse: Node | None = None, commodity: bytes = CU) -> int:
    return wr.view("declaredStock", (warehouse or wr.wh1).address, commodity)


def transfer(wr: Chain, rid: int, to: bytes, node: Node | None = None, signer: Account | None = None) -> Ticket:
    return wr.send(node or wr.trader, "transfer", rid, to, signer=signer)


def pledge(wr: Chain, rid: int, lender: Node | bytes | None = None, amount: int = LOAN, term: int = 30 * DAY,
           node: Node | None = None) -> Ticket:
    lender = lender or wr.bank
    address = lender.address if isinstance(lender, Node) else lender
    return wr.send(node or wr.trader, "pledge", rid, address, amount, term)


def pledged(wr: Chain, **kwargs) -> int:
    rid = registered(wr, **kwargs)
    ok(pledge(wr, rid))
    return rid


def deliver(wr: Chain, rid: int, buyer: bytes, node: Node | None = None) -> Ticket:
    return wr.send(node or wr.exchange, "deliver", rid, buyer, POSITION)


def split(wr: Chain, rid: int, quantities: list[int], node: Node | None = None) -> Ticket:
    return wr.send(node or wr.wh1, "split", rid, quantities)


def merge(wr: Chain, ids: list[int], node: Node | None = None) -> Ticket:
    return wr.send(node or wr.wh1, "merge", ids)


def request_cancel(wr: Chain, rid: int, node: Node | None = None, signer: Account | None = None) -> Ticket:
    return wr.send(node or wr.trader, "requestCancellation", rid, signer=signer)


def cancel(wr: Chain, rid: int, node: Node | None = None) -> Ticket:
    return wr.send(node or wr.wh1, "cancel", rid)


def pledge_record(wr: Chain, rid: int) -> tuple:
    lender, end, amount = wr.view("pledgeOf", rid)
    return lender.lower(), end, amount


def propose(wr: Chain, action: GovernanceAction, account: bytes, roles: int = 0) -> int:
    """A governance proposal with both admins' votes, ready to execute."""
    t = wr.exchange.send(wr.registry.call("propose", int(action), account, b"\0" * 32, roles))
    wr.consortium.commit()
    pid = ok(t).event("ProposalCreated")["id"]
    t = wr.regulator.send(wr.registry.call("vote", pid))
    wr.consortium.commit()
    ok(t)
    return pid


# ------------------------------------------------------------------- stock


def test_declare_stock_records_and_emits(wr):
    t = ok(wr.send(wr.wh2, "declareStock", AL, 4 * LOT, KG))
    assert t.event("StockDeclared") == {"warehouse": h(wr.wh2.address), "commodity": h(AL), "declared": 4 * LOT,
                                        "unit": h(KG), "live": 0}
    s = wr.view("stockOf", wr.wh2.address, AL)
    assert (s[S_UNIT], s[S_DECLARED], s[S_LIVE], s[S_OBSERVED]) == (KG, 4 * LOT, 0, 0)
    assert s[S_DECLARED_AT] == wr.consortium.head.timestamp
    # A later declaration replaces the figure, in the same unit.
    ok(wr.send(wr.wh2, "declareStock", AL, 6 * LOT, KG))
    assert declared(wr, wr.wh2, AL) == 6 * LOT
    assert declared(wr, wr.wh1, AL) == STOCK  # per warehouse


def test_declare_stock_refuses_another_unit(wr):
    t = wr.send(wr.wh1, "declareStock", CU, STOCK, T)
    assert reverted(t, "UnitMismatch")
    assert t.detail == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "declaredUnit": h(KG), "unit": h(T)}
    assert wr.view("stockOf", wr.wh1.address, CU)[S_UNIT] == KG


def test_declare_stock_refuses_below_live_quantity(wr):
    issued(wr, quantity=3 * LOT)
    t = wr.send(wr.wh1, "declareStock", CU, 3 * LOT - 1, KG)
    assert reverted(t, "DeclarationBelowLive")
    assert t.detail == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "live": 3 * LOT, "declared": 3 * LOT - 1}
    ok(wr.send(wr.wh1, "declareStock", CU, 3 * LOT, KG))
    assert declared(wr) == 3 * LOT


def test_inspect_stock_records_observation_without_changing_declaration(wr):
    issued(wr, quantity=2 * LOT)
    t = ok(wr.send(wr.exchange, "inspectStock", wr.wh1.address, CU, STOCK - 7, REPORT))
    assert t.event("StockInspected") == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "observed": STOCK - 7,
                                         "declared": STOCK, "live": 2 * LOT, "inspectionHash": h(REPORT)}
    s = wr.view("stockOf", wr.wh1.address, CU)
    assert (s[S_DECLARED], s[S_OBSERVED], s[S_INSPECTION]) == (STOCK, STOCK - 7, REPORT)
    assert s[S_INSPECTED_AT] == wr.consortium.head.timestamp


def test_inspect_and_correct_refuse_undeclared_stock(wr):
    for function in ("inspectStock", "correctDeclaration"):
        t = wr.send(wr.exchange, function, wr.wh2.address, ZN, LOT, REPORT)
        assert reverted(t, "UnknownDeclaration")
        assert t.detail == {"warehouse": h(wr.wh2.address), "commodity": h(ZN)}


def test_correct_declaration_within_live_quantity(wr):
    issued(wr, quantity=2 * LOT)
    t = ok(wr.send(wr.exchange, "correctDeclaration", wr.wh1.address, CU, 5 * LOT, REPORT))
    assert t.event("DeclarationCorrected") == {"warehouse": h(wr.wh1.address), "commodity": h(CU),
                                               "previous": STOCK, "declared": 5 * LOT, "live": 2 * LOT,
                                               "inspectionHash": h(REPORT)}
    assert not any(name == "StockShortfall" for name, _ in t.events)
    assert declared(wr) == 5 * LOT


def test_correction_below_live_records_shortfall_and_blocks_issuance(wr):
    first = registered(wr, quantity=4 * LOT)
    t = ok(wr.send(wr.exchange, "correctDeclaration", wr.wh1.address, CU, 3 * LOT, REPORT))
    assert t.event("StockShortfall") == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "live": 4 * LOT,
                                         "declared": 3 * LOT}
    assert (declared(wr), live(wr)) == (3 * LOT, 4 * LOT)
    # Receipts already out stay valid; new issuance is refused.
    ok(transfer(wr, first, wr.trader2.address))
    t = issue(wr, quantity=1)
    assert reverted(t, "ExceedsDeclaredStock")
    assert t.detail == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "live": 4 * LOT, "quantity": 1,
                        "declared": 3 * LOT}
    # The warehouse restocks and declares again: issuance resumes within the new figure.
    ok(wr.send(wr.wh1, "declareStock", CU, 5 * LOT, KG))
    issued(wr, quantity=LOT)
    assert reverted(issue(wr, quantity=1), "ExceedsDeclaredStock")


# ------------------------------------------------------------------- issue


def test_issue_records_receipt_and_live_quantity(wr):
    t = ok(issue(wr, quantity=2 * LOT, owner=wr.client.address))
    assert t.event("ReceiptIssued") == {
        "id": 1, "warehouse": h(wr.wh1.address), "owner": h(wr.client.address), "commodity": h(CU),
        "grade": h(GRADE_A), "quantity": 2 * LOT, "unit": h(KG), "location": h(LOC), "inspectionCertHash": h(CERT),
        "expiry": EXPIRY,
    }
    r = record(wr, 1)
    assert (r[R_COMMODITY], r[R_GRADE], r[R_QUANTITY], r[R_UNIT], r[R_LOCATION], r[R_CERT], r[R_EXPIRY]) == (
        CU, GRADE_A, 2 * LOT, KG, LOC, CERT, EXPIRY)
    assert r[R_WAREHOUSE].lower() == h(wr.wh1.address) and r[R_HOLDER].lower() == h(wr.client.address)
    assert (r[R_STATE], r[R_CANCEL_REQUESTED], r[R_ISSUED_AT]) == (ISSUED, False, wr.consortium.head.timestamp)
    assert wr.view("receiptCount") == 1
    assert (live(wr), live(wr, wr.wh2), live(wr, wr.wh1, AL)) == (2 * LOT, 0, 0)
    assert pledge_record(wr, 1) == (h(ZERO), 0, 0)


def test_issue_up_to_declared_stock_then_refuses(wr):
    issued(wr, quantity=STOCK - LOT)
    issued(wr, quantity=LOT)  # exactly the declared stock
    t = issue(wr, quantity=1)
    assert reverted(t, "ExceedsDeclaredStock")
    assert t.detail == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "live": STOCK, "quantity": 1,
                        "declared": STOCK}
    t = issue(wr, quantity=2**256 - 1)  # refused, not overflowed
    assert reverted(t, "ExceedsDeclaredStock") and t.detail["quantity"] == 2**256 - 1
    assert live(wr) == STOCK and wr.view("receiptCount") == 2
    # The other warehouse's stock of the same commodity is its own.
    issued(wr, node=wr.wh2, quantity=STOCK)
    assert live(wr, wr.wh2) == STOCK


def test_issue_refuses_undeclared_commodity(wr):
    t = issue(wr, commodity=ZN)
    assert reverted(t, "UnknownDeclaration") and t.detail == {"warehouse": h(wr.wh1.address), "commodity": h(ZN)}


def test_issue_refuses_other_unit(wr):
    t = issue(wr, unit=T, quantity=25)
    assert reverted(t, "UnitMismatch")
    assert t.detail == {"warehouse": h(wr.wh1.address), "commodity": h(CU), "declaredUnit": h(KG), "unit": h(T)}


def test_issue_refuses_incomplete_receipt(wr):
    for kwargs, reason in (({"quantity": 0}, "ZeroQuantity"), ({"owner": ZERO}, "ZeroAddress"),
                           ({"cert": b"\0" * 32}, "MissingInspectionCert")):
        t = issue(wr, **kwargs)
        assert reverted(t, reason) and t.detail == {}, reason
    assert wr.view("receiptCount") == 0 and live(wr) == 0


def test_issue_refuses_expiry_not_in_future(wr):
    now = wr.consortium.head.timestamp + 5  # the next block's time
    t = issue(wr, expiry=now)
    assert reverted(t, "InvalidExpiry") and t.detail == {"expiry": now, "time": now}


# ---------------------------------------------------------------- register


def test_register_makes_receipt_circulate(wr):
    rid = issued(wr)
    assert reverted(transfer(wr, rid, wr.trader2.address), "NotRegistered")
    t = ok(wr.send(wr.exchange, "register", rid))
    assert t.event("ReceiptRegistered") == {"id": rid, "exchange": h(wr.exchange.address)}
    assert state(wr, rid) == REGISTERED
    ok(transfer(wr, rid, wr.trader2.address))


def test_register_refuses_twice_and_unknown(wr):
    rid = registered(wr)
    t = wr.send(wr.exchange, "register", rid)
    assert reverted(t, "AlreadyRegistered") and t.detail == {"id": rid}
    t = wr.send(wr.exchange, "register", 99)
    assert reverted(t, "UnknownReceipt") and t.detail == {"id": 99}


# ---------------------------------------------------------------- transfer


def test_transfer_by_holder_and_by_client_account(wr):
    rid = registered(wr)
    t = ok(transfer(wr, rid, wr.client.address))
    assert t.event("ReceiptTransferred") == {"id": rid, "from": h(wr.trader.address), "to": h(wr.client.address)}
    assert holder(wr, rid) == h(wr.client.address)
    # The client's node submits for it, signed with the client's key.
    t = ok(transfer(wr, rid, wr.trader2.address, signer=wr.client))
    assert t.event("ReceiptTransferred")["from"] == h(wr.client.address)
    assert holder(wr, rid) == h(wr.trader2.address)
    assert live(wr) == LOT


def test_transfer_refuses_non_holder(wr):
    rid = registered(wr)
    t = transfer(wr, rid, wr.trader2.address, node=wr.trader2)
    assert reverted(t, "NotHolder")
    assert t.detail == {"id": rid, "caller": h(wr.trader2.address), "holder": h(wr.trader.address)}
    assert holder(wr, rid) == h(wr.trader.address)


def test_transfer_refuses_zero_address(wr):
    rid = registered(wr)
    assert reverted(transfer(wr, rid, ZERO), "ZeroAddress")


def test_transfer_refuses_unregistered_and_unknown(wr):
    rid = issued(wr)
    t = transfer(wr, rid, wr.trader2.address)
    assert reverted(t, "NotRegistered") and t.detail == {"id": rid}
    assert reverted(transfer(wr, 42, wr.trader2.address), "UnknownReceipt")


# ----------------------------------------------------------------- deliver


def test_deliver_moves_receipt_to_buyer_which_keeps_it_live(wr):
    rid = registered(wr)
    t = ok(deliver(wr, rid, wr.trader2.address))
    assert t.event("Delivered") == {"id": rid, "seller": h(wr.trader.address), "buyer": h(wr.trader2.address),
                                    "positionRef": h(POSITION)}
    assert holder(wr, rid) == h(wr.trader2.address) and state(wr, rid) == REGISTERED
    ok(transfer(wr, rid, wr.trader.address, node=wr.trader2))


def test_deliver_refuses_unregistered_zero_buyer_and_pledged(wr):
    rid = issued(wr)
    assert reverted(deliver(wr, rid, wr.trader2.address), "NotRegistered")
    ok(wr.send(wr.exchange, "register", rid))
    assert reverted(deliver(wr, rid, ZERO), "ZeroAddress")
    ok(pledge(wr, rid))
    t = deliver(wr, rid, wr.trader2.address)
    assert reverted(t, "ReceiptPledged") and t.detail == {"id": rid, "lender": h(wr.bank.address)}
    assert holder(wr, rid) == h(wr.trader.address)


# ------------------------------------------------------------------- split


def test_split_conserves_quantity_and_kills_original(wr):
    rid = registered(wr, quantity=3 * LOT, owner=wr.client.address)
    t = ok(split(wr, rid, [LOT, 2 * LOT - 1, 1]))
    assert t.event("ReceiptSplit") == {"id": rid, "holder": h(wr.client.address), "parts": [2, 3, 4],
                                       "quantities": [LOT, 2 * LOT - 1, 1]}
    assert state(wr, rid) == SPLIT
    original = record(wr, rid)
    for part, quantity in zip((2, 3, 4), (LOT, 2 * LOT - 1, 1)):
        r = record(wr, part)
        assert r[R_QUANTITY] == quantity and r[R_STATE] == REGISTERED
        assert r[R_HOLDER] == original[R_HOLDER] and r[R_WAREHOUSE] == original[R_WAREHOUSE]
        assert (r[R_COMMODITY], r[R_GRADE], r[R_UNIT], r[R_LOCATION], r[R_CERT], r[R_EXPIRY]) == (
            CU, GRADE_A, KG, LOC, CERT, EXPIRY)
    assert live(wr) == 3 * LOT
    # The split receipt never comes back.
    t = transfer(wr, rid, wr.trader2.address, signer=wr.client)
    assert reverted(t, "ReceiptNotLive") and t.detail == {"id": rid, "state": SPLIT}
    assert reverted(split(wr, rid, [LOT, 2 * LOT]), "ReceiptNotLive")


def test_split_of_unregistered_receipt_gives_unregistered_parts(wr):
    rid = issued(wr, quantity=2 * LOT)
    ok(split(wr, rid, [LOT, LOT]))
    assert [state(wr, i) for i in (2, 3)] == [ISSUED, ISSUED]


def test_split_refuses_parts_that_do_not_conserve(wr):
    rid = registered(wr, quantity=2 * LOT)
    for quantities, reason, detail in (
        ([2 * LOT], "TooFewParts", {"count": 1}),
        ([], "TooFewParts", {"count": 0}),
        ([2 * LOT, 0], "ZeroQuantity", {}),
        ([LOT, LOT - 1], "QuantityMismatch", {"id": rid, "quantity": 2 * LOT, "sum": 2 * LOT - 1}),
        ([LOT, LOT + 1], "QuantityMismatch", {"id": rid, "quantity": 2 * LOT, "sum": 2 * LOT + 1}),
        ([2**256 - 1, 2, 1], "QuantityMismatch", {"id": rid, "quantity": 2 * LOT, "sum": 2**256 - 1}),
    ):
        t = split(wr, rid, quantities)
        assert reverted(t, reason) and t.detail == detail, quantities
    assert state(wr, rid) == REGISTERED and wr.view("receiptCount") == 1


def test_split_refuses_other_warehouse_and_pledged(wr):
    rid = registered(wr, quantity=2 * LOT)
    t = split(wr, rid, [LOT, LOT], node=wr.wh2)
    assert reverted(t, "NotIssuingWarehouse") and t.detail == {"id": rid, "caller": h(wr.wh2.address)}
    ok(pledge(wr, rid))
    t = split(wr, rid, [LOT, LOT])
    assert reverted(t, "ReceiptPledged") and t.detail == {"id": rid, "lender": h(wr.bank.address)}


# ------------------------------------------------------------------- merge


def test_merge_sums_quantity_and_kills_sources(wr):
    a, b, c = (registered(wr, quantity=q, owner=wr.trader2.address) for q in (LOT, 2 * LOT, 3))
    t = ok(merge(wr, [a, b, c]))
    assert t.event("ReceiptsMerged") == {"id": 4, "holder": h(wr.trader2.address), "sources": [a, b, c],
                                         "quantity": 3 * LOT + 3, "inspectionCertHash": h(CERT)}
    r = record(wr, 4)
    assert (r[R_QUANTITY], r[R_STATE], r[R_CERT], r[R_EXPIRY], r[R_GRADE], r[R_LOCATION]) == (
        3 * LOT + 3, REGISTERED, CERT, EXPIRY, GRADE_A, LOC)
    assert r[R_HOLDER].lower() == h(wr.trader2.address)
    assert [state(wr, i) for i in (a, b, c)] == [MERGED] * 3
    assert live(wr) == 3 * LOT + 3
    t = merge(wr, [a, 4])
    assert reverted(t, "ReceiptNotLive") and t.detail == {"id": a, "state": MERGED}


def test_merge_takes_earliest_expiry_and_combines_certificates(wr):
    a = registered(wr, cert=CERT, expiry=EXPIRY)
    b = registered(wr, cert=CERT2, expiry=EXPIRY - DAY)
    rid = ok(merge(wr, [a, b])).event("ReceiptsMerged")["id"]
    r = record(wr, rid)
    assert r[R_EXPIRY] == EXPIRY - DAY
    assert r[R_CERT] == keccak(CERT + CERT2)


def test_merge_refuses_different_lots(wr):
    a = registered(wr)
    others = (
        (registered(wr, owner=wr.trader2.address), HOLDER),
        (registered(wr, commodity=AL), COMMODITY),
        (registered(wr, grade=GRADE_B), GRADE),
        (registered(wr, location=LOC2), LOCATION),
        (issued(wr), REGISTRATION),
    )
    for b, field in others:
        t = merge(wr, [a, b])
        assert reverted(t, "MergeMismatch") and t.detail == {"id": a, "otherId": b, "field": field}, field
    assert state(wr, a) == REGISTERED and wr.view("receiptCount") == 6


def test_merge_refuses_too_few_duplicates_other_warehouse_and_pledged(wr):
    a, b = registered(wr), registered(wr)
    t = merge(wr, [a])
    assert reverted(t, "TooFewParts") and t.detail == {"count": 1}
    t = merge(wr, [a, b, a])
    assert reverted(t, "DuplicateReceipt") and t.detail == {"id": a}
    t = merge(wr, [a, b], node=wr.wh2)
    assert reverted(t, "NotIssuingWarehouse") and t.detail == {"id": a, "caller": h(wr.wh2.address)}
    foreign = registered(wr, node=wr.wh2)
    t = merge(wr, [a, foreign])
    assert reverted(t, "NotIssuingWarehouse") and t.detail == {"id": foreign, "caller": h(wr.wh1.address)}
    ok(pledge(wr, b))
    t = merge(wr, [a, b])
    assert reverted(t, "ReceiptPledged") and t.detail == {"id": b, "lender": h(wr.bank.address)}
    assert (state(wr, a), state(wr, b)) == (REGISTERED, REGISTERED)
    assert live(wr) == 2 * LOT


# ------------------------------------------------------------------ pledge


def test_pledge_records_lender_amount_and_term(wr):
    rid = registered(wr)
    t = ok(pledge(wr, rid, term=30 * DAY))
    end = wr.consortium.head.timestamp + 30 * DAY
    assert t.event("Pledged") == {"id": rid, "holder": h(wr.trader.address), "lender": h(wr.bank.address),
                                  "amount": LOAN, "end": end}
    assert pledge_record(wr, rid) == (h(wr.bank.address), end, LOAN)
    assert holder(wr, rid) == h(wr.trader.address)


def test_pledge_is_never_taken_twice(wr):
    rid = pledged(wr)
    t = pledge(wr, rid, wr.bank2)
    assert reverted(t, "AlreadyPledged") and t.detail == {"id": rid, "lender": h(wr.bank.address)}
    assert pledge_record(wr, rid)[0] == h(wr.bank.address)


def test_pledged_receipt_is_not_transferred_split_merged_or_cancelled(wr):
    rid = registered(wr, quantity=2 * LOT)
    other = registered(wr)
    ok(request_cancel(wr, rid))
    ok(pledge(wr, rid))
    blocked = {"id": rid, "lender": h(wr.bank.address)}
    for t in (transfer(wr, rid, wr.trader2.address), split(wr, rid, [LOT, LOT]), merge(wr, [other, rid]),
              request_cancel(wr, rid), cancel(wr, rid), deliver(wr, rid, wr.trader2.address)):
        assert reverted(t, "ReceiptPledged") and t.detail == blocked, t.function
    assert (holder(wr, rid), state(wr, rid), live(wr)) == (h(wr.trader.address), REGISTERED, 3 * LOT)


def test_pledge_refuses_bad_terms(wr):
    rid = registered(wr)
    t = pledge(wr, rid, wr.trader2)
    assert reverted(t, "NotLender") and t.detail == {"account": h(wr.trader2.address)}
    assert reverted(pledge(wr, rid, amount=0), "ZeroAmount")
    assert reverted(pledge(wr, rid, term=0), "ZeroTerm")
    assert pledge_record(wr, rid)[0] == h(ZERO)


def test_pledge_refuses_term_reaching_expiry(wr):
    expiry = wr.consortium.head.timestamp + 10 * DAY
    rid = registered(wr, expiry=expiry)
    term = expiry - (wr.consortium.head.timestamp + 5)  # would end exactly at expiry
    t = pledge(wr, rid, term=term)
    assert reverted(t, "TermBeyondExpiry") and t.detail == {"id": rid, "end": expiry, "expiry": expiry}
    t = pledge(wr, rid, term=2**64 - 1)
    assert reverted(t, "TermBeyondExpiry") and t.detail["end"] == wr.consortium.head.timestamp + 2**64 - 1
    ok(pledge(wr, rid, term=expiry - (wr.consortium.head.timestamp + 5) - 1))  # ends a second before


def test_pledge_refuses_non_holder_and_unregistered(wr):
    rid = issued(wr)
    t = pledge(wr, rid)
    assert reverted(t, "NotRegistered") and t.detail == {"id": rid}
    ok(wr.send(wr.exchange, "register", rid))
    t = pledge(wr, rid, node=wr.trader2)
    assert reverted(t, "NotHolder")


def test_release_by_lender_frees_receipt_for_transfer_and_new_pledge(wr):
    rid = pledged(wr)
    t = ok(wr.send(wr.bank, "release", rid))
    assert t.event("PledgeReleased") == {"id": rid, "lender": h(wr.bank.address), "holder": h(wr.trader.address)}
    assert pledge_record(wr, rid) == (h(ZERO), 0, 0)
    ok(pledge(wr, rid, wr.bank2))
    ok(wr.send(wr.bank2, "release", rid))
    ok(transfer(wr, rid, wr.trader2.address))


def test_release_and_enforce_refuse_other_lender_and_unpledged(wr):
    rid = registered(wr)
    for function in ("release", "enforce"):
        t = wr.send(wr.bank, function, rid)
        assert reverted(t, "NotPledged") and t.detail == {"id": rid}
    ok(pledge(wr, rid))
    wr.consortium.advance(31 * DAY)
    for function in ("release", "enforce"):
        t = wr.send(wr.bank2, function, rid)
        assert reverted(t, "NotPledgee") and t.detail == {"id": rid, "caller": h(wr.bank2.address)}
    assert pledge_record(wr, rid)[0] == h(wr.bank.address)


def test_enforce_after_term_gives_receipt_to_lender(wr):
    rid = registered(wr)
    ok(request_cancel(wr, rid))
    ok(pledge(wr, rid, term=30 * DAY))
    end = pledge_record(wr, rid)[1]
    t = wr.send(wr.bank, "enforce", rid)
    assert reverted(t, "TermNotEnded") and t.detail == {"id": rid, "end": end}
    wr.consortium.advance(30 * DAY)
    t = ok(wr.send(wr.bank, "enforce", rid))
    assert t.event("PledgeEnforced") == {"id": rid, "lender": h(wr.bank.address),
                                         "previousHolder": h(wr.trader.address)}
    assert holder(wr, rid) == h(wr.bank.address) and pledge_record(wr, rid)[0] == h(ZERO)
    assert record(wr, rid)[R_CANCEL_REQUESTED] is False  # the former holder's request lapsed
    # The lender now holds it like any holder.
    ok(transfer(wr, rid, wr.trader2.address, node=wr.bank))


# ------------------------------------------------------------ cancellation


def test_cancel_on_holder_request_frees_live_and_declared_stock(wr):
    rid = registered(wr, quantity=2 * LOT)
    t = ok(request_cancel(wr, rid))
    assert t.event("CancellationRequested") == {"id": rid, "holder": h(wr.trader.address)}
    assert record(wr, rid)[R_CANCEL_REQUESTED] is True
    t = ok(cancel(wr, rid))
    assert t.event("ReceiptCancelled") == {"id": rid, "warehouse": h(wr.wh1.address),
                                           "holder": h(wr.trader.address), "quantity": 2 * LOT}
    assert t.event("StockDeclared") == {"warehouse": h(wr.wh1.address), "commodity": h(CU),
                                        "declared": STOCK - 2 * LOT, "unit": h(KG), "live": 0}
    assert (state(wr, rid), live(wr), declared(wr)) == (CANCELLED, 0, STOCK - 2 * LOT)


def test_cancelled_receipt_never_comes_back(wr):
    rid = registered(wr)
    ok(request_cancel(wr, rid))
    ok(cancel(wr, rid))
    dead = {"id": rid, "state": CANCELLED}
    for t in (transfer(wr, rid, wr.trader2.address), wr.send(wr.exchange, "register", rid), pledge(wr, rid),
              deliver(wr, rid, wr.trader2.address), cancel(wr, rid), request_cancel(wr, rid),
              split(wr, rid, [1, LOT - 1]), wr.send(wr.exchange, "markExpired", rid)):
        assert reverted(t, "ReceiptNotLive") and t.detail == dead, t.function
    wr.consortium.advance(400 * DAY)
    assert reverted(wr.send(wr.exchange, "markExpired", rid), "ReceiptNotLive")
    assert state(wr, rid) == CANCELLED


def test_cancel_needs_the_current_holders_request(wr):
    rid = registered(wr)
    t = cancel(wr, rid)
    assert reverted(t, "CancellationNotRequested") and t.detail == {"id": rid}
    ok(request_cancel(wr, rid))
    ok(transfer(wr, rid, wr.client.address))  # the request lapses with the transfer
    assert reverted(cancel(wr, rid), "CancellationNotRequested")
    ok(request_cancel(wr, rid, signer=wr.client))
    ok(cancel(wr, rid))


def test_cancellation_refuses_non_holder_and_other_warehouse(wr):
    rid = registered(wr)
    t = request_cancel(wr, rid, node=wr.trader2)
    assert reverted(t, "NotHolder")
    assert t.detail == {"id": rid, "caller": h(wr.trader2.address), "holder": h(wr.trader.address)}
    ok(request_cancel(wr, rid))
    t = cancel(wr, rid, node=wr.wh2)
    assert reverted(t, "NotIssuingWarehouse") and t.detail == {"id": rid, "caller": h(wr.wh2.address)}
    assert state(wr, rid) == REGISTERED


def test_cancel_after_shortfall_keeps_declared_stock_non_negative(wr):
    rid = registered(wr, quantity=4 * LOT)
    ok(wr.send(wr.exchange, "correctDeclaration", wr.wh1.address, CU, LOT, REPORT))
    ok(request_cancel(wr, rid))
    ok(cancel(wr, rid))
    assert (live(wr), declared(wr)) == (0, 0)


# ------------------------------------------------------------------ expiry


def test_expired_receipt_is_dead_for_every_operation(wr):
    expiry = wr.consortium.head.timestamp + 10 * DAY
    a = registered(wr, expiry=expiry)
    b = registered(wr, expiry=expiry)
    ok(request_cancel(wr, b))
    ok(pledge(wr, b, term=DAY))
    wr.consortium.advance(10 * DAY)
    gone = {"id": a, "expiry": expiry}
    for t in (transfer(wr, a, wr.trader2.address), wr.send(wr.exchange, "register", a), pledge(wr, a),
              deliver(wr, a, wr.trader2.address), split(wr, a, [1, LOT - 1]), merge(wr, [a, b]),
              request_cancel(wr, a)):
        assert reverted(t, "Expired") and t.detail == gone, t.function
    for t in (wr.send(wr.bank, "release", b), wr.send(wr.bank, "enforce", b), cancel(wr, b)):
        assert reverted(t, "Expired") and t.detail == {"id": b, "expiry": expiry}, t.function
    assert live(wr) == 2 * LOT  # until someone marks them


def test_mark_expired_frees_live_quantity_and_lapses_pledge(wr):
    expiry = wr.consortium.head.timestamp + 10 * DAY
    rid = registered(wr, quantity=STOCK, expiry=expiry)
    ok(pledge(wr, rid, term=DAY))
    t = wr.send(wr.wh1, "markExpired", rid)
    assert reverted(t, "NotExpired") and t.detail == {"id": rid, "expiry": expiry}
    assert reverted(issue(wr, quantity=1), "ExceedsDeclaredStock")
    wr.consortium.advance(10 * DAY)
    t = ok(wr.send(wr.regulator, "markExpired", rid))
    assert t.event("MarkedExpired") == {"id": rid, "warehouse": h(wr.wh1.address), "holder": h(wr.trader.address),
                                        "quantity": STOCK}
    assert t.event("PledgeLapsed") == {"id": rid, "lender": h(wr.bank.address)}
    assert (state(wr, rid), live(wr), declared(wr)) == (EXPIRED, 0, STOCK)
    assert pledge_record(wr, rid)[0] == h(ZERO)
    t = wr.send(wr.wh1, "markExpired", rid)
    assert reverted(t, "ReceiptNotLive") and t.detail == {"id": rid, "state": EXPIRED}
    # The goods are still declared: after re-inspection the warehouse issues anew.
    issued(wr, quantity=STOCK)


def test_mark_expired_needs_an_active_member(wr):
    expiry = wr.consortium.head.timestamp + DAY
    rid = registered(wr, expiry=expiry)
    wr.consortium.advance(DAY)
    t = wr.send(wr.trader, "markExpired", rid, signer=wr.client)
    assert reverted(t, "NotActiveMember") and t.detail == {"account": h(wr.client.address)}
    assert not any(name == "PledgeLapsed" for name, _ in ok(wr.send(wr.trader, "markExpired", rid)).events)


# ------------------------------------------------------------------- views


def test_views_refuse_unknown_receipt(wr):
    for function in ("receipt", "pledgeOf"):
        with pytest.raises(PilotLedgerError, match="UnknownReceipt"):
            wr.view(function, 1)
    s = wr.view("stockOf", wr.wh2.address, ZN)
    assert s == (b"\0" * 32, 0, 0, 0, 0, 0, b"\0" * 32)


# -------------------------------------------------------------- permissions


def test_gateway_refuses_node_without_role(wr):
    rid = issued(wr)
    for node, function, args in (
        (wr.trader, "declareStock", (CU, LOT, KG)),
        (wr.wh1, "inspectStock", (wr.wh1.address, CU, LOT, REPORT)),
        (wr.wh1, "correctDeclaration", (wr.wh1.address, CU, LOT, REPORT)),
        (wr.exchange, "issue", (CU, GRADE_A, LOT, KG, LOC, CERT, EXPIRY, wr.trader.address)),
        (wr.wh1, "register", (rid,)),
        (wr.trader, "deliver", (rid, wr.trader.address, POSITION)),
        (wr.exchange, "split", (rid, [1, LOT - 1])),
        (wr.exchange, "merge", ([rid, rid],)),
        (wr.trader, "cancel", (rid,)),
        (wr.trader, "release", (rid,)),
        (wr.trader, "enforce", (rid,)),
    ):
        t = wr.send(node, function, *args)
        assert t.status == "refused" and t.reason == "ROLE_MISSING", function
    assert state(wr, rid) == ISSUED and wr.view("receiptCount") == 1


def test_gateway_refuses_deploy_without_futures_exchange_role(wr):
    t = wr.wh1.deploy("WarehouseReceipt", wr.registry.address)
    wr.consortium.commit()
    assert t.status == "refused" and t.reason == "ROLE_MISSING"


def test_warehouse_stripped_of_role_is_refused_on_chain_then_by_gateway(wr):
    rid = registered(wr, quantity=2 * LOT)
    ok(request_cancel(wr, rid))
    pid = propose(wr, GovernanceAction.SET_ROLES, wr.wh1.address, int(Role.TRADER))
    execute = wr.exchange.send(wr.registry.call("execute", pid))
    queued = [wr.wh1.send(wr.receipts.call(*call)) for call in (
        ("issue", CU, GRADE_A, LOT, KG, LOC, CERT, EXPIRY, wr.trader.address),
        ("declareStock", CU, STOCK, KG), ("split", rid, [LOT, LOT]), ("merge", [rid, rid]), ("cancel", rid))]
    wr.consortium.commit()
    assert execute.ok
    for t in queued:
        assert reverted(t, "MissingRole"), t.function
        assert t.detail == {"account": h(wr.wh1.address), "role": int(Role.WAREHOUSE)}
    t = issue(wr)
    assert t.status == "refused" and t.reason == "ROLE_MISSING"
    assert (wr.view("receiptCount"), state(wr, rid), live(wr)) == (1, REGISTERED, 2 * LOT)


def test_suspended_exchange_and_lender_are_refused_on_chain(wr):
    rid = pledged(wr)
    free = registered(wr)
    other = issued(wr)
    pid_bank = propose(wr, GovernanceAction.SUSPEND, wr.bank.address)
    pid_ex = propose(wr, GovernanceAction.SUSPEND, wr.exchange.address)
    executes = [wr.regulator.send(wr.registry.call("execute", p)) for p in (pid_bank, pid_ex)]
    release = wr.bank.send(wr.receipts.call("release", rid))
    register = wr.exchange.send(wr.receipts.call("register", other))
    wr.consortium.commit()
    assert all(t.ok for t in executes)
    assert reverted(release, "NotActiveMember") and release.detail == {"account": h(wr.bank.address)}
    assert reverted(register, "NotActiveMember") and register.detail == {"account": h(wr.exchange.address)}
    assert pledge_record(wr, rid)[0] == h(wr.bank.address) and state(wr, other) == ISSUED
    # A suspended lender is no longer a valid pledgee; the gateway now refuses its own calls.
    t = pledge(wr, free)
    assert reverted(t, "NotLender") and t.detail == {"account": h(wr.bank.address)}
    t = wr.send(wr.bank, "release", rid)
    assert t.status == "refused" and t.reason == "MEMBER_SUSPENDED"


# ---------------------------------------------------- split / merge property


OPS = st.lists(
    st.tuples(st.sampled_from(["split", "merge", "bad-split"]), st.integers(0, 10**6),
              st.lists(st.integers(1, 10**6), min_size=1, max_size=3)),
    min_size=1, max_size=10,
)
START = [("trader", CU, 4 * LOT + 3), ("trader", CU, 2 * LOT), ("trader2", CU, LOT + 11), ("trader", AL, 5 * LOT)]


@settings(max_examples=15, deadline=None)
@given(OPS)
def test_split_and_merge_conserve_quantity(ops):
    with tempfile.TemporaryDirectory() as tmp:
        wr = build(Path(tmp))
        try:
            _run_split_merge(wr, ops)
        finally:
            wr.consortium.store.close()


def _run_split_merge(wr: Chain, ops: list) -> None:
    declare(wr, (wr.wh1, CU), (wr.wh1, AL))
    owners = {"trader": wr.trader.address, "trader2": wr.trader2.address}
    tickets = [wr.wh1.send(wr.receipts.call("issue", commodity, GRADE_A, quantity, KG, LOC, CERT, EXPIRY,
                                            owners[who])) for who, commodity, quantity in START]
    wr.consortium.commit()
    model: dict[int, tuple[str, bytes, int]] = {}  # live id -> (holder, commodity, quantity)
    for t, start in zip(tickets, START):
        model[ok(t).event("ReceiptIssued")["id"]] = start
    tickets = [wr.exchange.send(wr.receipts.call("register", rid)) for rid in model]
    wr.consortium.commit()
    assert all(t.ok for t in tickets)
    totals = _totals(model)
    for kind, pick, cuts in ops:
        ids = sorted(model)
        rid = ids[pick % len(ids)]
        who, commodity, quantity = model[rid]
        if kind == "merge":
            others = [i for i in ids if i != rid]
            chosen = list(dict.fromkeys([rid] + [others[c % len(others)] for c in cuts[:2]]))
            t = merge(wr, chosen)
            if len({model[i][:2] for i in chosen}) == 1:
                new = ok(t).event("ReceiptsMerged")["id"]
                model[new] = (who, commodity, sum(model.pop(i)[2] for i in chosen))
            else:
                assert reverted(t, "MergeMismatch") and t.detail["field"] in (HOLDER, COMMODITY)
        elif quantity >= 2:
            points = sorted({1 + c % (quantity - 1) for c in cuts})
            parts = [b - a for a, b in zip([0] + points, points + [quantity])]
            if kind == "bad-split":
                parts[-1] += 1
                assert reverted(split(wr, rid, parts), "QuantityMismatch")
                continue
            t = ok(split(wr, rid, parts))
            del model[rid]
            for part, q in zip(t.event("ReceiptSplit")["parts"], parts):
                model[part] = (who, commodity, q)
        for c in (CU, AL):
            assert live(wr, wr.wh1, c) == sum(q for (_, c2), q in totals.items() if c2 == c)
    _check(wr, model, totals, owners)


def _totals(model: dict[int, tuple[str, bytes, int]]) -> dict[tuple[str, bytes], int]:
    totals: dict[tuple[str, bytes], int] = {}
    for who, commodity, quantity in model.values():
        totals[who, commodity] = totals.get((who, commodity), 0) + quantity
    return totals


def _check(wr: Chain, model: dict, totals: dict, owners: dict) -> None:
    """The chain's live receipts are the model's, and quantities per holder/commodity are unchanged."""
    names = {h(a): who for who, a in owners.items()}
    chain_live = {}
    for rid in range(1, wr.view("receiptCount") + 1):
        r = record(wr, rid)
        if r[R_STATE] in (ISSUED, REGISTERED):
            chain_live[rid] = (names[r[R_HOLDER].lower()], r[R_COMMODITY], r[R_QUANTITY])
    assert chain_live == model
    assert _totals(chain_live) == totals
