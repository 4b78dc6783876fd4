"""Regulator audits of node copies: a whole copy passes; each tampering or fault drill
is named at its first bad block, in Python and through the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ledger.audit.reexecute import audit_run
from ledger.chain.run import LEDGER_FILE
from scenarios.runner import run_scenario

CHAIN = "fund_platform"
NODE = "HX-SEC"
ROOT = Path(__file__).resolve().parent.parent
TRIGGERS = ("blocks", "transactions", "receipts", "events", "seals", "refusals")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("audit") / "run"
    run_scenario("share_transfer", 11, {"investors": 60, "transfers": 40}, run_dir)
    return run_dir


@pytest.fixture
def run(finished_run: Path, tmp_path: Path) -> Path:
    """A fresh copy of the finished run, free to damage."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def damage(run: Path, *statements: str, chain: str = CHAIN, node: str = NODE) -> None:
    db = sqlite3.connect(run / chain / "nodes" / node / LEDGER_FILE)
    for table in TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        db.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def problems(run: Path, node: str = NODE) -> list[str]:
    [audit] = audit_run(run, node)
    return audit.problems


def mid_block(run: Path) -> int:
    db = sqlite3.connect(run / CHAIN / LEDGER_FILE)
    number = db.execute("SELECT MAX(number) FROM blocks").fetchone()[0] // 2
    db.close()
    return number


def test_every_node_copy_of_a_finished_run_passes(run: Path) -> None:
    nodes = sorted(p.parent.name for p in (run / CHAIN / "nodes").glob("*/ledger.sqlite"))
    assert "CSRC-BJ" in nodes and "ROGUE" not in nodes  # a node that never joined holds no copy (only its keystore)
    for node in nodes:
        [audit] = audit_run(run, node)
        assert audit.verified, (node, audit.problems)
        assert audit.blocks > 10 and audit.transactions > 300


def test_changed_transaction_byte(run: Path) -> None:
    n = mid_block(run)
    damage(run, f"UPDATE transactions SET raw = CAST(substr(raw, 1, 40) || x'ff' || substr(raw, 42) AS BLOB) "
                f"WHERE block_number = {n} AND tx_index = 0")
    assert problems(run) == [f"block {n}: a transaction's hash is not the hash of its raw bytes"]


def test_removed_block(run: Path) -> None:
    n = mid_block(run)
    damage(run, f"DELETE FROM seals WHERE block_number = {n}", f"DELETE FROM events WHERE block_number = {n}",
           f"DELETE FROM refusals WHERE block_number = {n}",
           f"DELETE FROM receipts WHERE tx_hash IN (SELECT hash FROM transactions WHERE block_number = {n})",
           f"DELETE FROM transactions WHERE block_number = {n}", f"DELETE FROM blocks WHERE number = {n}")
    assert problems(run) == [f"block {n}: missing (the next stored block is {n + 1})"]


def test_forged_seal(run: Path) -> None:
    n = mid_block(run)
    damage(run, f"UPDATE seals SET signature = zeroblob(65) WHERE block_number = {n}")
    [problem] = problems(run)
    assert problem.startswith(f"block {n}: ")


def test_changed_state_value_in_a_receipt(run: Path) -> None:
    n = mid_block(run)
    damage(run, f"UPDATE receipts SET gas_used = gas_used + 1 WHERE tx_hash = "
                f"(SELECT hash FROM transactions WHERE block_number = {n} AND tx_index = 0)")
    assert problems(run) == [f"block {n}: receipts and events do not give the header's receipts root"]


def test_changed_event_data(run: Path) -> None:
    n = mid_block(run)
    damage(run, f"UPDATE events SET data = CAST(x'00' || data AS BLOB) WHERE block_number = {n} AND log_index = 0")
    assert problems(run) == [f"block {n}: receipts and events do not give the header's receipts root"]


def test_damage_to_one_copy_leaves_the_others_whole(run: Path) -> None:
    damage(run, f"UPDATE events SET data = x'00' WHERE block_number = {mid_block(run)}")
    assert problems(run)
    assert problems(run, "CSRC-BJ") == []


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True)


