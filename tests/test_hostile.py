"""Hostile input on every command: one line on stderr naming the problem, exit 2 for bad input and 1 for a
failed check, no traceback, no hang. Most rows run in-process through ledger.cli.app.main (fast); the few that
could crash or hang the interpreter (deep JSON, a ledger that is a fifo or /dev/zero) run in a subprocess
with a timeout."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli import app
from ledger.cli.app import main

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = "0x" + "11" * 20
PROGRESS = ("reopening ", "re-executing")  # a progress bar's label, printed once when stderr is no terminal
DEEP = "[" * 60000 + "]" * 60000  # under the 128 KiB a single exec argument may have


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One small share_transfer run, and copies of it broken in the ways a user's disk may break them."""
    from scenarios.runner import run_scenario

    home = tmp_path_factory.mktemp("hostile")
    run = home / "run"
    run_scenario("share_transfer", 3, {"investors": 60, "funds": 3, "transfers": 40, "batch": 20}, run)
    places = {"RUN": run, "HOME": home}

    def broken(name: str, breaks) -> None:
        copy = home / name
        shutil.copytree(run, copy, symlinks=True)
        breaks(copy / "fund_platform")
        places[name.upper()] = copy

    def fifo(chain: Path) -> None:
        (chain / "ledger.sqlite").unlink()
        os.mkfifo(chain / "ledger.sqlite")

    def zero(chain: Path) -> None:
        (chain / "ledger.sqlite").unlink()
        (chain / "ledger.sqlite").symlink_to("/dev/zero")

    broken("fifo", fifo)
    broken("zero", zero)
    broken("crl", lambda chain: (chain / "certs" / "crl.pem").write_text("garbage\n"))
    broken("keystore", lambda chain: (chain / "nodes" / "CUSTODY" / "keystore" / "evm-key.json").write_text("{no"))
    broken("genesis", lambda chain: (chain / "genesis.json").write_text("{"))
    broken("notjson", lambda chain: (chain.parent / "run.json").write_text("not json"))
    (home / "a file").write_text("not a folder\n")
    (home / "pins_garbage.json").write_text("garbage{")
    (home / "pins_list.json").write_text("[]")
    (home / "pins_dir").mkdir()
    return places


def _expand(words, places: dict[str, Path]) -> list[str]:
    out = []
    for word in words:
        for key in sorted(places, key=len, reverse=True):
            word = word.replace(f"{{{key}}}", str(places[key]))
        out.append(word)
    return out


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(PROGRESS)]
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-3000:]
    return lines[0]


