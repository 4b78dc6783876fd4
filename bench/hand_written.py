"""What stays hand-written for speed, timed against the library that does the same job, in one run:

  event decoding  ContractABI.decode_event against web3's get_event_data, on one log of every event
                  in the project's artifacts (tests/test_abi.py checks that both decode alike)
  signing         Eip155Signer (coincurve) against eth-account's sign_transaction and py-evm's
                  transaction builder (tests/test_signing.py checks that the bytes are the same)

    python bench/hand_written.py [--rounds 50]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import eth_abi
import rlp
from eth.vm.forks.shanghai import ShanghaiVM
from eth_account import Account
from eth_keys import keys
from eth_abi.grammar import parse
from eth_hash.auto import keccak
from eth_abi.tools import get_abi_strategy
from eth_utils import event_abi_to_log_topic, get_abi_input_types
from hypothesis import HealthCheck, given, settings
from web3 import Web3
from web3._utils.events import get_event_data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.evm.signing import Eip155Signer  # noqa: E402
from ledger.tooling.artifacts import ARTIFACTS_DIR, load_contract  # noqa: E402

CHAIN_ID = 1337
KEY = bytes(range(1, 33))


def is_dynamic(abi_type: str) -> bool:
    return parse(abi_type).is_dynamic or abi_type.endswith("]")


def example_log(event: dict) -> dict:
    """A log of `event` with arbitrary values, drawn once from eth_abi's value strategies."""
    inputs = event["inputs"]
    types = get_abi_input_types(event)
    drawn = []

    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
    @given(get_abi_strategy(f"({','.join(types)})"))
    def draw(values):
        drawn.append(values)

    draw()
    values = drawn[0]
    # An indexed value of a dynamic type is stored as a hash, which both decoders hand back as it is.
    topics = [event_abi_to_log_topic(event)] + [
        keccak(eth_abi.encode([t], [v])) if is_dynamic(t) else eth_abi.encode([t], [v])
        for t, v, p in zip(types, values, inputs) if p["indexed"]]
    plain = [(t, v) for t, v, p in zip(types, values, inputs) if not p["indexed"]]
    data = eth_abi.encode([t for t, _ in plain], [v for _, v in plain])
    return {"topics": topics, "data": data, "address": "0x" + "22" * 20, "logIndex": 0, "transactionIndex": 0,
            "transactionHash": b"\0" * 32, "blockHash": b"\0" * 32, "blockNumber": 1}


def project_logs() -> list[tuple[object, dict, dict]]:
    """(the contract's ContractABI, the event's ABI entry, a log of it) for every event of every artifact."""
    logs = []
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        contract = load_contract(path.stem)
        for entry in json.loads(path.read_text())["abi"]:
            if entry["type"] == "event":
                logs.append((contract.abi, entry, example_log(entry)))
    return logs


def per_call(rounds: int, items: list, work) -> float:
    """Seconds per item of `work` over `rounds` passes on `items`."""
    started = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            work(item)
    return (time.perf_counter() - started) / (rounds * len(items))


def line(what: str, hand: float, library: dict[str, float]) -> str:
    versus = ", ".join(f"{name} {t * 1e6:.0f} us ({t / hand:.1f}x)" for name, t in library.items())
    return f"{what}: hand-written {hand * 1e6:.0f} us; {versus}"


def unsigned(nonce: int) -> dict:
    return {"nonce": nonce, "gasPrice": 0, "gas": 100_000, "to": b"\x22" * 20, "value": 0, "data": b"\x01" * 100,
            "chainId": CHAIN_ID}


@click.command()
@click.option("--rounds", default=50, show_default=True)
def main(rounds: int) -> None:
    logs = project_logs()
    codec = Web3().codec
    click.echo(line(f"event decoding ({len(logs)} events)",
                    per_call(rounds, logs, lambda x: x[0].decode_event(x[2]["topics"], x[2]["data"])),
                    {"web3 get_event_data": per_call(rounds, logs, lambda x: get_event_data(codec, x[1], x[2]))}))
    signer, txs = Eip155Signer(CHAIN_ID), [unsigned(n) for n in range(20)]
    builder, key = ShanghaiVM.get_transaction_builder(), keys.PrivateKey(KEY)
    click.echo(line("signing a transaction",
                    per_call(rounds, txs, lambda t: rlp.encode(signer.sign(KEY, t["nonce"], t["to"], t["data"],
                                                                           t["gas"])[0])),
                    {"eth-account": per_call(rounds, txs, lambda t: Account.sign_transaction(t, KEY)),
                     "py-evm": per_call(rounds, txs, lambda t: builder.create_unsigned_transaction(
                         nonce=t["nonce"], gas_price=0, gas=t["gas"], to=t["to"], value=0, data=t["data"]
                     ).as_signed_transaction(key, chain_id=CHAIN_ID).encode())}))


if __name__ == "__main__":
    main()
