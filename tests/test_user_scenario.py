"""The README's "Your own scenario" tutorial, command for command, in a fresh folder; and the bad inputs."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / "cli.py")
SECTION = "## Your own scenario"


def tutorial_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = section.split("```")[1]
    return [line.strip() for line in block.split("\n", 1)[1].strip().splitlines()]


def cli(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PILOTLEDGER_SCENARIOS"}
    environment.update(env or {})
    return subprocess.run([sys.executable, CLI, *args], cwd=cwd, capture_output=True, text=True, env=environment)


def run_line(cwd: Path, line: str) -> subprocess.CompletedProcess:
    words = shlex.split(line)
    assert words[:2] == ["python", "cli.py"], line
    return cli(cwd, *words[2:])


def one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_tutorial_starts_with_the_first_readme_setup():
    from test_readme import readme_commands

    setup, *_ = tutorial_commands()
    first, _ = readme_commands()
    assert first.startswith(setup)


def test_tutorial_commands_run_a_custom_scenario(tmp_path):
    setup, new, run = tutorial_commands()
    assert new == "python cli.py scenario new my_first"
    assert run == "python cli.py run scenario my_first --scenarios-dir my_scenarios"
    made = run_line(tmp_path, new)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "my_scenarios" / "my_first.py").is_file()
    ran = run_line(tmp_path, run)
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"caught by the chain +1 / 1\n", ran.stdout)
    assert re.search(r"unexpected refusals +0\n", ran.stdout)
    assert re.search(r"head hash +0x", ran.stdout)
    summary = json.loads((tmp_path / "runs" / "my_first-seed7" / "run.json").read_text())
    assert summary["caught"] == summary["planted_for_chain"] == 1
    assert summary["planted_for_regulator"] == 1
    assert summary["unexpected_refusals"] == 0
    # The planted refusal, and the registry's own duplicate check the skeleton expects (expect_revert).
    assert summary["refused_by_reason"] == {"gateway:ROLE_MISSING": 1, "contract:IdentityExists": 1}
    assert summary["blocks"] == 7  # the skeleton's expected_steps: progress is counted in blocks
    assert summary["head_hash"].startswith("0x") and len(summary["head_hash"]) == 66
    truth = json.loads((tmp_path / "runs" / "my_first-seed7" / "ground_truth.json").read_text())
    assert [(p["kind"], p["detect"]) for p in truth] == [("unlicensed_kyc", "chain"), ("split_identity", "regulator")]
    # Same seed, same chain; the environment variable stands in for --scenarios-dir.
    again = cli(tmp_path, "run", "scenario", "my_first", "--json", "--run-dir", "again",
                env={"PILOTLEDGER_SCENARIOS": "my_scenarios"})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["head_hash"] == summary["head_hash"]
    listed = cli(tmp_path, "run", "scenario", "--list", "--scenarios-dir", "my_scenarios")
    assert listed.returncode == 0 and "my_first" in listed.stdout and "share_transfer" in listed.stdout


def test_skeleton_imports_only_the_scenario_api(tmp_path):
    assert cli(tmp_path, "scenario", "new", "mine").returncode == 0
    source = (tmp_path / "my_scenarios" / "mine.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from scenarios.api import IdentityKind, Option, Role, Scenario, ScenarioContext, id_number, "
                       "identity_of"]


def test_a_misspelt_contract_function_is_one_line_at_the_call(tmp_path):
    assert cli(tmp_path, "scenario", "new", "typo").returncode == 0
    path = tmp_path / "my_scenarios" / "typo.py"
    path.write_text(path.read_text().replace("identities.registerIdentity(rogue", "identities.registerIdentty(rogue"))
    result = cli(tmp_path, "run", "scenario", "typo", "--scenarios-dir", "my_scenarios")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: IdentityRegistry has no function 'registerIdentty'; did you mean registerIdentity?"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, fragment", [
    ("1bad", "not a Python identifier"),
    ("my-first", "not a Python identifier"),
    ("share_transfer", "clashes with a built-in scenario"),
])
def test_bad_names_are_refused(tmp_path, name, fragment):
    one_error_line(cli(tmp_path, "scenario", "new", name), fragment)
    assert not (tmp_path / "my_scenarios" / f"{name}.py").exists()


def test_existing_file_is_refused(tmp_path):
    assert cli(tmp_path, "scenario", "new", "dup", "--dir", "mine").returncode == 0
    one_error_line(cli(tmp_path, "scenario", "new", "dup", "--dir", "mine"), "already exists")


def test_broken_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "oops.py").write_text("def run(:\n")
    one_error_line(cli(tmp_path, "run", "scenario", "oops", "--scenarios-dir", "broken"), "oops.py", "SyntaxError")
    one_error_line(cli(tmp_path, "run", "scenario", "--list", "--scenarios-dir", "broken"), "oops.py")


def test_clash_with_a_built_in_scenario_is_refused(tmp_path):
    assert cli(tmp_path, "scenario", "new", "mine").returncode == 0
    source = (tmp_path / "my_scenarios" / "mine.py").read_text()
    (tmp_path / "clash").mkdir()
    (tmp_path / "clash" / "mine.py").write_text(source.replace('name = "mine"', 'name = "share_transfer"'))
    one_error_line(cli(tmp_path, "run", "scenario", "share_transfer", "--scenarios-dir", "clash"),
                   "share_transfer", "clashes with a built-in scenario")


def test_missing_folder_and_unknown_option(tmp_path):
    one_error_line(cli(tmp_path, "run", "scenario", "x", "--scenarios-dir", "nowhere"), "does not exist")
    assert cli(tmp_path, "scenario", "new", "mine").returncode == 0
    one_error_line(cli(tmp_path, "run", "scenario", "mine", "--scenarios-dir", "my_scenarios", "--bogus", "3"),
                   "--bogus")
