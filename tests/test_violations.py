"""`run scenario NAME --violations N`: N violations drawn from the seed, planted through ordinary calls the
chain accepts, recorded as ground truth in the catalogue's rule ids and subject formats; the same seed
gives the same chains; N = 0 is the run without the option; and the catalogue finds every one, nothing else."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from click.testing import CliRunner

from ledger.cli import cli, main
from ledger.supervision.catalogue import score
from scenarios.registry import scenario_names
from scenarios.runner import run_scenario
from scenarios.violations import MARKETS, spread

SEED = 5
SMALL = {
    "share_transfer": {"investors": 60, "funds": 3, "transfers": 40, "batch": 20},
    "warehouse_receipt": {"receipts": 30, "warehouses": 2, "traders": 4, "banks": 1, "batch": 10},
    "regional_equity": {"investors": 60, "companies": 3, "transfers": 30, "batch": 10, "cap": 10,
                        "anchor_interval": 5},
}
COUNT = {"share_transfer": 10, "warehouse_receipt": 6, "regional_equity": 10}
RULES = {
    "share_transfer": {"qualified_investor", "investor_cap", "split_identity", "invalid_id_number",
                       "kyc_against_data", "pooling_institution"},
    "warehouse_receipt": {"double_financing", "stock_short", "declaration_undoes_inspection"},
    "regional_equity": {"investor_cap", "qualified_investor", "kyc_against_data", "split_identity",
                        "invalid_id_number", "late_disclosure", "missed_disclosure", "document_mismatch"},
}
HEX64, HEX40 = re.compile(r"^0x[0-9a-f]{64}$"), re.compile(r"^0x[0-9a-f]{40}$")
ASSET = re.compile(r"^(fund:\d+|company:0x[0-9a-f]{64})$")
SUBJECT = {  # the identifying fields of each rule (NOTES.md "Rule ids"), and a check of each value's format
    "qualified_investor": {"asset": ASSET.match, "identity": HEX64.match},
    "kyc_against_data": {"identity": HEX64.match},
    "investor_cap": {"asset": ASSET.match},
    "split_identity": {"identities": lambda v: len(v) == 2 and all(HEX64.match(i) for i in v)},
    "invalid_id_number": {"identity": HEX64.match},
    "pooling_institution": {"identity": HEX64.match, "asset": re.compile(r"^fund:\d+$").match},
    "double_financing": {"inspection_cert": HEX64.match},
    "stock_short": {"warehouse": HEX40.match, "commodity": lambda v: v in ("copper", "aluminium", "rubber")},
    "declaration_undoes_inspection": {"warehouse": HEX40.match,
                                      "commodity": lambda v: v in ("copper", "aluminium", "rubber")},
    "late_disclosure": {"company": HEX64.match, "document": lambda v: isinstance(v, str) and v},
    "missed_disclosure": {"company": HEX64.match, "document_kind": lambda v: v in ("annual", "semi-annual"),
                          "due": lambda v: isinstance(v, int) and v > 1_600_000_000},
    "document_mismatch": {"company": HEX64.match, "document": lambda v: isinstance(v, str) and v,
                          "version": lambda v: isinstance(v, int) and v >= 1},
}


def heads(summary: dict) -> dict:
    return {name: chain["head_hash"] for name, chain in summary["chains"].items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each market run with its violations, twice (same seed), and with none (N = 0, and no option)."""
    root = tmp_path_factory.mktemp("violations")
    out = {}
    for name in scenario_names():
        planted = {**SMALL[name], "violations": COUNT[name]}
        out[name] = {
            "run": (run_scenario(name, SEED, planted, root / f"{name}-a"), root / f"{name}-a"),
            "again": (run_scenario(name, SEED, planted, root / f"{name}-b"), root / f"{name}-b"),
            "zero": (run_scenario(name, SEED, {**SMALL[name], "violations": 0}, root / f"{name}-0"),
                     root / f"{name}-0"),
            "none": (run_scenario(name, SEED, SMALL[name], root / f"{name}-none"), root / f"{name}-none"),
        }
    return out


def truth(run_dir) -> list[dict]:
    return json.loads((run_dir / "ground_truth.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_n_violations_of_the_markets_rules_with_their_subjects(runs, name):
    summary, run_dir = runs[name]["run"]
    plants = {p["id"]: p for p in truth(run_dir)}
    mine = [plants[i] for i in summary["violations"]]
    assert len(mine) == COUNT[name] and summary["unexpected_refusals"] == 0 and summary["missed"] == []
    assert {p["kind"] for p in mine} <= RULES[name] and len({p["kind"] for p in mine}) >= 3
    for p in mine:
        assert p["detect"] == "regulator" and p["description"]
        fields = SUBJECT[p["kind"]]
        assert set(p["subject"]) == set(fields), p
        assert all(check(p["subject"][k]) for k, check in fields.items()), p
    # Everything else is the scenario's own, as many of each kind as without violations.
    own = Counter(p["kind"] for p in plants.values() if p["id"] not in summary["violations"])
    assert own == Counter(p["kind"] for p in truth(runs[name]["zero"][1]))
    # No violation planted twice: each subject one finding.
    keys = [(p["kind"], json.dumps(p["subject"], sort_keys=True)) for p in plants.values()
            if p["detect"] == "regulator"]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_chains_and_ground_truth(runs, name):
    (a, a_dir), (b, b_dir) = runs[name]["run"], runs[name]["again"]
    assert heads(a) == heads(b)
    assert truth(a_dir) == truth(b_dir) and a["violations"] == b["violations"]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_no_violations_is_the_run_without_the_option(runs, name):
    (zero, zero_dir), (none, none_dir) = runs[name]["zero"], runs[name]["none"]
    assert heads(zero) == heads(none) != heads(runs[name]["run"][0])
    assert truth(zero_dir) == truth(none_dir) and "violations" not in zero and "violations" not in none
    assert zero["options"]["violations"] == none["options"]["violations"] == 0


def test_catalogue_finds_every_violation_and_nothing_else(runs):
    for name in sorted(SMALL):
        scored = score(runs[name]["run"][1])
        assert (scored["precision"], scored["recall"]) == (1.0, 1.0), (name, scored["missed"], scored["unexpected"])


def test_spread_over_the_markets():
    names = scenario_names()
    assert sorted(MARKETS) == names
    assert spread(7, 30, names) == {name: 10 for name in names}
    for total in (0, 1, 2, 31, 32):
        counts = spread(7, total, names)
        assert sum(counts.values()) == total and max(counts.values()) - min(counts.values()) <= 1
        assert counts == spread(7, total, names)


def test_cli_option(tmp_path, capsys):
    runner = CliRunner()
    args = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL["warehouse_receipt"].items()]
    result = runner.invoke(cli, ["run", "scenario", "warehouse_receipt", "--seed", "3", "--violations", "3",
                                 "--run-dir", str(tmp_path / "w"), "--json", *args])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert len(summary["violations"]) == 3 and summary["options"]["violations"] == 3
    capsys.readouterr()
    assert main(["run", "scenario", "all", "--violations", "3", "--receipts", "30"]) == 2
    error = capsys.readouterr().err
    assert "--violations" in error and "--receipts" in error
