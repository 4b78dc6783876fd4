"""`runs [DIR]` lists the runs in a folder (a finished one, an incomplete one, a `run scenario all` run as
one run; a folder that is no run is left out) and `runs rm RUN_DIR` removes one after asking, refusing
what is not a run, the runs folder itself and a link."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.chain.run import MARKER_FILE, read_marker, start_marker, write_json_atomically
from ledger.chain.reader import LedgerReader
from ledger.cli import main
from ledger.cli.runs import human_size
from scenarios.runner import run_scenario

SEED = 3
SMALL = {"investors": 60, "transfers": 20, "funds": 3}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, dict]:
    """A finished small share_transfer run, kept outside the folders the tests list and edit."""
    run_dir = tmp_path_factory.mktemp("runs-source") / f"share_transfer-seed{SEED}"
    return run_dir, run_scenario("share_transfer", SEED, SMALL, run_dir)


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


@pytest.fixture
def folder(tmp_path, finished, monkeypatch) -> Path:
    """runs/ holding: the finished run; `killed` (its run.json deleted, no marker: killed before the marker
    existed); `interrupted` (a marker whose process is gone); `all-seed3` (a multi-market run, its scenario a
    sub-run); `.interrupted.resuming` (a resume at work); `notes` (no run); and `link` (a link to a run elsewhere). The working directory is tmp_path."""
    source, _ = finished
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(source, runs / source.name)
    shutil.copytree(source, runs / "killed")
    (runs / "killed" / "run.json").unlink()
    shutil.copytree(source, runs / "interrupted")
    (runs / "interrupted" / "run.json").unlink()
    start_marker(runs / "interrupted", {"scenario": "share_transfer", "seed": SEED, "options": SMALL,
                                        "engine": "pyevm"})
    marker = read_marker(runs / "interrupted")
    write_json_atomically(runs / "interrupted" / MARKER_FILE,
                          {**marker, "pid": dead_pid(), "chains": ["fund_platform"]})
    shutil.copytree(source, runs / "all-seed3" / "share_transfer")
    (runs / "all-seed3" / "run.json").write_text(json.dumps({"scenario": "all", "seed": SEED, "engine": "pyevm"}))
    shutil.copytree(source, runs / ".interrupted.resuming")  # a resume at work: listed as its run only
    (runs / "notes").mkdir()
    (runs / "notes" / "todo.txt").write_text("not a run\n")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(source, elsewhere)
    (runs / "link").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return runs


def invoke(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main([*map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def blocks_of(run_dir: Path) -> int:
    with LedgerReader(run_dir / "fund_platform" / "ledger.sqlite") as reader:
        return reader.block_count()


def test_list_as_json(folder, finished, capsys):
    source, summary = finished
    code, out, err = invoke(capsys, "runs", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["runs_dir"] == "runs"
    by_name = {r["name"]: r for r in listed["runs"]}
    assert sorted(by_name) == ["all-seed3", "interrupted", "killed", source.name]  # no `notes`, no `link`
    done = by_name[source.name]
    assert (done["scenario"], done["seed"], done["engine"], done["complete"]) == ("share_transfer", SEED, "pyevm",
                                                                                  True)
    assert done["blocks"] == summary["blocks"] == blocks_of(source) > 0
    size = sum(p.stat().st_size for p in (folder / source.name).rglob("*") if p.is_file())
    assert done["size_bytes"] == size > 1_000_000
    for name in ("killed", "interrupted"):
        assert by_name[name]["complete"] is False and by_name[name]["blocks"] == summary["blocks"]
        assert by_name[name]["running"] is False and by_name[name]["status"] != "complete"
    assert (by_name["interrupted"]["scenario"], by_name["interrupted"]["seed"]) == ("share_transfer", SEED)
    with LedgerReader(source / "fund_platform" / "ledger.sqlite") as reader:
        assert by_name["interrupted"]["head"] == by_name["killed"]["head"] == reader.head_number() > 0
    assert "--resume" in by_name["interrupted"]["status"]
    everything = by_name["all-seed3"]
    assert (everything["scenario"], everything["complete"], everything["blocks"]) == ("all", True, summary["blocks"])


def test_list_as_a_table(folder, finished, capsys):
    source, summary = finished
    code, out, err = invoke(capsys, "runs")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "runs in runs: 4"
    header = lines[1].split()
    assert header[:6] == ["run", "scenario", "seed", "engine", "blocks", "size"] and header[-1] == "status"
    rows = {line.split()[0]: line for line in lines[2:6]}
    assert sorted(rows) == ["all-seed3", "interrupted", "killed", source.name]
    done = rows[source.name].split()
    assert done[1:5] == ["share_transfer", str(SEED), "pyevm", str(summary["blocks"])]
    assert " ".join(done[5:7]) == human_size(sum(p.stat().st_size for p in (folder / source.name).rglob("*")
                                                 if p.is_file()))
    assert done[-1] == "complete"
    assert rows["killed"].endswith(f"interrupted (block {blocks_of(source)})")
    assert any(line.startswith("interrupted: resume with ") and "--resume" in line for line in lines[6:])
    assert "notes" not in out and "link" not in out and "resuming" not in out
    # the date column is Beijing time: the run.json's mtime as UTC+8
    import datetime as dt
    written = (folder / source.name / "run.json").stat().st_mtime
    for candidate in (written, max(written, (folder / source.name / "fund_platform" / "ledger.sqlite").stat().st_mtime)):
        shown = dt.datetime.fromtimestamp(candidate, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
        if shown in rows[source.name]:
            break
    else:
        pytest.fail(f"no Beijing-time date in {rows[source.name]!r}")
    code, zh, _ = invoke(capsys, "--lang", "zh", "runs")
    assert code == 0 and "已完成" in zh and "已中断" in zh and "complete" not in zh


def test_list_a_named_folder_and_a_missing_one(folder, finished, capsys):
    code, out, _ = invoke(capsys, "runs", str(folder / "notes"))
    assert code == 0 and out.strip() == f"no runs in {folder / 'notes'}"
    code, _, err = invoke(capsys, "runs", "nowhere")
    assert code == 2 and err.strip() == "error: no runs folder at nowhere"


def test_human_size():
    assert [human_size(n) for n in (0, 999, 1000, 12_345_678, 999_960_000, 3 * 10**9)] == [
        "0 B", "999 B", "1.0 kB", "12.3 MB", "1.0 GB", "3.0 GB"]


def test_rm_with_yes_removes_the_run(folder, capsys):
    code, out, err = invoke(capsys, "runs", "rm", "runs/killed", "--yes")
    assert code == 0, err
    assert out.startswith("removed runs/killed (") and not (folder / "killed").exists()
    assert (folder / "interrupted").is_dir() and (folder / "notes").is_dir()


def test_rm_answered_no_removes_nothing(folder, finished, capsys, monkeypatch):
    source, _ = finished
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    code, out, _ = invoke(capsys, "runs", "rm", f"runs/{source.name}", stdin="n\n", monkeypatch=monkeypatch)
    assert code == 1
    assert f"Remove the run runs/{source.name} (share_transfer, seed {SEED}," in out and "nothing removed" in out
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    code, out, _ = invoke(capsys, "runs", "rm", f"runs/{source.name}", stdin="y\n", monkeypatch=monkeypatch)
    assert code == 0 and "removed" in out and not (folder / source.name).exists()


@pytest.mark.parametrize("target, message", [
    ("runs/notes", "error: runs/notes is not a run (no run.json, run marker or ledger); nothing removed"),
    ("runs/nothing-here", "error: no run directory at runs/nothing-here"),
    ("runs", "error: runs is not a run but the folder of runs; name one run in it"),
    (".", "error: . is not a run but the folder of runs; name one run in it"),
    ("runs/link", "error: runs/link is a link; not following it (nothing removed)"),
    ("runs/killed/fund_platform/nodes",  # node copies beside each other: no run (no genesis.json beside them)
     "error: runs/killed/fund_platform/nodes is not a run (no run.json, run marker or ledger); nothing removed"),
    ("runs/killed/fund_platform/nodes/BJEE/keystore",
     "error: runs/killed/fund_platform/nodes/BJEE/keystore is not a run (no run.json, run marker or ledger); "
     "nothing removed"),
    ("stray", "error: stray is not a run (no run.json, run marker or ledger); nothing removed"),
    ("runs/all-seed3/share_transfer",
     "error: runs/all-seed3/share_transfer is one scenario of the run {root}/runs/all-seed3; remove that run "
     "instead"),
])
def test_rm_refuses_what_is_not_a_run(folder, capsys, target, message):
    (folder.parent / "stray" / "project").mkdir(parents=True)  # a folder of the user's with a file of that name
    (folder.parent / "stray" / "project" / "ledger.sqlite").write_bytes(b"")
    before = sorted(str(p.relative_to(folder.parent)) for p in folder.parent.rglob("*"))
    code, out, err = invoke(capsys, "runs", "rm", target, "--yes")
    assert code == 2
    assert err.splitlines() == [message.format(root=folder.parent)] and out == ""
    assert sorted(str(p.relative_to(folder.parent)) for p in folder.parent.rglob("*")) == before


def test_rm_of_a_run_in_progress_is_refused(folder, capsys):
    marker = read_marker(folder / "interrupted")
    write_json_atomically(folder / "interrupted" / MARKER_FILE, {**marker, "pid": os.getpid()})
    code, _, err = invoke(capsys, "runs", "rm", "runs/interrupted", "--yes")
    assert code == 2 and err.strip() == "error: runs/interrupted is a run in progress; nothing removed"
    assert (folder / "interrupted" / "fund_platform" / "ledger.sqlite").is_file()


def test_rm_never_follows_a_link_inside_the_run(folder, tmp_path, finished, capsys):
    """A link inside the run (to a folder and a file elsewhere) goes with the run; what it points to stays."""
    source, _ = finished
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "precious.txt").write_text("keep me\n")
    (folder / source.name / "fund_platform" / "outside").symlink_to(kept, target_is_directory=True)
    (folder / source.name / "outside.txt").symlink_to(kept / "precious.txt")
    code, _, err = invoke(capsys, "runs", "rm", f"runs/{source.name}", "-y")
    assert code == 0, err
    assert not (folder / source.name).exists() and (kept / "precious.txt").read_text() == "keep me\n"
    assert (tmp_path / "elsewhere" / "run.json").is_file()  # the run `runs/link` points to


def test_the_multi_market_run_is_removed_whole(folder, capsys):
    code, _, err = invoke(capsys, "runs", "rm", "runs/all-seed3", "--yes")
    assert code == 0, err
    assert not (folder / "all-seed3").exists()
