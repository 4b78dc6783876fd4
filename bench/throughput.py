"""Throughput of share_transfer on the pyevm engine against two baselines, on the
same transactions, measured in the same run:

  pilotledger  the scenario end to end: scenario logic, gateway, signing, py-evm
               blocks, seals, SQLite store (transactions executed / wall time)
  raw py-evm   the same pre-signed transactions, decoded beforehand, mined block by
               block on a bare py-evm MiningChain with the same genesis and timestamps
  naive web3   the same calls through web3 + EthereumTesterProvider, one transaction
               per call, gas estimated by web3, one block per transaction

    python bench/throughput.py [--seed 7] [--transfers 300] [--naive-limit N] [--json]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth.vm.forks.shanghai import ShanghaiVM  # noqa: E402

from ledger.engine.pyevm import PyEvmEngine  # noqa: E402
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
    blocks = []
    for number, timestamp in store.query("SELECT number, timestamp FROM blocks ORDER BY number"):
        raws = [r for (r,) in store.query(
            "SELECT raw FROM transactions WHERE block_number = ? ORDER BY tx_index", (number,))]
        blocks.append((timestamp, raws))
    return blocks


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


def run_naive(ctx: ScenarioContext, blocks: list[tuple[int, list[bytes]]], limit: int | None) -> tuple[float, int]:
    """Replays the same calls through web3 + EthereumTesterProvider, one transaction per call."""
    from eth_tester import EthereumTester
    from eth_tester.exceptions import TransactionFailed
    from web3 import EthereumTesterProvider, Web3
    from web3.exceptions import ContractLogicError, Web3RPCError

    consortium = next(iter(ctx.chains.values()))
    keys = {n.account.address: n.account.private_key for n in consortium.nodes.values()}
    for node in consortium.nodes.values():
        keys.update({a: acct.private_key for a, acct in node.clients.items()})
    tester = EthereumTester()
    w3 = Web3(EthereumTesterProvider(tester))
    funder = w3.eth.accounts[0]
    builder = PyEvmEngine(CHAIN_ID, GENESIS_TIME).chain.get_vm().get_transaction_builder()
    calls = [(ts, builder.decode(raw)) for ts, raws in blocks for raw in raws][:limit]
    for sender in sorted({tx.sender for _, tx in calls}):  # setup, not timed: import keys and fund gas
        address = tester.add_account("0x" + keys[sender].hex())
        w3.eth.send_transaction({"from": funder, "to": address, "value": 10**21})

    started = time.perf_counter()
    for timestamp, tx in calls:
        if timestamp > w3.eth.get_block("latest")["timestamp"] + 1:
            tester.time_travel(timestamp)
        request = {"from": Web3.to_checksum_address(tx.sender), "data": tx.data}
        if tx.to:
            request["to"] = Web3.to_checksum_address(tx.to)
        try:
            w3.eth.send_transaction(request)  # web3 estimates gas first, as a naive client does
        except (ContractLogicError, Web3RPCError, TransactionFailed, ValueError):
            w3.eth.send_transaction({**request, "gas": tx.gas})  # the refused call still goes on chain
    return time.perf_counter() - started, len(calls)


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
        naive_elapsed, naive_count = run_naive(ctx, blocks, naive_limit)
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


if __name__ == "__main__":
    main()
