"""Disk in proportion (issue 16, point 6): `run scenario --node-copies all|none|NODE,...` says which members hold
their own copy of the ledger (the README, "The run directory"). The chain is the same whatever the choice; the
bytes on disk drop with the copies left out; the choice is recorded, so --resume and `send` keep it; verify and
audit pass on such a run, note the members without a copy, and still catch a chosen copy damaged or missing."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.audit.reexecute import audit_run
from ledger.audit.verify import verify_run
from ledger.chain.run import LEDGER_FILE, MARKER_FILE, RUN_FILE, read_marker, write_json_atomically
from ledger.cli.run import render_summary
from scenarios.runner import UnknownNode, resume_run, run_scenario

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / "cli.py")
SEED = 3
SMALL = {"investors": 60, "transfers": 100, "batch": 10}
OPTIONS = ["--investors", "60", "--transfers", "100", "--batch", "10"]
CHAIN = "fund_platform"
REGULATOR = "CSRC-BJ"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def copies(run: Path) -> dict[str, int]:
    """node -> bytes of its copy of the ledger."""
    return {p.parent.name: p.stat().st_size for p in sorted((run / CHAIN / "nodes").glob(f"*/{LEDGER_FILE}"))}


def disk(run: Path) -> int:
    """Bytes of the run's files but run.json (its timings and the choice itself differ by a few bytes)."""
    return sum(p.stat().st_size for p in run.rglob("*") if p.is_file() and p.name != RUN_FILE)


