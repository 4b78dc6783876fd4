"""The regulator's HTML report: its sections and charts, no external references, the CLI,
and a render in headless Chromium without script errors, with a screenshot; in Chinese (--lang zh,
PILOTLEDGER_LANG=zh), rendered in Chromium with no English label left."""

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

from ledger.present import i18n
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
    assert report == run_dir / "fund_platform" / "nodes" / "CSRC-BJ" / "report.html"  # the regulator's own folder
    assert not (run_dir / "report.html").exists()
    text = report.read_text(encoding="utf-8")
    assert text.startswith('<!DOCTYPE html>\n<html lang="en">')
    for anchor in ("summary", "audit", "findings", "alerts", "activity", "refusals", "planted", "holdings", "nodes"):
        assert f'<section id="{anchor}">' in text and f'<a href="#{anchor}">' in text
    assert "could not run" not in text                # the audit and the rule catalogue both ran
    assert "left for the regulator" not in text       # regulator plants are matched against the findings
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
        assert 'data-panel="' in text and f">{node}</button>" in text
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


def test_cli_never_overwrites_without_force_nor_writes_into_a_chain(tmp_path: Path, run_dir: Path):
    kept = tmp_path / "README.md"
    kept.write_text("the user's own file\n")
    refused = cli("report", str(run_dir), "--out", str(kept))
    assert refused.returncode == 2 and "exists" in refused.stderr and "--force" in refused.stderr
    assert kept.read_text() == "the user's own file\n" and "Traceback" not in refused.stderr
    ledger = run_dir / "fund_platform" / "ledger.sqlite"
    before = ledger.read_bytes()
    for target in (ledger, run_dir / "fund_platform" / "report.html"):
        inside = cli("report", str(run_dir), "--out", str(target), "--force")
        assert inside.returncode == 2 and "inside chain fund_platform" in inside.stderr, inside.stderr
    assert ledger.read_bytes() == before and not (run_dir / "fund_platform" / "report.html").exists()
    forced = cli("report", str(run_dir), "--out", str(kept), "--force")
    assert forced.returncode == 0 and kept.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    summary = (run_dir / "run.json").read_text()
    own = cli("report", str(run_dir), "--out", str(run_dir / "run.json"), "--force")
    assert own.returncode == 2 and "the run's own run.json" in own.stderr and (run_dir / "run.json").read_text() == summary


