"""Fuzzing with hypothesis, derandomized so that CI sees the same examples every time: (a) the Solidity-argument
parser (ledger.tooling.abi_text) over arbitrary text and every ABI type it reads gives a value eth_abi encodes
or one ConfigError, and what it reads back equals what was written; (b) every command of the CLI, given
argument lists mixing its real options with hostile words, exits 0, 1 or 2 with no traceback and no internal
error."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
import pytest
from eth_abi import encode
from eth_abi.grammar import TupleType, parse
from eth_abi.tools import get_abi_strategy
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.errors import ConfigError
from ledger.tooling.abi_text import parse_arg

FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def fuzz(max_examples: int) -> settings:
    """The fixed, derandomized settings with `max_examples` (the same examples on every run, in CI too)."""
    return settings(FUZZ, max_examples=max_examples)

NAMED = {"node:A": b"\x01" * 20, "client:c1": b"\x03" * 20, "contract:B": b"\x02" * 20}


def address_of(text: str) -> bytes:
    if text not in NAMED:
        raise ConfigError(f"no account {text!r}")
    return NAMED[text]


# ---------------------------------------------------------------------------------------- (a) the parser

BASIC = st.sampled_from(["uint8", "uint32", "uint256", "int8", "int128", "int256", "bool", "address", "bytes1",
                         "bytes20", "bytes32", "bytes", "string", "ufixed32x2", "ufixed128x18", "fixed16x1",
                         "fixed168x10"])
TYPES = st.recursive(BASIC, lambda inner: st.tuples(inner, st.sampled_from(["[]", "[2]", "[1]"])).map("".join)
                     | st.lists(inner, min_size=1, max_size=3).map(lambda ts: f"({','.join(ts)})"), max_leaves=5)
NUMBERS = st.one_of(st.integers(), st.integers(min_value=-2**300, max_value=2**300),
                    st.decimals(allow_nan=True, allow_infinity=True), st.floats())
NUMBER_TEXT = st.one_of(NUMBERS.map(str), st.integers().map(hex), st.integers().map(lambda n: f"{n:_}"),
                        st.sampled_from(["-0x10", "-1.5", "1e999999999", "1e-999999999", "-0", "0x", "0x_", "1_",
                                         "NaN", "-Infinity", "１２", "٣", "9" * 5000, "0." + "1" * 100]))
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                           | st.text(max_size=20) | st.sampled_from(["node:A", "client:c1", "contract:nope", "0x",
                                                                    "0x" + "ab" * 20, "0x" + "AB" * 32]),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                                     max_size=2), max_leaves=12)
HOSTILE = st.sampled_from(["", " ", "\0", "\udcff", "\ud800", "\u202e", "[" * 5000, "[" * 60000 + "]" * 60000,
                           "{" * 3000, '["' + "\\" * 11 + '"]', "[1,]", "[01]", "[1e400]", "[-0]", "[true]", "null",
                           "node:", "client:", "contract:", "node:A", "0x" + "g" * 40, "x" * 20000])
TEXTS = st.one_of(st.text(), NUMBER_TEXT, JSON_VALUES.map(json.dumps), HOSTILE,
                  st.lists(NUMBER_TEXT, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"))


def _mutated(text: str, data) -> str:
    """`text` with one small change: a character dropped, doubled or replaced, a space or a sign added."""
    if not text:
        return text
    i = data.draw(st.integers(0, len(text) - 1))
    change = data.draw(st.sampled_from(["drop", "double", "replace", "space", "sign", "none"]))
    if change == "drop":
        return text[:i] + text[i + 1:]
    if change == "double":
        return text[:i] + text[i] + text[i:]
    if change == "replace":
        return text[:i] + data.draw(st.sampled_from(list("0-9aZx_.,[]{}\" \u0660"))) + text[i + 1:]
    if change == "space":
        return text[:i] + " " + text[i:]
    if change == "sign":
        return "-" + text
    return text


@fuzz(1000)
@given(typ=TYPES, data=st.data())
def test_any_text_gives_an_encodable_value_or_one_config_error(typ, data):
    if data.draw(st.booleans()):
        text = data.draw(TEXTS)
    else:  # a valid value as a user writes it, perhaps slightly wrong
        written = _written(typ, data.draw(get_abi_strategy(typ)), data.draw(st.integers(0, 11)))
        text = _mutated(written if isinstance(written, str) else json.dumps(written), data)
    try:
        value = parse_arg(typ, text, address_of)
    except ConfigError as exc:
        event("refused")
        assert "\n" not in str(exc) and len(str(exc)) < 2000
    else:
        event("read")
        encode([typ], [value])  # eth_abi takes it as it is


def _written(typ: str, value, style: int):
    """`value` of `typ` as a user may write it (as JSON items inside an array or tuple): integers in decimal,
    0x-hex or with _ separators, addresses in any case, bytes in hex."""
    abi_type = parse(typ)
    if abi_type.is_array or isinstance(abi_type, TupleType):
        inner = abi_type.item_type if abi_type.is_array else None
        items = [_written(inner.to_type_str() if inner else t.to_type_str(), v, style)
                 for t, v in zip(abi_type.components if inner is None else [inner] * len(value), value)]
        return items
    if isinstance(value, bool):
        return value if style % 2 else str(value).lower()
    if isinstance(value, int):
        return [str(value), hex(value), f"{value:_}", value][style % 4]
    if isinstance(value, bytes):
        return "0x" + (value.hex() if style % 2 else value.hex().upper())
    if isinstance(value, Decimal):
        return str(value)
    if abi_type.base == "address":
        return [value, value.lower(), "0x" + value[2:].upper()][style % 3]
    return value


def _same(typ: str, parsed, value) -> bool:
    """Equal as eth_abi encodes them: a checksummed address and its lower case are one address."""
    return encode([typ], [parsed]) == encode([typ], [value])


@fuzz(500)
@given(typ=TYPES, style=st.integers(0, 11), data=st.data())
def test_a_value_written_as_a_user_writes_it_reads_back_equal(typ, style, data):
    value = data.draw(get_abi_strategy(typ))
    written = _written(typ, value, style)
    text = written if isinstance(written, str) else json.dumps(written)
    if isinstance(written, int):
        text = str(written)
    assert _same(typ, parse_arg(typ, text, address_of), value)


@pytest.mark.parametrize("typ, text, fragment", [
    ("uint256[]", "[" * 60000 + "]" * 60000, "nests deeper than the type"),
    ("string[]", "[" * 60000, "nests deeper than the type"),
    ("address", "x" * 10_000_000, "more than the 1,000,000 an argument may have"),
    ("uint256[]", "[" + "1," * 3_000_000 + "1]", "more than the 1,000,000"),
    ("string", "\udcff", "not valid UTF-8"),
    ("ufixed128x18", "1e-999999999", "finer than 18 decimal places"),
    ("fixed128x18", "NaN", "out of range"),
    ("uint256", "9" * 5000, "give an integer"),
    ("int8", "-0x81", "out of range"),
])
def test_hostile_arguments_are_refused_quickly(typ, text, fragment):
    with pytest.raises(ConfigError) as raised:
        parse_arg(typ, text, address_of)
    assert fragment in str(raised.value) and len(str(raised.value)) < 400


def test_negative_hex_and_separators_read_as_numbers():
    assert parse_arg("int16", "-0x10", address_of) == -16
    assert parse_arg("int64", "-1_000", address_of) == -1000
    assert parse_arg("fixed16x1", "-1.5", address_of) == Decimal("-1.5")


# ----------------------------------------------------------------------------------------- (b) the CLI

def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, path + (name,))
        else:
            found.append((path + (name,), command))
    return found


def _all_commands():
    from ledger.cli.app import cli

    return _commands(cli)


# Left out of the random fuzz, because a valid draw would do real, slow, outside or destructive work: `run
# scenario` plays a whole scenario, `node` starts a Hardhat node, `compile` and `contracts check|build` run
# solc, `deploy`, `send` and `govern` re-execute and extend the chain, `runs rm` deletes a run (their hostile
# inputs are in tests/test_hostile.py, each chosen to fail before any work).
WRITERS = {("run", "scenario"), ("node",), ("compile",), ("contracts", "check"), ("contracts", "build"),
           ("deploy",), ("send",), ("govern",), ("runs", "rm")}
# Fuzzed: they read a run, or write only where they are told (report --out, verify --pin, scenario new --dir),
# which the fuzz points at its scratch folder.
READERS = {("verify",), ("audit",), ("view",), ("report",), ("findings",), ("rules",), ("call",),
           ("scenario", "new"), ("runs", "list"), ("query", "ubo"), ("query", "holders"), ("query", "exposure"),
           ("query", "receipt"), ("query", "receipts"), ("query", "disclosures")}


def test_every_command_is_fuzzed_or_named_as_left_out():
    """A new command must be put in READERS or WRITERS: a destructive one must never be fuzzed by default."""
    names = {path for path, _command in _all_commands()}
    assert names - WRITERS - READERS == set(), "classify the new command(s) in READERS or WRITERS"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    from scenarios.runner import run_scenario

    run_dir = tmp_path_factory.mktemp("fuzz") / "run"
    run_scenario("share_transfer", 3, {"investors": 60, "funds": 3, "transfers": 40, "batch": 20}, run_dir)
    return run_dir


def _words(command: click.Command, places: list[str]) -> st.SearchStrategy:
    options = sorted({o for p in command.params if isinstance(p, click.Option) for o in p.opts})
    word = st.one_of(
        st.sampled_from(options or ["--json"]),
        st.sampled_from(places),
        st.text(max_size=12),
        st.integers(min_value=-10**30, max_value=10**30).map(str),
        st.sampled_from(["-1", "-0x10", "-1.5", "--", "-", "--nod", "-h", "9" * 40, "", " ", "\u202e", "\udcff",
                         "fund:1", "fund:-1", "company:BJEE-880001", "CUSTODY", "BJEE", "SettlementCash",
                         "balanceOf", "investor_cap.cap=1", "investor_cap.cap=x", "zh", "xx", "en", "fund_platform"]))
    return st.lists(word, max_size=6)


# Whose real work on a valid run takes seconds (`audit` and `report` re-execute every node's copy, `call`
# reopens the chain): they get only hostile places for RUN_DIR, so the fuzz stays fast.
SLOW = {("audit",), ("report",), ("call",)}


@fuzz(800)
@given(data=st.data())
def test_no_command_crashes_on_hostile_arguments(data, small_run, tmp_path_factory, capsys, monkeypatch):
    work = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(work)  # a relative --out, --pin or --dir lands here
    a_file = work / "a file.txt"
    a_file.write_text("not a run\n")
    commands = [(p, c) for p, c in _all_commands() if p in READERS]
    path, command = data.draw(st.sampled_from(commands))
    hostile = [str(small_run / "fund_platform"), str(work / "missing"), str(a_file), "/proc/x", "/proc/x/y.json",
               "/dev/null", str(work), ""]
    places = hostile if path in SLOW else [str(small_run)] + hostile
    first = data.draw(st.sampled_from([[], [places[0]], [places[0]], [data.draw(st.sampled_from(places))]]))
    argv = list(path) + first + data.draw(_words(command, places))
    _assert_one_clean_answer(argv, capsys)


def _assert_one_clean_answer(argv: list[str], capsys) -> None:
    """main(argv) exits 0, 1 or 2, without a traceback or an internal error, and a failure is one line."""
    from ledger.cli.app import main
    from ledger.present import i18n

    try:
        code = main(argv)
    finally:
        i18n.set_language(None)
    _out, err = capsys.readouterr()
    event(f"exit {code}")
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code:
        errors = [line for line in err.splitlines() if line.strip() and not line.startswith(("reopening ",
                                                                                            "re-executing"))]
        assert len(errors) == 1, (argv, err)


# Words a command's arguments and options take when well formed, hostile values among them.
VALUES = st.sampled_from(["fund:1", "fund:2", "fund:0", "fund:-1", "fund:99999", "company:BJEE-880001", "BJEE-880001",
                          "0x" + "00" * 32, "0x" + "ab" * 20, "0x1a2b", "CUSTODY", "BJEE", "HX-SEC", "nope", "",
                          "fund_platform", "../..", "/", "1", "0", "-1", "9" * 30, "en", "zh", "investor_cap",
                          "investor_cap.cap=1", "qualified_investor", "\u202e", "\udcff", "a\x85b", "x" * 3000])


def _value_of(option: click.Option) -> st.SearchStrategy:
    if option.name == "lang":
        return st.sampled_from(["en", "zh", "zh-CN", "xx"])
    if isinstance(option.type, click.types.IntParamType):
        return st.one_of(st.integers(-5, 100), st.integers()).map(str)
    return VALUES


@fuzz(150)
@given(data=st.data())
def test_well_formed_commands_with_hostile_values(data, small_run, tmp_path_factory, capsys, monkeypatch):
    """Each argument in its place and each option with a value: the draws reach past click's parsing into the
    commands themselves (the slow ones, and `verify`, only on hostile places)."""
    work = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(work)
    commands = [(p, c) for p, c in _all_commands() if p in READERS]
    path, command = data.draw(st.sampled_from(commands))
    hostile = [str(small_run / "fund_platform"), str(work / "missing"), "/proc/x", "/dev/null"]
    runs = hostile if path in SLOW | {("verify",)} else [str(small_run)] * 3 + hostile
    argv = list(path)
    for param in command.params:
        if isinstance(param, click.Argument):
            if param.name == "run_dir":
                argv.append(data.draw(st.sampled_from(runs)))
            else:
                argv += data.draw(st.lists(VALUES, min_size=1, max_size=1 if param.nargs == 1 else 3))
        elif isinstance(param, click.Option) and not param.hidden and data.draw(st.integers(0, 4)) == 0:
            argv.append(param.opts[0])
            if not param.is_flag:
                argv.append(data.draw(_value_of(param)))
    _assert_one_clean_answer(argv, capsys)
