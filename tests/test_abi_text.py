"""Command-line text read by Solidity type (ledger.tooling.abi_text): the values it gives encode as
eth_abi encodes the values they were written from, and bad text is one ConfigError, never a traceback."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_abi import encode, is_encodable
from eth_abi.grammar import TupleType, parse
from eth_abi.tools import get_abi_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import ConfigError
from ledger.tooling.abi_text import MAX_DEPTH, parse_arg, parse_args

NAMED = {"node:A": b"\x01" * 20, "contract:B": b"\x02" * 20}


def address_of(text: str) -> bytes:
    if text not in NAMED:
        raise ConfigError(f"no account {text!r}")
    return NAMED[text]


BASIC = st.sampled_from(["uint8", "uint64", "uint256", "int8", "int40", "int256", "bool", "address", "bytes1",
                         "bytes4", "bytes32", "bytes", "string", "ufixed32x2", "fixed16x1"])


def _array(item: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(item, st.sampled_from(["[]", "[1]", "[2]", "[3]"])).map("".join)


def _tuple(items: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(items, min_size=1, max_size=3).map(lambda ts: f"({','.join(ts)})")


TYPES = st.recursive(BASIC, lambda inner: _array(inner) | _tuple(inner), max_leaves=6)


def _jsonable(value):
    """A value as the JSON items of an array or tuple argument."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _text(typ: str, value, hex_ints: bool) -> str:
    """How a user writes `value` of `typ` on the command line."""
    abi_type = parse(typ)
    if abi_type.is_array or isinstance(abi_type, TupleType):
        return json.dumps(_jsonable(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if hex_ints else str(value)
    return _jsonable(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(typ=TYPES, hex_ints=st.booleans(), data=st.data())
def test_parsed_values_encode_as_eth_abi_encodes_the_originals(typ, hex_ints, data):
    value = data.draw(get_abi_strategy(typ))
    parsed = parse_arg(typ, _text(typ, value, hex_ints), address_of)
    assert encode([typ], [parsed]) == encode([typ], [value])


@settings(max_examples=300, deadline=None)
@given(typ=st.sampled_from(["uint8", "uint16", "uint256", "int8", "int64", "int256"]),
       value=st.one_of(st.integers(), st.integers(min_value=-2**257, max_value=2**257),
                       st.sampled_from([255, 256, -128, -129, 2**255, -2**255 - 1, 2**256 - 1, 2**256])))
def test_an_integer_is_taken_exactly_when_eth_abi_can_encode_it(typ, value):
    try:
        parsed = parse_arg(typ, str(value), address_of)
    except ConfigError as exc:
        assert not is_encodable(typ, value)
        assert "out of range" in str(exc) and "\n" not in str(exc)
    else:
        assert is_encodable(typ, value) and parsed == value


def test_named_accounts_inside_arrays_and_tuples():
    values = parse_args(["address[2]", "(address,(bool,bytes2))"], ['["node:A", "contract:B"]',
                                                                    '["node:A", [true, "0x0102"]]'], address_of)
    assert values == [["0x" + "01" * 20, "0x" + "02" * 20], ["0x" + "01" * 20, [True, b"\x01\x02"]]]
    with pytest.raises(ConfigError, match="no account 'node:Z'"):
        parse_args(["address[]"], ['["node:Z"]'], address_of)


@pytest.mark.parametrize("typ, text, fragment", [
    ("uint8", "256", "out of range (0 to 255)"),
    ("int8", "-129", "out of range (-128 to 127)"),
    ("uint256", "-1", "out of range"),
    ("uint8", "1.5", "give an integer"),
    ("uint8[]", "[1, true]", "give an integer"),
    ("uint7", "1", "not a Solidity ABI type"),
    ("uint256[", "1", "not a Solidity ABI type"),
    ("(uint8", "[1]", "not a Solidity ABI type"),
    ("mapping", "1", "cannot be given on the command line"),
    ("uint8" + "[]" * (MAX_DEPTH + 1), "[]", "nests deeper"),
    ("(" * (MAX_DEPTH + 1) + "bool" + ")" * (MAX_DEPTH + 1), "[]", "nests deeper"),
    ("uint8[]", "[" * 100_000, "nests deeper than the type"),
    ("uint8[]", "[[1]]", "nests deeper than the type"),
    ("uint8[]", "[1,", "is not a uint8[]"),
    ("uint8[2]", "[1]", "1 items, the type has 2"),
    ("(uint8,bool)", "[1]", "a JSON list of 2 items"),
    ("address", "0x12", "40 hex digits"),
    ("address", "0xAbcdef0123456789abcdef0123456789ABCDEF01", "not a valid checksum"),
    ("bytes4", "0x0102", "2 bytes, the type has 4"),
    ("bytes2", "abc", "longer than 2 bytes"),
    ("bytes", "0102", "give 0x and hex digits"),
    ("bytes", "0x0g", "is not a bytes"),
    ("string[]", "[1]", "give a JSON string"),
    ("bool", "yes", "give true or false"),
    ("ufixed8x1", "25.6", "out of range"),
    ("ufixed8x1", "0.05", "finer than 1 decimal places"),
    ("fixed16x1", "one", "give a decimal number"),
])
def test_bad_text_is_one_config_error_naming_the_argument(typ, text, fragment):
    with pytest.raises(ConfigError) as raised:
        parse_args([typ], [text], address_of)
    message = str(raised.value)
    assert message.startswith(f"argument 1 ({typ})") and fragment in message and "\n" not in message


def test_the_count_of_arguments_is_checked():
    with pytest.raises(ConfigError, match=r"expected 2 argument\(s\) \(uint8, bool\), got 1"):
        parse_args(["uint8", "bool"], ["1"], address_of)
