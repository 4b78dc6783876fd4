"""Encoding calls and decoding outputs, events and custom errors from a contract ABI.

Selectors, topics and type lists come from eth-utils, computed once per ABI, so the hot path
is a dict lookup and one eth_abi call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import eth_abi
from eth_utils.abi import (event_abi_to_log_topic, function_abi_to_4byte_selector,
                           function_signature_to_4byte_selector, get_abi_input_types, get_abi_output_types)

from ledger.errors import PilotLedgerError

# Solidity's built-in revert payloads.
ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
PANIC = function_signature_to_4byte_selector("Panic(uint256)")


def bytes32(text: str) -> bytes:
    """`text` as a bytes32 value: UTF-8, padded with NULs on the right."""
    raw = text.encode("utf-8")
    if len(raw) > 32:
        raise ValueError(f"{text!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def hex0x(raw: bytes) -> str:
    return "0x" + raw.hex()


def to_jsonable(value: Any) -> Any:
    """eth_abi values made JSON-safe: bytes as 0x-hex, tuples as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return value


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    input_types: list[str]
    output_types: list[str]
    mutating: bool
    entry: Mapping = field(default_factory=dict, compare=False, repr=False)  # its ABI entry: names, components


@dataclass(frozen=True)
class Event:
    name: str
    names: list[str]
    indexed: list[bool]
    types: list[str]


@dataclass(frozen=True)
class CustomError:
    name: str
    names: list[str]
    types: list[str]


@dataclass(frozen=True)
class DecodedError:
    name: str
    args: dict


class ContractABI:
    """One contract's ABI, indexed for fast encoding and decoding."""

    def __init__(self, abi: list[dict]) -> None:
        self.functions: dict[str, Function] = {}
        self.events: dict[bytes, Event] = {}
        self.errors: dict[bytes, CustomError] = {}
        for entry in abi:
            kind = entry["type"]
            if kind == "function":
                self.functions[entry["name"]] = Function(
                    entry["name"],
                    function_abi_to_4byte_selector(entry),
                    get_abi_input_types(entry),
                    get_abi_output_types(entry),
                    entry["stateMutability"] not in ("view", "pure"),
                    entry,
                )
            elif kind == "event":
                self.events[event_abi_to_log_topic(entry)] = Event(
                    entry["name"],
                    [p["name"] for p in entry["inputs"]],
                    [p["indexed"] for p in entry["inputs"]],
                    get_abi_input_types(entry),
                )
            elif kind == "error":  # an error's selector is formed as a function's
                self.errors[function_abi_to_4byte_selector(entry)] = CustomError(
                    entry["name"], [p["name"] for p in entry["inputs"]], get_abi_input_types(entry)
                )
        self.constructor_types = next((get_abi_input_types(e) for e in abi if e["type"] == "constructor"), [])

    def function(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise PilotLedgerError(f"no function {name!r} in this contract") from None

    def encode_call(self, name: str, args: Sequence[Any]) -> bytes:
        fn = self.function(name)
        return fn.selector + eth_abi.encode(fn.input_types, args)

    def encode_constructor(self, args: Sequence[Any]) -> bytes:
        return eth_abi.encode(self.constructor_types, args) if self.constructor_types else b""

    def decode_output(self, name: str, data: bytes) -> Any:
        types = self.function(name).output_types
        values = eth_abi.decode(types, data)
        return values[0] if len(values) == 1 else values

    def decode_event(self, topics: Sequence[bytes], data: bytes) -> tuple[str, dict] | None:
        """(name, args) of a log this contract emitted, or None when it is not one of its events.

        Hand-written for speed: web3's get_event_data takes 6 to 9 times as long on the same logs (measured
        with bench/hand_written.py on every event of the project's artifacts), and a commit decodes every
        log of its block. tests/test_abi.py holds it to get_event_data's results."""
        event = self.events.get(topics[0]) if topics else None
        if event is None:
            return None
        plain_types = [t for t, idx in zip(event.types, event.indexed) if not idx]
        plain = iter(eth_abi.decode(plain_types, data)) if plain_types else iter(())
        indexed = iter(topics[1:])
        args = {}
        for name, typ, idx in zip(event.names, event.types, event.indexed):
            if idx:
                topic = next(indexed)
                # Dynamic indexed values are stored as their hash and cannot be decoded.
                args[name] = topic if typ in ("string", "bytes") or typ.endswith("]") else eth_abi.decode([typ], topic)[0]
            else:
                args[name] = next(plain)
        return event.name, {k: to_jsonable(v) for k, v in args.items()}


def decode_error(data: bytes, errors: Mapping[bytes, CustomError]) -> DecodedError:
    """Why a call reverted: one of `errors` (by selector), Error(string) or Panic(uint256)."""
    selector, body = data[:4], data[4:]
    try:
        if selector == ERROR_STRING:
            return DecodedError("Error", {"message": eth_abi.decode(["string"], body)[0]})
        if selector == PANIC:
            return DecodedError("Panic", {"code": eth_abi.decode(["uint256"], body)[0]})
        error = errors.get(selector)
        if error is not None:
            values = eth_abi.decode(error.types, body)
            return DecodedError(error.name, {n: to_jsonable(v) for n, v in zip(error.names, values)})
    except eth_abi.exceptions.DecodingError:
        pass
    if not data:
        return DecodedError("Reverted", {})
    return DecodedError("UnknownError", {"data": "0x" + data.hex()})
