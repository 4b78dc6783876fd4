"""The README's commands run as written: the first one (its scenario part, in a copy of the working tree, checked
against the run.json it wrote), CI runs the second one, the cheap commands the prose names run on
that run, and every other fenced command is run by a named test or said not to be cheap enough to run here.

The first command's setup prefix (a fresh venv and `pip install -e .`) is not run: on the shared 2-core
development machine it took 28 to 50 s (network and wheel cache) on top of the scenario's 13 to 50 s. It is
checked to be CI's own setup (which .ci/run performs on a fresh machine before running this very test), and
the scenario part runs with the environment that setup made."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ledger.chain.reader import LedgerReader

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN = "runs/share_transfer-seed7"  # where `run scenario share_transfer` writes (seed 7 by default)

# What the working tree's copy leaves out: environments, runs, caches and npm's trees.
NOT_COPIED = shutil.ignore_patterns(".venv", "venv", "runs", "node_modules", ".git", "__pycache__", "*.egg-info",
                                    ".pytest_cache", "build", "report.html")


def readme_text() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_blocks() -> list[str]:
    """Every fenced block's body (the language tag line dropped), in order."""
    return [b.split("\n", 1)[1].strip() for b in readme_text().split("```")[1::2]]


def readme_commands() -> list[str]:
    """The README's first two commands: set up and run the scenario; set up and run the tests."""
    return fenced_blocks()[:2]


def prose_commands() -> list[str]:
    """The commands the README's prose names in `backticks` (`python cli.py ...`, `pilotledger ...`), a span
    broken over lines joined again."""
    prose = " ".join(readme_text().split("```")[0::2])
    spans = re.findall(r"`((?:python cli\.py|pilotledger) [^`]+)`", prose)
    return [re.sub(r"\s*\n\s*", " ", s).strip() for s in spans]


def split_setup(command: str) -> tuple[list[str], str]:
    """`SETUP && ... && python cli.py ...` as (setup steps, the rest from the first `python cli.py`)."""
    steps = command.split(" && ")
    at = next(i for i, s in enumerate(steps) if s.startswith(("python cli.py", "pilotledger")))
    return steps[:at], " && ".join(steps[at:])


def environment() -> dict[str, str]:
    """This test's environment with its interpreter's folder first on PATH: what `. .venv/bin/activate` gives
    (`python` and `pilotledger` are this environment's), the operator secret the suite pins included."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("PILOTLEDGER_LANG", None)
    return env


def table_rows(text: str) -> dict[str, str]:
    """The summary's label/value rows ("  blocks    83") as {label: value}; the first of a repeated label."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^  (\S.*?)\s{2,}(\S.*)$", line)
        if match:
            rows.setdefault(match[1], match[2])
    return rows


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> dict:
    """The first command's scenario part, run by a shell in a copy of the working tree; what it printed is held
    against the run.json it wrote (determinism across processes is tests/test_determinism.py's)."""
    work = tmp_path_factory.mktemp("readme")
    tree = work / "pilotledger"
    shutil.copytree(ROOT, tree, ignore=NOT_COPIED, symlinks=True)
    _setup, command = split_setup(readme_commands()[0])
    ran = subprocess.run(["bash", "-c", command], cwd=tree, capture_output=True, text=True, env=environment(),
                         timeout=600)
    assert ran.returncode == 0, ran.stderr[-2000:]
    reference = json.loads((tree / DEFAULT_RUN / "run.json").read_text())
    return {"tree": tree, "command": command, "ran": ran, "reference": reference}


def test_readme_first_command_runs_the_scenario(first_run):
    ran, reference, tree = first_run["ran"], first_run["reference"], first_run["tree"]
    assert first_run["command"] == "python cli.py run scenario share_transfer"
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.splitlines()[0] == "share_transfer  seed 7  engine pyevm"
    rows = table_rows(ran.stdout)
    assert int(rows["blocks"]) == reference["blocks"] > 0
    assert rows["transactions"].startswith(f"{reference['transactions']} ({reference['committed']} committed")
    assert reference["planted_for_chain"] > 0 and reference["caught"] == reference["planted_for_chain"]
    assert rows["caught by the chain"] == f"{reference['planted_for_chain']} / {reference['planted_for_chain']}"
    assert rows["unexpected refusals"] == "0" and reference["unexpected_refusals"] == 0
    assert rows["run directory"] == DEFAULT_RUN
    assert rows["head hash"] == reference["head_hash"]
    assert reference["seed"] == 7
    with LedgerReader(tree / DEFAULT_RUN / "fund_platform" / "ledger.sqlite") as ledger:
        number, block_hash = ledger.head()
        assert "0x" + block_hash.hex() == rows["head hash"] and ledger.block_count() == int(rows["blocks"])


