"""The Python rules of ledger.supervision.rules agree with the contracts they mirror, on generated cases."""

from __future__ import annotations

import random

import pytest
from eth_hash.auto import keccak

from conftest import T0, DAY
from ledger.supervision.rules import Failure, IdentityKind, holder_units, look_through, merged_certificate

KINDS = (IdentityKind.PERSON, IdentityKind.INSTITUTION, IdentityKind.PRODUCT, IdentityKind.VEHICLE,
         IdentityKind.VEHICLE, IdentityKind.VEHICLE)


def _send_all(chain, calls):
    tickets = [chain.agent.send(chain.identities.call(*call)) for call in calls]
    chain.consortium.commit()
    return tickets


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_look_through_agrees_with_identity_registry(chain, seed):
    rng = random.Random(seed)
    ids = [keccak(f"rules/{seed}/{i}".encode()) for i in range(16)]
    kinds = {i: rng.choice(KINDS) for i in ids}
    qualified = {i: rng.random() < 0.85 for i in ids}
    unknown = keccak(b"never registered")
    _send_all(chain, [("registerIdentity", i, b"\x11" * 32, int(kinds[i]), T0 + 3650 * DAY if qualified[i] else 0)
                      for i in ids])
    vehicles = [i for i in ids if kinds[i] is IdentityKind.VEHICLE]
    declared: dict[bytes, list[bytes]] = {}
    # Two rounds of declarations, the second over the first, so that later ones can form cycles or
    # outgrow the extents recorded earlier; the chain refuses some, and only what it kept is modelled.
    for _ in range(2):
        batch = []
        for vehicle in rng.sample(vehicles, k=len(vehicles)):
            if rng.random() < 0.2:
                continue
            investors = rng.sample([i for i in ids if i != vehicle], k=rng.randint(1, 4))
            bps = [10_000 // len(investors)] * len(investors)
            bps[0] += 10_000 - sum(bps)
            batch.append((vehicle, investors, bps))
        for (vehicle, investors, _), ticket in zip(batch, _send_all(
                chain, [("declareInvestors", v, inv, bps) for v, inv, bps in batch])):
            if ticket.ok:
                declared[vehicle] = investors
    limits = [(50, 4, 200), (3, 6, 9)]
    seen = set()
    for width, depth_limit, size in limits:
        assert chain.send(chain.platform, chain.identities, "setLookThroughLimits", width, depth_limit, size).ok
        for identity in ids + [unknown]:
            for max_depth in (1, 2, 4, 20):
                for qualify in (False, True):
                    on_chain = chain.identities.view("lookThrough", identity, max_depth, qualify)
                    mine = look_through(identity, lambda i: kinds.get(i, IdentityKind.NONE),
                                        lambda i: declared.get(i, []), qualified.get if qualify else None,
                                        max_depth, size)
                    expected = (mine.failure, mine.units, mine.identity or b"\0" * 32, mine.vehicle or b"\0" * 32,
                                mine.limit)
                    assert tuple(on_chain) == expected, (identity.hex()[:8], max_depth, qualify)
                    seen.add(mine.failure)
    SEEN.update(seen)


SEEN: set = set()


def test_generated_cases_reach_every_outcome():
    assert SEEN == set(Failure), "run with the look-through agreement test above"


def test_holder_units_is_the_successful_look_through():
    rng = random.Random(7)
    for _ in range(200):
        n = 12
        kinds = {i: rng.choice(KINDS) for i in range(n)}
        declared = {i: rng.sample([j for j in range(i + 1, n)], k=min(n - i - 1, rng.randint(1, 3)))
                    for i in range(n) if kinds[i] is IdentityKind.VEHICLE}
        for i in range(n):
            walk = look_through(i, kinds.get, lambda v: declared.get(v, []), max_depth=16)
            if walk.ok:
                investors = lambda v: declared.get(v, []) if kinds[v] is IdentityKind.VEHICLE else []
                assert holder_units(i, investors) == walk.units


def test_holder_units_cuts_cycles_and_counts_undeclared_as_one():
    declared = {"a": ["b", "p"], "b": ["a", "q", "v"], "v": []}
    assert holder_units("a", lambda i: declared.get(i, [])) == 3  # p, q, and v (declared none)
    assert holder_units("b", lambda i: declared.get(i, [])) == 3  # q, v, p


def test_merged_certificate_agrees_with_warehouse_receipt(tmp_path):
    """The certificate WarehouseReceipt.merge records for a merged receipt, read back from the chain."""
    from test_warehouse_receipt import CU, R_CERT, build, declare, merge, ok, record, registered

    wr = build(tmp_path)
    try:
        declare(wr, (wr.wh1, CU))
        one, two, three = (keccak(f"certificate {i}".encode()) for i in range(3))
        for certificates in ([one, one], [one, two], [three, one, one], [two, two, two]):
            ids = [registered(wr, cert=c) for c in certificates]
            event = ok(merge(wr, ids)).event("ReceiptsMerged")
            merged = event["id"]
            assert event["inspectionCertHash"] == "0x" + merged_certificate(certificates).hex()
            assert record(wr, merged)[R_CERT] == merged_certificate(certificates)
    finally:
        wr.consortium.store.close()
