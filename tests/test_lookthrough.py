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
    for (asset,) in index.query("SELECT asset FROM assets"):
        held = {h: s for h, _, s in index.holdings(asset)}
        vehicles = [h for h in held if index.declared(h)]
        if not vehicles:
            continue
        u = ubo(index, asset)
        owners = {o["identity"]: o for o in u["owners"]}
        v = vehicles[0]
        for investor, bps in index.declared(v):
            if index.declared(investor):
                continue
            via_v = sum(p["pct"] for p in owners[investor]["paths"] if p["via"] == [v])
            assert via_v == pytest.approx(held[v] * bps / 100, abs=1e-6)
        return
    pytest.skip("no fund holds a vehicle in this run")


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


def test_cycles_are_reported_not_looped_on(cyclic):
    P1, P2, P3, A, B = (ident(n) for n in (1, 2, 3, 10, 11))
    u = ubo(cyclic, "fund:1")
    got = {o["identity"]: o["effective_pct"] for o in u["owners"]}
    assert got == pytest.approx({P1: 60.0, P2: 20.0, P3: 10.0})
    assert len(u["cycles"]) == 1
    assert u["cycles"][0]["cycle"] == [A, B, A]
    assert u["cycles"][0]["pct_at_cycle"] == pytest.approx(10.0)  # the share that goes round the loop
    assert u["total_pct"] == pytest.approx(90.0)
    h = holders(cyclic, "fund:1")
    assert {c["identity"] for c in h["counted"]} == {P1, P2, P3}
    assert h["cycles"] and h["cycles"][0]["cycle"] == [A, B, A]
    assert h["count"] == 3 and h["cap"] == 2 and h["breach"]
    assert h["breaches"] == [{"asset": "fund:1", "count": 3, "cap": 2, "excess": 1, "looked_through": 2}]
    p3 = next(c for c in h["counted"] if c["identity"] == P3)
    assert p3["reasons"][0]["via"] == [A, B]


def test_a_self_declaring_vehicle_is_a_cycle(tmp_path):
    V, P = ident(20), ident(21)
    path = tmp_path / INDEX_FILE
    write_index(path, [(V, "c", 4, 0), (P, "c", 1, 0)], [], [("fund:1", "fund", "c", "fund 1", 50, 1, None)],
                [("fund:1", V, 1, 1.0)], [(V, V, 3000, "c"), (V, P, 7000, "c")], {})
    with AuditIndex(path) as ix:
        u = ubo(ix, "fund:1")
        assert [o["identity"] for o in u["owners"]] == [P]
        assert u["cycles"][0]["cycle"] == [V, V]
        assert ubo(ix, V)["owners"][0]["effective_pct"] == pytest.approx(70.0)


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
