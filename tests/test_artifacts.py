"""The committed artifacts match a fresh compile with the pinned solc (npm `solc`, through node)."""

from __future__ import annotations

import json
import shutil

from ledger.tooling.compiler import ARTIFACTS_DIR, SOLC_VERSION, stale_artifacts
from test_cli import cli


def test_committed_artifacts_are_fresh():
    assert stale_artifacts() == []


def test_check_command_passes():
    result = cli("contracts", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert SOLC_VERSION in result.stdout


def test_a_changed_artifact_is_reported_stale(tmp_path):
    copy = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS_DIR, copy)
    artifact = json.loads((copy / "SettlementCash.json").read_text())
    artifact["bytecode"] = artifact["bytecode"][:-2] + "00"
    (copy / "SettlementCash.json").write_text(json.dumps(artifact))
    (copy / "PrivateFundShares.json").unlink()
    problems = stale_artifacts(copy)
    assert "SettlementCash: stale (differs from a fresh compile)" in problems
    assert "PrivateFundShares: missing" in problems


def test_artifacts_record_compiler_and_source_hash():
    for path in ARTIFACTS_DIR.glob("*.json"):
        artifact = json.loads(path.read_text())
        assert artifact["compiler"]["version"].startswith(SOLC_VERSION + "+")
        assert artifact["sourceHash"].startswith("sha256:") and artifact["abi"] and artifact["bytecode"]
