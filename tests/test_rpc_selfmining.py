"""share_transfer on a node that mines on its own clock (the managed Anvil with --block-time 1, as Besu
QBFT/IBFT and GoQuorum do): batches land over several blocks, empty ones among them, and the ledger follows
the node block by block. Every planted violation is refused as on the embedded engine, the run verifies and
audits against the node, and every recorded block is the node's."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from ledger.audit.reexecute import audit_run
from ledger.audit.verify import verify_run
from ledger.cli import main
from ledger.errors import ConfigError, LedgerError
from ledger.evm import devnode
from ledger.evm.jsonrpc import JsonRpcClient
from ledger.evm.rpc import RpcEngine
from ledger.trust.keys import Account
from rpc_node import assert_verifies_and_audits_against_the_node, start_anvil
from scenarios.api import ANY_CHAIN
from scenarios.runner import run_scenario

SMALL = {"investors": 60, "transfers": 120}  # tests/test_rpc_scenario.py's sizes
SEED = 5
BLOCK_TIME = 1
SPLIT_AT = 100  # a batch this large is sent in two halves, a pause of two block times between them


@pytest.fixture(scope="module")
def node_url():
    process, url = start_anvil(block_time=BLOCK_TIME)
    yield url
    devnode.stop(process)


@pytest.fixture(scope="module")
def runs(node_url, tmp_path_factory):
    """The rpc run on the self-mining node and the same run on the embedded engine. Every execute() call is
    recorded (its batch size and the blocks it returned); a large batch is sent in two halves with a pause of
    two block times between them, as a slow sender or a busy network would: the node mines the first half,
    then an empty block, then the rest, so the ledger must follow a split batch whatever the timing."""
    root = tmp_path_factory.mktemp("selfmining")
    calls: list[tuple[int, list[tuple[int, int]]]] = []
    execute, send = RpcEngine.execute, RpcEngine._send

    def recorded(self, txs, timestamp):
        blocks = execute(self, txs, timestamp)
        calls.append((len(txs), [(b.number, len(b.outcomes)) for b in blocks]))
        return blocks

    def slow(self, txs):
        if len(txs) < SPLIT_AT:
            return send(self, txs)
        half = len(txs) // 2
        send(self, txs[:half])
        time.sleep(2.2 * BLOCK_TIME)
        send(self, txs[half:])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RpcEngine, "execute", recorded)
        patch.setattr(RpcEngine, "_send", slow)
        on_node = run_scenario("share_transfer", SEED, SMALL, root / "rpc", "rpc", rpc_urls={ANY_CHAIN: node_url})
    embedded = run_scenario("share_transfer", SEED, SMALL, root / "pyevm")
    return root, on_node, embedded, calls


def planted(run_dir):
    return [(p["kind"], p["expected"], p["caught"], p["outcome"] and (p["outcome"]["status"], p["outcome"]["reason"]))
            for p in json.loads((run_dir / "ground_truth.json").read_text())]


def ledger_blocks(run_dir):
    db = sqlite3.connect(run_dir / "fund_platform" / "ledger.sqlite")
    try:
        meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        blocks = db.execute("SELECT number, hash, timestamp, tx_count FROM blocks ORDER BY number").fetchall()
    finally:
        db.close()
    return meta, blocks


def test_every_planted_violation_is_refused_as_on_the_embedded_engine(runs):
    root, on_node, embedded, _ = runs
    assert on_node["engine"] == "rpc"
    assert planted(root / "rpc") == planted(root / "pyevm")
    assert on_node["caught"] == embedded["caught"] == on_node["planted_for_chain"] > 0
    assert on_node["unexpected_refusals"] == embedded["unexpected_refusals"] == 0
    for figure in ("transactions", "committed", "refused_by_reason"):
        assert on_node[figure] == embedded[figure], figure


def test_batches_land_over_several_blocks_and_the_ledger_records_each(runs):
    root, on_node, embedded, calls = runs
    split = [blocks for size, blocks in calls if sum(1 for _, held in blocks if held) > 1]
    assert split, "no batch was split over blocks: the test proves nothing"
    assert any(held == 0 for blocks in split for _, held in blocks[1:-1]), "no empty block inside a batch"
    assert all(blocks[-1][1] > 0 for size, blocks in calls if size), "a batch's last block holds its last transaction"
    recorded = [number for _, blocks in calls for number, _ in blocks]
    _, stored = ledger_blocks(root / "rpc")
    assert recorded == [row[0] for row in stored]
    assert on_node["blocks"] == len(stored) > embedded["blocks"]


def test_every_recorded_block_is_the_nodes(runs, node_url):
    root, *_ = runs
    meta, stored = ledger_blocks(root / "rpc")
    assert (meta["engine"], meta["rpc_url"], meta["chain_id"]) == ("rpc", node_url, devnode.CHAIN_ID)
    first = meta["genesis_number"] + 1
    assert [row[0] for row in stored] == list(range(first, first + len(stored)))
    client = JsonRpcClient(node_url)
    try:
        held = client.batch([("eth_getBlockByNumber", [hex(row[0]), False]) for row in stored])
    finally:
        client.close()
    assert [(row[1], row[2], row[3]) for row in stored] == [
        (bytes.fromhex(b["hash"][2:]), int(b["timestamp"], 16), len(b["transactions"])) for b in held]


def test_the_node_dates_blocks_on_the_scenarios_clock(runs):
    """Anvil takes the timestamps asked (evm_setNextBlockTimestamp): from the first batch on, the blocks are
    dated in the scenario's 2022, and the lock-up's jump of weeks is there between two blocks."""
    root, *_ = runs
    meta, stored = ledger_blocks(root / "rpc")
    first_batch = next(i for i, row in enumerate(stored) if row[3])
    dates = [row[2] for row in stored[first_batch:]]
    assert dates[0] >= 1640995200 and dates == sorted(dates)  # 2022-01-01
    assert max(b - a for a, b in zip(dates, dates[1:])) > 20 * 86400


def test_the_run_verifies_and_audits_against_the_node(runs):
    root, on_node, *_ = runs
    assert main(["verify", str(root / "rpc")]) == 0
    assert_verifies_and_audits_against_the_node(root / "rpc", on_node["blocks"])


def test_send_records_the_blocks_the_node_made_meanwhile(runs, capsys):
    """`send` on the run, once the node has mined empty blocks past its head: they go into the ledger with
    the send's block, and the run still verifies and audits against the node."""
    root, *_ = runs
    run_dir = str(root / "rpc")
    _, before = ledger_blocks(root / "rpc")
    time.sleep(2.2 * BLOCK_TIME)
    assert main(["send", run_dir, "SettlementCash", "mint", "node:CUSTODY", "5", "--node", "CUSTODY", "--json"]) == 0
    minted = json.loads(capsys.readouterr().out)
    assert minted["status"] == "committed" and minted["block"] >= before[-1][0] + 3
    _, after = ledger_blocks(root / "rpc")
    meanwhile = after[len(before):-1]
    assert after[-1][0] == minted["block"] and meanwhile and all(row[3] == 0 for row in meanwhile)
    [verified] = verify_run(root / "rpc")
    assert verified.verified, verified.problems
    [audited] = audit_run(root / "rpc")
    assert audited.verified, audited.problems


