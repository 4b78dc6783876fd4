"""ContractABI against the libraries: the hand-written event decoder (kept for speed, see
bench/hand_written.py) gives what web3's get_event_data gives, on every event of the project's
artifacts and on the ABI shapes they do not use yet (indexed strings and arrays, tuples)."""

from __future__ import annotations

import sys
from pathlib import Path

import eth_abi
import pytest
from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3._utils.events import get_event_data

from ledger.tooling.abi import ERROR_STRING, PANIC, ContractABI, decode_error, to_jsonable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from hand_written import example_log, project_logs  # noqa: E402

CODEC = Web3().codec

SHAPES = [{"type": "event", "name": "Shapes", "anonymous": False, "inputs": [
    {"name": "label", "type": "string", "indexed": True},
    {"name": "ids", "type": "uint256[]", "indexed": True},
    {"name": "who", "type": "address", "indexed": True},
    {"name": "pair", "type": "tuple", "indexed": False,
     "components": [{"name": "a", "type": "uint8"}, {"name": "b", "type": "bytes"}]},
    {"name": "flags", "type": "bool[2]", "indexed": False},
    {"name": "note", "type": "string", "indexed": False},
]}]


def web3_args(entry: dict, log: dict) -> dict:
    """web3's decoding as decode_event renders it: JSON-safe, a tuple's components by position, not name."""
    def positional(value):
        if isinstance(value, dict):
            return [positional(v) for v in value.values()]
        if isinstance(value, (list, tuple)):
            return [positional(v) for v in value]
        return value

    return {name: to_jsonable(positional(value)) for name, value in get_event_data(CODEC, entry, log)["args"].items()}


def test_every_project_event_decodes_as_web3_decodes_it():
    logs = project_logs()
    assert len(logs) > 20
    for abi, entry, log in logs:
        assert abi.decode_event(log["topics"], log["data"]) == (entry["name"], web3_args(entry, log)), entry["name"]


@pytest.mark.parametrize("draw", range(5))
def test_indexed_dynamic_values_tuples_and_arrays_decode_as_web3_decodes_them(draw):
    abi = ContractABI(SHAPES)
    log = example_log(SHAPES[0])
    name, args = abi.decode_event(log["topics"], log["data"])
    assert name == "Shapes" and args == web3_args(SHAPES[0], log)
    assert args["label"] == "0x" + log["topics"][1].hex()  # an indexed string is only its hash


def test_a_log_of_another_contract_is_not_decoded():
    abi = ContractABI(SHAPES)
    assert abi.decode_event([event_abi_to_log_topic({"type": "event", "name": "Other", "inputs": []})], b"") is None
    assert abi.decode_event([], b"") is None


def test_revert_payloads_decode():
    errors = ContractABI([{"type": "error", "name": "TooMany", "inputs": [
        {"name": "limit", "type": "uint16"}, {"name": "who", "type": "address"}]}]).errors
    [(selector, _)] = errors.items()
    assert selector == Web3.keccak(text="TooMany(uint16,address)")[:4]
    who = "0x" + "ab" * 20
    assert decode_error(selector + eth_abi.encode(["uint16", "address"], [3, who]), errors).args == {
        "limit": 3, "who": who}
    assert decode_error(ERROR_STRING + eth_abi.encode(["string"], ["no"]), errors).args == {"message": "no"}
    assert decode_error(PANIC + eth_abi.encode(["uint256"], [17]), errors).name == "Panic"
    assert decode_error(b"", errors).name == "Reverted"
    assert decode_error(b"\x01\x02\x03\x04", errors).name == "UnknownError"
