"""The regulator's HTML report: its sections and charts, no external references, the CLI,
and a render in headless Chromium without script errors, with a screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.report import build_report, write_report
from scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("report") / "run"
    run_scenario("share_transfer", 7, {"investors": 60, "transfers": 40}, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def report(run_dir: Path) -> Path:
    return write_report(run_dir)


def test_report_holds_every_section_and_chart(run_dir: Path, report: Path):
    assert report == run_dir / "report.html"
    text = report.read_text(encoding="utf-8")
    for anchor in ("summary", "audit", "activity", "refusals", "planted", "holdings", "nodes"):
        assert f'<section id="{anchor}">' in text
    assert 'aria-label="transactions per block on fund_platform"' in text
    assert 'aria-label="refusals by reason"' in text
    assert '<svg class="graph"' in text and 'class="gedge"' in text
    assert "verified" in text and "NOT verified" not in text
    summary = json.loads((run_dir / "run.json").read_text())
    for reason in summary["refused_by_reason"]:
        assert reason.split(":", 1)[1] in text
    for planted in json.loads((run_dir / "ground_truth.json").read_text()):
        assert planted["kind"] in text
    nodes = sorted(p.name for p in (run_dir / "fund_platform" / "nodes").iterdir())
    for node in nodes:
        assert f'data-panel="' in text and f">{node}</button>" in text
    assert "Seen as CSRC-BJ." in text                  # the regulator opens the private stores
    assert len(text.encode()) < 2_000_000


def test_report_is_self_contained(report: Path):
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<link" not in text and "<img" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r"<script[^>]*\bsrc\b", text)


def test_report_escapes_text(tmp_path: Path, run_dir: Path):
    """A planted violation's description with markup shows as text, never as markup."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    truth = json.loads((copy / "ground_truth.json").read_text())
    truth[0]["description"] = '<script>alert("x")</script> & <b>bold</b>'
    (copy / "ground_truth.json").write_text(json.dumps(truth))
    text = build_report(copy)
    assert '<script>alert("x")</script>' not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_writes_the_report_and_prints_its_path(tmp_path: Path, run_dir: Path):
    out = tmp_path / "regulator.html"
    result = cli("report", str(run_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("make, fragment", [
    (lambda tmp: tmp / "missing", "no run directory"),
    (lambda tmp: tmp, "holds no ledger"),
])
def test_cli_bad_run_dir_is_one_line_and_exit_2(tmp_path: Path, make, fragment):
    result = cli("report", str(make(tmp_path)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


# ------------------------------------------------------------------ Chromium


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium_without_script_errors(tmp_path: Path, report: Path):
    result = headless(tmp_path, "--dump-dom", report.as_uri())
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r'<body[^>]*\bdata-rendered="ok"', dom), "the report's script did not run to its end"
    errors = re.search(r'<html[^>]*\bdata-script-errors="([^"]*)"', dom)
    assert errors is None, f"script errors: {errors and errors.group(1)}"
    assert dom.count("<svg") >= 3


def test_report_screenshot(tmp_path: Path, report: Path, capsys):
    png = tmp_path / "report.png"
    result = headless(tmp_path, f"--screenshot={png}", "--window-size=1400,2400", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 2400)
    assert len(data) > 50_000                     # a blank page compresses to a few kilobytes
    with capsys.disabled():
        print(f"\nreport screenshot: {png}")