def test_the_report_goes_with_the_regulators_files_and_nowhere_else_in_a_chain(tmp_path: Path, run_dir: Path):
    """Only the regulator may open the members' sealed stores, so the report naming investors stays in its own
    folder by default; --out may name another .html there, but not a file in another member's folder."""
    regulator = run_dir / "fund_platform" / "nodes" / "CSRC-BJ"
    zh = cli("report", str(run_dir), "--out", str(regulator / "report-zh.html"), "--lang", "zh")
    assert zh.returncode == 0 and (regulator / "report-zh.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
    for target in (run_dir / "fund_platform" / "nodes" / "BJEE" / "report.html", regulator / "keystore" / "r.html",
                   regulator / "ledger.sqlite"):
        inside = cli("report", str(run_dir), "--out", str(target), "--force")
        assert inside.returncode == 2 and "inside chain fund_platform" in inside.stderr, (target, inside.stderr)
        assert target.name != "r.html" or not target.exists()
    default = cli("report", str(run_dir))
    assert default.returncode == 0 and default.stdout.strip() == str(regulator / "report.html")
    assert "regulator CSRC-BJ's own folder" in default.stderr


def test_a_link_planted_where_the_report_goes_is_replaced_not_written_through(tmp_path: Path, run_dir: Path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)  # the module's run keeps its own report for the tests after this one
    victim = tmp_path / "pins.json"
    victim.write_text("{}\n")
    planted = run / "fund_platform" / "nodes" / "CSRC-BJ" / "report.html"
    planted.unlink(missing_ok=True)
    planted.symlink_to(victim)
    result = cli("report", str(run))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "{}\n" and not planted.is_symlink()
    assert planted.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


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


# ------------------------------------------------------------------ Chinese


@pytest.fixture(scope="module")
def zh_report(run_dir: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("zh") / "report.zh.html"
    path.write_text(build_report(run_dir, lang="zh", out_dir=run_dir), encoding="utf-8")
    assert i18n.current_language() == "en"           # building in Chinese leaves the language as it was
    return path


def test_cli_writes_the_report_in_chinese_by_option_or_environment(tmp_path: Path, run_dir: Path):
    by_option, by_env = tmp_path / "option.html", tmp_path / "env.html"
    assert cli("report", str(run_dir), "--lang", "zh", "--out", str(by_option)).returncode == 0
    env = {**os.environ, "PILOTLEDGER_LANG": "zh-CN"}
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "report", str(run_dir), "--out", str(by_env)],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    for path in (by_option, by_env):
        text = path.read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in text and "监管报告" in text and "违规发现" in text and "风险预警" in text
    bad = cli("report", str(run_dir), "--lang", "fr")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: --lang: unknown language 'fr'; use en or zh (zh_CN, zh-CN)"]


def test_chinese_report_uses_the_standard_terms(zh_report: Path):
    text = zh_report.read_text(encoding="utf-8")
    for term in ("合格投资者", "穿透", "验证者", "区块", "交易", "拒绝", "风险预警", "违规发现", "北京时间", "监管机构"):
        assert term in text, term
    for anchor in ("summary", "audit", "findings", "alerts", "activity", "refusals", "planted", "holdings", "nodes"):
        assert f'<section id="{anchor}">' in text


# Visible text as a reader meets it: every <details> opened, every node's tab shown, every tooltip (data-tip),
# SVG text included; left out: `title` attributes (they keep the English original of a translated record) and
# <code> (ids, hashes, contract, error and function names, commands: names, never labels).
VISIBLE_TEXT = """<script>(function(){
document.querySelectorAll('details').forEach(function(d){d.open=true;});
document.querySelectorAll('.panel').forEach(function(p){p.classList.add('active');});
document.querySelectorAll('code').forEach(function(c){c.textContent='';});
var parts=[document.title,document.body.innerText];
document.querySelectorAll('svg text').forEach(function(t){parts.push(t.textContent);});
document.querySelectorAll('[data-tip]').forEach(function(t){parts.push(t.getAttribute('data-tip'));});
var out=document.createElement('pre');out.id='visible-text';out.textContent=parts.join('\\n');
document.body.appendChild(out);})();</script>"""
# Words that are no label: names of the tool and the engine, units, acronyms used as they are in Chinese texts.
ALLOWED_WORDS = {"pilotledger", "py-evm", "pyevm", "revm", "Anvil", "EVM", "rpc", "t", "kg", "CNY", "KYC", "CA", "ID"}


def english_words(text: str, names: set[str]) -> list[str]:
    """Words in `text` a Chinese reader would have to read as English: not an id, hex or number, not a code
    (CamelCase contract, error or function names, SCREAMING_CASE reason codes, snake_case names, paths and
    files), not a name in the contracts' ABIs, not a person's or firm's name from the run's data, not an
    allowed word."""
    found = []
    for chunk in re.findall(r"[A-Za-z0-9_.:/@=’'…<>-]+", text):
        word = chunk.strip(".:’'-")
        if (not re.search(r"[A-Za-z]", word) or re.search(r"[0-9_./:=@…<>]", word) or word in ALLOWED_WORDS
                or word in names or word in abi_names() or word.isupper() or re.search(r"[a-z][A-Z]", word)):
            continue
        found.append(word)
    return found


def abi_names() -> set[str]:
    """Every contract's name and the names of its functions, events and errors (contracts/artifacts/)."""
    if not hasattr(abi_names, "cache"):
        names = set()
        for path in (ROOT / "contracts" / "artifacts").glob("*.json"):
            names.add(path.stem)
            names |= {item["name"] for item in json.loads(path.read_text()).get("abi", []) if item.get("name")}
        abi_names.cache = names
    return abi_names.cache


def data_names(run_dir: Path) -> set[str]:
    """The words of every name the report shows from the run's own data: members' node names and the names
    the regulator opens in the KYC agents' private stores (pinyin names of people, firms' registered names)."""
    from ledger.report.data import load_run

    run = load_run(run_dir)
    names = {m.name for c in run.chains for m in c.members.values()} | set().union(*(set(c.nodes) for c in run.chains))
    names |= {item["personal"]["name"] for c in run.chains for v in c.views.values()
              for item in v["private_data"]["items"] if not item["sealed"] and item["personal"].get("name")}
    return {w.strip(",.()") for n in names for w in n.split()}


def test_chinese_report_in_chromium_leaves_no_english_label(tmp_path: Path, run_dir: Path, zh_report: Path):
    page = tmp_path / "probe.html"
    page.write_text(zh_report.read_text(encoding="utf-8").replace("</body>", VISIBLE_TEXT + "</body>"),
                    encoding="utf-8")
    result = headless(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert re.search(r'<body[^>]*\bdata-rendered="ok"', dom), "the report's script did not run to its end"
    assert '<html lang="zh-CN"' in dom
    match = re.search(r'<pre id="visible-text">(.*?)</pre>', dom, re.S)
    assert match, "the probe did not run"
    import html as html_module

    visible = html_module.unescape(match.group(1))
    assert len(visible) > 5000 and "违规发现" in visible and "风险预警" in visible
    names = data_names(run_dir)
    left = {}
    for line in visible.splitlines():
        for word in english_words(line, names):
            left.setdefault(word, line.strip()[:160])
    assert left == {}, "English left in the Chinese report (word: a line it is on):\n" + "\n".join(
        f"  {w}: {line}" for w, line in sorted(left.items()))


def test_chinese_report_screenshot(tmp_path: Path, zh_report: Path, capsys):
    """Drawn with a CJK font (.ci/run installs fonts-wqy-microhei), else every character is a box."""
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True) if shutil.which("fc-list") else None
    if not fonts or not fonts.stdout.strip():
        if os.environ.get("CI"):
            pytest.fail("no Chinese font; .ci/run installs fonts-wqy-microhei")
        pytest.skip("no Chinese font installed (apt-get install fonts-wqy-microhei)")
    png = tmp_path / "report.zh.png"
    result = headless(tmp_path, f"--screenshot={png}", "--window-size=1400,2400", zh_report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    with capsys.disabled():
        print(f"\nChinese report screenshot: {png}")


@pytest.mark.parametrize("file, edit, fragment", [
    ("run.json", lambda s: {**s, "scenario": [1]}, "'scenario' is [1], not what a run writes there"),
    ("run.json", lambda s: {**s, "chains": {"fund_platform": {"blocks": "many"}}}, "chains.fund_platform"),
    ("run.json", lambda s: {**s, "alerts": [{"rule": "investor_cap", "block": None}]}, "an alert"),
    ("ground_truth.json", lambda t: {"id": 1}, "must be a JSON list of planted violations"),
    ("ground_truth.json", lambda t: [{**t[0], "outcome": "caught"}], "a planted violation"),
])
def test_a_run_file_not_as_a_run_writes_it_is_one_line(tmp_path: Path, run_dir: Path, file, edit, fragment):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("nodes"))  # no views needed to refuse it
    (run / file).write_text(json.dumps(edit(json.loads((run / file).read_text()))))
    result = cli("report", str(run), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2 and fragment in result.stderr.splitlines()[-1], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "r.html").exists()


def test_a_regulator_folder_reached_through_a_link_is_refused_not_replaced_by_the_shared_folder(tmp_path: Path,
                                                                                               run_dir: Path):
    """A member moves the regulator's folder away and leaves a link: the report, which names investors, is not
    written through the link nor in the folder every member reads."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    regulator = run / "fund_platform" / "nodes" / "CSRC-BJ"
    moved = tmp_path / "moved"
    regulator.rename(moved)
    regulator.symlink_to(moved, target_is_directory=True)
    (moved / "report.html").unlink(missing_ok=True)
    result = cli("report", str(run))
    assert result.returncode == 2 and "reached through a link" in result.stderr.splitlines()[-1], result.stderr
    assert not (run / "report.html").exists() and not (moved / "report.html").exists()
