"""Throughput of share_transfer, measured in one run:

engines      the whole `run scenario share_transfer` (everything a run writes: ledger, seals, risk
             monitor, node copies, state snapshot, run.json) on each engine, in a process of its own:
             transactions (every submission) / wall time, and each engine's rate against the pyevm
             engine's; with --profile, where the fast engine's time goes (cProfile, grouped by part)

and, with --baselines, the pyevm engine against two baselines on the same transactions:

  pilotledger  the scenario end to end: scenario logic, gateway, signing, py-evm
               blocks, seals, SQLite store (transactions executed / wall time)
  raw py-evm   the same pre-signed transactions, decoded beforehand, mined block by
               block on a bare py-evm MiningChain with the same genesis and timestamps
  naive web3   the same calls through web3 + EthereumTesterProvider, written the way a
               web3 user writes them and doing the work pilotledger does per call:
               ABI-encode the call (contract.functions.f(*args).transact), let web3
               estimate its gas, wait for its receipt, decode its events; one block
               per transaction

    python bench/throughput.py [--seed 7] [--transfers 10000] [--investors 1000] [--engines pyevm,anvil]
                               [--profile] [--baselines [--naive-limit N]] [--json]
"""

from __future__ import annotations

import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import eth_abi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.tooling.artifacts import ARTIFACTS_DIR, load_contract  # noqa: E402
from ledger.evm.permissioned import PermissionedShanghaiVM as StockVM  # noqa: E402 (stock py-evm execution)
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
    chain = PyEvmEngine(CHAIN_ID, GENESIS_TIME, vm=StockVM).chain  # stock py-evm
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
    builder = PyEvmEngine(CHAIN_ID, GENESIS_TIME, vm=StockVM).chain.get_vm().get_transaction_builder()
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


ROOT = Path(__file__).resolve().parent.parent
# Where a run's time goes: the part each function belongs to (the first match from the top of its stack).
PARTS = (
    ("engine start", ("evm/anvil.py:__init__", "evm/pyevm.py:__init__")),
    ("execution", ("evm/anvil.py:execute_block", "evm/anvil.py:take", "evm/pyevm.py:execute_block")),
    ("views", ("evm/anvil.py:call", "evm/pyevm.py:call")),
    ("signing", ("evm/signing.py:sign",)), ("gateway", ("chain/gateway.py:",)),
    ("sealing", ("chain/sealer.py:",)), ("store", ("chain/store.py:",)),
    ("risk monitor", ("supervision/monitor.py:",)), ("node copies", ("write_node_copies",)),
    ("state snapshot", ("write_state_snapshot",)), ("keystores", ("trust/keystore.py:",)),
)


def run_engine(engine: str, seed: int, options: dict, base: Path) -> dict:
    """The whole run on `engine`, in a process of its own: its summary and wall time."""
    run_dir = base / engine
    args = [sys.executable, str(ROOT / "cli.py"), "run", "scenario", "share_transfer", f"--seed={seed}",
            f"--engine={engine}", *(f"--{k}={v}" for k, v in options.items()), f"--run-dir={run_dir}", "--json"]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{engine}: {done.stderr.decode()[-400:]}")
    summary = json.loads(done.stdout)
    return {"engine": engine, "transactions": summary["transactions"], "blocks": summary["blocks"],
            "head": summary["head_hash"], "caught": summary["caught"], "missed": len(summary["missed"]),
            "unexpected_refusals": summary["unexpected_refusals"], "seconds": round(wall, 1),
            "tx_per_s": round(summary["transactions"] / wall, 1)}


