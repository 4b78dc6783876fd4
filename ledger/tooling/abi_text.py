"""ABI values from command-line text, for `deploy`, `call` and `send`.

Each argument is read by the Solidity type it is passed as, the type itself parsed by eth_abi's
grammar: integers in decimal or 0x-hex, within their type's range; addresses as 0x-hex (a
mixed-case one must carry a valid checksum), `node:NAME`, `client:LABEL` or `contract:NAME` (that
account on the chain); bytesN as 0x-hex or short text (padded, like an org id); bytes as 0x-hex;
ufixed/fixed as decimals; arrays and tuples as JSON, their items read the same way. Anything else
is one ConfigError naming the argument."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Sequence

from eth_abi import is_encodable
from eth_abi.exceptions import ABITypeError, ParseError
from eth_abi.grammar import ABIType, TupleType, normalize, parse
from eth_utils import is_checksum_address, is_hex_address

from ledger.errors import ConfigError

AddressOf = Callable[[str], bytes]  # resolves "node:NAME", "client:LABEL" or "contract:NAME" to an address
NAMED = ("node:", "client:", "contract:")
# Array dimensions plus tuple levels one argument may nest: far beyond any real signature, and
# (its JSON may nest no deeper than its type) a bound on the recursion that reads the argument.
MAX_DEPTH = 16
# Characters one argument may have: far beyond what a block's gas could carry as calldata, and a bound
# on the time reading it takes (a second or two).
MAX_TEXT = 1_000_000


def parse_args(types: Sequence[str], texts: Sequence[str], address_of: AddressOf) -> list[Any]:
    """`texts` read as values of `types`; a wrong count, type or value is a ConfigError naming the argument."""
    if len(types) != len(texts):
        raise ConfigError(f"expected {len(types)} argument(s) ({', '.join(types) or 'none'}), got {len(texts)}")
    return [parse_arg(typ, text, address_of, f"argument {i + 1} ({typ})")
            for i, (typ, text) in enumerate(zip(types, texts))]


def parse_arg(typ: str, text: str, address_of: AddressOf, where: str | None = None) -> Any:
    """One argument `text` read as a value of the Solidity type `typ`, ready for eth_abi's encoder."""
    where = where or typ
    abi_type = abi_type_of(typ, where)
    if len(text) > MAX_TEXT:
        raise ConfigError(f"{where}: {len(text):,} characters, more than the {MAX_TEXT:,} an argument may have")
    composite = abi_type.is_array or isinstance(abi_type, TupleType)
    if composite and _json_depth(text) > _depth(abi_type):
        raise ConfigError(f"{where}: its JSON nests deeper than the type")
    try:
        return _value(abi_type, json.loads(text) if composite else text, address_of)
    except (ValueError, TypeError, ArithmeticError) as exc:  # ArithmeticError: decimal's, e.g. Overflow
        article = "an" if typ.startswith(("a", "int")) else "a"
        raise ConfigError(f"{where}: {_quoted(text)} is not {article} {typ}: {_quoted_detail(exc)}") from None
    except RecursionError:  # not reached for JSON (its depth is checked above); kept as a last guard
        raise ConfigError(f"{where}: its value nests too deeply") from None


def _quoted(text: str, longest: int = 60) -> str:
    """`text` as a message quotes it: whole when short, else its start and its length."""
    return repr(text) if len(text) <= longest else f"{text[:longest]!r}... ({len(text):,} characters)"


def _quoted_detail(exc: Exception, longest: int = 200) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return detail if len(detail) <= longest else detail[:longest] + "..."


def abi_type_of(typ: str, where: str) -> ABIType:
    """`typ` parsed and validated by eth_abi's grammar, and no deeper than MAX_DEPTH."""
    try:
        abi_type = parse(normalize(typ))
        abi_type.validate()
    except (ParseError, ABITypeError) as exc:
        raise ConfigError(f"{where}: {typ!r} is not a Solidity ABI type: {exc}") from None
    if _depth(abi_type) > MAX_DEPTH:
        raise ConfigError(f"{where}: the type nests deeper than {MAX_DEPTH} levels")
    return abi_type


def _depth(abi_type: ABIType) -> int:
    inner = 1 + max(map(_depth, abi_type.components), default=0) if isinstance(abi_type, TupleType) else 0
    return len(abi_type.arrlist or ()) + inner


