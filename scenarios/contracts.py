"""Contract functions as attributes, checked against the contract's ABI at the call site.

`fund = Handle(chain.contract("PrivateFundShares"))`; then `fund.requestTransfer(fund_id, to, amount,
price)` is the Call a node sends, and `fund.balanceOf(fund_id, account)` reads the head state at once
(a view's struct output comes back as a named record, `receipt.holder`, not a tuple). A name the
contract does not have, or the wrong number of arguments, is a ScenarioError naming the function."""

from __future__ import annotations

import difflib
from collections import namedtuple
from functools import lru_cache
from typing import Any

from ledger.chain.calls import Call
from ledger.chain.consortium import Contract
from ledger.errors import LedgerError
from ledger.tooling.abi import Function


class ScenarioError(LedgerError):
    """A scenario used the API wrongly, or its business met a state it did not expect."""


class Handle:
    """A deployed contract, its functions as attributes."""

    def __init__(self, contract: Contract) -> None:
        self._contract = contract

    # Only names Solidity reserves, so that no contract function is hidden: `address` and `contract`.
    @property
    def address(self) -> bytes:
        return self._contract.address

    @property
    def contract(self) -> Contract:
        """The ledger's Contract underneath: its name, and call(function, ...) by a name known only at run time."""
        return self._contract

    def __getattr__(self, function: str) -> "Method":
        if function.startswith("_"):
            raise AttributeError(function)
        functions = self._contract.abi.functions
        if function not in functions:
            close = difflib.get_close_matches(function, functions, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ScenarioError(f"{self._contract.name} has no function {function!r}{hint}")
        return Method(self._contract, functions[function])

    def __repr__(self) -> str:
        return f"<{self._contract.name} at 0x{self.address.hex()}>"


class Method:
    """One function of a deployed contract: called, a Call to send (state-changing) or the value read (view)."""

    def __init__(self, contract: Contract, function: Function) -> None:
        self._contract, self._function = contract, function

    def __call__(self, *args: Any, gas: int | None = None) -> Call | Any:
        fn = self._function
        if len(args) != len(fn.input_types):
            names = ", ".join(f"{t} {p.get('name') or '_'}" for t, p in zip(fn.input_types,
                                                                            fn.entry.get("inputs", [])))
            raise ScenarioError(f"{self._contract.name}.{fn.name}({names}) takes {len(fn.input_types)} "
                                f"argument(s), given {len(args)}")
        if fn.mutating:
            return self._contract.call(fn.name, *args) if gas is None else self._contract.call(fn.name, *args, gas=gas)
        return named(fn, self._contract.view(fn.name, *args))

    def __repr__(self) -> str:
        return f"<{self._contract.name}.{self._function.name}>"


def named(function: Function, value: Any) -> Any:
    """A view's output with every struct (tuple) as a named record, by the ABI's component names."""
    outputs = function.entry.get("outputs", [])
    if len(outputs) == 1:
        return _shape(outputs[0], value)
    if outputs and all(o.get("name") for o in outputs):
        record = _record(function.name, tuple(o["name"] for o in outputs))
        return record(*(_shape(o, v) for o, v in zip(outputs, value)))
    return tuple(_shape(o, v) for o, v in zip(outputs, value)) if outputs else value


def _shape(param: dict, value: Any) -> Any:
    typ = param["type"]
    if not typ.startswith("tuple"):
        return value
    if typ != "tuple":  # an array of structs
        element = {**param, "type": typ[:typ.rindex("[")]}
        return [_shape(element, v) for v in value]
    components = param["components"]
    struct = param.get("internalType", "").split("[")[0].split(".")[-1].replace("struct ", "") or "Record"
    return _record(struct, tuple(c["name"] for c in components))(*(_shape(c, v) for c, v in zip(components, value)))


@lru_cache(maxsize=None)
def _record(name: str, fields: tuple[str, ...]):
    return namedtuple(name if name.isidentifier() else "Record", fields, rename=True)  # odd names become _0, _1
