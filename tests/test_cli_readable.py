"""Every CLI table readable by a regulator (issue 12, items 4 and 5): dates in Beijing time and never Unix
seconds, quantities with their units, role names, names beside short ids; any id printed with --full (or in its
short form) pastes into the next query; and with --lang zh (or PILOTLEDGER_LANG=zh) no English label is left."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ledger.cli import main
from ledger.cli.readable import Names, expand_id
from ledger.errors import ConfigError
from ledger.present import i18n
from scenarios.runner import run_scenario

SEED = 11
WAREHOUSE = {"receipts": 30, "warehouses": 2, "traders": 4, "banks": 1, "batch": 10}
EQUITY = {"investors": 60, "companies": 3, "transfers": 30, "batch": 10, "cap": 10, "anchor_interval": 5}
LOCALE = Path(__file__).resolve().parent.parent / "ledger" / "locale" / "zh_CN" / "LC_MESSAGES"

DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d [0-2]\d:[0-5]\d\b")
UNIX = re.compile(r"(?<![\d.x])1[5-9]\d{8}(?![\d.])")  # a 10-digit block time (2017-2033) shown raw
FULL_IDENTITY = re.compile(r"0x[0-9a-f]{64}\b")
FULL_ACCOUNT = re.compile(r"0x[0-9a-f]{40}\b")
SHORT = re.compile(r"0x[0-9a-f]{4}…[0-9a-f]{4}")


@pytest.fixture(scope="module")
def wr(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("readable") / "wr"
    run_scenario("warehouse_receipt", SEED, WAREHOUSE, path)
    return path


@pytest.fixture(scope="module")
def eq(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("readable") / "eq"
    run_scenario("regional_equity", SEED, EQUITY, path)
    return path


def run(capsys, *args: object) -> str:
    """One command in this process; its stdout (exit code 0 required)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, (args, out, err)
    return out


def readable(text: str) -> None:
    """Dates, never Unix seconds; no id longer than its short form unless asked."""
    assert not UNIX.findall(text), UNIX.findall(text)


def a_receipt(wr: Path) -> int:
    """A receipt that was pledged (so its custody has a lender, an amount and a term)."""
    from ledger.supervision.lookthrough import receipt_anomalies

    refused = receipt_anomalies(wr)["refused_on_chain"]
    return next(a["receipt"] for a in refused if a["kind"] == "double_pledge_attempt")


def regulator(run_dir: Path, chain: str) -> str:
    return next(p.name for p in (run_dir / chain / "nodes").iterdir() if p.name.startswith("CSRC"))


# ------------------------------------------------------------------ readable in English


def test_receipt_has_dates_units_names_and_no_unix_times(wr, capsys):
    out = run(capsys, "query", "receipt", wr, a_receipt(wr))
    readable(out)
    assert DATE.search(out)
    assert re.search(r"\b\d[\d,]* kg\b", out) and "CNY" in out  # quantities in the receipt's unit, loans in CNY
    names = Names.read([wr / "receipt_platform" / "ledger.sqlite"])
    assert any(code in out for code in names.orgs.values())  # the warehouse and lender by their codes
    assert SHORT.search(out) and not FULL_ACCOUNT.search(out)
    anomalies = run(capsys, "query", "receipts", wr, "--anomalies")
    readable(anomalies)
    assert DATE.search(anomalies) and re.search(r"\b\d[\d,]* kg\b", anomalies)


def test_disclosures_in_days_and_dates(eq, capsys):
    out = run(capsys, "query", "disclosures", eq, "--anomalies")
    readable(out)
    assert DATE.search(out) and re.search(r"\b\d+(\.\d)? days?\b", out)
    assert "BJEE-" in out and not re.search(r"0x424a45", out)  # companies by code, not as padded bytes32


def test_view_names_roles_and_dates(eq, capsys):
    out = run(capsys, "view", eq, "HX-SEC", "--chain", "equity_market", "--as", regulator(eq, "equity_market"))
    readable(out)
    assert DATE.search(out)
    assert "KYC agent" in out and "investor agent" in out  # roles by name, not as a mask
    assert "matches" in out


