"""A pilot team's prototype on a finished run's chain: `deploy`, `call`, `send` and `govern` reopen the
chain, go through the gateway, seal a block (`govern`: three), store it and bring every node's copy up
to date."""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.chain.run import LEDGER_FILE
from ledger.chain.store import LedgerStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "QualifiedVault.sol"
SIZES = ["--investors", "60", "--transfers", "60"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd, capture_output=True, text=True)


def sent(*args: str, cwd: Path) -> dict:
    """Runs a deploy or send with --json and returns its outcome."""
    done = cli(*args, "--json", cwd=cwd)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small share_transfer run and the compiled prototype, beside each other."""
    work = tmp_path_factory.mktemp("prototype")
    assert cli("run", "scenario", "share_transfer", *SIZES, "--run-dir", "run", cwd=work).returncode == 0
    done = cli("compile", str(EXAMPLE), cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "build" / "contracts" / "QualifiedVault.json").exists()
    return work


@pytest.fixture()
def work(finished, tmp_path) -> Path:
    """A fresh copy of the finished run for each test."""
    shutil.copytree(finished, tmp_path / "w")
    return tmp_path / "w"


def head(run: Path, node: str | None = None) -> tuple[int, bytes]:
    path = run / "fund_platform" / ("nodes/" + node if node else "") / LEDGER_FILE
    store = LedgerStore(path)
    try:
        return store.head()
    finally:
        store.close()


def deploy_vault(work: Path) -> dict:
    return sent("deploy", "run", "QualifiedVault", "contract:PermissionRegistry", "contract:IdentityRegistry",
                "--node", "BJEE", cwd=work)


def test_deploy_call_send_through_the_gateway_and_into_every_copy(work):
    before = head(work / "run")
    deployed = deploy_vault(work)
    assert deployed["status"] == "committed" and deployed["block"] == before[0] + 1
    assert deployed["contract_address"].startswith("0x")
    assert (work / "run" / "fund_platform" / "contracts" / "QualifiedVault.json").exists()

    closed = cli("call", "run", "QualifiedVault", "closed", cwd=work)
    assert closed.returncode == 0 and closed.stdout.strip() == "false"
    by_address = cli("call", "run", deployed["contract_address"], "permissions", cwd=work)
    assert by_address.returncode == 0 and "0x" in by_address.stdout

    # Its declared roles were adopted by governance: a custodian lacks PLATFORM, which the map gives
    # close, so the gateway refuses it before execution, and records it.
    refused = sent("send", "run", "QualifiedVault", "close", "--node", "CUSTODY", cwd=work)
    assert (refused["status"], refused["reason"]) == ("refused", "ROLE_MISSING")
    assert "QualifiedVault.close needs PLATFORM" in refused["detail"]["detail"]
    # The same for a project contract's function.
    gateway = sent("send", "run", "SettlementCash", "mint", "node:HX-SEC", "5", "--node", "HX-SEC", cwd=work)
    assert (gateway["status"], gateway["reason"]) == ("refused", "ROLE_MISSING")
    # An investor's own account, held by its agent node, commits as a qualified identity.
    committed = sent("send", "run", "QualifiedVault", "commit", "7", "--node", "JC-WEALTH", "--signer", "inv0004/0",
                     cwd=work)
    assert committed["status"] == "committed", committed
    assert committed["events"][0]["event"] == "Committed" and committed["events"][0]["args"]["amount"] == 7
    assert sent("send", "run", "QualifiedVault", "close", "--node", "BJEE", cwd=work)["status"] == "committed"
    closed = cli("call", "run", "QualifiedVault", "closed", cwd=work)
    assert closed.stdout.strip() == "true", closed.stderr

    db = sqlite3.connect(work / "run" / "fund_platform" / LEDGER_FILE)
    reasons = db.execute("SELECT function, reason FROM refusals ORDER BY seq DESC LIMIT 2").fetchall()
    assert reasons == [("mint", "ROLE_MISSING"), ("close", "ROLE_MISSING")]
    adopted = db.execute("SELECT COUNT(*) FROM events WHERE name = 'FunctionRoleSet' AND block_number > ?",
                         (before[0],)).fetchone()
    assert adopted == (2,)  # commit and close, set by the governance that followed the deployment
    final = head(work / "run")
    assert final[0] == before[0] + 1 + 3 + 4  # deploy, propose, vote, execute, then four sends
    assert head(work / "run", "BJEE") == final and head(work / "run", "CUSTODY") == final
    audit = cli("audit", "run", "--json", cwd=work)
    assert audit.returncode == 0, audit.stdout
    assert json.loads(audit.stdout)["blocks"] == final[0]
    assert cli("audit", "run", "--node", "CUSTODY", cwd=work).returncode == 0


def test_deploy_writes_only_its_own_artifact(work):
    """A second contract under a kept contract's name would replace its artifact (its events and errors would no
    longer decode): refused before anything is submitted; the same artifact again is a second instance."""
    assert deploy_vault(work)["status"] == "committed"
    kept = work / "run" / "fund_platform" / "contracts" / "QualifiedVault.json"
    before, height = kept.read_bytes(), head(work / "run")
    other = json.loads((work / "build" / "contracts" / "QualifiedVault.json").read_text())
    other["abi"] = [entry for entry in other["abi"] if entry.get("name") != "closed"]
    impostor = work / "impostor.json"
    impostor.write_text(json.dumps(other))
    refused = cli("deploy", "run", str(impostor), "contract:PermissionRegistry", "contract:IdentityRegistry",
                  "--node", "BJEE", cwd=work)
    assert refused.returncode == 2 and "already keeps a different contract named QualifiedVault" in refused.stderr
    assert kept.read_bytes() == before and head(work / "run") == height
    assert deploy_vault(work)["status"] == "committed" and kept.read_bytes() == before


def test_the_same_submissions_give_the_same_chain(work, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(work, twin)
    for where in (work, twin):
        deploy_vault(where)
        sent("send", "run", "QualifiedVault", "close", "--node", "BJEE", "--advance", "3600", cwd=where)
    assert head(work / "run") == head(twin / "run")


def test_a_tampered_node_copy_is_left_as_it_is(work):
    copy = work / "run" / "fund_platform" / "nodes" / "CUSTODY" / LEDGER_FILE
    db = sqlite3.connect(copy)
    db.execute("DROP TRIGGER blocks_no_update")
    db.execute("UPDATE blocks SET hash = zeroblob(32) WHERE number = (SELECT MAX(number) FROM blocks)")
    db.commit()
    db.close()
    before = copy.read_bytes()
    done = cli("deploy", "run", "QualifiedVault", "contract:PermissionRegistry", "contract:IdentityRegistry",
               "--node", "BJEE", cwd=work)
    assert done.returncode == 0
    assert "CUSTODY" in done.stderr and "not updated" in done.stderr
    assert copy.read_bytes() == before
    assert head(work / "run", "BJEE") == head(work / "run")


def test_a_ledger_that_does_not_hold_is_not_extended(work):
    """A stored block whose hash its header does not give: refused (one line, exit 1) before anything
    of the chain is replayed or re-executed, and nothing is written."""
    ledger = work / "run" / "fund_platform" / LEDGER_FILE
    db = sqlite3.connect(ledger)
    db.execute("DROP TRIGGER blocks_no_update")
    db.execute("UPDATE blocks SET hash = zeroblob(32) WHERE number = 3")
    db.commit()
    db.close()
    before = head(work / "run")
    done = cli("send", "run", "QualifiedVault", "close", "--node", "BJEE", cwd=work)
    assert done.returncode == 1 and "block 3: header does not hash to the stored block hash" in done.stderr
    assert "audit" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert head(work / "run") == before


def test_govern_makes_a_governance_only_call_through_the_admins(work):
    """A market's compliance registration is governance-only: one admin's `send` of removeModule is
    refused at the gateway; `govern` proposes, votes and executes it in three blocks, into every copy;
    a call that reverts is one line naming the step, exit 1."""
    args = ("ModularCompliance", "removeModule", "contract:PrivateFundShares", "contract:LockupModule")
    refused = sent("send", "run", *args, "--node", "BJEE", cwd=work)
    assert (refused["status"], refused["reason"]) == ("refused", "ROLE_MISSING")
    assert "is for governance" in refused["detail"]["detail"]
    before = head(work / "run")
    governed = sent("govern", "run", *args, cwd=work)
    assert governed["status"] == "committed" and governed["function"] == "executeCall", governed
    assert isinstance(governed["proposal"], int) and governed["block"] == before[0] + 3
    assert {e["event"] for e in governed["events"]} >= {"ModuleRemoved", "ProposalExecuted"}
    after = head(work / "run")
    assert after[0] == before[0] + 3 and head(work / "run", "BJEE") == after and head(work / "run", "CUSTODY") == after
    lockup = cli("call", "run", "ModularCompliance", "modulesOf", "contract:PrivateFundShares", "--json", cwd=work)
    assert lockup.returncode == 0 and len(json.loads(lockup.stdout)["result"]) == 3, lockup.stdout
    again = cli("govern", "run", *args, cwd=work)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    last = again.stderr.strip().splitlines()[-1]
    assert last.startswith("error: calling ModularCompliance.removeModule") and "UnknownModule" in last
    assert head(work / "run", "BJEE") == head(work / "run")  # the proposal and votes are in every copy
    shown = cli("govern", "run", "ModularCompliance", "addModule", "contract:PrivateFundShares",
                "contract:LockupModule", cwd=work)
    assert shown.returncode == 0, shown.stderr
    assert "PermissionRegistry.executeCall by" in shown.stdout and "proposal" in shown.stdout
    assert "ModuleAdded" in shown.stdout
    help_text = cli("govern", "--help", cwd=work)
    assert help_text.returncode == 0 and "CALL_TARGET" in help_text.stdout and "--admin" in help_text.stdout


@pytest.mark.parametrize("args, message", [
    (["send", "run", "QualifiedVault", "close", "--node", "NOBODY"], "no node 'NOBODY'"),
    (["send", "run", "Nothing", "close", "--node", "BJEE"], "no contract 'Nothing'"),
    (["send", "run", "SettlementCash", "burn", "--node", "BJEE"], "has no function 'burn'"),
    (["send", "run", "SettlementCash", "mint", "0x12", "5", "--node", "BJEE"], "argument 1 (address)"),
    (["send", "run", "SettlementCash", "mint", "node:BJEE", "five", "--node", "BJEE"], "argument 2 (uint256)"),
    (["send", "run", "SettlementCash", "mint", "--node", "BJEE"], "expected 2 argument(s)"),
    (["govern", "run", "ModularCompliance", "addModule", "contract:PrivateFundShares"], "expected 2 argument(s)"),
    (["govern", "run", "ModularCompliance", "nothing"], "has no function 'nothing'"),
    (["govern", "run", "ModularCompliance", "addModule", "contract:PrivateFundShares", "contract:LockupModule",
      "--admin", "NOBODY"], "no node 'NOBODY'"),
    (["call", "nowhere", "SettlementCash", "totalSupply"], "no run directory"),
    (["deploy", "run", "Missing", "--node", "BJEE"], "no compiled contract"),
    (["call", "run", "SettlementCash", "balanceOf", "node:BJEE", "--chain", "other"], "has no chain 'other'"),
])
def test_bad_input_is_one_line_and_exit_2(finished, args, message):
    done = cli(*args, cwd=finished)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last and "Traceback" not in done.stderr


def test_arguments_are_read_by_their_solidity_type():
    from ledger.tooling.abi_text import parse_args
    from ledger.errors import ConfigError

    named = {"node:A": b"\x01" * 20}
    values = parse_args(["uint256", "int8", "bool", "bytes32", "bytes4", "address", "address[]", "(uint8,string)"],
                        ["0x10", "-3", "true", "BJEE", "0x01020304", "node:A", '["node:A"]', '[1, "x"]'],
                        named.__getitem__)
    assert values == [16, -3, True, b"BJEE".ljust(32, b"\0"), b"\x01\x02\x03\x04", "0x" + "01" * 20,
                      ["0x" + "01" * 20], [1, "x"]]
    for types, texts in ((["bytes4"], ["0x01"]), (["bool"], ["yes"]), (["uint8[2]"], ["[1]"])):
        with pytest.raises(ConfigError):
            parse_args(types, texts, named.__getitem__)


def test_the_readme_walkthrough_runs_as_written(tmp_path):
    """Runs the README's deploy/call/send commands verbatim; only the custodian's close is refused."""
    text = (ROOT / "README.md").read_text()
    block = text.split("### Deploy, call and send", 1)[1].split("```")[1]
    commands = [line.split() for line in block.strip().splitlines()]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for command in commands:
        assert command[:2] == ["python", "cli.py"]
        done = cli(*command[2:], cwd=tmp_path)
        refused = command[2:6] == ["send", "runs/proto", "QualifiedVault", "close"] and "CUSTODY" in command
        assert done.returncode == (1 if refused else 0), (command, done.stdout, done.stderr)
    assert "verified" in done.stdout and "NOT" not in done.stdout
