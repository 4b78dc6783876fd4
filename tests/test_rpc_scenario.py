"""share_transfer on a real node (Hardhat, over JSON-RPC) refuses every planted violation with the same
reason as on the embedded engine, and its run directory verifies and audits against the node."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from ledger.errors import PilotLedgerError

from ledger.cli import main
from ledger.evm import devnode
from ledger.audit.reexecute import audit_ledger, audit_run
from rpc_node import assert_verifies_and_audits_against_the_node, start_node
from scenarios.api import ANY_CHAIN
from scenarios.runner import run_scenario

SMALL = {"investors": 60, "transfers": 120}
SEED = 5


@pytest.fixture(scope="module")
def node_url():
    process, url = start_node()
    yield url
    devnode.stop(process)


@pytest.fixture(scope="module")
def runs(node_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("rpc")
    on_node = run_scenario("share_transfer", SEED, SMALL, root / "rpc", "rpc", rpc_urls={ANY_CHAIN: node_url})
    embedded = run_scenario("share_transfer", SEED, SMALL, root / "pyevm")
    return root, on_node, embedded


def planted(run_dir):
    return [(p["kind"], p["expected"], p["caught"], p["outcome"] and (p["outcome"]["status"], p["outcome"]["reason"]))
            for p in json.loads((run_dir / "ground_truth.json").read_text())]


def test_every_planted_violation_is_refused_as_on_the_embedded_engine(runs):
    root, on_node, embedded = runs
    assert on_node["engine"] == "rpc"
    assert planted(root / "rpc") == planted(root / "pyevm")
    assert on_node["caught"] == embedded["caught"] == on_node["planted_for_chain"]
    for figure in ("blocks", "transactions", "committed", "refused_by_reason", "unexpected_refusals"):
        assert on_node[figure] == embedded[figure], figure


def test_the_rpc_run_verifies_and_audits_against_the_node(runs):
    root, on_node, _ = runs
    assert_verifies_and_audits_against_the_node(root / "rpc", on_node["blocks"])


def test_the_ledger_records_the_node(runs, node_url):
    root, _, _ = runs
    assert main(["verify", str(root / "rpc")]) == 0
    db = sqlite3.connect(root / "rpc" / "fund_platform" / "ledger.sqlite")
    meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
    db.close()
    assert (meta["engine"], meta["rpc_url"], meta["chain_id"]) == ("rpc", node_url, 7001)


def test_a_node_that_has_moved_past_the_scenarios_dates_is_refused(runs, node_url, tmp_path, capsys):
    code = main(["run", "scenario", "share_transfer", "--engine", "rpc", "--rpc-url", node_url,
                 "--run-dir", str(tmp_path / "again")])
    assert code == 2
    assert "start a fresh node" in capsys.readouterr().err


def test_rpc_options_are_checked_in_one_line(tmp_path, capsys):
    unreachable = ["run", "scenario", "share_transfer", "--engine", "rpc", "--rpc-url", "http://127.0.0.1:9",
                   "--run-dir", str(tmp_path / "x")]
    assert main(unreachable) == 2
    assert main(["run", "scenario", "share_transfer", "--engine", "rpc"]) == 2
    assert main(["run", "scenario", "regional_equity", "--engine", "rpc",
                 "--rpc-url", "equity_market=http://127.0.0.1:9", "--rpc-url", "http://127.0.0.1:9"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in errors] == ["error"] * 3
    assert "no JSON-RPC answer from http://127.0.0.1:9" in errors[0]
    assert "--rpc-url" in errors[1]
    assert not (tmp_path / "x").exists()


def test_each_chain_of_a_multi_chain_scenario_needs_its_node(tmp_path, capsys):
    process, url = start_node()  # fresh: the first chain opens on it before the second finds no node
    try:
        code = main(["run", "scenario", "regional_equity", "--engine", "rpc", "--rpc-url", f"equity_market={url}",
                     "--run-dir", str(tmp_path / "multi")])
    finally:
        devnode.stop(process)
    assert code == 2
    assert "error: no node for chain regulatory besides equity_market" in capsys.readouterr().err


def test_the_audit_says_when_the_node_is_gone(runs, tmp_path, monkeypatch):
    root, _, _ = runs
    ledger = root / "rpc" / "fund_platform" / "ledger.sqlite"
    from ledger.evm.rpc import RpcEngine

    def gone(self, number):
        raise PilotLedgerError("connection refused")

    monkeypatch.setattr(RpcEngine, "block_hash", gone)  # the node has moved away: nothing answers
    audited = audit_ledger(ledger, "fund_platform")
    assert not audited.verified
    assert audited.problems == [audited.problems[0]] and audited.problems[0].startswith("re-execution skipped: ")
    assert "does not answer" in audited.problems[0]


def test_pointing_the_genesis_record_at_another_node_is_tampering(runs, tmp_path):
    """The node's URL is part of the genesis record every seal is bound to: a copy that names another node
    fails at genesis, against the chain's genesis.json; without one, nothing is checked against a record
    nobody published."""
    root, _, _ = runs
    copy = tmp_path / "fund_platform" / "ledger.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(root / "rpc" / "fund_platform" / "ledger.sqlite", copy)
    db = sqlite3.connect(copy)
    db.execute("DROP TRIGGER meta_no_update")
    db.execute("UPDATE meta SET value = ? WHERE key = 'rpc_url'", (json.dumps("http://127.0.0.1:9"),))
    db.commit()
    db.close()
    assert audit_ledger(copy, "fund_platform", chain_dir=root / "rpc" / "fund_platform").first_bad_block == 0
    assert audit_ledger(copy, "fund_platform").first_bad_block == 0  # no genesis.json to check it against


def test_send_goes_on_the_node_that_holds_the_chain(runs, capsys):
    """`send` picks the rpc run up on its node: a gateway refusal and a committed call both become blocks
    there, and the run still verifies and audits against the node."""
    root, _, _ = runs
    run_dir = str(root / "rpc")
    assert main(["send", run_dir, "SettlementCash", "mint", "node:HX-SEC", "5", "--node", "HX-SEC", "--json"]) == 1
    refused = json.loads(capsys.readouterr().out)
    assert (refused["status"], refused["reason"]) == ("refused", "ROLE_MISSING")
    assert main(["send", run_dir, "SettlementCash", "mint", "node:CUSTODY", "5", "--node", "CUSTODY", "--json"]) == 0
    minted = json.loads(capsys.readouterr().out)
    assert minted["status"] == "committed" and minted["block"] == refused["block"] + 1
    [audited] = audit_run(root / "rpc")
    assert audited.verified, audited.problems
    assert main(["call", run_dir, "SettlementCash", "balanceOf", "node:CUSTODY"]) == 0
    assert int(capsys.readouterr().out) >= 5


def test_a_multi_chain_scenario_runs_on_one_node_per_chain(tmp_path):
    """regional_equity's business and regulatory chains on two nodes: every chain plant caught, the
    anchors sent across, and the audit re-reads both chains from their nodes and matches the anchors."""
    nodes = [start_node(), start_node()]
    try:
        urls = {"equity_market": nodes[0][1], "regulatory": nodes[1][1]}
        summary = run_scenario("regional_equity", SEED, {}, tmp_path / "multi", "rpc", rpc_urls=urls)
        audits = audit_run(tmp_path / "multi")
    finally:
        for process, _ in nodes:
            devnode.stop(process)
    assert summary["caught"] == summary["planted_for_chain"] > 0
    assert summary["unexpected_refusals"] == 0 and summary["anchors"]
    assert [a.chain for a in audits] == ["equity_market", "regulatory"]
    assert all(a.verified for a in audits), [a.problems for a in audits]
    assert audits[0].anchors_checked == summary["anchors"]
