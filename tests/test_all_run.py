"""The multi-market run (`run scenario all`): one run directory holding the three scenarios as sub-runs,
RUN/<scenario>/<chain>/, that every command reading a run accepts, naming each chain by its path; and one
investment institution followed across the fund, equity and warehouse receipt markets by `query exposure`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.chain.run import chain_name, chain_names, ledger_path, own_name, pick_chain, run_of, sub_runs
from ledger.cli.app import main
from ledger.errors import ConfigError
from scenarios.api import identity_of
from scenarios.people import CROSS_MARKET
from scenarios.runner import run_all

SEED = 7
SMALL = {  # every scenario at about its smallest, so that the run takes seconds
    "share_transfer": {"funds": 4, "investors": 60, "transfers": 40, "batch": 20},
    "warehouse_receipt": {"receipts": 30, "traders": 4, "batch": 10},
    "regional_equity": {"companies": 3, "investors": 60, "transfers": 30, "batch": 15, "cap": 20},
}
CHAINS = ["regional_equity/equity_market", "regional_equity/regulatory", "share_transfer/fund_platform",
          "warehouse_receipt/receipt_platform"]
INSTITUTION = "0x" + identity_of(SEED, CROSS_MARKET).hex()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("all") / f"all-seed{SEED}"
    run_all(SEED, SMALL, run_dir)
    return run_dir


def invoke(capsys, *args: str) -> tuple[int, str]:
    """Runs the CLI in this process, as `pilotledger ARGS`; its exit code and what it printed."""
    capsys.readouterr()
    code = main([*map(str, args)])
    out = capsys.readouterr()
    return code, out.out + out.err


def invoke_json(capsys, *args: str) -> dict:
    code, out = invoke(capsys, *args, "--json")
    assert code == 0, out
    return json.loads(out[out.index("{"):])


def test_its_chains_are_those_of_its_sub_runs_named_by_their_path(run):
    assert [p.name for p in sub_runs(run)] == ["regional_equity", "share_transfer", "warehouse_receipt"]
    assert chain_names(run) == CHAINS
    for chain in CHAINS:
        assert chain_name(run, ledger_path(run, chain)) == chain
        assert run_of(run, chain) == run / chain.split("/")[0]
    assert own_name("share_transfer/fund_platform") == "fund_platform"
    assert chain_names(run / "share_transfer") == ["fund_platform"]  # a sub-run is a run of its own too
    assert pick_chain(run, "warehouse_receipt/receipt_platform") == "warehouse_receipt/receipt_platform"
    with pytest.raises(ConfigError, match="choose one with --chain"):
        pick_chain(run, None)
    with pytest.raises(ConfigError, match="has no chain"):
        pick_chain(run, "fund_platform")


def test_verify_and_audit_accept_it_and_check_the_anchors(run, capsys, tmp_path):
    verified = invoke_json(capsys, "verify", run)
    assert verified["verified"] and [c["chain"] for c in verified["chains"]] == CHAINS
    assert all(c["blocks"] > 0 for c in verified["chains"])
    audited = invoke_json(capsys, "audit", run)
    assert audited["verified"] and [c["chain"] for c in audited["chains"]] == CHAINS
    anchors = {c["chain"]: c["anchors_checked"] for c in audited["chains"]}
    assert anchors["regional_equity/equity_market"] > 0  # its anchors, on the regulatory chain beside it
    assert anchors["share_transfer/fund_platform"] == 0  # another market's regulatory chain anchors none of it
    pins = tmp_path / "pins.json"
    assert invoke(capsys, "verify", run, "--pin", pins)[0] == 0
    assert sorted(json.loads(pins.read_text())) == CHAINS
    assert invoke(capsys, "audit", run, "--pin", pins)[0] == 0


def test_view_takes_a_chain_by_its_path(run, capsys):
    v = invoke_json(capsys, "view", run, "CSRC-BJ", "--chain", "share_transfer/fund_platform")
    assert v["chain"] == "share_transfer/fund_platform" and v["submitted"]["transactions"] > 0
    agent = invoke_json(capsys, "view", run, "HX-SEC", "--chain", "share_transfer/fund_platform")
    assert agent["private_data"]["records"] > 0 and agent["private_data"]["opened"] == agent["private_data"]["records"]
    # Without --chain: the first chain the node is on.
    assert invoke_json(capsys, "view", run, "SHFE")["chain"] == "warehouse_receipt/receipt_platform"
    code, out = invoke(capsys, "view", run, "SHFE", "--chain", "../share_transfer/fund_platform")
    assert code == 2 and "no chain" in out


def test_look_through_queries_answer_on_every_market(run, capsys):
    fund = invoke_json(capsys, "query", "holders", run, "fund:1")
    assert fund["count"] > 0 and fund["cap"] > 0
    company = invoke_json(capsys, "query", "holders", run, "company:BJEE-880001")
    assert company["count"] > 0
    ubo = invoke_json(capsys, "query", "ubo", run, "fund:1")
    assert ubo["owner_count"] > 0 and abs(ubo["total_pct"] - 100) < 1
    receipt = invoke_json(capsys, "query", "receipt", run, "1")
    assert receipt["custody"] and receipt["custody"][0]["what"] == "issued"
    anomalies = invoke_json(capsys, "query", "receipts", run, "--anomalies")
    assert anomalies["chain"].endswith("receipt_platform") and anomalies["anomalies"]


def test_queries_answer_as_on_the_sub_run_alone(run, capsys):
    """A market's answers do not change when it sits in the multi-market run (but for the chains' names)."""
    def without_chains(value):
        if isinstance(value, dict):
            return {k: without_chains(v) for k, v in value.items() if k != "chain"}
        if isinstance(value, list):
            return [without_chains(v) for v in value]
        return value

    for args, sub in ((("query", "holders"), "share_transfer"), (("query", "ubo"), "share_transfer")):
        both = [invoke_json(capsys, *args, where, "fund:2") for where in (run, run / sub)]
        assert without_chains(both[0]) == without_chains(both[1])
    both = [invoke_json(capsys, "query", "disclosures", where, "--anomalies") for where in (run, run / "regional_equity")]
    assert without_chains(both[0]) == without_chains(both[1])  # each document found beside its own chain
    both = [invoke_json(capsys, "query", "receipts", where, "--anomalies") for where in (run, run / "warehouse_receipt")]
    assert without_chains(both[0]) == without_chains(both[1])


def test_exposure_follows_one_institution_across_the_three_markets(run, capsys):
    x = invoke_json(capsys, "query", "exposure", run, INSTITUTION)
    assert x["identities"] == [INSTITUTION] and x["kind_name"] == "institution"
    [account] = x["accounts"]  # its one unified account, in every market
    markets = {m["chain"]: m for m in x["markets"]}
    assert sorted(markets) == [c for c in CHAINS if c != "regional_equity/regulatory"]
    fund, equity = markets["share_transfer/fund_platform"], markets["regional_equity/equity_market"]
    receipts = markets["warehouse_receipt/receipt_platform"]
    assert fund["market"] == "private fund shares" and fund["identity_kind"] == "institution"
    assert fund["holdings"] and fund["accounts"] == [account]
    assert equity["market"] == "regional equity" and equity["identity_kind"] == "institution"
    assert equity["holdings"] and equity["accounts"] == [account]
    assert receipts["market"] == "warehouse receipts" and receipts["receipts_ever_held"] > 0
    assert receipts["receipts_held"] == len(x["receipts_held"])
    assert {h["market"] for h in x["holdings"]} == {"fund", "company"}
    assert all(h["effective_pct"] > 0 for h in x["holdings"])
    assert x["receipts_ever_held"] and all(r["came"]["block"] > 0 for r in x["receipts_ever_held"])
    # Its account leads to the same person; the table names each market.
    by_account = invoke_json(capsys, "query", "exposure", run, account)
    assert by_account["identities"] == [INSTITUTION] and by_account["markets"] == x["markets"]
    code, out = invoke(capsys, "query", "exposure", run, INSTITUTION)
    assert code == 0
    for chain in markets:
        assert chain in out
    # An ordinary investor: no detector reports it, in any market.
    scores = json.loads((run / "run.json").read_text())["scores"]
    assert INSTITUTION not in json.dumps(scores) and account not in json.dumps(scores)


def test_call_names_the_chain_by_its_path(run, capsys):
    code, out = invoke(capsys, "call", run, "PrivateFundShares", "paused", "--chain", "share_transfer/fund_platform")
    assert code == 0 and "false" in out.split()
    code, out = invoke(capsys, "call", run, "PrivateFundShares", "paused")
    assert code == 2 and "share_transfer/fund_platform" in out


def test_report_covers_every_market(run, capsys, tmp_path):
    from ledger.report.data import load_run

    data = load_run(run)
    assert [c.name for c in data.chains] == CHAINS
    planted = sum(len(json.loads((sub / "ground_truth.json").read_text())) for sub in sub_runs(run))
    assert len(data.planted) == planted > 0 and {p["scenario"] for p in data.planted} == {p.name for p in sub_runs(run)}
    assert sorted(data.summary["chains"]) == CHAINS and data.summary["blocks"] > 0
    out = tmp_path / "report.html"
    code, printed = invoke(capsys, "report", run, "--out", out)
    assert code == 0, printed
    html = out.read_text(encoding="utf-8")
    for chain in CHAINS:
        assert chain in html


def test_findings_are_those_of_the_sub_runs(run, capsys):
    def found(where: Path) -> set[tuple]:
        return {(f["rule"], json.dumps(f["subject"], sort_keys=True))
                for f in invoke_json(capsys, "findings", where)["findings"]}

    everything = invoke_json(capsys, "findings", run)["findings"]
    assert everything and {f["chain"] for f in everything} <= set(CHAINS)
    assert found(run) == set().union(*(found(sub) for sub in sub_runs(run)))