def profile(engine: str, seed: int, options: dict, base: Path) -> dict[str, float]:
    """Seconds of the run on `engine` by part (inclusive time of each part's outermost calls; the rest is the
    scenario's own logic, ABI encoding and Python around it)."""
    from scenarios.runner import run_scenario

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(run_scenario, "share_transfer", seed, options, base / f"{engine}-profiled", engine)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats
    parts: dict[str, float] = {}
    for name, needles in PARTS:
        outermost = 0.0
        for (filename, _, function), (_, _, _, cumulative, callers) in stats.items():
            if not any(n in f"{filename}:{function}" for n in needles):
                continue
            # not called from within the same part
            if not any(n in f"{c[0]}:{c[2]}" for c in callers for n in needles):
                outermost += cumulative
        parts[name] = round(outermost, 1)
    parts["scenario and the rest"] = round(total - sum(parts.values()), 1)
    parts["total (profiled)"] = round(total, 1)
    return parts


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--transfers", type=int, default=10000, show_default=True, help="Transfers in the measured scenario.")
@click.option("--investors", type=int, default=1000, show_default=True)
@click.option("--engines", default="pyevm,anvil", show_default=True, help="Engines compared end to end.")
@click.option("--profile", "profiled", is_flag=True, help="Also profile the last engine's run, by part.")
@click.option("--baselines", is_flag=True, help="Also compare the pyevm engine with raw py-evm and naive web3.")
@click.option("--naive-limit", type=int, default=None, help="Replay only the first N transactions on web3.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(seed: int, transfers: int, investors: int, engines: str, profiled: bool, baselines: bool,
         naive_limit: int | None, as_json: bool) -> None:
    """Measure share_transfer throughput on each engine end to end (and against raw py-evm and naive web3)."""
    options = {"transfers": transfers, "investors": investors}
    names = [e for e in engines.split(",") if e]
    result: dict = {"scenario": "share_transfer", "seed": seed, **options}
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_engine(engine, seed, options, Path(tmp)) for engine in names]
        if profiled and names:
            result["profile"] = {"engine": names[-1], "seconds": profile(names[-1], seed, options, Path(tmp))}
    base = next((r for r in runs if r["engine"] == "pyevm"), runs[0] if runs else None)
    for r in runs:
        r["vs_pyevm"] = round(r["tx_per_s"] / base["tx_per_s"], 2) if base else None
        r["same_head_as_pyevm"] = r["head"] == base["head"] if base else None
    result["engines"] = runs
    if baselines:
        result["baselines"] = measure_baselines(seed, options, naive_limit)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"share_transfer seed {seed}, --transfers {transfers} --investors {investors}")
    for r in runs:
        click.echo(f"  {r['engine']:6} {r['transactions']:>8,} tx in {r['blocks']:,} blocks, {r['seconds']:>7.1f} s "
                   f"{r['tx_per_s']:>8,.1f} tx/s  x{r['vs_pyevm']:.2f} pyevm  same head: {r['same_head_as_pyevm']}  "
                   f"caught {r['caught']}, missed {r['missed']}, unexpected {r['unexpected_refusals']}")
    if "profile" in result:
        click.echo(f"  where {result['profile']['engine']}'s time goes (cProfile, seconds):")
        for part, seconds in result["profile"]["seconds"].items():
            click.echo(f"    {part:24} {seconds:8.1f}")
    if baselines:
        b = result["baselines"]
        click.echo(f"  pilotledger (pyevm, in process) {b['pilotledger_tx_per_s']:8.1f} tx/s")
        click.echo(f"  raw py-evm           {b['raw_pyevm_tx_per_s']:8.1f} tx/s   ratio {b['ratio_to_raw']:.2f}")
        click.echo(f"  naive web3           {b['naive_web3_tx_per_s']:8.1f} tx/s   speedup {b['speedup_over_naive']:.1f}"
                   f"  [{b['naive_transactions']} transactions]")


def measure_baselines(seed: int, options: dict, naive_limit: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, ctx = run_pilotledger(seed, options, Path(tmp))
        blocks = stored_blocks(ctx)
        executed = sum(len(raws) for _, raws in blocks)
        ours_head = next(iter(ctx.chains.values())).head.hash
        raw_elapsed, raw_count, raw_head = run_raw(blocks)
        naive_elapsed, naive_count, naive_same = run_naive(ctx, blocks, naive_limit)
        for chain in ctx.chains.values():
            chain.store.close()
    ours, raw, naive = executed / elapsed, raw_count / raw_elapsed, naive_count / naive_elapsed
    return {"transactions": executed, "blocks": len(blocks),
            "pilotledger_tx_per_s": round(ours, 1), "raw_pyevm_tx_per_s": round(raw, 1),
            "naive_web3_tx_per_s": round(naive, 1), "naive_transactions": naive_count,
            "ratio_to_raw": round(ours / raw, 3), "speedup_over_naive": round(ours / naive, 2),
            "raw_replay_reproduces_head": raw_head == ours_head, "naive_statuses_match_ledger": naive_same}


if __name__ == "__main__":
    main()
