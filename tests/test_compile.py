"""`cli.py compile`: a team's own Solidity files, their imports, errors, artifacts, and the choice of solc."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli import main as cli_main
from ledger.tooling import compiler
from ledger.tooling.artifacts import load_contract
from ledger.tooling.compiler import ARTIFACTS_DIR, NPM_SOLC, SETTINGS, SOLC_VERSION, find_solc

ROOT = Path(__file__).resolve().parent.parent
HEADER = "// SPDX-License-Identifier: Apache-2.0\npragma solidity 0.8.28;\n"


def compile_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "compile", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def fake_solc(bin_dir: Path, version: str, delegate: bool = False) -> Path:
    """A `solc` on PATH reporting `version`; with `delegate`, its --standard-json runs the npm solc through node,
    reading imported files from under --base-path as the native solc does."""
    script = f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Version: {version}"; exit 0; fi\n'
    if delegate:
        script += ("exec node -e 'const solc = require(process.argv[1]); const fs = require(\"fs\"); "
                   "const at = process.argv.indexOf(\"--base-path\"); const read = (name) => { "
                   "const file = process.argv[at + 1] + \"/\" + name; return fs.existsSync(file) ? "
                   "{ contents: fs.readFileSync(file, \"utf8\") } : { error: \"File not found.\" }; }; "
                   "let s = \"\"; process.stdin.on(\"data\", (c) => (s += c)).on(\"end\", () => "
                   "process.stdout.write(solc.compile(s, at < 0 ? undefined : { import: read })))' "
                   f"{NPM_SOLC} \"$@\"\n")
    else:
        script += "exit 1\n"
    path = write(bin_dir / "solc", script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_example_prototype_compiles_against_the_registries(tmp_path):
    out = tmp_path / "out"
    result = compile_cli("examples/QualifiedVault.sol", "--out", str(out), "--json", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["compiler"]["version"].startswith(SOLC_VERSION + "+")
    assert report["compiler"]["kind"] in ("native", "npm") and report["compiler"]["path"]
    assert report["out_dir"] == str(out)
    [vault] = report["contracts"]
    assert vault["name"] == "QualifiedVault" and vault["source"] == "examples/QualifiedVault.sol"
    assert vault["artifact"] == str(out / "QualifiedVault.json") and vault["bytecode_bytes"] > 0
    # Only the team's contract gets an artifact, not the registries it imports, in the project's format.
    assert [p.name for p in out.iterdir()] == ["QualifiedVault.json"]
    artifact = json.loads((out / "QualifiedVault.json").read_text())
    committed = json.loads((ARTIFACTS_DIR / "IdentityRegistry.json").read_text())
    assert artifact.keys() == committed.keys() and artifact["compiler"]["settings"] == SETTINGS
    assert artifact["sourceName"] == "QualifiedVault.sol" and artifact["sourceHash"].startswith("sha256:")
    loaded = load_contract("QualifiedVault", out)
    assert len(loaded.bytecode) == vault["bytecode_bytes"] and loaded.abi


def test_the_readme_command_compiles_the_example(tmp_path):
    section = (ROOT / "README.md").read_text().split("## Your own contracts", 1)[1].split("\n## ", 1)[0]
    command = section.split("```")[1].strip()
    assert command == "python cli.py compile examples/QualifiedVault.sol"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    result = compile_cli(*command.split()[3:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "contracts" / "QualifiedVault.json").is_file()


def test_relative_imports_between_team_files(tmp_path):
    write(tmp_path / "lib" / "Fees.sol", HEADER + (
        "library Fees {\n    function fee(uint256 amount) internal pure returns (uint256) { return amount / 100; }\n}\n"
        "contract FeeSchedule {\n    function quote(uint256 amount) external pure returns (uint256) "
        "{ return Fees.fee(amount); }\n}\n"))
    write(tmp_path / "vault" / "Base.sol", "pragma solidity 0.8.28;\n"  # no licence line: solc warns
                                           "abstract contract Base { function kind() external pure virtual "
                                           "returns (uint256); }\n")
    write(tmp_path / "vault" / "Vault.sol", HEADER + (
        'import {Base} from "./Base.sol";\nimport {Fees} from "../lib/Fees.sol";\n'
        'import {Roles} from "pilotledger/access/Roles.sol";\n'
        "// import \"./Commented.sol\";\n"
        "contract Vault is Base {\n    function kind() external pure override returns (uint256) "
        "{ return Roles.PLATFORM + Fees.fee(100); }\n}\n"))
    result = compile_cli("vault/Vault.sol", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "vault/Base.sol:1:1: warning: SPDX license identifier not provided" in result.stderr
    out = tmp_path / "build" / "contracts"
    assert sorted(p.name for p in out.iterdir()) == ["FeeSchedule.json", "Vault.json"]
    assert json.loads((out / "Vault.json").read_text())["sourceName"] == "vault/Vault.sol"
    for fragment in ("Vault ", "vault/Vault.sol", "FeeSchedule", "lib/Fees.sol", "artifacts in build/contracts"):
        assert fragment in result.stdout


def test_a_syntax_error_is_file_line_col(tmp_path):
    write(tmp_path / "src" / "Bad.sol", HEADER + "contract Bad {\n    uint256 x = 1\n}\n")
    result = compile_cli("src/Bad.sol", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["src/Bad.sol:5:1: error: Expected ';' but got '}'"]
    assert not (tmp_path / "build").exists()


def test_a_missing_import_names_the_file_and_line(tmp_path):
    write(tmp_path / "A.sol", HEADER + 'import "./Nope.sol";\nimport {X} from "@oz/X.sol";\n'
                                       'import "pilotledger/access/Nope.sol";\ncontract A {}\n')
    result = compile_cli("A.sol", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert sorted(result.stderr.splitlines()) == [
        'A.sol:3:1: error: import "./Nope.sol" not found: no file Nope.sol',
        'A.sol:4:1: error: import "@oz/X.sol" not found: import your own files by ./ or ../ paths, the project\'s '
        'as pilotledger/<path under contracts/>',
        f'A.sol:5:1: error: import "pilotledger/access/Nope.sol" not found: no file {ROOT}/contracts/access/Nope.sol',
    ]


def test_two_contracts_of_one_name_are_refused(tmp_path):
    for folder in ("a", "b"):
        write(tmp_path / folder / "Twin.sol", HEADER + "contract Twin { function f() external {} }\n")
    result = compile_cli("a/Twin.sol", "b/Twin.sol", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: two contracts named Twin (a/Twin.sol, b/Twin.sol); rename one\n"


@pytest.mark.parametrize("name, fragment", [("Missing.sol", "no such file: Missing.sol"),
                                            ("notes.txt", "notes.txt is not a Solidity file (.sol)")])
def test_a_bad_path_is_one_line_and_exit_2(tmp_path, name, fragment):
    write(tmp_path / "notes.txt", "not solidity")
    result = compile_cli(name, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"error: {fragment}\n"


def test_a_native_solc_of_the_pinned_version_is_used(tmp_path):
    solc = fake_solc(tmp_path / "bin", "0.8.28+commit.7893614a.Linux.g++", delegate=True)
    env = {**os.environ, "PATH": f"{solc.parent}{os.pathsep}{os.environ['PATH']}"}
    out = tmp_path / "out"
    result = compile_cli(str(ROOT / "examples" / "QualifiedVault.sol"), "--out", str(out), "--json", cwd=tmp_path,
                         env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["compiler"] == {"version": "0.8.28+commit.7893614a.Linux.g++", "kind": "native", "path": str(solc)}
    npm = compile_cli("examples/QualifiedVault.sol", "--out", str(tmp_path / "npm"), cwd=ROOT)
    assert npm.returncode == 0, npm.stderr
    native, npm = (json.loads((d / "QualifiedVault.json").read_text()) for d in (out, tmp_path / "npm"))
    assert native["bytecode"] == npm["bytecode"]


def test_a_wrong_native_solc_falls_back_to_npm_and_is_named_when_npm_is_missing(tmp_path, monkeypatch, capsys):
    solc = fake_solc(tmp_path / "bin", "0.8.20+commit.a1b79de6.Linux.g++")
    monkeypatch.setenv("PATH", f"{solc.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_solc().kind == "npm"

    monkeypatch.setattr(compiler, "NPM_SOLC", tmp_path / "empty" / "node_modules" / "solc")
    source = write(tmp_path / "A.sol", HEADER + "contract A {}\n")
    assert cli_main(["compile", str(source)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: no solc {SOLC_VERSION} found (the solc on PATH ({solc}) is 0.8.20+")
    assert f"no npm solc in {tmp_path / 'empty' / 'node_modules'}" in line
    assert "npm ci --prefix" in line and f"or put solc {SOLC_VERSION} on PATH" in line