def test_summary_and_verify_read_as_dates(eq, capsys):
    from ledger.cli.run import render_summary

    summary = render_summary(json.loads((eq / "run.json").read_text()), Names.read(
        [eq / c / "ledger.sqlite" for c in ("equity_market", "regulatory")]))
    readable(summary)
    assert "gateway:ROLE_MISSING" in summary and "risk alerts" in summary
    out = run(capsys, "verify", eq)
    assert "equity_market: verified" in out and "blocks" in out


# ------------------------------------------------------------------ ids that paste


def test_full_ids_paste_into_the_next_query(eq, capsys):
    company = "company:BJEE-880001"
    table = run(capsys, "query", "holders", eq, company, "--full", "--limit", "0")
    company_id = re.search(r"company:(0x[0-9a-f]{64})", table).group(1)  # the header names it in full
    ids = [i for i in FULL_IDENTITY.findall(table) if i != company_id]
    assert ids and not SHORT.search(table)
    exposure = run(capsys, "query", "exposure", eq, ids[0], "--full")
    assert ids[0] in exposure and "BJEE-880001" in exposure
    # The full company id printed under --full is a query's ENTITY as it is.
    again = run(capsys, "query", "holders", eq, f"company:{company_id}", "--full", "--limit", "0")
    assert FULL_IDENTITY.findall(again) == FULL_IDENTITY.findall(table)


def test_short_ids_paste_too(eq, wr, capsys):
    table = run(capsys, "query", "holders", eq, "BJEE-880002", "--limit", "0")
    short = SHORT.findall(table)
    assert short and not FULL_IDENTITY.search(table)
    exposure = run(capsys, "query", "exposure", eq, short[0])
    assert exposure.startswith(f"exposure of {short[0]}")
    assert run(capsys, "query", "ubo", eq, short[0])  # an identity's owners, from its short form
    # An account: the receipt's holder, printed short, is a PERSON of `query exposure`.
    receipt = run(capsys, "query", "receipt", wr, a_receipt(wr))
    holder = re.search(r"holder\s+.*?(0x[0-9a-f]{4}…[0-9a-f]{4})", receipt).group(1)
    assert "receipts held" in run(capsys, "query", "exposure", wr, holder)
    full = run(capsys, "query", "receipt", wr, a_receipt(wr), "--full")
    account = re.search(r"holder\s+.*?(0x[0-9a-f]{40})", full).group(1)
    assert account.startswith(holder[:6]) and account.endswith(holder[-4:])


def test_an_ambiguous_short_id_is_refused_naming_the_candidates():
    ids = ["0x1a2b" + "0" * 56 + "9f0e", "0x1a2b" + "1" * 56 + "9f0e", "0x1a2c" + "2" * 56 + "9f0e"]
    assert expand_id("0x1a2c…9f0e", ids) == ids[2]
    assert expand_id("identity:0x1a2c", ids) == f"identity:{ids[2]}"
    assert expand_id(ids[0], ids) == ids[0] and expand_id("fund:1", ids) == "fund:1"
    assert expand_id("0x9999…0000", ids) == "0x9999…0000"  # no match: the query says it is unknown
    with pytest.raises(ConfigError) as refused:
        expand_id("0x1a2b…9f0e", ids)
    assert ids[0] in str(refused.value) and ids[1] in str(refused.value)


# ------------------------------------------------------------------ Chinese


def english_vocabulary() -> set[str]:
    """Every word of the English labels the CLI prints (the msgids of its catalogue and of the findings')."""
    from babel.messages.pofile import read_po

    def latin(text: str | None) -> set[str]:
        return set(re.findall(r"(?<![{\w])[A-Za-z]{2,}(?![}\w])", re.sub(r"\{[^}]*\}", " ", text or "")))

    words: set[str] = set()
    kept: set[str] = set()  # Latin the Chinese keeps on purpose (KYC, solc, Ctrl-C)
    for domain in ("cli", "common"):
        with (LOCALE / f"{domain}.po").open("rb") as f:
            for m in read_po(f):
                for text in (m.id if isinstance(m.id, tuple) else (m.id,)):
                    words |= latin(text)
                for text in (m.string if isinstance(m.string, tuple) else (m.string,)):
                    kept |= latin(text)
    return words - kept