def test_cli_audit_table_json_and_exit_codes(run: Path) -> None:
    ok = cli("audit", str(run))
    assert ok.returncode == 0 and "fund_platform: verified" in ok.stdout
    damage(run, f"UPDATE events SET data = x'00' WHERE block_number = {mid_block(run)}")
    bad = cli("audit", str(run), "--node", NODE, "--json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["verified"] is False and report["problems"][0].startswith("fund_platform: block ")
    assert {"verified", "blocks", "transactions", "problems"} <= set(report)
    missing = cli("audit", str(run), "--node", "NOBODY")
    assert missing.returncode == 2 and missing.stderr.strip().endswith("holds no ledger copy of node NOBODY")


def test_block_sealed_by_a_revoked_validator(tmp_path: Path) -> None:
    """The manager validator is revoked by governance; a later block carrying its seal fails the audit."""
    from conftest import build_chain
    from ledger.chain.roles import GovernanceAction
    from ledger.chain.sealer import genesis_id, make_seals, seal_message

    chain = build_chain(tmp_path / "run")
    manager = chain.manager
    pid = chain.send(chain.platform, chain.registry, "propose", GovernanceAction.REVOKE, manager.address,
                     b"\0" * 32, 0).event("ProposalCreated")["id"]
    assert chain.send(chain.regulator, chain.registry, "vote", pid).ok
    revoked = chain.send(chain.custodian, chain.registry, "execute", pid)
    assert revoked.ok
    later = chain.send(chain.platform, chain.registry, "propose", GovernanceAction.SUSPEND, chain.agent.address,
                       b"\0" * 32, 0)
    assert later.ok
    store = chain.consortium.store
    store.copy_to(tmp_path / "run" / "test_chain" / "nodes" / "AUDITED" / LEDGER_FILE)
    rows = store.block_rows(later.block_number)
    message = seal_message(genesis_id(store.meta()), rows.block[1], rows.block[7], rows.records_digest())
    store.close()
    [forged] = make_seals(message, [manager.account])
    damage(tmp_path / "run", f"UPDATE seals SET validator = x'{forged.validator.hex()}', "
                             f"signature = x'{forged.signature.hex()}' WHERE block_number = {later.block_number} "
                             f"AND validator = (SELECT MIN(validator) FROM seals WHERE block_number = "
                             f"{later.block_number})", chain="test_chain", node="AUDITED")
    [audit] = audit_run(tmp_path / "run", "AUDITED")
    assert audit.problems == [f"block {later.block_number}: seal by 0x{manager.address.hex()}, "
                              "who is not a validator at this height"]


def test_business_chain_rewritten_after_anchoring(tmp_path: Path) -> None:
    """A node swaps in a history of its own: internally whole (hash chain, seals, re-execution all
    pass), but it no longer matches the anchors on the regulatory chain."""
    small = {"investors": 60, "transfers": 40, "anchor_interval": 5}
    run_scenario("regional_equity", 9, small, tmp_path / "real")
    run_scenario("regional_equity", 9, {**small, "transfers": 45}, tmp_path / "rewritten")
    copy = tmp_path / "real" / "equity_market" / "nodes" / "HX-SEC" / LEDGER_FILE
    copy.unlink()
    shutil.copy(tmp_path / "rewritten" / "equity_market" / LEDGER_FILE, copy)
    audits = {a.chain: a for a in audit_run(tmp_path / "real", "HX-SEC")}
    [problem] = audits["equity_market"].problems
    assert problem.startswith("block ") and ("differs from the anchored" in problem or "events differ" in problem)
    assert set(audits) == {"equity_market"}  # HX-SEC is no node of the regulatory chain
    whole = {a.chain: a for a in audit_run(tmp_path / "real", "CSRC-BJ")}
    assert whole["equity_market"].verified and whole["equity_market"].anchors_checked > 3
    assert whole["regulatory"].verified
    # Removing the regulatory chain does not remove the anchors from the audit: the genesis record names it.
    shutil.rmtree(tmp_path / "real" / "regulatory")
    [gone] = audit_run(tmp_path / "real")
    assert gone.first_bad_block == 0 and "anchored on chain regulatory, which is missing" in gone.problems[0]
