"""Throughput of share_transfer on the pyevm engine against two baselines, on the
same transactions, measured in the same run:

  pilotledger  the scenario end to end: scenario logic, gateway, signing, py-evm
               blocks, seals, SQLite store (transactions executed / wall time)
  raw py-evm   the same pre-signed transactions, decoded beforehand, mined block by
               block on a bare py-evm MiningChain with the same genesis and timestamps
  naive web3   the same calls through web3 + EthereumTesterProvider, written the way a
               web3 user writes them and doing the work pilotledger does per call:
               ABI-encode the call (contract.functions.f(*args).transact), let web3
               estimate its gas, wait for its receipt, decode its events; one block
               per transaction

    python bench/throughput.py [--seed 7] [--transfers 300] [--naive-limit N] [--json]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import click
import eth_abi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth.vm.forks.shanghai import ShanghaiVM  # noqa: E402

from ledger.tooling.artifacts import ARTIFACTS_DIR, load_contract  # noqa: E402
from ledger.evm.pyevm import PyEvmEngine  # noqa: E402
from scenarios.api import ScenarioContext  # noqa: E402
from scenarios.share_transfer import CHAIN_ID, GENESIS_TIME, ShareTransfer  # noqa: E402


def run_pilotledger(seed: int, options: dict, run_dir: Path) -> tuple[float, ScenarioContext]:
    ctx = ScenarioContext(seed, ShareTransfer.resolve_options(options), run_dir)
    started = time.perf_counter()
    ShareTransfer().run(ctx)
    return time.perf_counter() - started, ctx


def stored_blocks(ctx: ScenarioContext) -> list[tuple[int, list[bytes]]]:
    """(timestamp, raw transactions) of every stored block, in order."""
    store = next(iter(ctx.chains.values())).store
    return [(b.timestamp, [tx.raw for tx in store.transactions(block=b.number)]) for b in store.blocks()]


def stored_calls(ctx: ScenarioContext) -> dict[bytes, tuple[str, str, int]]:
    """(contract, function, receipt status) of every stored transaction, by raw transaction."""
    store = next(iter(ctx.chains.values())).store
    return {tx.raw: (tx.contract, tx.function, tx.status) for tx in store.transactions()}


def run_raw(blocks: list[tuple[int, list[bytes]]]) -> tuple[float, int, bytes]:
    """Mines the pre-signed transactions on a bare py-evm chain; returns (seconds, txs, head hash)."""
    chain = PyEvmEngine(CHAIN_ID, GENESIS_TIME, vm=ShanghaiVM).chain  # stock py-evm
    builder = chain.get_vm().get_transaction_builder()
    decoded = [(ts, [builder.decode(raw) for raw in raws]) for ts, raws in blocks]
    count = 0
    started = time.perf_counter()
    for timestamp, txs in decoded:
        chain.set_header_timestamp(timestamp)
        chain.mine_all(txs)
        count += len(txs)
    elapsed = time.perf_counter() - started
    return elapsed, count, chain.get_canonical_head().hash


def web3_args(types: list[str], values) -> list:
    """Arguments as web3 takes them: addresses checksummed, arrays as lists."""
    from web3 import Web3

    def convert(typ: str, value):
        if typ.endswith("]"):
            return [convert(typ[:typ.rindex("[")], v) for v in value]
        return Web3.to_checksum_address(value) if typ == "address" else value

    return [convert(t, v) for t, v in zip(types, values)]


def run_naive(ctx: ScenarioContext, blocks: list[tuple[int, list[bytes]]],
              limit: int | None) -> tuple[float, int, bool]:
    """Replays the same calls through web3 + EthereumTesterProvider, one transaction per call;
    returns (seconds, transactions, whether every receipt's status matched the ledger's)."""
    from eth_tester import EthereumTester, PyEVMBackend
    from eth_tester.exceptions import TransactionFailed
    from web3 import EthereumTesterProvider, Web3
    from web3.exceptions import ContractLogicError, Web3RPCError

    consortium = next(iter(ctx.chains.values()))
    keys = {n.account.address: n.account.private_key for n in consortium.nodes.values()}
    for node in consortium.nodes.values():
        keys.update({a: acct.private_key for a, acct in node.clients.items()})
    # The naive chain keeps the scenario's clock (eth-tester would stamp blocks with the wall clock),
    # so that lock-ups and qualification expiries fall the same way and every call has the same outcome.
    genesis = PyEVMBackend.generate_genesis_params(overrides={"timestamp": GENESIS_TIME})
    backend = PyEVMBackend(genesis_parameters=genesis)
    tester = EthereumTester(backend=backend)
    w3 = Web3(EthereumTesterProvider(tester))

    def keep_clock(timestamp: int) -> None:
        latest = backend.chain.get_canonical_head().timestamp
        backend.chain.header = backend.chain.header.copy(timestamp=max(timestamp, latest + 1))

    funder = w3.eth.accounts[0]
    builder = PyEvmEngine(CHAIN_ID, GENESIS_TIME, vm=ShanghaiVM).chain.get_vm().get_transaction_builder()
    names = stored_calls(ctx)
    calls = [(ts, builder.decode(raw), *names[raw][:2]) for ts, raws in blocks for raw in raws][:limit]
    expected = [names[raw][2] for _, raws in blocks for raw in raws][:limit]
    # Setup, not timed: import keys and fund gas; contract objects and the decoded arguments a
    # web3 user's code would hold; each event's ABI by its topic.
    for sender in sorted({tx.sender for _, tx, _, _ in calls}):
        address = tester.add_account("0x" + keys[sender].hex())
        keep_clock(GENESIS_TIME)
        w3.eth.send_transaction({"from": funder, "to": address, "value": 10**21})
    abis = {name: json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())["abi"] for name in consortium.contracts}
    contracts, events, prepared = {}, {}, []
    for timestamp, tx, name, function in calls:
        abi = load_contract(name).abi
        if tx.to:
            to = Web3.to_checksum_address(tx.to)
            contract = contracts.get(to) or contracts.setdefault(to, w3.eth.contract(address=to, abi=abis[name]))
            types = abi.functions[function].input_types
            call = contract.functions[function](*web3_args(types, eth_abi.decode(types, tx.data[4:])))
            for topic, event in abi.events.items():
                events[(to, topic)] = contract.events[event.name]()
        else:
            bytecode = load_contract(name).bytecode
            types = abi.constructor_types
            args = web3_args(types, eth_abi.decode(types, tx.data[len(bytecode):]))
            call = w3.eth.contract(abi=abis[name], bytecode=bytecode).constructor(*args)
        prepared.append((timestamp, Web3.to_checksum_address(tx.sender), tx.gas, call))

    statuses = []
    started = time.perf_counter()
    for timestamp, sender, gas, call in prepared:
        keep_clock(timestamp)
        try:
            tx_hash = call.transact({"from": sender})  # web3 estimates gas first, as a naive client does
        except (ContractLogicError, Web3RPCError, TransactionFailed, ValueError):
            tx_hash = call.transact({"from": sender, "gas": gas})  # the refused call still goes on chain
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        statuses.append(receipt["status"])
        for log in receipt["logs"]:
            event = events.get((log["address"], bytes(log["topics"][0])))
            if event is not None:
                event.process_log(log)
    return time.perf_counter() - started, len(prepared), statuses == expected


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--transfers", type=int, default=300, show_default=True, help="Transfers in the measured scenario.")
@click.option("--investors", type=int, default=150, show_default=True)
@click.option("--naive-limit", type=int, default=None, help="Replay only the first N transactions on web3.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(seed: int, transfers: int, investors: int, naive_limit: int | None, as_json: bool) -> None:
    """Measure share_transfer throughput against raw py-evm and naive web3, in one run."""
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, ctx = run_pilotledger(seed, {"transfers": transfers, "investors": investors}, Path(tmp))
        blocks = stored_blocks(ctx)
        executed = sum(len(raws) for _, raws in blocks)
        ours_head = next(iter(ctx.chains.values())).head.hash
        raw_elapsed, raw_count, raw_head = run_raw(blocks)
        naive_elapsed, naive_count, naive_same = run_naive(ctx, blocks, naive_limit)
        for chain in ctx.chains.values():
            chain.store.close()
    ours = executed / elapsed
    raw = raw_count / raw_elapsed
    naive = naive_count / naive_elapsed
    result = {
        "scenario": "share_transfer", "seed": seed, "transfers": transfers, "investors": investors,
        "transactions": executed, "blocks": len(blocks),
        "pilotledger_tx_per_s": round(ours, 1), "raw_pyevm_tx_per_s": round(raw, 1),
        "naive_web3_tx_per_s": round(naive, 1), "naive_transactions": naive_count,
        "ratio_to_raw": round(ours / raw, 3), "speedup_over_naive": round(ours / naive, 2),
        "raw_replay_reproduces_head": raw_head == ours_head,
        "naive_statuses_match_ledger": naive_same,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"share_transfer seed {seed}: {executed} transactions in {len(blocks)} blocks")
    click.echo(f"  pilotledger (pyevm)  {ours:8.1f} tx/s")
    click.echo(f"  raw py-evm           {raw:8.1f} tx/s   pilotledger / raw   = {ours / raw:.2f}  (bar 0.6)")
    click.echo(f"  naive web3           {naive:8.1f} tx/s   pilotledger / naive = {ours / naive:.1f}  (bar 8)"
               f"  [{naive_count} transactions]")
    click.echo(f"  raw replay reproduces the head hash: {raw_head == ours_head}")
    click.echo(f"  naive replay's receipt statuses match the ledger's: {naive_same}")


if __name__ == "__main__":
    main()