def test_readme_first_command_sets_up_as_ci_does():
    """The first command's setup is CI's (.ci/run runs it on a fresh machine): the same venv, activated the same
    way, and a `pip install -e .` that CI's `pip install -q -e ".[test]"` covers."""
    first, second = readme_commands()
    setup, _ = split_setup(first)
    ci_steps = second.split(" && ")
    assert setup[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"] == ci_steps[:2]
    pip, ci_pip = ([w for w in shlex.split(step) if w != "-q"] for step in (setup[2], ci_steps[2]))
    assert pip == ["pip", "install", "-e", "."] and len(setup) == 3
    assert ci_pip[:3] == pip[:3] and ci_pip[3] in (".", ".[test]")


def test_ci_runs_the_readme_test_command():
    _, second = readme_commands()
    assert "pytest" in second
    assert second in (ROOT / ".ci" / "run").read_text()


# The commands the prose names that are cheap on the first command's run: each must still be in the README
# (an edit that changes one fails here first), and each runs with its placeholders filled and every
# [optional] part given. How each one's output is checked is the function beside it.
PLACEHOLDERS = {"RUN_DIR": DEFAULT_RUN, "NODE": "BJEE", "VIEWER": "CSRC-BJ", "ENTITY": "fund:1", "DIR": "runs"}


def _version(out: str) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert out.strip() == f"pilotledger {declared}"


def _scenarios(out: str) -> None:
    assert {"share_transfer", "warehouse_receipt", "regional_equity"} <= set(re.findall(r"\w+", out))


def _verified(out: str) -> None:
    result = json.loads(out)
    assert result["verified"] is True and [c["chain"] for c in result["chains"]] == ["fund_platform"]
    assert all(c["verified"] and c["blocks"] > 0 and not c["problems"] for c in result["chains"])


def _view(out: str) -> None:
    assert '"BJEE"' in out and json.loads(out)


def _ubo(out: str) -> None:
    assert "fund 1" in out and "%" in out


def _rules(out: str) -> None:
    assert {"qualified_investor", "investor_cap", "pooling_institution", "split_identity"} <= set(
        re.findall(r"[a-z_]+", out))


def _findings(out: str) -> None:
    # the two violations share_transfer leaves for the regulator
    assert "[pooling_institution]" in out and "[split_identity]" in out


def _runs(out: str) -> None:
    [run] = json.loads(out)["runs"]
    assert (run["name"], run["scenario"], run["seed"], run["complete"]) == ("share_transfer-seed7", "share_transfer",
                                                                            7, True)
    assert run["blocks"] > 0 and run["size_bytes"] > 0


CHEAP = {
    "pilotledger --version": _version,
    "python cli.py run scenario --list": _scenarios,
    "python cli.py verify RUN_DIR [--json]": _verified,
    "python cli.py view RUN_DIR NODE [--as VIEWER] [--json]": _view,
    "python cli.py query ubo RUN_DIR ENTITY": _ubo,
    "python cli.py rules": _rules,
    "python cli.py findings RUN_DIR": _findings,
    "python cli.py runs [DIR] [--json]": _runs,
}


def filled(command: str) -> str:
    command = re.sub(r"\[([^\[\]]*)\]", r"\1", command)  # every optional part given
    return " ".join(PLACEHOLDERS.get(word, word) for word in command.split())


def test_the_prose_commands_run_on_the_first_run(first_run):
    assert first_run["ran"].returncode == 0
    named = prose_commands()
    missing = [c for c in CHEAP if c not in named]
    assert missing == [], f"the README no longer names {missing}: update CHEAP in tests/test_readme.py"
    for command, check in CHEAP.items():
        line = filled(command)
        done = subprocess.run(["bash", "-c", line], cwd=first_run["tree"], capture_output=True, text=True,
                              env=environment(), timeout=300)
        assert done.returncode == 0, (line, done.stderr[-2000:])
        check(done.stdout)


def test_runs_rm_as_the_readme_names_it(first_run):
    """Last: removes the first command's run, answering the question."""
    command = "python cli.py runs rm RUN_DIR"
    assert command in prose_commands()
    tree = first_run["tree"]
    done = subprocess.run(["bash", "-c", filled(command)], cwd=tree, input="y\n", capture_output=True, text=True,
                          env=environment(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "removed" in done.stdout and not (tree / DEFAULT_RUN).exists()


# Every other fenced block that holds a command: the test that runs it as the README writes it, or why no test
# does. A new block, or a block whose first line changed, fails until it is listed here.
RUN_ELSEWHERE = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e .": "tests/test_user_scenario.py",
    "python cli.py compile examples/QualifiedVault.sol": "tests/test_compile.py",
    "python cli.py run scenario share_transfer --investors 60 --transfers 60 --run-dir runs/proto":
        "tests/test_deploy_send.py",
}
NOT_RUN = {
    "npm ci --prefix contracts          # the pinned npm solc":
        "recompiles every contract (tests/test_artifacts.py checks the artifacts against the sources)",
    "python bench/throughput.py [--transfers 10000] [--investors 1000] [--engines pyevm,anvil] [--profile] "
    "[--baselines] [--json]": "a benchmark: minutes, and timings",
    "python bench/scale.py [--sizes 10k,100k,1m] [--engines pyevm,anvil] [--node-copies all] [--no-audit] "
    "[--keep DIR] [--json]": "a benchmark: hours at the largest size",
    "python cli.py compile examples/MaximumHoldingModule.sol":
        "needs the runs/proto run of the deploy/call/send walkthrough; tests/test_compliance.py does the same "
        "steps in process (test_a_pilot_team_adds_a_rule_with_one_module)",
    "npm ci --prefix devnode --no-audit --no-fund": "needs a Hardhat node (tests/test_rpc_scenario.py runs one)",
    "python cli.py run scenario regional_equity --engine rpc --rpc-url equity_market=http://127.0.0.1:8545 "
    "--rpc-url regulatory=http://127.0.0.1:8546": "needs two Hardhat nodes",
}


def test_every_fenced_command_is_run_or_said_why_not():
    first, second = readme_commands()
    starts = ("python", "pilotledger", "npm", ". ")
    unaccounted = []
    for block in fenced_blocks()[2:]:
        lines = block.splitlines()
        if not lines[0].startswith(starts):
            continue  # a layout, a file list, Solidity
        if lines[0] in RUN_ELSEWHERE:
            test = ROOT / RUN_ELSEWHERE[lines[0]]
            assert test.is_file() and "README" in test.read_text(), test
        elif lines[0] not in NOT_RUN:
            unaccounted.append(lines[0])
    assert unaccounted == [], "fenced commands no test runs: add them to RUN_ELSEWHERE or NOT_RUN"