@pytest.fixture
def in_process(capsys, monkeypatch, tmp_path):
    """main(argv) in this process, from a scratch folder, with the environment `env` adds; returns the exit
    code and the one stderr line."""
    from ledger.present import i18n

    monkeypatch.chdir(tmp_path)

    def call(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        try:
            code = main(argv)
        finally:
            for key in env or {}:
                monkeypatch.delenv(key)
            i18n.set_language(None)
        _out, err = capsys.readouterr()
        return code, _one_line(err) if code else err

    return call


ROWS = [
    # scenario new: a folder that cannot be made, a file where a folder is expected, names
    (["scenario", "new", "x", "--dir", "/proc/nope"], 2, "cannot write /proc/nope/x.py"),
    (["scenario", "new", "x", "--dir", "{HOME}/a file"], 2, "is a file, not a folder"),
    (["scenario", "new", "x", "--dir", ""], 2, "an empty path"),
    (["scenario", "new", "../x"], 2, "not a Python identifier"),
    (["scenario", "new", "share_transfer"], 2, "clashes with a built-in scenario"),
    # run scenario: sizes beyond reason are refused up front, not run for days
    (["run", "scenario", "share_transfer", "--investors", "99999999999999999999999"], 2,
     "--investors must be at most 1,000,000"),
    (["run", "scenario", "share_transfer", "--transfers", "10000001"], 2, "--transfers must be at most 10,000,000"),
    (["run", "scenario", "share_transfer", "--batch", "10001"], 2, "--batch must be at most 10,000"),
    (["run", "scenario", "share_transfer", "--funds", "1001"], 2, "--funds must be at most 1,000"),
    (["run", "scenario", "warehouse_receipt", "--violations", "100001"], 2, "--violations must be at most 100,000"),
    (["run", "scenario", "regional_equity", "--companies", "1001"], 2, "--companies must be at most 1,000"),
    (["run", "scenario", "share_transfer", "--investors", "-5"], 2, "--investors must be at least 60"),
    (["run", "scenario", "share_transfer", "--run-dir", "/proc/nope/x"], 2, "/proc/nope"),
    (["run", "scenario", "share_transfer", "--run-dir", "{RUN}"], 2, "already exists"),
    (["run", "scenario", "nope"], 2, "unknown scenario 'nope'"),
    (["run", "scenario", "share_transfer", "--scenarios-dir", "/proc/nope"], 2, "does not exist"),
    # node: ports
    (["node", "--port", "99999"], 2, "not in the range 1<=x<=65535"),
    (["node", "--port", "-1"], 2, "not in the range 1<=x<=65535"),
    (["node", "--port", "0"], 2, "not in the range 1<=x<=65535"),
    (["node", "--port", "x"], 2, "'x' is not a valid integer"),
    # negative numbers are arguments; an unknown option is still one
    (["call", "{RUN}", "SettlementCash", "balanceOf", "--nod"], 2, "No such option '--nod'"),
    (["call", "{RUN}", "SettlementCash", "balanceOf", "-1"], 2, "'-1' is not an address"),
    (["call", "{RUN}", "SettlementCash", "balanceOf", "--", "--nod"], 2, "'--nod' is not an address"),
    (["send", "{RUN}", "SettlementCash", "transfer", ADDRESS, "-7", "--node", "CUSTODY"], 2,
     "argument 2 (uint256): '-7' is not a uint256: out of range"),
    (["deploy", "{RUN}", "{HOME}/missing.json", "-1", "-0x10", "-1.5", "--node", "BJEE"], 2, "no compiled contract"),
    (["query", "receipt", "{RUN}", "-1"], 2, "bad receipt '-1'"),
    (["query", "receipt", "{RUN}", "W", "-1"], 2, "unexpected extra argument (-1)"),
    (["query", "ubo", "{RUN}", "fund:1", "--limit", "-5"], 2, "--limit"),
    (["govern", "{RUN}", "PermissionRegistry", "nope", "--nod"], 2, "No such option '--nod'"),
    # a 10 MB argument (in-process: exec takes no argument over 128 KiB)
    (["call", "{RUN}", "SettlementCash", "balanceOf", "x" * 10_000_000], 2, "more than the 1,000,000"),
    # paths: empty, missing, a file for a folder, a device, a folder for a file, unwritable
    (["verify", ""], 2, "an empty path"),
    (["verify", "/no/such/run"], 2, "no run directory"),
    (["verify", "/dev/null"], 2, "no run directory"),
    (["verify", "{HOME}/a file"], 2, "no run directory"),
    (["verify", "{RUN}", "--pin", "{HOME}/pins_dir"], 2, "is a directory"),
    (["verify", "{RUN}", "--pin", "{HOME}/pins_garbage.json"], 2, "is not JSON"),
    (["verify", "{RUN}", "--pin", "{HOME}/pins_list.json"], 2, "holds no object"),
    (["verify", "{RUN}", "--pin", "/proc/nope/pins.json"], 2, "cannot write the pins file"),
    (["report", "{RUN}", "--out", "/proc/nope/r.html"], 2, "/proc/nope"),
    (["report", "{RUN}", "--out", "{HOME}/a file"], 2, "exists"),
    (["report", "{NOTJSON}", "--out", "{HOME}/r.html"], 2, "run.json is not valid JSON"),
    (["compile", "/proc/nope.sol"], 2, "/proc/nope.sol"),
    (["deploy", "{RUN}", "", "--node", "BJEE"], 2, "an empty path"),
    (["send", "{RUN}", "SettlementCash", "transfer", ADDRESS, "1", "--node", "CUSTODY", "--advance", "9" * 30], 2,
     "'--advance': 999999999999999999999999999999 is not in the range"),
    # what exec cannot pass but a caller of main() can, and words with line breaks of other kinds
    (["verify", "a\0b"], 2, "holds a NUL character"),
    (["verify", "a\x85b\u2028c"], 2, "no run directory at a\\x85b\\u2028c"),
    (["query", "ubo", "{RUN}", "\udcff"], 2, "an argument holds bytes that are not UTF-8 text (\\udcff)"),
    # languages
    (["--lang", "xx", "rules"], 2, "unknown language 'xx'"),
    (["rules", "--lang", ""], 2, "unknown language ''"),
    (["view", "{RUN}", "nope"], 2, "no node 'nope'"),
    (["view", "{RUN}", "CUSTODY", "--chain", "../.."], 2, "no chain '../..'"),
    (["findings", "{RUN}", "--set", "x"], 2, "--set"),
    (["findings", "{RUN}", "--set", "investor_cap.cap=1e400"], 2, "investor_cap.cap"),
    (["findings", "{RUN}", "--rule", "nope"], 2, "nope"),
    (["query", "ubo", "{RUN}", ""], 2, ""),
    (["query", "ubo", "{RUN}", "fund:" + "9" * 5000], 2, "bad fund"),
    (["nope"], 2, "No such command 'nope'"),
    # broken runs: a failed check exits 1
    (["findings", "{CRL}"], 1, "does not hold"),
    (["findings", "{GENESIS}"], 1, "genesis.json is not JSON"),
    (["query", "ubo", "{ZERO}", "fund:1"], 1, "no ledger at"),
    (["send", "{KEYSTORE}", "SettlementCash", "transfer", ADDRESS, "1", "--node", "CUSTODY"], 1, "unreadable keystore"),
]
ENV_ROWS = [
    (["rules"], {"PILOTLEDGER_LANG": "xx"}, 2, "PILOTLEDGER_LANG: unknown language 'xx'"),
    (["verify", "{RUN}"], {"PILOTLEDGER_PINS": "{HOME}/pins_dir"}, 2, "is a directory"),
    (["verify", "{RUN}"], {"PILOTLEDGER_PINS": "{HOME}/pins_garbage.json"}, 2, "is not JSON"),
]


@pytest.mark.parametrize("argv, code, fragment", ROWS, ids=[" ".join(r[0])[:60] for r in ROWS])
def test_hostile_input_is_one_line(argv, code, fragment, runs, in_process):
    got, line = in_process(_expand(argv, runs))
    assert got == code, line
    assert fragment in line and len(line) <= 1000


@pytest.mark.parametrize("argv, env, code, fragment", ENV_ROWS, ids=[" ".join(r[0]) + str(r[1]) for r in ENV_ROWS])
def test_hostile_environment_is_one_line(argv, env, code, fragment, runs, in_process):
    got, line = in_process(_expand(argv, runs), {k: _expand([v], runs)[0] for k, v in env.items()})
    assert got == code and fragment in line, line


def test_a_port_in_use_is_refused_before_starting(in_process):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        got, line = in_process(["node", "--port", str(port)])
    assert got == 2 and f"port {port} is in use (by another process); choose another with --port" in line


def _subprocess(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *argv], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("argv, code, fragment", [
    (["call", "{RUN}", "IdentityRegistry", "declareInvestors", "0x" + "00" * 32, DEEP, "[]"], 2,
     "its JSON nests deeper than the type"),
    (["verify", "{FIFO}"], 1, ""),  # the report names the missing ledger on stdout
    (["view", "{FIFO}", "CUSTODY"], 1, "no ledger at"),
    (["view", "{ZERO}", "CUSTODY"], 1, "no ledger at"),
], ids=["deep JSON", "fifo ledger verify", "fifo ledger view", "/dev/zero ledger view"])
def test_what_could_crash_or_hang_in_a_subprocess(argv, code, fragment, runs):
    result = _subprocess(_expand(argv, runs))  # a hang fails here, with TimeoutExpired
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if fragment:
        assert fragment in _one_line(result.stderr)


# ------------------------------------------------------------------ the last resort in main()

@pytest.mark.parametrize("exc, code, fragment", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/run/ledger.sqlite"), 1,
     "error: disk full: /data/run/ledger.sqlite: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), 2, "error: /root/x: Permission denied"),
    (FileExistsError(errno.EEXIST, "File exists", "/tmp/x"), 2, "error: /tmp/x: File exists"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/tmp/f/x"), 2, "error: /tmp/f/x: Not a directory"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp"), 2, "error: /tmp: Is a directory"),
    (OSError(errno.EIO, "Input/output error"), 1, "error: Input/output error"),
    (sqlite3.DatabaseError("file is not a database"), 2, "error: SQLite database: file is not a database"),
    (sqlite3.OperationalError("database is locked"), 1, "error: SQLite database: database is locked"),
    (RecursionError("maximum recursion depth exceeded"), 2, "error: the input nests too deeply"),
    (MemoryError(), 1, "error: out of memory"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), 2, "more digits than"),
    (RuntimeError("boom\nsecond line"), 1,
     "internal error: RuntimeError: boom (set PILOTLEDGER_DEBUG=1 for the traceback)"),
])
def test_the_last_resort_is_one_line(exc, code, fragment, monkeypatch, capsys):
    def raising(*_args, **_kwargs):
        raise exc

    monkeypatch.delenv("PILOTLEDGER_DEBUG", raising=False)
    monkeypatch.setattr(app.cli, "main", raising)
    assert main(["rules"]) == code
    _out, err = capsys.readouterr()
    assert err.strip() == fragment or (fragment in err and len(err.strip().splitlines()) == 1), err