def test_a_transaction_not_of_the_consortium_is_refused_naming_it_and_its_block():
    process, url = start_anvil(block_time=BLOCK_TIME)
    try:
        engine = RpcEngine(url, None)
        stranger = Account.derive(SEED, "selfmining/stranger")
        ours = Account.derive(SEED, "selfmining/ours")
        foreign = engine.sign(stranger.private_key, 0, b"\x11" * 20, b"", 21_000)
        engine._rpc.call("eth_sendRawTransaction", "0x" + foreign.raw.hex())
        with pytest.raises(LedgerError) as refused:
            engine.execute([engine.sign(ours.private_key, 0, b"\x11" * 20, b"", 21_000)], engine.head().timestamp + 5)
    finally:
        devnode.stop(process)
    message = str(refused.value)
    assert f"holds transaction 0x{foreign.hash.hex()}, which is not this consortium's" in message
    assert message.startswith("block ") and "\n" not in message


def test_a_network_that_dates_its_own_blocks_takes_no_scenario_from_the_past_nor_a_jump_ahead():
    """Besu QBFT and GoQuorum date blocks with their own clock and take no timestamps: here Anvil dated now,
    with its time controls left unused. A scenario dated before its head is refused up front; a batch asked
    for a moment ahead of the network's clock lands in the network's next block, dated by the network; one
    asked for a month ahead (a lock-up's jump) is refused, in one line."""
    process, url = start_anvil(block_time=BLOCK_TIME, genesis_timestamp=int(time.time()))
    try:
        with pytest.raises(ConfigError, match="cannot run scenarios dated in the past"):
            RpcEngine(url, 1641916800)  # share_transfer's genesis, in 2022
        engine = RpcEngine(url, None)
        engine.sets_timestamps = False  # as on QBFT
        head = engine.head()
        [*_, block] = engine.execute([], head.timestamp + 10)
        assert block.number > head.number and block.timestamp < head.timestamp + 10
        with pytest.raises(LedgerError) as refused:
            engine.execute([], engine.head().timestamp + 30 * 86400)
    finally:
        devnode.stop(process)
    assert "cannot move forward in time" in str(refused.value) and "\n" not in str(refused.value)
