"""Interrupted runs are marked and resumable (issue 14, point 5): a run keeps RUN_DIR/run.started from the
moment its folder exists until its run.json is written, last; every command that reads the run says
"incomplete run (interrupted at block N)" first and goes on; `run scenario NAME --resume RUN_DIR` finishes
it to the head an uninterrupted run with the same seed has. A run that fails before its first block leaves
no folder, and a full disk ends in one line with a ledger that verifies up to its last whole block."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledgers import committed_blocks
from ledger.chain.run import MARKER_FILE, run_status
from ledger.trust.keystore import keystore_nodes

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / "cli.py")
SEED = 3
OPTIONS = ["--investors", "60", "--transfers", "100", "--batch", "10"]
KILL_AT = 12  # blocks


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, CLI, *args], capture_output=True, text=True, cwd=ROOT, **kwargs)


def killed_run(run_dir: Path, blocks: int = KILL_AT) -> list[tuple[int, bytes]]:
    """share_transfer (small) into RUN_DIR, SIGKILLed once its ledger holds `blocks` blocks."""
    ledger = run_dir / "fund_platform" / "ledger.sqlite"
    process = subprocess.Popen([sys.executable, CLI, "run", "scenario", "share_transfer", "--seed", str(SEED),
                                "--run-dir", str(run_dir), *OPTIONS], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(committed_blocks(ledger)) < blocks and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return committed_blocks(ledger)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_killed_run_is_marked_verifies_and_resumes_to_the_head_of_an_uninterrupted_run(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    blocks = killed_run(killed)
    assert len(blocks) >= KILL_AT
    head = blocks[-1][0]

    # The marker says what was started; run.json is not there; the certificates are, for every node.
    marker = json.loads((killed / MARKER_FILE).read_text())
    assert marker["scenario"] == "share_transfer" and marker["seed"] == SEED and marker["engine"] == "pyevm"
    assert marker["options"]["investors"] == 60 and marker["chains"] == ["fund_platform"]
    assert not (killed / "run.json").exists()
    chain_dir = killed / "fund_platform"
    assert (chain_dir / "genesis.json").is_file() and (chain_dir / "certs" / "ca.pem").is_file()
    assert (chain_dir / "certs" / "crl.pem").is_file()
    for node in keystore_nodes(chain_dir):
        assert (chain_dir / "certs" / f"{node}.pem").is_file(), node

    status = run_status(killed)
    assert not status.complete and not status.running and status.resumable
    assert (status.scenario, status.seed, status.chain, status.head) == ("share_transfer", SEED, "fund_platform", head)
    assert status.describe().startswith(f"incomplete run (interrupted at block {head}): resume with `pilotledger "
                                        f"run scenario share_transfer --resume ")

    # verify says so first, and still verifies every block there is.
    verified = cli("verify", str(killed))
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.splitlines()[0].startswith(f"incomplete run (interrupted at block {head}): resume with")
    assert f"verified, {len(blocks)} blocks" in verified.stdout

    # No block is added to it before it is finished: --resume could not make that block again.
    sent = cli("send", str(killed), "SettlementCash", "transfer", "0x" + "11" * 20, "1", "--node", "CUSTODY")
    assert sent.returncode == 2 and "is an incomplete run: finish it with --resume" in sent.stderr.splitlines()[-1]
    assert committed_blocks(killed / "fund_platform" / "ledger.sqlite") == blocks

    # The report says the run is incomplete, and scores nothing against a ground truth the run never wrote.
    reported = cli("report", str(killed), "--out", str(tmp_path / "killed.html"))
    assert reported.returncode == 0, reported.stderr
    text = (tmp_path / "killed.html").read_text(encoding="utf-8")
    assert f"Incomplete run: incomplete run (interrupted at block {head})" in text
    assert "no ground truth: the run is incomplete" in text and "none missed" not in text
    assert f"share_transfer · seed {SEED}" in text or f"seed {SEED}" in text
    (tmp_path / "killed.html").unlink()

    # A run whose blocks are not this seed's (its marker edited) is refused, in one line, and left as it is.
    other = tmp_path / "other"
    shutil.copytree(killed, other)
    marked = json.loads((other / MARKER_FILE).read_text())
    (other / MARKER_FILE).write_text(json.dumps({**marked, "seed": SEED + 1}))
    refused = cli("run", "scenario", "share_transfer", "--resume", str(other))
    assert refused.returncode == 1 and len(error_lines(refused.stderr)) == 1, refused.stderr
    assert "block 1 of fund_platform is not the block this run commits" in refused.stderr
    assert committed_blocks(other / "fund_platform" / "ledger.sqlite") == blocks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "other"]  # no folder left beside it

    # Options other than the marker's are refused; so is another scenario's name.
    assert cli("run", "scenario", "share_transfer", "--resume", str(killed), "--seed", "9").returncode == 2
    wrong = cli("run", "scenario", "warehouse_receipt", "--resume", str(killed))
    assert wrong.returncode == 2 and "is a run of scenario share_transfer" in wrong.stderr

    # The same run uninterrupted, then the killed one resumed: the same chain, byte for byte.
    started = time.perf_counter()
    whole = cli("run", "scenario", "share_transfer", "--seed", str(SEED), "--run-dir", str(tmp_path / "whole"),
                *OPTIONS, "--json")
    uninterrupted = time.perf_counter() - started
    assert whole.returncode == 0, whole.stderr
    started = time.perf_counter()
    resumed = cli("run", "scenario", "share_transfer", "--resume", str(killed), "--json")
    resuming = time.perf_counter() - started
    assert resumed.returncode == 0, resumed.stderr
    print(f"uninterrupted run {uninterrupted:.1f} s, resume {resuming:.1f} s")
    summary, expected = json.loads(resumed.stdout), json.loads(whole.stdout)
    assert summary["head_hash"] == expected["head_hash"] and summary["blocks"] == expected["blocks"]
    assert summary["run_dir"] == str(killed)
    again = committed_blocks(chain_dir / "ledger.sqlite")
    assert again == committed_blocks(tmp_path / "whole" / "fund_platform" / "ledger.sqlite")
    assert again[:len(blocks)] == blocks
    assert json.loads((killed / "run.json").read_text())["head_hash"] == expected["head_hash"]
    assert not (killed / MARKER_FILE).exists() and run_status(killed).complete
    assert (killed / "ground_truth.json").read_text() == (tmp_path / "whole" / "ground_truth.json").read_text()
    assert sorted(keystore_nodes(chain_dir)) == sorted(keystore_nodes(tmp_path / "whole" / "fund_platform"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "other", "whole"]
    clean = cli("verify", str(killed))
    assert clean.returncode == 0 and "incomplete" not in clean.stderr, clean.stderr

    # Resuming a complete run: one line, exit 2.
    done = cli("run", "scenario", "share_transfer", "--resume", str(killed))
    assert done.returncode == 2 and error_lines(done.stderr) == [f"error: {killed} is a complete run: there is "
                                                                  "nothing to resume"]


def test_resuming_a_folder_without_a_marker_is_one_line(tmp_path: Path) -> None:
    result = cli("run", "scenario", "share_transfer", "--resume", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no run.started marker" in result.stderr
    missing = cli("run", "scenario", "share_transfer", "--resume", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no run directory" in missing.stderr


BROKEN = '''
from scenarios.api import Role, Scenario


class BrokenEarly(Scenario):
    name = "broken_early"
    title = "fails after opening its chain, before its first block"

    def run(self, ctx):
        chain = ctx.open_chain("early_chain", 31337, 1700000000, "Early CA")
        chain.add_node("OPERATOR", "Operator", Role.ADMIN | Role.VALIDATOR)
        raise RuntimeError("no block today")
'''


def test_a_run_that_fails_before_its_first_block_leaves_no_folder(tmp_path: Path) -> None:
    unreachable = cli("run", "scenario", "share_transfer", "--engine", "rpc", "--rpc-url", "http://127.0.0.1:1",
                      "--run-dir", str(tmp_path / "rpc"))
    assert unreachable.returncode == 2 and not (tmp_path / "rpc").exists(), unreachable.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "broken_early.py").write_text(BROKEN)
    broken = cli("run", "scenario", "broken_early", "--scenarios-dir", str(tmp_path / "mine"),
                 "--run-dir", str(tmp_path / "early"))
    assert broken.returncode == 1 and "no block today" in broken.stderr
    assert not (tmp_path / "early").exists()


def _limit_file_size() -> None:  # in the child: a write past 600 kB fails with EFBIG instead of killing it
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000))


@pytest.fixture
def small_disk(tmp_path: Path, request):
    """A folder where writes run out of room: a 2 MB tmpfs (needs mount privileges: root, as in CI), or a
    600 kB limit on the size of any file the run writes (RLIMIT_FSIZE), which works everywhere."""
    if request.param == "fsize":
        yield tmp_path, {"preexec_fn": _limit_file_size}
        return
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True,
                             text=True) if shutil.which("mount") else None
    if mounted is None or mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here ({mounted.stderr.strip() if mounted else 'no mount command'})"
        pytest.skip(reason + "; the RLIMIT_FSIZE variant, which always runs, stands in")
    try:
        yield folder, {}
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.parametrize("small_disk", ["tmpfs", "fsize"], indirect=True)
def test_a_full_disk_ends_in_one_line_and_leaves_a_ledger_that_verifies(small_disk) -> None:
    folder, limit = small_disk
    run_dir = folder / "run"
    result = cli("run", "scenario", "share_transfer", "--seed", str(SEED), "--run-dir", str(run_dir), *OPTIONS,
                 **limit)
    assert result.returncode == 1, result.stderr
    [line] = error_lines(result.stderr)
    assert "Traceback" not in result.stderr
    assert "disk full" in line or "file too large" in line, line
    ledger = run_dir / "fund_platform" / "ledger.sqlite"
    assert str(ledger) in line or str(run_dir) in line, line
    blocks = committed_blocks(ledger)
    assert blocks, "the disk filled before the first block"
    assert f"incomplete run (interrupted at block {blocks[-1][0]}): resume with" in line
    verified = cli("verify", str(run_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stderr.startswith(f"incomplete run (interrupted at block {blocks[-1][0]})")
    assert f"verified, {len(blocks)} blocks" in verified.stdout


ALL_SMALL = {  # as tests/test_all_run.py: every scenario at about its smallest
    "share_transfer": {"funds": 4, "investors": 60, "transfers": 40, "batch": 20},
    "warehouse_receipt": {"receipts": 30, "traders": 4, "batch": 10},
    "regional_equity": {"companies": 3, "investors": 60, "transfers": 30, "batch": 15, "cap": 20},
}
RUN_ALL = "import sys; from pathlib import Path; from scenarios.runner import run_all; " \
          "run_all(7, {options!r}, Path(sys.argv[1]))"


def test_an_interrupted_all_run_keeps_its_complete_sub_runs_and_resumes_the_rest(tmp_path: Path) -> None:
    """`run scenario all` killed in its second scenario: the top run and the interrupted sub-run are marked, the
    sub-run's line sends to the top run, and `run scenario all --resume` ends where an uninterrupted run does."""
    top = tmp_path / "all"
    ledger = top / "share_transfer" / "fund_platform" / "ledger.sqlite"
    code = RUN_ALL.format(options=ALL_SMALL)
    process = subprocess.Popen([sys.executable, "-c", code, str(top)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(committed_blocks(ledger)) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    head = committed_blocks(ledger)[-1][0]

    assert (top / MARKER_FILE).is_file() and (top / "share_transfer" / MARKER_FILE).is_file()
    assert (top / "regional_equity" / "run.json").is_file() and not (top / "warehouse_receipt").exists()
    status = run_status(top)
    assert (status.scenario, status.chain, status.head, status.resumable) == (
        "all", "share_transfer/fund_platform", head, True)
    assert status.describe().startswith(f"incomplete run (interrupted in share_transfer at block {head}): resume "
                                        "with `pilotledger run scenario all --resume ")
    sub = run_status(top / "share_transfer")
    assert not sub.complete and not sub.resumable and "run scenario all --resume" in sub.describe()
    verified = cli("verify", str(top))
    assert verified.returncode == 0 and verified.stderr.startswith("incomplete run (interrupted in share_transfer")
    assert "share_transfer/fund_platform: verified" in verified.stdout
    refused = cli("run", "scenario", "share_transfer", "--resume", str(top / "share_transfer"))
    assert refused.returncode == 2 and "run scenario all --resume" in refused.stderr

    whole = tmp_path / "whole"
    assert subprocess.run([sys.executable, "-c", code, str(whole)], cwd=ROOT, capture_output=True).returncode == 0
    kept = (top / "regional_equity" / "run.json").read_text()
    resumed = cli("run", "scenario", "all", "--resume", str(top), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary, expected = json.loads(resumed.stdout), json.loads((whole / "run.json").read_text())
    for name in ALL_SMALL:
        assert summary[name]["head_hash"] == expected[name]["head_hash"], name
        assert summary[name]["run_dir"] == str(top / name)
    assert summary["overall"] == expected["overall"]
    assert (top / "regional_equity" / "run.json").read_text() == kept  # a complete sub-run is kept as it was
    assert not list(top.rglob(MARKER_FILE)) and run_status(top).complete
    assert sorted(p.name for p in top.iterdir()) == ["regional_equity", "run.json", "share_transfer",
                                                     "warehouse_receipt"]