def test_a_keyboard_interrupt_inside_a_command_is_interrupted(monkeypatch, capsys):
    import ledger.cli.findings as findings

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(findings.rules, "callback", interrupted)
    assert main(["rules"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_debug_shows_the_traceback(monkeypatch):
    def raising(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setenv("PILOTLEDGER_DEBUG", "1")
    monkeypatch.setattr(app.cli, "main", raising)
    with pytest.raises(RuntimeError, match="boom"):
        main(["rules"])


SCENARIO = '''
from scenarios.api import Scenario


class Boom(Scenario):
    name = "boom_scenario"
    title = "raises from its own code"

    def run(self, ctx):
        return helper()


def helper():
    return 1 // 0
'''


def test_a_user_scenarios_own_exception_keeps_its_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "boom.py").write_text(SCENARIO)
    from scenarios import registry

    try:
        code = main(["run", "scenario", "boom_scenario", "--scenarios-dir", "mine", "--run-dir", "out"])
    finally:  # the scenario is this test's own: no later test should find it registered
        registry.USER_SCENARIOS.pop("boom_scenario", None)
        sys.modules.pop("pilotledger_user_scenarios.boom", None)
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" in err and "ZeroDivisionError" in err and "boom.py" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: your scenario (") and "boom.py) raised ZeroDivisionError" in last
    assert "internal error" not in err