def english_left(text: str, vocabulary: set[str]) -> list[str]:
    """The English label words in `text`: words standing alone (not part of an id, a code, a file or a
    contract name) that the English labels use."""
    text = re.sub(r"\w+\(\)", " ", text)  # contract functions, `pledge()`
    text = re.sub(r"--[a-z-]+", " ", text)  # command-line options
    left = []
    for token in re.split(r"[\s，、：；（）()“”\[\]]+", text):
        token = token.strip(",.:;!?'\"")
        if token in vocabulary and token.isalpha():
            left.append(token)
    return left


def test_chinese_tables_carry_no_english_label(eq, wr, capsys, monkeypatch):
    from ledger.chain.run import chain_names

    vocabulary = english_vocabulary()
    chains = set(chain_names(eq)) | set(chain_names(wr))
    assert {"block", "holder", "verified", "receipt"} <= vocabulary
    english = run(capsys, "query", "receipt", wr, a_receipt(wr))
    assert english_left(english, vocabulary)  # the check sees English where there is some
    outputs = {
        "receipt": run(capsys, "query", "receipt", wr, a_receipt(wr), "--lang", "zh"),
        "receipts": run(capsys, "query", "receipts", wr, "--anomalies", "--lang", "zh"),
        "view": run(capsys, "--lang", "zh", "view", wr, regulator(wr, "receipt_platform")),
    }
    monkeypatch.setenv(i18n.ENV_VAR, "zh")
    holders = run(capsys, "query", "holders", eq, "BJEE-880001", "--limit", "0")
    outputs.update({
        "holders": holders,
        "ubo": run(capsys, "query", "ubo", eq, "BJEE-880002"),
        "exposure": run(capsys, "query", "exposure", eq, SHORT.findall(holders)[0]),
        "disclosures": run(capsys, "query", "disclosures", eq, "--anomalies"),
        "view-agent": run(capsys, "view", eq, "HX-SEC", "--chain", "equity_market", "--as",
                          regulator(eq, "equity_market")),
        "verify": run(capsys, "verify", eq),
        "exposure-account": run(capsys, "query", "exposure", wr, re.search(
            r"持有人\s+.*?(0x[0-9a-f]{4}…[0-9a-f]{4})", outputs["receipt"]).group(1)),
    })
    from ledger.cli.run import render_summary

    for name, run_dir in (("summary-eq", eq), ("summary-wr", wr)):
        s = json.loads((run_dir / "run.json").read_text())
        ledgers = [p for p in run_dir.glob("*/ledger.sqlite")]
        outputs[name] = render_summary(s, Names.read(ledgers))
    for name, out in outputs.items():
        readable(out)
        assert re.search(r"[\u4e00-\u9fff]", out), name
        # Names may be Latin (organisation codes, a location, people's romanised names): none is a label word.
        # So are the chains' names (ids: `--chain regulatory`).
        names_in_view = {w for line in out.splitlines() if "…" in line for w in re.findall(r"[A-Z][a-z]+", line)}
        assert english_left(out, vocabulary - names_in_view - chains) == [], (name, out)
    assert "区块" in outputs["receipt"] and "千克" in outputs["receipt"] and "元" in outputs["receipt"]
    assert "穿透" in outputs["holders"] and "最终受益人" in outputs["ubo"]
    assert "验证通过" in outputs["verify"] and "标准仓单" in outputs["receipts"]


def test_every_cli_message_is_translated():
    """Every message the command line marks for the `cli` domain has its Chinese in cli.po."""
    from babel.messages.pofile import read_po

    from tests.test_i18n import marked_messages

    with (LOCALE / "cli.po").open("rb") as f:
        catalog = read_po(f)
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and m.string and not m.fuzzy}
    translated |= {m.id[1] for m in catalog if isinstance(m.id, tuple) and m.string}
    missing = {m: w for m, w in marked_messages().get("cli", {}).items() if m not in translated}
    assert missing == {}
