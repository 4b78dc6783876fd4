"""ABI values from command-line text, for `deploy`, `call` and `send`.

Each argument is read by the Solidity type it is passed as: integers in decimal
or 0x-hex, addresses as 0x-hex, `node:NAME`, `client:LABEL` or `contract:NAME`
(that account on the chain), bytesN as 0x-hex or short text (padded, like an org id), arrays and
tuples as JSON."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Sequence

from ledger.errors import ConfigError

ARRAY = re.compile(r"^(.*)\[(\d*)\]$")
FIXED_BYTES = re.compile(r"^bytes(\d+)$")

AddressOf = Callable[[str], bytes]  # resolves "node:NAME", "client:LABEL" or "contract:NAME" to an address
NAMED = ("node:", "client:", "contract:")


def parse_args(types: Sequence[str], texts: Sequence[str], address_of: AddressOf) -> list[Any]:
    """`texts` read as values of `types`; a wrong count or value is a ConfigError naming the argument."""
    if len(types) != len(texts):
        raise ConfigError(f"expected {len(types)} argument(s) ({', '.join(types) or 'none'}), got {len(texts)}")
    return [_value(typ, text, address_of, f"argument {i + 1} ({typ})") for i, (typ, text) in
            enumerate(zip(types, texts))]


def _value(typ: str, given: Any, address_of: AddressOf, where: str) -> Any:
    try:
        return _convert(typ, given, address_of, where)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {given!r} is not a {typ}: {exc}") from None


def _convert(typ: str, given: Any, address_of: AddressOf, where: str) -> Any:
    array = ARRAY.match(typ)
    if array or typ.startswith("("):
        items = json.loads(given) if isinstance(given, str) else given
        if not isinstance(items, list):
            raise ValueError("give a JSON list")
        inner = [array.group(1)] * len(items) if array else _tuple_types(typ)
        if len(inner) != len(items) or (array and array.group(2) and int(array.group(2)) != len(items)):
            raise ValueError(f"{len(items)} items")
        return [_value(t, item, address_of, where) for t, item in zip(inner, items)]
    if typ.startswith(("uint", "int")):
        return given if isinstance(given, int) else int(str(given).replace("_", ""), 0)
    if typ == "bool":
        text = str(given).lower()
        if text not in ("true", "false", "1", "0"):
            raise ValueError("give true or false")
        return text in ("true", "1")
    if typ == "address":
        text = str(given)
        if text.startswith(NAMED):
            return "0x" + address_of(text).hex()
        if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
            raise ValueError("give 0x and 40 hex digits, node:NAME, client:LABEL or contract:NAME")
        return text
    fixed = FIXED_BYTES.match(typ)
    if fixed:
        size, text = int(fixed.group(1)), str(given)
        if text.startswith("0x"):
            raw = bytes.fromhex(text[2:])
            if len(raw) != size:
                raise ValueError(f"{len(raw)} bytes")
            return raw
        raw = text.encode("utf-8")
        if len(raw) > size:
            raise ValueError(f"longer than {size} bytes")
        return raw.ljust(size, b"\0")
    if typ == "bytes":
        return bytes.fromhex(str(given).removeprefix("0x"))
    if typ == "string":
        return str(given)
    raise ConfigError(f"{where}: the type {typ} cannot be given on the command line")


def _tuple_types(typ: str) -> list[str]:
    """The component types of '(t1,t2,...)', nested tuples kept whole."""
    parts, depth, current = [], 0, ""
    for ch in typ[1:-1]:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    return parts + [current] if current else parts
