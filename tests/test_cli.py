"""The command line: one-line errors with exit code 2, the summary, --json, --list, verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("args, fragment", [
    (["run", "scenario", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
    (["run", "scenario", "share_transfer", "--investors", "5"], "--investors must be at least 60"),
    (["run", "scenario", "share_transfer", "--seed", "x"], "'x' is not a valid integer"),
    (["run", "scenario", "share_transfer", "--no-such-flag"], "No such option"),
    (["verify", "/no/such/run"], "no run directory"),
])
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


def test_list_names_the_scenarios():
    result = cli("run", "scenario", "--list", "--json")
    assert result.returncode == 0
    assert "share_transfer" in [s["name"] for s in json.loads(result.stdout)]


def test_help_everywhere():
    for args in ([], ["run"], ["run", "scenario"], ["verify"], ["contracts"]):
        result = cli(*args, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout


def test_run_json_then_verify(tmp_path):
    run_dir = tmp_path / "run"
    result = cli("run", "scenario", "share_transfer", "--investors", "60", "--funds", "3", "--transfers", "20",
                 "--run-dir", str(run_dir), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("scenario", "seed", "blocks", "transactions", "refused", "planted", "caught", "head_hash", "run_dir"):
        assert key in summary
    assert summary["caught"] == summary["planted_for_chain"] > 0
    assert Path(summary["run_dir"]) == run_dir

    verified = cli("verify", str(run_dir), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["verified"] is True

    again = cli("run", "scenario", "share_transfer", "--run-dir", str(run_dir))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_table_summary_for_people(tmp_path):
    result = cli("run", "scenario", "share_transfer", "--investors", "60", "--funds", "3", "--transfers", "0",
                 "--run-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    for label in ("blocks", "refused", "gateway:NOT_MEMBER", "caught by the chain", "head hash", "run directory"):
        assert label in result.stdout
