"""Ground truth: the rule catalogue, run on every scenario, finds the planted violations that passed the
chain and reports nothing that was not planted."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from ledger.cli import main
from ledger.supervision.catalogue import findings, score
from ledger.supervision.replay import active_regulators
from ledger.trust.privacy import PrivateStore, privacy_key, read_declarations
from scenarios.runner import run_all

SMALL = {
    "share_transfer": {"investors": 60, "funds": 3, "transfers": 40, "batch": 20},
    "warehouse_receipt": {"receipts": 30, "warehouses": 2, "traders": 4, "banks": 1, "batch": 10},
    "regional_equity": {"investors": 60, "companies": 3, "transfers": 30, "batch": 10, "cap": 10,
                        "anchor_interval": 5},
}
SEEDS = (3, 5, 21)  # 5: the double-financed receipt is itself a merge


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("all")
    return {seed: run_all(seed, SMALL, root / f"seed{seed}") for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
def test_every_planted_violation_found_and_nothing_else(runs, seed):
    summary = runs[seed]
    assert set(summary["scores"]) == set(SMALL)
    for name, s in summary["scores"].items():
        assert s["false_positives"] == 0, (name, s["unexpected"])
        assert s["precision"] == 1.0
        assert s["missed"] == [] and s["recall"] == 1.0, (name, s["missed"])
        assert summary[name]["planted_for_regulator"] == s["plants"]
    for name in ("share_transfer", "warehouse_receipt"):
        assert summary["scores"][name]["true_positives"] == summary["scores"][name]["plants"] == 2
    equity = summary["scores"]["regional_equity"]
    assert {m["rule"] for m in equity["matched"]} == {"missed_disclosure", "document_mismatch", "late_disclosure",
                                                      "investor_cap", "qualified_investor"}
    overall = summary["overall"]
    assert overall["precision"] == 1.0 and overall["recall"] == 1.0
    assert overall["true_positives"] == sum(s["true_positives"] for s in summary["scores"].values())
    on_disk = json.loads((Path(summary["run_dir"]) / "run.json").read_text())
    assert on_disk["overall"] == overall


def test_detectors_never_read_ground_truth(runs, tmp_path):
    original = Path(runs[SEEDS[0]]["run_dir"]) / "share_transfer"
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    (copy / "ground_truth.json").unlink()
    assert sorted(f.rule for f in findings(copy)) == ["pooling_institution", "split_identity"]


def test_an_unplanted_tampering_is_a_false_positive(runs, tmp_path):
    original = Path(runs[SEEDS[0]]["run_dir"]) / "regional_equity"
    copy = tmp_path / "equity"
    shutil.copytree(original, copy)
    truth = json.loads((copy / "ground_truth.json").read_text())
    planted = {p["subject"]["uri"] for p in truth if p["kind"] == "document_mismatch"}
    victim = next(p for p in sorted((copy / "equity_market" / "documents").rglob("*.txt"))
                  if str(p.relative_to(copy)) not in planted)
    victim.write_text(victim.read_text() + "\nrevised after filing\n")
    s = score(copy)
    assert s["false_positives"] == 1
    assert s["unexpected"][0]["rule"] == "document_mismatch"
    assert s["precision"] < 1.0
    assert s["true_positives"] == s["plants"]  # the planted ones are still found


def test_run_all_takes_no_scenario_options(tmp_path, capsys):
    code = main(["run", "scenario", "all", "--investors", "60", "--run-dir", str(tmp_path / "x")])
    assert code == 2
    assert "no scenario option" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_ground_truth_names_people_by_identity_and_label_only(runs):
    """No personal data leaves the sealed stores through the ground truth: no names, no ID numbers."""
    id_number = re.compile(r"\b\d{17}[\dXx]\b|\b\d{15}\b")

    def walk(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                assert key not in ("name", "names", "id_number"), where
                walk(item, where)
        elif isinstance(value, list):
            for item in value:
                walk(item, where)
        elif isinstance(value, str):
            assert not id_number.search(value), (where, value)

    for summary in runs.values():
        for truth in Path(summary["run_dir"]).glob("*/ground_truth.json"):
            walk(json.loads(truth.read_text()), truth)


def test_a_member_store_that_is_no_store_costs_only_its_own_records(runs, tmp_path):
    """A KYC agent's private.sqlite replaced by garbage: findings still answer, without a traceback, and the
    identities that agent registered are named as having no sealed record."""
    copy = tmp_path / "st"
    shutil.copytree(Path(runs[SEEDS[0]]["run_dir"]) / "share_transfer", copy)
    stores = sorted((copy / "fund_platform" / "nodes").glob("*/private.sqlite"))
    stores[0].write_bytes(b"not a database")
    found = findings(copy)
    missing = [f for f in found if f.rule == "sealed_record"]
    assert missing and all(f.values["problem"] == "no sealed record" for f in missing)


def test_a_store_whose_records_are_a_recursive_view_is_refused_not_run(runs, tmp_path):
    """A member writes its private.sqlite as it likes: `records` as a recursive view would never end. The store
    is refused for what it is, and findings answer."""
    copy = tmp_path / "st"
    shutil.copytree(Path(runs[SEEDS[0]]["run_dir"]) / "share_transfer", copy)
    store = sorted((copy / "fund_platform" / "nodes").glob("*/private.sqlite"))[0]
    db = sqlite3.connect(store)
    db.executescript("DROP TABLE records; CREATE VIEW records AS WITH RECURSIVE n(i) AS "
                     "(SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i, i, i, i, i FROM n;")
    db.close()
    started = time.monotonic()
    found = findings(copy)
    assert time.monotonic() - started < 60
    assert any(f.rule == "sealed_record" and f.values["problem"] == "no sealed record" for f in found)


def test_a_store_planted_in_another_members_folder_does_not_displace_the_agents_record(runs, tmp_path):
    """A member copies an agent's store and rewrites one record (still sealed to the regulator, a different
    salt): the agent's record, whose hash is the chain's, still stands; nothing new is found."""
    copy = tmp_path / "st"
    shutil.copytree(Path(runs[SEEDS[0]]["run_dir"]) / "share_transfer", copy)
    nodes = copy / "fund_platform" / "nodes"
    honest = {(f.rule, json.dumps(f.subject, sort_keys=True)) for f in findings(copy)}
    agent_store = sorted(nodes.glob("*/private.sqlite"))[0]
    members = sorted(p for p in nodes.iterdir() if not (p / "private.sqlite").exists())
    for member in (members[0], members[-1]):  # sorted before and after the agent's: either way
        planted = member / "private.sqlite"
        shutil.copyfile(agent_store, planted)
        db = sqlite3.connect(planted)
        db.execute("UPDATE records SET salt = zeroblob(32)")  # the salt is not sealed: the record still opens
        db.commit()
        db.close()
    assert {(f.rule, json.dumps(f.subject, sort_keys=True)) for f in findings(copy)} == honest


def test_a_nominee_declaration_planted_by_another_member_takes_nobody_away(runs, tmp_path):
    """A member seals to the regulator, in a store of its own, each nominee as holding for nobody: the people
    the nominee agent declared are still counted behind the nominees (caps and qualification still judged)."""
    copy = tmp_path / "re"
    shutil.copytree(Path(runs[SEEDS[0]]["run_dir"]) / "regional_equity", copy)
    chain = copy / "equity_market"
    honest = {(f.rule, json.dumps(f.subject, sort_keys=True)) for f in findings(copy)}
    [regulator] = active_regulators(chain / "ledger.sqlite")
    key = privacy_key(SEEDS[0], "equity_market", regulator)
    declared = [(d, d.open(key)) for store in sorted((chain / "nodes").glob("*/private.sqlite"))
                for d in read_declarations(store)]
    assert declared
    member = [p for p in sorted((chain / "nodes").iterdir()) if not (p / "private.sqlite").exists()][-1]
    assert member.name > max(s.parent.name for s in (chain / "nodes").glob("*/private.sqlite"))  # read last
    planted = PrivateStore(member / "private.sqlite", SEEDS[0], "equity_market", member.name, regulator)
    for declaration, data in declared:
        planted.declare(declaration.identity, "nominee", {"company": data["company"], "acts_for": []})
    planted.close()
    assert {(f.rule, json.dumps(f.subject, sort_keys=True)) for f in findings(copy)} == honest
