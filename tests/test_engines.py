"""One suite for the engine contract, run against every engine: the embedded pyevm, anvil (revm on a
managed Anvil) and rpc on a real Hardhat node. Each engine is set up once, with PermissionRegistry
deployed, and every test runs between a snapshot and a revert to it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
import rlp
from eth_hash.auto import keccak

from ledger.evm import devnode
from ledger.tooling.abi import decode_error
from ledger.tooling.artifacts import load_contract
from ledger.chain.run import open_chain
from ledger.evm import ENGINES, Engine, make_engine
from ledger.errors import LedgerError
from ledger.trust.keys import Account
from ledger.chain.roles import Role
from ledger.audit.verify import verify_chain
from rpc_node import start_node

T0 = 1641916800
ADMIN = Account.derive(1, "engines/admin")
OUTSIDER = Account.derive(1, "engines/outsider")
REGISTRY = load_contract("PermissionRegistry")
GAS = 2_000_000
ADMIN_ROLE = int(Role.ADMIN)


@dataclass
class Deployed:
    engine: Engine
    registry: bytes
    nonces: dict[bytes, int]  # each account's next nonce at the snapshot every test starts from


@pytest.fixture(scope="session")
def rpc_url():
    process, url = start_node()
    yield url
    devnode.stop(process)


@pytest.fixture(scope="session", params=ENGINES)
def deployed(request) -> Deployed:
    url = request.getfixturevalue("rpc_url") if request.param == "rpc" else None
    engine = make_engine(request.param, 31337, T0, url)
    data = REGISTRY.bytecode + REGISTRY.abi.encode_constructor(([ADMIN.address], [b"\x01" * 32], [ADMIN_ROLE]))
    block = engine.execute_block([engine.sign(ADMIN.private_key, 0, b"", data, 8_000_000)], T0 + 10)
    assert block.outcomes[0].success
    return Deployed(engine, block.outcomes[0].contract_address, {ADMIN.address: 1, OUTSIDER.address: 0})


@pytest.fixture
def engine(deployed: Deployed):
    snapshot = deployed.engine.snapshot()
    yield deployed.engine
    deployed.engine.revert(snapshot)


def call_tx(engine: Engine, deployed: Deployed, account: Account, function: str, *args, offset: int = 0):
    """`account`'s call of `function` on the registry, its nonce `offset` after the snapshot's."""
    data = REGISTRY.abi.encode_call(function, args)
    return engine.sign(account.private_key, deployed.nonces[account.address] + offset, deployed.registry, data, GAS)


def propose(engine, deployed, account=ADMIN, offset=0, member=b"\x22" * 20):
    return call_tx(engine, deployed, account, "propose", 0, member, b"\x02" * 32, ADMIN_ROLE, offset=offset)


def view(engine: Engine, deployed: Deployed, function: str, *args):
    ok, output = engine.call(deployed.registry, REGISTRY.abi.encode_call(function, args))
    assert ok
    return REGISTRY.abi.decode_output(function, output)


def next_time(engine: Engine) -> int:
    return engine.head().timestamp + 60


def test_a_batch_executes_as_one_block_in_order(engine, deployed):
    parent = engine.head()
    txs = [propose(engine, deployed, offset=i, member=bytes([i + 1]) * 20) for i in range(3)]
    block = engine.execute_block(txs, next_time(engine))
    assert (block.number, block.parent_hash) == (parent.number + 1, parent.hash)
    assert keccak(block.header_rlp) == block.hash
    created = [REGISTRY.abi.decode_event(o.logs[0].topics, o.logs[0].data)[1] for o in block.outcomes]
    assert [(c["id"], c["account"]) for c in created] == [(i + 1, "0x" + (bytes([i + 1]) * 20).hex())
                                                          for i in range(3)]


def test_deployment_gives_the_contract_address(engine, deployed):
    data = REGISTRY.bytecode + REGISTRY.abi.encode_constructor(([OUTSIDER.address], [b"\x03" * 32], [ADMIN_ROLE]))
    block = engine.execute_block([engine.sign(OUTSIDER.private_key, 0, b"", data, 8_000_000)], next_time(engine))
    expected = keccak(rlp.encode([OUTSIDER.address, 0]))[-20:]
    assert block.outcomes[0].success and block.outcomes[0].contract_address == expected
    ok, output = engine.call(expected, REGISTRY.abi.encode_call("hasRole", (OUTSIDER.address, ADMIN_ROLE)))
    assert ok and REGISTRY.abi.decode_output("hasRole", output) is True


def test_call_reads_the_head_state(engine, deployed):
    assert view(engine, deployed, "proposalCount") == 0
    assert view(engine, deployed, "hasRole", ADMIN.address, ADMIN_ROLE) is True
    engine.execute_block([propose(engine, deployed)], next_time(engine))
    assert view(engine, deployed, "proposalCount") == 1


def test_a_failing_transaction_reverts_with_the_contracts_custom_error(engine, deployed):
    block = engine.execute_block([propose(engine, deployed, OUTSIDER), propose(engine, deployed)], next_time(engine))
    failed, passed = block.outcomes
    assert not failed.success and passed.success
    error = decode_error(failed.output, REGISTRY.abi.errors)
    assert (error.name, error.args) == ("NotActiveMember", {"account": "0x" + OUTSIDER.address.hex()})
    assert failed.logs == () and failed.contract_address is None
    ok, output = engine.call(deployed.registry, REGISTRY.abi.encode_call("requireRole", (OUTSIDER.address, 1)),
                             sender=OUTSIDER.address)
    assert not ok and decode_error(output, REGISTRY.abi.errors).name == "NotActiveMember"


def test_logs_carry_address_topics_and_data(engine, deployed):
    [outcome] = engine.execute_block([propose(engine, deployed)], next_time(engine)).outcomes
    log = outcome.logs[0]  # then the proposer's Voted
    assert log.address == deployed.registry
    assert log.topics[0] == keccak(b"ProposalCreated(uint256,uint8,address,bytes32,uint256,address)")
    assert log.topics[1] == (1).to_bytes(32, "big")
    name, args = REGISTRY.abi.decode_event(log.topics, log.data)
    assert (name, args["proposer"]) == ("ProposalCreated", "0x" + ADMIN.address.hex())


def test_gas_used_per_transaction_adds_up_to_the_blocks(engine, deployed):
    block = engine.execute_block([propose(engine, deployed), propose(engine, deployed, OUTSIDER)], next_time(engine))
    assert block.gas_used == sum(o.gas_used for o in block.outcomes)
    assert all(21_000 < o.gas_used < GAS for o in block.outcomes)


def test_head_is_the_last_executed_block(engine, deployed):
    block = engine.execute_block([propose(engine, deployed)], next_time(engine))
    assert engine.head() == dataclasses.replace(block, outcomes=())


def test_timestamps_are_as_requested_and_must_increase(engine, deployed):
    when = next_time(engine)
    assert engine.execute_block([], when).timestamp == when
    with pytest.raises(LedgerError, match="not after its parent"):
        engine.execute_block([propose(engine, deployed)], when)
    assert engine.head().timestamp == when


def test_revert_restores_head_and_state_and_the_block_rebuilds(engine, deployed):
    before = engine.head()
    snapshot = engine.snapshot()
    txs, when = [propose(engine, deployed)], next_time(engine)
    first = engine.execute_block(txs, when)
    assert view(engine, deployed, "proposalCount") == 1
    engine.revert(snapshot)
    assert engine.head() == before
    assert view(engine, deployed, "proposalCount") == 0
    again = engine.execute_block(txs, when)
    assert (again.number, again.state_root, again.outcomes) == (first.number, first.state_root, first.outcomes)
    assert again.hash == first.hash


def test_transactions_taken_ahead_make_the_next_block_or_are_forgotten_by_revert(engine, deployed):
    take = getattr(engine, "take", None)  # an engine on a node takes each transaction as it is queued
    if take is None:
        pytest.skip(f"the {engine.name} engine takes a block's transactions when it executes it")
    snapshot = engine.snapshot()
    txs = [propose(engine, deployed, offset=i, member=bytes([i + 1]) * 20) for i in range(3)]
    for tx in txs:
        take(tx)
    assert view(engine, deployed, "proposalCount") == 0  # handed over, not executed
    with pytest.raises(LedgerError, match="before taking a snapshot"):
        engine.snapshot()
    engine.revert(snapshot)  # what was handed over is forgotten with the blocks
    block = engine.execute_block(txs[:1], next_time(engine))
    assert len(block.outcomes) == 1 and view(engine, deployed, "proposalCount") == 1
    take(txs[1])  # one handed over ahead, one at execution: the block holds both, in order
    block = engine.execute_block(txs[1:], next_time(engine))
    assert [o.success for o in block.outcomes] == [True, True] and view(engine, deployed, "proposalCount") == 3
    take(txs[0])
    with pytest.raises(LedgerError, match="not the first of block"):
        engine.execute_block(txs[1:], next_time(engine))


def test_a_consortium_seals_and_stores_blocks_that_verify(engine, deployed, tmp_path):
    chain = open_chain(tmp_path, "sealed", 5, 31337, next_time(engine), engine.name,
                       rpc_url=getattr(engine, "url", None))  # on the rpc engine: the same node
    nodes = [chain.add_node(name, name, Role.ADMIN | Role.VALIDATOR | Role.PLATFORM) for name in ("A", "B", "C")]
    chain.store.write_meta(chain.genesis_meta())
    ticket = nodes[0].deploy("PermissionRegistry", *chain.founding_members())
    chain.commit()
    proposal = nodes[1].send(chain.contract("PermissionRegistry").call("propose", 0, b"\x44" * 20, b"\x04" * 32, 1))
    block = chain.commit()
    chain.store.close()
    assert ticket.ok and proposal.ok and proposal.block_number == block.number
    result = verify_chain(tmp_path / "sealed")
    assert result.verified, result.problems
    assert result.blocks == 2
