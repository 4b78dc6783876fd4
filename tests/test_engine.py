"""The pyevm engine's faster opcode loop and node-caching tries give exactly the
results of stock py-evm: same gas, status and output per transaction, same head hash."""

from __future__ import annotations

import pytest
from eth.vm.forks.shanghai import ShanghaiVM

from ledger.engine.interpreter import FastShanghaiVM, jump_destinations
from ledger.engine.pyevm import PyEvmEngine
from ledger.keys import Account
from ledger.store import LedgerStore
from scenarios.runner import run_scenario

T0 = 1641916800
KEY = Account.derive(1, "engine-test").private_key


def deploy_code(runtime: bytes) -> bytes:
    """Init code that returns `runtime` as the contract's code."""
    size = len(runtime).to_bytes(2, "big")
    # PUSH2 size, DUP1, PUSH1 offset, PUSH0, CODECOPY, PUSH0, RETURN, then the runtime itself.
    init = b"\x61" + size + b"\x80\x60\x0c\x5f\x39\x5f\xf3"
    return init + b"\x00" * (12 - len(init)) + runtime


def outcomes(vm, runtime: bytes, gas: int) -> list[tuple]:
    engine = PyEvmEngine(31337, T0, vm=vm)
    created = engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(runtime), 1_000_000)], T0 + 1)
    address = created.outcomes[0].contract_address
    block = engine.execute_block([engine.sign(KEY, 1, address, b"\x01" * 36, gas)], T0 + 2)
    return [(o.success, o.gas_used, o.output) for o in created.outcomes + block.outcomes] + [block.hash]


PROGRAMS = {
    "arithmetic and return": bytes.fromhex("6005600301600702600a0360ff16600119175f52" "60205ff3"),
    "jump to a JUMPDEST": bytes.fromhex("600456fe5b600160005260206000f3"),
    "jump into PUSH data": bytes.fromhex("600556615b5b00"),
    "jump past the code": bytes.fromhex("60ff56"),
    "JUMPI not taken then taken": bytes.fromhex("5f600757" "6001600a57" "00" "5b00"),
    "stack underflow on POP": bytes.fromhex("50"),
    "stack underflow on SWAP": bytes.fromhex("600190"),
    "stack underflow on DUP": bytes.fromhex("8f"),
    "stack overflow": bytes.fromhex("5b5f5f5f5f5f5f5f5f600056"),
    "truncated PUSH at the end": bytes.fromhex("7f0102"),
    "shifts and comparisons": bytes.fromhex("600160ff1b6101001b60011c6002600110600260011114601016" "5f5260205ff3"),
    "invalid opcode": bytes.fromhex("600160020c"),
    "calldata and revert": bytes.fromhex("5f3560e01c5f5260205ffd"),
    "memory and call context": bytes.fromhex("335f52" "60205150" "365f52" "5f35602052" "34604052" "5f51606052"
                                             "60805ff3"),
    "MSTORE and MLOAD on an empty stack": bytes.fromhex("5f52"),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_fast_loop_matches_stock_pyevm(name: str) -> None:
    runtime = PROGRAMS[name]
    for gas in (21_590, 21_620, 200_000):  # 14 and 44 gas after the intrinsic 21,576, then plenty
        assert outcomes(FastShanghaiVM, runtime, gas) == outcomes(ShanghaiVM, runtime, gas), (name, gas)


def test_jump_destinations_skip_push_data() -> None:
    # JUMPDEST at 0, a JUMPDEST byte inside PUSH2's data at 2, a real one at 4.
    assert jump_destinations(bytes.fromhex("5b615b5b5b")) == frozenset({0, 4})


def test_scenario_replays_identically_on_stock_pyevm(tmp_path) -> None:
    summary = run_scenario("share_transfer", 3, {"investors": 60, "transfers": 40}, tmp_path / "run")
    store = LedgerStore(tmp_path / "run" / "fund_platform" / "ledger.sqlite")
    stock = PyEvmEngine(20221, 1641916800, vm=ShanghaiVM).chain
    builder = stock.get_vm().get_transaction_builder()
    for number, timestamp in store.query("SELECT number, timestamp FROM blocks WHERE number > 0 ORDER BY number"):
        raws = store.query("SELECT raw FROM transactions WHERE block_number = ? ORDER BY tx_index", (number,))
        stock.set_header_timestamp(timestamp)
        stock.mine_all([builder.decode(raw) for (raw,) in raws])
    store.close()
    assert "0x" + stock.get_canonical_head().hash.hex() == summary["head_hash"]