def head(ledger: Path) -> tuple[int, bytes]:
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        return db.execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
    finally:
        db.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The same small share_transfer run three times: every member's copy, none, the regulator's alone."""
    root = tmp_path_factory.mktemp("copies")
    made = {}
    for choice in ("all", "none", REGULATOR):
        made[choice] = root / choice
        run_scenario("share_transfer", SEED, SMALL, made[choice], node_copies=choice)
    return made


def test_the_choice_gives_copies_to_the_members_named_and_leaves_the_chain_as_it_is(runs) -> None:
    everyone, nobody, regulator = copies(runs["all"]), copies(runs["none"]), copies(runs[REGULATOR])
    assert len(everyone) >= 8 and REGULATOR in everyone
    assert nobody == {} and list(regulator) == [REGULATOR]
    ledger = (runs["all"] / CHAIN / LEDGER_FILE).stat().st_size
    assert regulator[REGULATOR] == everyone[REGULATOR] == ledger  # a copy is the whole ledger, no more
    heads = {head(run / CHAIN / LEDGER_FILE) for run in runs.values()}
    assert len(heads) == 1  # the choice changes what is on disk, never the chain
    for choice, run in runs.items():
        recorded = json.loads((run / RUN_FILE).read_text())["node_copies"]
        assert recorded == (choice if choice in ("all", "none") else [choice])
        assert not (run / MARKER_FILE).exists()
    # Every node keeps its keystore, copy or not.
    assert {p.name for p in (runs["none"] / CHAIN / "nodes").iterdir()} == \
        {p.name for p in (runs["all"] / CHAIN / "nodes").iterdir()}


def test_bytes_on_disk_drop_with_the_copies_left_out(runs) -> None:
    ledger = (runs["all"] / CHAIN / LEDGER_FILE).stat().st_size
    everyone, nobody, regulator = (disk(runs[c]) for c in ("all", "none", REGULATOR))
    held = len(copies(runs["all"]))
    assert everyone - nobody == held * ledger  # exactly the copies, nothing else changes
    assert regulator - nobody == ledger
    assert nobody < everyone / 3  # the copies were most of the run


def test_verify_and_audit_pass_and_note_the_members_without_a_copy(runs) -> None:
    for choice, run in runs.items():
        [result] = verify_run(run)
        assert result.verified, (choice, result.problems)
        without = [n for n in result.notes if n.startswith("no copy held by")]
        if choice == "all":
            assert without == []
        else:
            [note] = without
            assert note.endswith(f"by the run's choice (--node-copies {choice})")
            named = note.removeprefix("no copy held by ").split(", by the run's choice")[0].split(", ")
            assert "BJEE" in named and (REGULATOR in named) == (choice == "none")
    [audit] = audit_run(runs[REGULATOR], REGULATOR)
    assert audit.verified and audit.node == REGULATOR and audit.blocks > 0
    done = cli("audit", str(runs[REGULATOR]), "--node", "BJEE")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == (
        f"error: BJEE holds no copy of the ledger in {runs[REGULATOR]}: the run was made with --node-copies "
        f"{REGULATOR}; audit the chains themselves with `audit {runs[REGULATOR]}`")
    assert "Traceback" not in done.stderr


def test_a_chosen_copy_damaged_or_missing_still_fails(runs, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(runs[REGULATOR], damaged)
    db = sqlite3.connect(damaged / CHAIN / "nodes" / REGULATOR / LEDGER_FILE)
    db.execute("DROP TRIGGER transactions_no_update")
    db.execute("UPDATE transactions SET label = 'forged' WHERE block_number = 5")
    db.commit()
    db.close()
    [result] = verify_run(damaged)
    assert not result.verified and result.first_bad_block == 5 and REGULATOR in result.problems[0]
    [audit] = audit_run(damaged, REGULATOR)
    assert not audit.verified and audit.first_bad_block == 5

    missing = tmp_path / "missing"
    shutil.copytree(runs[REGULATOR], missing)
    (missing / CHAIN / "nodes" / REGULATOR / LEDGER_FILE).unlink()
    [result] = verify_run(missing)
    assert not result.verified and result.first_bad_block == 0
    assert result.problems == [f"{REGULATOR}'s copy is missing, though the run gives {REGULATOR} one "
                               f"(--node-copies {REGULATOR})"]
    done = cli("verify", str(missing))
    assert done.returncode == 1 and f"{REGULATOR}'s copy is missing" in done.stdout
    # With every member chosen (the default), a lost copy is named too.
    lost = tmp_path / "lost"
    shutil.copytree(runs["all"], lost)
    (lost / CHAIN / "nodes" / "BJEE" / LEDGER_FILE).unlink()
    [result] = verify_run(lost)
    assert result.first_bad_block == 0 and result.problems[0].startswith("BJEE's copy is missing")


def test_send_keeps_the_choice(runs, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs[REGULATOR], run)
    before = head(run / CHAIN / LEDGER_FILE)[0]
    done = cli("send", str(run), "PrivateFundShares", "createFund", "9", "node:CUSTODY", "0", "--node", "BJEE")
    assert done.returncode == 1 and "ROLE_MISSING" in done.stdout, done.stderr  # refused, in a block of its own
    assert head(run / CHAIN / LEDGER_FILE)[0] == before + 1
    assert list(copies(run)) == [REGULATOR]  # brought up to date, and no other member given one
    assert head(run / CHAIN / "nodes" / REGULATOR / LEDGER_FILE) == head(run / CHAIN / LEDGER_FILE)
    [result] = verify_run(run)
    assert result.verified and not [n for n in result.notes if "lags" in n]


def test_resume_keeps_the_choice(runs, tmp_path: Path) -> None:
    run = tmp_path / "run"
    blocks = 0

    def stop_at_eight(steps: int, _transactions: int) -> None:
        nonlocal blocks
        blocks += steps
        if blocks >= 8:
            raise KeyboardInterrupt  # as a run killed there: its folder stays, with its marker

    with pytest.raises(KeyboardInterrupt):
        run_scenario("share_transfer", SEED, SMALL, run, progress=stop_at_eight, node_copies=REGULATOR)
    marker = read_marker(run)
    assert marker["node_copies"] == [REGULATOR] and copies(run) == {}
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_json_atomically(run / MARKER_FILE, {**marker, "pid": gone.pid})  # its process is gone, as a killed one
    [result] = verify_run(run)  # an interrupted run has no copies yet: none is missing
    assert result.verified, result.problems
    summary = resume_run(run)
    assert summary["node_copies"] == [REGULATOR] and list(copies(run)) == [REGULATOR]
    assert head(run / CHAIN / LEDGER_FILE) == head(runs[REGULATOR] / CHAIN / LEDGER_FILE)


def test_a_node_named_that_never_becomes_a_member_is_said_to_hold_no_copy(tmp_path: Path) -> None:
    # ROGUE is a node of the run (it tries and is refused) but never a member: it holds no copy, and the run says so.
    summary = run_scenario("share_transfer", SEED, SMALL, tmp_path / "run", node_copies=f"{REGULATOR},ROGUE")
    assert summary["node_copies"] == [REGULATOR, "ROGUE"]
    assert summary["node_copies_never_members"] == ["ROGUE"]
    assert list(copies(tmp_path / "run")) == [REGULATOR]
    assert "none for ROGUE: named by --node-copies, never a member" in render_summary(summary)


def test_a_bad_choice_is_one_line_and_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(UnknownNode, match="NOPE, which is no node of this run"):
        run_scenario("share_transfer", SEED, SMALL, tmp_path / "in-process", node_copies="CSRC-BJ,NOPE")
    assert not (tmp_path / "in-process").exists()
    cases = [
        (["share_transfer", *OPTIONS, "--node-copies", "CSRC-BJ,NOPE"],
         "error: --node-copies names NOPE, which is no node of this run; its nodes: BJEE, CSRC-BJ, "),
        (["share_transfer", *OPTIONS, "--node-copies", "CSRC-BJ,,"],
         "error: --node-copies takes all, none or node names separated by commas"),
        (["share_transfer", *OPTIONS, "--node-copies", "all,CSRC-BJ"],
         "error: --node-copies takes all or none alone, not among node names"),
        (["all", "--node-copies", "CSRC-BJ"], "error: run scenario all takes --node-copies all or none"),
    ]
    for i, (args, starts) in enumerate(cases):
        folder = tmp_path / f"bad{i}"
        done = cli("run", "scenario", *args, "--seed", str(SEED), "--run-dir", str(folder))
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(starts), done.stderr
        assert "Traceback" not in done.stderr and not folder.exists()