def _json_depth(text: str) -> int:
    """How deep the lists and objects of JSON `text` nest, counted before json.loads, whose recursion
    a deep enough text could take past the C stack."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif in_string:
            escaped, in_string = ch == "\\", ch != '"'
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _value(abi_type: ABIType, given: Any, address_of: AddressOf) -> Any:
    """`given` (the text, or an item of the argument's JSON) as a value of `abi_type`."""
    if abi_type.is_array:
        if not isinstance(given, list):
            raise ValueError("give a JSON list")
        size = abi_type.arrlist[-1]
        if size and size[0] != len(given):
            raise ValueError(f"{len(given)} items, the type has {size[0]}")
        return [_value(abi_type.item_type, item, address_of) for item in given]
    if isinstance(abi_type, TupleType):
        if not isinstance(given, list) or len(given) != len(abi_type.components):
            raise ValueError(f"give a JSON list of {len(abi_type.components)} items")
        return [_value(t, item, address_of) for t, item in zip(abi_type.components, given)]
    reader = SCALARS.get(abi_type.base)
    if reader is None:
        raise TypeError(f"the type {abi_type.to_type_str()} cannot be given on the command line")
    return reader(abi_type, given, address_of)


def _integer(abi_type: ABIType, given: Any, _address_of: AddressOf) -> int:
    if isinstance(given, bool) or not isinstance(given, (int, str)):
        raise TypeError("give an integer")
    try:
        value = given if isinstance(given, int) else int(given.replace("_", ""), 0)
    except ValueError:
        raise ValueError("give an integer in decimal or 0x-hex") from None
    bits = abi_type.sub
    low, high = (0, 2 ** bits - 1) if abi_type.base == "uint" else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
    if not low <= value <= high:
        raise ValueError(f"out of range ({low} to {high})")
    return value


def _fixed(abi_type: ABIType, given: Any, _address_of: AddressOf) -> Decimal:
    if isinstance(given, bool) or not isinstance(given, (int, float, str)):
        raise TypeError("give a decimal number")
    try:
        value = Decimal(str(given))
    except InvalidOperation:
        raise ValueError("give a decimal number") from None
    bits, places = abi_type.sub
    # eth_abi's own range and precision rule; it reads a tiny enough value (1e-999999999) as 0, so the
    # places are checked here too
    if not (value.is_finite() and (value.is_zero() or _finest_place(value) >= -places)
            and is_encodable(abi_type.to_type_str(), value)):
        raise ValueError(f"out of range or finer than {places} decimal places for {bits} bits")
    return value


def _finest_place(value: Decimal) -> int:
    """The exponent of `value`'s last non-zero digit (-2 for 1.50), read without a decimal context, whose
    exponent limits would round a tiny value to 0."""
    _sign, digits, exponent = value.as_tuple()
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return exponent + trailing


def _bool(_abi_type: ABIType, given: Any, _address_of: AddressOf) -> bool:
    if isinstance(given, bool):
        return given
    text = str(given).lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError("give true or false")
    return text in ("true", "1")


def _address(_abi_type: ABIType, given: Any, address_of: AddressOf) -> str:
    if not isinstance(given, str):
        raise TypeError("give an address as text")
    if given.startswith(NAMED):
        return "0x" + address_of(given).hex()
    if not is_hex_address(given):
        raise ValueError("give 0x and 40 hex digits, node:NAME, client:LABEL or contract:NAME")
    if given[2:] not in (given[2:].lower(), given[2:].upper()) and not is_checksum_address(given):
        raise ValueError("its mixed case is not a valid checksum")
    return given.lower()


def _bytes(abi_type: ABIType, given: Any, _address_of: AddressOf) -> bytes:
    if not isinstance(given, str):
        raise TypeError("give 0x and hex digits")
    size = abi_type.sub  # None for dynamic bytes
    if given.startswith("0x") or size is None:
        if not given.startswith("0x"):
            raise ValueError("give 0x and hex digits")
        raw = bytes.fromhex(given[2:])
        if size is not None and len(raw) != size:
            raise ValueError(f"{len(raw)} bytes, the type has {size}")
        return raw
    raw = given.encode("utf-8")  # short text, padded like a Solidity string literal
    if len(raw) > size:
        raise ValueError(f"longer than {size} bytes")
    return raw.ljust(size, b"\0")


def _string(_abi_type: ABIType, given: Any, _address_of: AddressOf) -> str:
    if not isinstance(given, str):
        raise TypeError("give a JSON string")
    try:
        given.encode("utf-8")
    except UnicodeEncodeError:  # a byte the terminal's encoding could not decode, or a lone surrogate
        raise ValueError("it is not valid UTF-8 text") from None
    return given


SCALARS = {"uint": _integer, "int": _integer, "ufixed": _fixed, "fixed": _fixed, "bool": _bool,
           "address": _address, "bytes": _bytes, "string": _string}
