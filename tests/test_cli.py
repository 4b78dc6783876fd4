"""The command line: one-line errors with exit code 2, the summary, --json, --list, verify, --help on every
command, --version on every entry point, and a user scenario's own options."""

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


def _command_paths(group, path=()):
    """Every command and group under `group`, as the words that name it."""
    import click

    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*path, name))


def test_every_command_and_group_answers_help():
    from ledger.cli import cli as root, main

    paths = list(_command_paths(root))
    assert {("run", "scenario"), ("query", "ubo"), ("contracts", "check"), ("deploy",), ("scenario", "new")} \
        <= set(paths)
    for path in [(), *paths]:
        assert main([*path, "--help"]) == 0, path


def test_version_from_every_entry_point():
    from importlib.metadata import entry_points, version

    expected = f"pilotledger {version('pilotledger')}"
    script = Path(sys.executable).with_name("pilotledger")
    (entry,) = entry_points(group="console_scripts", name="pilotledger")
    assert entry.value == "ledger.cli:main"
    for command in ([str(script)], [sys.executable, "-m", "ledger.cli"], [sys.executable, str(ROOT / "cli.py")]):
        result = subprocess.run([*command, "--version"], capture_output=True, text=True, cwd=ROOT)
        assert (result.returncode, result.stdout.strip()) == (0, expected), command
    usage = subprocess.run([str(script), "verify", "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: pilotledger verify")


def test_a_user_scenario_takes_its_own_options(tmp_path):
    assert cli("scenario", "new", "mine", "--dir", "mine", cwd=tmp_path).returncode == 0
    source = tmp_path / "mine" / "mine.py"
    text = source.read_text()
    assert "options = (" in text
    source.write_text(text.replace("options = (", 'options = (Option("widgets", 2, "widgets made", 1), '
                                                  'Option("loud", 0, "say more", flag=True), ', 1))
    bad = cli("run", "scenario", "mine", "--scenarios-dir", "mine", "--widgets", "x", cwd=tmp_path)
    assert bad.returncode == 2 and "'x' is not a valid integer" in bad.stderr
    low = cli("run", "scenario", "mine", "--scenarios-dir", "mine", "--widgets", "0", cwd=tmp_path)
    assert low.returncode == 2 and "--widgets must be at least 1" in low.stderr
    ran = cli("run", "scenario", "mine", "--scenarios-dir", "mine", "--widgets", "5", "--loud", "--json",
              "--run-dir", "r", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["options"] == {"investors": 3, "widgets": 5, "loud": 1}
    # A built-in scenario knows nothing of them.
    other = cli("run", "scenario", "share_transfer", "--scenarios-dir", "mine", "--widgets", "5", cwd=tmp_path)
    assert other.returncode == 2 and "No such option" in other.stderr and "--widgets" in other.stderr


def test_list_accounts_names_every_signer_of_the_run(tmp_path):
    from cryptography import x509

    from ledger.chain.reader import LedgerReader
    from ledger.chain.run import chain_names, ledger_path
    from ledger.trust.ca import certificate_address

    sizes = ["--investors", "60", "--funds", "3", "--transfers", "20"]
    listed = cli("run", "scenario", "share_transfer", *sizes, "--list-accounts", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    ran = cli("run", "scenario", "share_transfer", *sizes, "--run-dir", str(tmp_path / "run"))
    assert ran.returncode == 0, ran.stderr
    (chain,) = chain_names(tmp_path / "run")
    with LedgerReader(ledger_path(tmp_path / "run", chain)) as ledger:
        senders = {}
        for tx in ledger.transactions():
            senders.setdefault("0x" + tx.sender.hex(), tx.node)
    assert [r["address"] for r in rows] == list(senders)  # same seed, same signers, in the order they first signed
    certs = tmp_path / "run" / chain / "certs"
    nodes = {"0x" + certificate_address(x509.load_pem_x509_certificate(p.read_bytes())).hex(): p.stem
             for p in certs.glob("*.pem") if p.stem not in ("ca", "crl")}
    for row in rows:
        assert row["chain"] == chain
        holder = senders[row["address"]]
        assert row["signer"] == (holder if nodes.get(row["address"]) == holder else f"a client of {holder}")
    assert any(r["signer"].startswith("a client of ") for r in rows) and any(r["address"] in nodes for r in rows)
