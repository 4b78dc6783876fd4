"""Look-through supervision: the audit index, ubo and holders, on a small share_transfer run and on
synthetic indexes (cycles), and the `query` commands."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from ledger.errors import ConfigError, LedgerError
from ledger.supervision.lookthrough import INDEX_FILE, build_index, holders, open_index, resolve_entity, ubo
from ledger.supervision.lookthrough.index import AuditIndex, write_index
from scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
SEED = 7


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lookthrough") / "run"
    run_scenario("share_transfer", SEED, {"investors": 60, "transfers": 100}, path)
    return path


@pytest.fixture(scope="module")
def index(run_dir):
    with open_index(run_dir) as ix:
        yield ix


@pytest.fixture(scope="module")
def events(run_dir) -> list[tuple[str, dict]]:
    db = sqlite3.connect(run_dir / "fund_platform" / "ledger.sqlite")
    rows = db.execute("SELECT name, args FROM events WHERE args IS NOT NULL ORDER BY block_number, log_index")
    out = [(name, json.loads(args)) for name, args in rows]
    db.close()
    return out


@pytest.fixture(scope="module")
def planted(run_dir) -> dict:
    truth = json.loads((run_dir / "ground_truth.json").read_text())
    return next(p for p in truth if p["kind"] == "cap_breach_nested_vehicle")


def declared_graph(events) -> dict[str, list[tuple[str, int]]]:
    graph = {}
    for name, a in events:
        if name == "InvestorsDeclared":
            graph[a["vehicle"]] = list(zip(a["investors"], a["sharesBps"]))
    return graph


def expected_owners(graph, vehicle: str) -> dict[str, Fraction]:
    """Independent expectation: exact fractions, recursively through the declarations."""
    out: dict[str, Fraction] = {}

    def walk(node: str, weight: Fraction) -> None:
        if node not in graph:
            out[node] = out.get(node, Fraction(0)) + weight
            return
        for investor, bps in graph[node]:
            walk(investor, weight * Fraction(bps, 10_000))

    walk(vehicle, Fraction(1))
    return out


# ---------------------------------------------------------------------- index


def test_index_mirrors_the_events(run_dir, index, events):
    registered = {a["id"] for name, a in events if name == "IdentityRegistered"}
    assert {i for (i,) in index.query("SELECT id FROM identities")} == registered
    funds = {a["fundId"] for name, a in events if name == "FundCreated"}
    assert {a for (a,) in index.query("SELECT asset FROM assets")} == {f"fund:{f}" for f in funds}
    for fund in funds:
        subscribed = sum(a["amount"] for name, a in events if name == "Subscribed" and a["fundId"] == fund)
        row = index.asset(f"fund:{fund}")
        assert row["total"] == subscribed  # transfers only move shares
        shares = [s for _, _, s in index.holdings(f"fund:{fund}")]
        assert sum(shares) == pytest.approx(1.0)


def test_an_edited_index_is_never_believed(run_dir):
    """The index is a cache: every answer comes from an index built afresh from the verified ledgers, so
    editing RUN_DIR/index.sqlite (20 holders into 1, as a member tried) changes no answer."""
    with open_index(run_dir) as ix:
        before = list(ix.holdings("fund:1"))
    assert len(before) > 1
    path = build_index(run_dir)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM holdings WHERE asset = 'fund:1' AND holder != (SELECT MIN(holder) FROM holdings)")
    db.commit()
    db.close()
    with open_index(run_dir) as ix:
        assert list(ix.holdings("fund:1")) == before
        assert ix.path != path and ix.path.exists()
    assert not ix.path.exists()  # built for that answer, removed after it


def test_queries_refuse_a_ledger_that_does_not_hold(run_dir, tmp_path):
    """Rows a member adds after the head (an extra holder) are reported, never counted."""
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    ledger = copy / "fund_platform" / "ledger.sqlite"
    db = sqlite3.connect(ledger)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    db.execute("INSERT INTO events SELECT block_number + 1000, log_index, tx_hash, address, contract, name, args, "
               "topics, data FROM events WHERE name = 'TransferSettled' LIMIT 1")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="does not hold.*tied to no sealed block"):
        open_index(copy)


def test_missing_run_or_ledger_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        open_index(tmp_path / "nope")
    with pytest.raises(ConfigError):
        build_index(tmp_path)


# ------------------------------------------------------------------------ ubo


def test_ubo_of_every_fund_sums_to_all_its_shares(index):
    for (asset,) in index.query("SELECT asset FROM assets"):
        u = ubo(index, asset)
        assert u["total_pct"] == pytest.approx(100.0, abs=1e-6)
        assert u["unattributed_pct"] == 0 and u["cycles"] == []
        assert sum(o["effective_pct"] for o in u["owners"]) == pytest.approx(100.0, abs=1e-4)
        # every owner is someone who declared nobody: the vehicles have been looked through
        assert all(not index.declared(o["identity"]) for o in u["owners"])


def test_ubo_of_the_three_level_partnership_matches_its_declarations(index, events, planted):
    deep = planted["subject"]["buyer"]
    graph = declared_graph(events)
    expected = expected_owners(graph, deep)
    u = ubo(index, deep)
    assert u["entity"] == deep and u["label"] == "unregistered vehicle"
    got = {o["identity"]: o["effective_pct"] for o in u["owners"]}
    assert set(got) == set(expected)
    for identity, fraction in expected.items():
        assert got[identity] == pytest.approx(float(fraction) * 100, abs=1e-5)
    assert all(o["kind_name"] == "natural person" for o in u["owners"])
    assert u["max_depth"] == 4  # the vehicle, its middle partnership, the leaf partnership, the people
    assert u["total_pct"] == pytest.approx(100.0, abs=1e-6)
    # every path is a chain of declarations starting at the vehicle
    for o in u["owners"]:
        for path in o["paths"]:
            chain = path["via"] + [o["identity"]]
            assert chain[0] == deep
            assert all(b in dict(graph[a]) for a, b in zip(chain, chain[1:]))


def test_ubo_of_a_fund_holding_a_vehicle_multiplies_along_the_path(index):
    """At seed 7 (60 investors, 100 transfers) a fund holds a vehicle; a run where none does fails here, it
    does not skip."""
    held_vehicles = []
    for (asset,) in index.query("SELECT asset FROM assets"):
        held = {h: s for h, _, s in index.holdings(asset)}
        held_vehicles += [(asset, held, h) for h in held if index.declared(h)]
    assert held_vehicles, "no fund holds a vehicle in this run: choose a seed or options where one does"
    asset, held, v = held_vehicles[0]
    u = ubo(index, asset)
    owners = {o["identity"]: o for o in u["owners"]}
    checked = 0
    for investor, bps in index.declared(v):
        if index.declared(investor):
            continue
        via_v = sum(p["pct"] for p in owners[investor]["paths"] if p["via"] == [v])
        assert via_v == pytest.approx(held[v] * bps / 100, abs=1e-6)
        checked += 1
    assert checked > 0  # the vehicle declares people directly, not only other vehicles


# -------------------------------------------------------------------- holders


def test_holders_match_the_contracts_holder_units(index, events):
    last_units = {}
    for name, a in events:
        if name in ("HolderEntered", "HolderExited"):  # HolderCapModule's, for the fund platform's only token
            last_units[a["asset"]] = a["holders"]
    assert last_units
    for fund, units in last_units.items():
        h = holders(index, f"fund:{fund}")
        assert h["holders_on_chain"] == units
        assert h["units_by_contract_rule"] == units  # the chain's rule, recomputed off chain
        assert h["count"] == len(h["counted"]) <= units  # the regulator de-duplicates
        assert h["count"] == units - sum(c["routes"] - 1 for c in h["counted"])
        assert not h["breach"] and h["count"] <= h["cap"]
        for c in h["counted"]:
            reason = c["reasons"][0]
            assert reason["reason"].startswith("direct holder" if not reason["via"] else "looked through vehicle")


def test_the_planted_nested_cap_breach_is_consistent_with_the_look_through(index, planted):
    deep, fund = planted["subject"]["buyer"], planted["subject"]["fund"]
    stated = int(re.search(r"\((\d+) investors looked through\)", planted["description"]).group(1))
    u = ubo(index, deep)
    assert sum(o["path_count"] for o in u["owners"]) == stated  # the contract's units for the vehicle
    h = holders(index, f"fund:{fund}")
    assert h["cap"] == 50
    assert planted["subject"]["units_before"] + stated > h["cap"]  # why the chain refused it
    assert planted["outcome"]["reason"] == "InvestorCapExceeded"
    assert deep not in {c["identity"] for c in h["counted"]}  # refused: never became a holder


def test_entity_syntax(index, planted):
    assert resolve_entity(index, "fund:1")["asset"] == "fund:1"
    assert resolve_entity(index, "FUND:01")["asset"] == "fund:1"
    deep = planted["subject"]["buyer"]
    assert resolve_entity(index, deep) == {"type": "identity", "identity": deep}
    assert resolve_entity(index, "identity:" + deep.upper().replace("0X", "0x"))["identity"] == deep
    for bad in ("fund:99", "fund:x", "company:NOPE", "0x" + "ab" * 32, "nonsense"):
        with pytest.raises(ConfigError):
            resolve_entity(index, bad)
    with pytest.raises(ConfigError):
        holders(index, deep)


# ------------------------------------------------------------ synthetic: cycles


def ident(n: int) -> str:
    return "0x" + f"{n:064x}"


@pytest.fixture
def cyclic(tmp_path) -> AuditIndex:
    """Fund 1: person P1 60%, vehicle A 40%. A: P2 50%, B 50%. B: P3 50%, A 50% (a cycle back to A)."""
    P1, P2, P3, A, B = (ident(n) for n in (1, 2, 3, 10, 11))
    path = tmp_path / INDEX_FILE
    write_index(path,
                [(P1, "c", 1, 0), (P2, "c", 1, 0), (P3, "c", 2, 0), (A, "c", 4, 0), (B, "c", 4, 0)], [],
                [("fund:1", "fund", "c", "fund 1", 2, 100, None)],
                [("fund:1", P1, 60, 0.6), ("fund:1", A, 40, 0.4)],
                [(A, P2, 5000, "c"), (A, B, 5000, "c"), (B, P3, 5000, "c"), (B, A, 5000, "c")], {})
    with AuditIndex(path) as ix:
        yield ix


def test_cycles_are_solved_not_cut(cyclic):
    """A's 40% of the fund goes half to P2 and half to B; B's half to P3 and half back to A. What enters A,
    x_A = 40% + x_B / 2 with x_B = x_A / 2, is 40% / (1 - 1/4) = 53.33%: P2 has 26.67%, P3 13.33%."""
    P1, P2, P3, A, B = (ident(n) for n in (1, 2, 3, 10, 11))
    u = ubo(cyclic, "fund:1")
    got = {o["identity"]: o["effective_pct"] for o in u["owners"]}
    assert got == pytest.approx({P1: 60.0, P2: 80 / 3, P3: 40 / 3})
    assert u["cycles"] == [{"cycle": [A, B, A], "vehicles": sorted([A, B]), "pct_at_cycle": pytest.approx(40.0),
                            "closed": False}]
    assert u["total_pct"] == pytest.approx(100.0) and u["unattributed"] == []
    p3 = next(o for o in u["owners"] if o["identity"] == P3)
    assert p3["path_count"] == 1 and p3["paths"] == [{"via": [A, B], "pct": pytest.approx(10.0)}]  # acyclic
    h = holders(cyclic, "fund:1")
    assert {c["identity"] for c in h["counted"]} == {P1, P2, P3}
    assert h["cycles"] and h["cycles"][0]["cycle"] == [A, B, A]
    assert h["count"] == 3 and h["cap"] == 2 and h["breach"]
    assert h["breaches"] == [{"asset": "fund:1", "count": 3, "cap": 2, "excess": 1, "looked_through": 2}]
    p3 = next(c for c in h["counted"] if c["identity"] == P3)
    assert p3["reasons"][0]["via"] == [A, B]


def synthetic(path: Path, kinds: dict[str, int], holdings: dict[str, dict[str, float]],
              declarations: dict[str, dict[str, int]], nominees: dict[str, dict[str, list[str]]] | None = None,
              cap: int = 50) -> Path:
    """An index written directly: identities by kind, assets (fund:N or company:0x..) -> holder -> share,
    vehicle -> investor -> bps, and company asset -> nominee -> the people behind it."""
    write_index(path, [(i, "c", k, 0) for i, k in kinds.items()], [],
                [(a, a.split(":")[0], "c", a, cap, 100, None) for a in holdings],
                [(a, h, round(100 * s), s) for a, held in holdings.items() for h, s in held.items()],
                [(v, i, bps, "c") for v, investors in declarations.items() for i, bps in investors.items()], {},
                nominees=[(a, n, p) for a, held in (nominees or {}).items() for n, people in held.items()
                          for p in people])
    return path


def test_a_self_declaring_vehicle_is_a_loop_solved_in_the_limit(tmp_path):
    """V declares itself 30% and P 70%: P has 70% + 30% x 70% + ... = 70% / (1 - 30%) = 100% of V."""
    V, P = ident(20), ident(21)
    path = synthetic(tmp_path / INDEX_FILE, {V: 4, P: 1}, {"fund:1": {V: 1.0}}, {V: {V: 3000, P: 7000}})
    with AuditIndex(path) as ix:
        u = ubo(ix, "fund:1")
        assert [(o["identity"], o["effective_pct"]) for o in u["owners"]] == [(P, pytest.approx(100.0))]
        assert u["cycles"][0]["cycle"] == [V, V] and u["unattributed"] == []
        assert ubo(ix, V)["owners"][0]["effective_pct"] == pytest.approx(100.0)


def test_a_cross_holding_is_attributed_in_the_limit(tmp_path):
    """Fund F is held 100% by vehicle V4. V4 declares person P 45%, vehicle V5 10%, person Q 45%; V5 declares
    V4 50% and P 50%.

    By hand: of everything that enters V4, 10% x 50% = 5% comes back to V4 through V5, so V4 passes on
    1 + 0.05 + 0.05^2 + ... = 1 / (1 - 0.05) = 20/19 of F. Each pass gives P 45% directly and 10% x 50% = 5%
    through V5, 50% in all: P owns 50% x 20/19 = 10/19 = 52.6316% of F, and Q 45% x 20/19 = 9/19 = 47.3684%,
    together 100%. Cutting the loop gave P 50% and Q 45%, and lost the 5% that goes round."""
    P, Q, V4, V5 = (ident(n) for n in (1, 2, 4, 5))
    path = synthetic(tmp_path / INDEX_FILE, {P: 1, Q: 1, V4: 4, V5: 4}, {"fund:1": {V4: 1.0}},
                     {V4: {P: 4500, V5: 1000, Q: 4500}, V5: {V4: 5000, P: 5000}})
    with AuditIndex(path) as ix:
        u = ubo(ix, "fund:1")
        owners = {o["identity"]: o for o in u["owners"]}
        assert owners[P]["effective_pct"] == pytest.approx(100 * 10 / 19, abs=1e-6)
        assert owners[Q]["effective_pct"] == pytest.approx(100 * 9 / 19, abs=1e-6)
        assert u["total_pct"] == pytest.approx(100.0, abs=1e-6) and u["unattributed_pct"] == 0
        assert u["cycles"] == [{"cycle": [V4, V5, V4], "vehicles": sorted([V4, V5]), "pct_at_cycle": 100.0,
                                "closed": False}]
        # the routes stay acyclic, each with its own product
        assert sorted((p["via"], round(p["pct"], 6)) for p in owners[P]["paths"]) == [([V4], 45.0), ([V4, V5], 5.0)]
        assert owners[P]["path_count"] == 2 and u["max_depth"] == 3
        # V5 on its own: 5% of what enters it comes back (50% to V4, 10% of that back), so V5 passes on 20/19
        # of itself and V4 half that: P has 50% x 20/19 + 45% x 10/19 = 14.5/19, Q 45% x 10/19 = 4.5/19
        v5 = {o["identity"]: o["effective_pct"] for o in ubo(ix, V5)["owners"]}
        assert v5 == pytest.approx({P: 100 * 14.5 / 19, Q: 100 * 4.5 / 19})


def test_a_closed_loop_is_reported_unattributed(tmp_path):
    """Fund: P1 60%, vehicle A 40%. A declares P2 50%, B 50%; B declares C 100% and C declares B 100%: the
    20% that enters B goes round B and C for ever and never reaches a person. P1 60% + P2 20% + the closed
    loop's 20% make the whole fund. A vehicle that leaves bps undeclared loses them too: D declares P3 50% and
    E 40% (10% undeclared) and E declares D 100%, so D passes on 1 / (1 - 40%) = 5/3 of what enters it: P3
    has 50% x 5/3 = 83.33% of D and 10% x 5/3 = 16.67% stays unattributed."""
    P1, P2, P3, A, B, C, D, E = (ident(n) for n in (1, 2, 3, 10, 11, 12, 13, 14))
    path = synthetic(tmp_path / INDEX_FILE, {P1: 1, P2: 1, P3: 1, A: 4, B: 4, C: 4, D: 4, E: 4},
                     {"fund:1": {P1: 0.6, A: 0.4}, "fund:2": {D: 1.0}},
                     {A: {P2: 5000, B: 5000}, B: {C: 10_000}, C: {B: 10_000}, D: {P3: 5000, E: 4000}, E: {D: 10_000}})
    with AuditIndex(path) as ix:
        u = ubo(ix, "fund:1")
        assert {o["identity"]: o["effective_pct"] for o in u["owners"]} == pytest.approx({P1: 60.0, P2: 20.0})
        (loop,) = u["unattributed"]
        assert loop["reason"].startswith("closed loop") and loop["pct"] == pytest.approx(20.0)
        assert loop["vehicles"] == sorted([B, C]) and loop["cycle"] == [B, C, B]
        assert u["cycles"] == [{"cycle": [B, C, B], "vehicles": sorted([B, C]), "pct_at_cycle": pytest.approx(20.0),
                                "closed": True}]
        assert u["total_pct"] + u["unattributed_pct"] == pytest.approx(100.0)
        alone = ubo(ix, B)
        assert alone["owners"] == [] and alone["unattributed_pct"] == pytest.approx(100.0)
        d = ubo(ix, "fund:2")
        assert [(o["identity"], o["effective_pct"]) for o in d["owners"]] == [(P3, pytest.approx(250 / 3))]
        assert d["unattributed"] == [{"reason": "declared bps short of 10,000", "vehicle": D, "bps_undeclared": 1000,
                                      "pct": pytest.approx(50 / 3)}]
        assert d["total_pct"] + d["unattributed_pct"] == pytest.approx(100.0)


def test_exposure_weights_solve_loops_as_ubo_does(tmp_path):
    """The reverse look-through (exposure) weighs each holder with the part of it that reaches the person,
    round loops too: on the cross-holding above, P's exposure to the fund is ubo's 10/19."""
    from ledger.supervision.lookthrough.queries import reach_weights, solve_flow

    P, Q, V4, V5 = (ident(n) for n in (1, 2, 4, 5))
    declared = {V4: [(P, 4500), (V5, 1000), (Q, 4500)], V5: [(V4, 5000), (P, 5000)]}
    assert reach_weights({P}, declared) == pytest.approx({P: 1.0, V4: 10 / 19, V5: 0.5 + 0.5 * 10 / 19})
    assert solve_flow([(V4, 1.0)], declared)["owners"] == pytest.approx({P: 10 / 19, Q: 9 / 19})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_large_loops_are_iterated_to_the_same_answer(monkeypatch, seed):
    """A component above ELIMINATION_LIMIT is solved by Gauss-Seidel sweeps (elimination would fill it in),
    and by elimination after all when the sweeps do not settle: all three give the same weights, which
    account for the whole entity."""
    import random

    from ledger.supervision.lookthrough import queries

    rng = random.Random(seed)
    vehicles, people = [ident(100 + n) for n in range(60)], [ident(n) for n in range(1, 9)]
    declared = {}
    for v in vehicles:
        investors = rng.sample(vehicles, 3) + rng.sample(people, 1)
        declared[v] = list(zip(investors, [3000, 3000, 3000, 1000]))
    roots = [(vehicles[0], 0.7), (vehicles[1], 0.3)]
    solved = {}
    for limit, work in ((1000, 1), (10, 10**7), (10, 1)):  # elimination, sweeps, sweeps giving up
        monkeypatch.setattr(queries, "ELIMINATION_LIMIT", limit)
        monkeypatch.setattr(queries, "SWEEP_WORK", work)
        flow = queries.solve_flow(roots, declared)
        assert max(len(loop["vehicles"]) for loop in flow["loops"]) > 10
        assert sum(flow["owners"].values()) == pytest.approx(1.0, abs=1e-12)
        solved[(limit, work)] = flow["owners"]
    first, *others = solved.values()
    for other in others:
        assert other == pytest.approx(first, abs=1e-12)


def test_holders_count_the_people_behind_nominees(tmp_path):
    """Company X: P1 directly, nominee N (an institution holding for P2, P4 and P5) and vehicle V (P2, P3). The
    cap rule counts P1..P5, P2 once though two routes reach it; N counts as itself in company Y, where it
    holds for nobody."""
    from ledger.supervision.rules import investors_behind

    P1, P2, P3, P4, P5, N, V = (ident(n) for n in (1, 2, 3, 4, 5, 30, 31))
    X, Y = "company:" + ident(100), "company:" + ident(101)
    path = synthetic(tmp_path / INDEX_FILE, {P1: 1, P2: 1, P3: 1, P4: 1, P5: 1, N: 2, V: 4},
                     {X: {P1: 0.2, N: 0.5, V: 0.3}, Y: {P1: 0.5, N: 0.5}}, {V: {P2: 5000, P3: 5000}},
                     nominees={X: {N: [P2, P4, P5]}}, cap=4)
    with AuditIndex(path) as ix:
        h = holders(ix, X)
        rows = {c["identity"]: c for c in h["counted"]}
        assert set(rows) == {P1, P2, P3, P4, P5} and h["count"] == 5 and h["breach"]
        assert h["count"] == len(investors_behind([P1, N, V], ix.graph[0], ix.nominees(X)))
        assert h["units_by_contract_rule"] == 3 and h["direct_holders"] == 3  # the register's own count
        assert rows[P4]["reasons"] == [{"reason": f"behind nominee {N}", "via": [N]}]
        assert rows[P2]["routes"] == 2 and {r["reason"] for r in rows[P2]["reasons"]} == {
            f"behind nominee {N}", f"looked through vehicle {V}"}
        assert h["nominees"] == [{"identity": N, "people": 3}] and h["nominee_people"] == 3
        assert N not in rows
        y = holders(ix, Y)
        assert {c["identity"] for c in y["counted"]} == {P1, N} and y["nominee_people"] == 0 and y["nominees"] == []


def test_a_declaration_listing_an_investor_twice_still_indexes(run_dir, tmp_path, monkeypatch):
    """A chain that holds a declaration listing one investor twice (a registry older than DuplicateInvestor,
    or a hand-built ledger): the replay merges the repeat into one investor with the sum of its bps, and
    ubo and holders answer. The decoded event is edited in a copy, so the copy no longer verifies: the index
    is built from it directly."""
    import ledger.supervision.lookthrough.index as index_module

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    ledger = copy / "fund_platform" / "ledger.sqlite"
    db = sqlite3.connect(ledger)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    with open_index(run_dir) as ix:
        held = {h: a for (a,) in ix.query("SELECT asset FROM assets") for h, _, _ in ix.holdings(a)}
    rows = db.execute("SELECT block_number, log_index, args FROM events WHERE name = 'InvestorsDeclared' "
                      "ORDER BY block_number DESC, log_index DESC").fetchall()
    latest = {}
    for block, log_index, args in rows:
        a = json.loads(args)
        latest.setdefault(a["vehicle"], (block, log_index, a))
    vehicle, (block, log_index, a) = max(latest.items(), key=lambda ve: (ve[0] in held, len(ve[1][2]["investors"])))
    assert len(a["investors"]) >= 2
    first, dropped = a["investors"][0], a["investors"][1]
    a["investors"][1] = first  # the first investor listed twice, once with the second's share
    db.execute("UPDATE events SET args = ? WHERE block_number = ? AND log_index = ?", (json.dumps(a), block, log_index))
    db.commit()
    db.close()
    monkeypatch.setattr(index_module, "ledger_files", lambda *_args, **_kwargs: [ledger])
    path = build_index(copy, tmp_path / INDEX_FILE)
    with AuditIndex(path) as ix:
        merged = dict(ix.declared(vehicle))
        assert merged[first] == a["sharesBps"][0] + a["sharesBps"][1] and dropped not in merged
        assert sum(merged.values()) == 10_000 and len(merged) == len(a["investors"]) - 1
        u = ubo(ix, vehicle)
        assert u["total_pct"] == pytest.approx(100.0, abs=1e-6)
        h = holders(ix, held.get(vehicle, "fund:1"))
        assert h["count"] == len(h["counted"]) and u["owners"]


# ------------------------------------------------------------------------ CLI


def test_cli_query_json(run_dir, planted):
    result = cli("query", "ubo", str(run_dir), planted["subject"]["buyer"], "--json")
    assert result.returncode == 0, result.stderr
    u = json.loads(result.stdout)
    assert u["query"] == "ubo" and u["total_pct"] == pytest.approx(100.0, abs=1e-6)
    result = cli("query", "holders", str(run_dir), f"fund:{planted['subject']['fund']}", "--json")
    assert result.returncode == 0, result.stderr
    h = json.loads(result.stdout)
    assert h["query"] == "holders" and h["cap"] == 50
    table = cli("query", "holders", str(run_dir), "fund:1")
    assert table.returncode == 0 and "look-through holders of fund 1" in table.stdout


@pytest.mark.parametrize("args, fragment", [
    (["query", "ubo", "{run}", "fund:99"], "unknown entity 'fund:99'"),
    (["query", "holders", "{run}", "company:NOPE"], "unknown entity 'company:NOPE'"),
    (["query", "ubo", "/no/such/run", "fund:1"], "no run directory"),
])
def test_cli_bad_input_is_one_line_and_exit_2(run_dir, args, fragment):
    result = cli(*[a.replace("{run}", str(run_dir)) for a in args])
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
