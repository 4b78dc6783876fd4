"""The anvil engine (revm through a pilotledger-managed Anvil; headers and state roots made here from the
state changes Anvil reports) builds the very blocks the embedded py-evm engine builds, and the audit
re-executes each engine's chains on the other. tests/test_engines.py holds it to the engine contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.audit.reexecute import audit_run
from ledger.errors import LedgerError
from ledger.evm import anvil as anvil_engine
from ledger.evm.anvil import BLOCK_IDENTITY, SELF_DESTRUCTION, AnvilEngine, account_changes, head_state, runs_any
from ledger.evm.permissioned import PermissionedShanghaiVM
from ledger.evm.pyevm import PyEvmEngine
from ledger.trust.keys import Account
from scenarios.runner import run_scenario

T0 = 1641916800
KEY = Account.derive(1, "anvil-test").private_key


def deploy_code(runtime: bytes) -> bytes:
    return bytes.fromhex("60%02x600c60003960%02x6000f3" % (len(runtime), len(runtime))) + runtime


def test_state_diffs_become_account_changes() -> None:
    a, b = "0x" + "aa" * 20, "0x" + "bb" * 20
    diff = {
        a: {"balance": "=", "nonce": {"*": {"from": "0x1", "to": "0x2"}}, "code": "=",
            "storage": {"0x05": {"*": {"from": "0x0", "to": "0x7"}}, "0x06": {"-": "0x2"}, "0x07": {"+": "0x1"}}},
        b: {"balance": {"-": "0x0"}, "nonce": {"-": "0x1"}, "code": {"-": "0x6000"}, "storage": {}},
    }
    changed, deleted = account_changes(diff)
    assert (changed.nonce, changed.balance, changed.code, changed.storage) == (2, None, None, {5: 7, 6: 0, 7: 1})
    assert deleted.deleted and deleted.address == bytes.fromhex("bb" * 20)


@pytest.mark.parametrize("runtime", [
    bytes.fromhex("600060075500"),  # SSTORE(7, 0) on an empty slot
    bytes.fromhex("6001600555600060055500"),  # SSTORE(5, 1) then SSTORE(5, 0)
    bytes.fromhex("600160085500"),  # SSTORE(8, 1)
])
def test_state_roots_are_the_ethereum_ones_where_anvils_are_not(runtime: bytes) -> None:
    anvil, pyevm = AnvilEngine(20221, T0), PyEvmEngine(20221, T0, vm=PermissionedShanghaiVM)
    try:
        roots = []
        for engine in (anvil, pyevm):
            created = engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(runtime), 200_000)], T0 + 10)
            called = engine.execute_block([engine.sign(KEY, 1, created.outcomes[0].contract_address, b"", 100_000)],
                                          T0 + 20)
            roots.append((created.hash, called.hash, called.state_root))
        assert roots[0] == roots[1]
        # Anvil's own header keeps a slot written with 0 in its storage trie: its root differs there.
        anvils_own = anvil._rpc.call("eth_getBlockByNumber", "latest", False)["stateRoot"]
        assert (anvils_own == "0x" + roots[1][2].hex()) == (runtime == bytes.fromhex("600160085500"))
    finally:
        anvil.close()


SMALL = {"share_transfer": {"investors": 60, "transfers": 60}, "regional_equity": {"investors": 80, "transfers": 40}}


@pytest.mark.parametrize("scenario", sorted(SMALL))
def test_a_scenario_makes_the_same_chain_on_both_engines_and_each_audits_on_the_other(tmp_path, scenario,
                                                                                     monkeypatch) -> None:
    # The Anvil node is replaced by a fresh one holding its state every 150 transactions: not a block differs.
    renewed = []
    monkeypatch.setattr(AnvilEngine, "RENEW_AFTER", 150)
    renew = AnvilEngine._renew_node
    monkeypatch.setattr(AnvilEngine, "_renew_node", lambda engine: renewed.append(renew(engine)))
    runs = {engine: run_scenario(scenario, 5, SMALL[scenario], tmp_path / engine, engine)
            for engine in ("pyevm", "anvil")}
    pyevm, anvil = runs["pyevm"], runs["anvil"]
    assert len(renewed) >= 2
    assert {c: s["head_hash"] for c, s in anvil["chains"].items()} == \
        {c: s["head_hash"] for c, s in pyevm["chains"].items()}
    for field in ("caught", "missed", "unexpected_refusals", "refused_by_reason", "transactions", "blocks"):
        assert anvil[field] == pyevm[field], field
    assert json.loads((tmp_path / "anvil" / "ground_truth.json").read_text()) == \
        json.loads((tmp_path / "pyevm" / "ground_truth.json").read_text())
    for engine, other in (("pyevm", "revm (Anvil)"), ("anvil", "py-evm")):
        audits = audit_run(tmp_path / engine)
        assert audits and all(a.verified for a in audits), [a.problems for a in audits]
        assert {a.replayed for a in audits} == {f"re-executed from genesis on {other}"}


def test_a_renewal_keeps_the_dumped_accounts_byte_for_byte_and_only_the_head_block(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(anvil_engine, "DUMP_CHUNK", 7)  # the markers fall across chunks
    accounts = b'{"0x' + b"aa" * 20 + b'":{"nonce":1,"balance":"0x0","code":"0x","storage":{"0x1":"0x2"}}}'
    block = lambda n: {"header": {"number": hex(n)}, "transactions": [{"tx": n}]}
    blocks = json.dumps([block(8), block(9), block(7)]).encode()
    dump = tmp_path / "dump.json"
    dump.write_bytes(b'{"block":{"number":"0x9"},"accounts":' + accounts + b',"best_block_number":"0x9","blocks":'
                     + blocks + b',"transactions":[{"t":1}],"historical_states":null}')
    head_state(dump)
    assert dump.read_bytes().startswith(b'{"block":{"number":"0x9"},"accounts":' + accounts + b',"best_block_number":')
    assert json.loads(dump.read_bytes()) == {"block": {"number": "0x9"}, "accounts": json.loads(accounts),
                                             "best_block_number": "0x9", "blocks": [block(9)], "transactions": [],
                                             "historical_states": None}
    for other in (b'{"accounts":{},"block":{},"best_block_number":"0x1","blocks":[],"transactions":[]}',
                  b'{"block":{},"best_block_number":"0x1","blocks":[],"transactions":[]}',
                  b'{"block":{},"accounts":{}'):
        dump.write_bytes(other)
        with pytest.raises(ValueError):  # another layout is refused, not guessed at (the engine says so in a line)
            head_state(dump)


@pytest.mark.parametrize("broken, said", [
    ("layout", "Anvil's state dump does not read: not the layout of anvil_dumpState"),
    ("state", "a fresh Anvil would not take the chain's state: the dev node exited"),
])
def test_a_renewal_that_fails_stops_the_engine_in_one_line(monkeypatch, broken, said) -> None:
    monkeypatch.setattr(AnvilEngine, "RENEW_AFTER", 1)
    if broken == "layout":
        monkeypatch.setattr(anvil_engine, "STATE_START", b"{not anvil's}")
    else:  # a state the fresh node refuses to load
        monkeypatch.setattr(anvil_engine, "head_state", lambda dump: dump.write_bytes(b'{"block":{}}'))
    engine = AnvilEngine(20221, T0)
    try:
        with pytest.raises(LedgerError, match=said):
            engine.execute_block([engine.sign(KEY, 0, b"\x01" * 20, b"", 30_000)], T0 + 10)
        with pytest.raises(LedgerError, match="the anvil engine lost its node after block 1"):
            engine.call(b"\x01" * 20, b"")
        assert not engine._dump.parent.exists()  # the dump went with its folder
    finally:
        engine.close()


def test_a_renewed_node_holds_the_state_and_leaves_no_files(monkeypatch) -> None:
    monkeypatch.setattr(AnvilEngine, "RENEW_AFTER", 1)
    counter = bytes.fromhex("6000546001018060005560005260206000f3")  # slot 0 += 1, returned
    engine = AnvilEngine(20221, T0)
    folders = []
    try:
        address = engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(counter), 200_000)],
                                       T0 + 10).outcomes[0].contract_address
        for nonce in (1, 2, 3):
            folders.append(engine._dump.parent)
            block = engine.execute_block([engine.sign(KEY, nonce, address, b"", 100_000)], T0 + 10 + 10 * nonce)
            assert int.from_bytes(block.outcomes[0].output, "big") == nonce
        assert engine.call(address, b"") == (True, (4).to_bytes(32, "big"))
        assert len(set(folders)) == 3 and not any(folder.exists() for folder in folders)  # made only to renew
    finally:
        engine.close()


# With calldata: SELFDESTRUCT to 0xcafe; without: SSTORE(1, 1).
DESTRUCTIBLE = bytes.fromhex("36600a57" "6001600155" "00" "5b" "61cafeff")


def same_on_both_engines(blocks, anvil: AnvilEngine | None = None) -> None:
    """blocks(engine) makes blocks and returns what it compares (their hashes): the same on the anvil engine
    (`anvil`, or a new one) as on py-evm."""
    anvil = anvil or AnvilEngine(20221, T0)
    try:
        made = [blocks(engine) for engine in (anvil, PyEvmEngine(20221, T0, vm=PermissionedShanghaiVM))]
    finally:
        anvil.close()
    assert made[0] == made[1]


def test_a_self_destructed_contract_is_deleted_as_py_evm_deletes_it() -> None:
    def blocks(engine):
        created = engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(DESTRUCTIBLE), 200_000)], T0 + 10)
        address = created.outcomes[0].contract_address
        wrote = engine.execute_block([engine.sign(KEY, 1, address, b"", 100_000)], T0 + 20)
        destroyed = engine.execute_block([engine.sign(KEY, 2, address, b"\x01", 100_000)], T0 + 30)
        assert destroyed.outcomes[0].success
        return created.hash, wrote.hash, destroyed.hash
    same_on_both_engines(blocks)


def test_a_self_destruct_in_a_reverted_frame_deletes_nothing() -> None:
    # D self-destructs when called with data; W calls D so and then reverts; R calls W and goes on. Calling R, and
    # calling W directly (the whole transaction fails), leave D in place on both engines.
    def blocks(engine):
        def deployed(nonce: int, runtime: bytes) -> bytes:
            return engine.execute_block([engine.sign(KEY, nonce, b"", deploy_code(runtime), 300_000)],
                                        T0 + 10 * (nonce + 1)).outcomes[0].contract_address
        d = deployed(0, DESTRUCTIBLE)
        w = deployed(1, bytes.fromhex("6001600053" "6000600060016000600073") + d + bytes.fromhex("5af15060006000fd"))
        r = deployed(2, bytes.fromhex("6000600060006000600073") + w + bytes.fromhex("5af100"))
        through_r = engine.execute_block([engine.sign(KEY, 3, r, b"", 300_000)], T0 + 40)
        direct = engine.execute_block([engine.sign(KEY, 4, w, b"", 300_000)], T0 + 50)
        still_there = engine.execute_block([engine.sign(KEY, 5, d, b"", 100_000)], T0 + 60)
        assert through_r.outcomes[0].success and not direct.outcomes[0].success
        return through_r.hash, direct.hash, still_there.hash
    same_on_both_engines(blocks)


def test_the_call_trace_is_asked_for_once_a_contract_could_self_destruct() -> None:
    anvil, asked = AnvilEngine(20221, T0), []
    batch = anvil._rpc.batch
    anvil._rpc.batch = lambda calls: asked.append(calls[-1][1][1]) or batch(calls)

    def blocks(engine):
        plain = engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(bytes.fromhex("6001600155")), 200_000)],
                                     T0 + 10)
        engine.execute_block([engine.sign(KEY, 1, plain.outcomes[0].contract_address, b"", 100_000)], T0 + 20)
        created = engine.execute_block([engine.sign(KEY, 2, b"", deploy_code(DESTRUCTIBLE), 200_000)], T0 + 30)
        destroyed = engine.execute_block([engine.sign(KEY, 3, created.outcomes[0].contract_address, b"\x01",
                                                      100_000)], T0 + 40)
        assert destroyed.outcomes[0].success
        return destroyed.hash
    same_on_both_engines(blocks, anvil)
    assert asked == [["trace", "stateDiff"], ["stateDiff"], ["trace", "stateDiff"], ["trace", "stateDiff"]]


def test_a_contract_reading_blockhash_or_prevrandao_is_refused_on_anvil() -> None:
    from ledger.errors import LedgerError

    # PREVRANDAO plainly; and behind a jump over a byte that poses as the start of solc's metadata (a1).
    for code in ("445f5500", "600456" "a1" "5b4460005500" "0007"):
        anvil = AnvilEngine(20221, T0)
        try:
            with pytest.raises(LedgerError, match="BLOCKHASH or PREVRANDAO"):
                anvil.execute_block([anvil.sign(KEY, 0, b"", deploy_code(bytes.fromhex(code)), 200_000)], T0 + 10)
        finally:
            anvil.close()


def test_creation_code_that_runs_blockhash_or_prevrandao_is_refused_on_anvil() -> None:
    factory = bytes.fromhex("365f5f37" "365f5ff0" "00")  # CREATE(calldata)
    cases = {  # what is deployed; then what the deployed contract is called with (None: nothing)
        "a deployment's own creation code": (bytes.fromhex("445f5500"), None),  # SSTORE(0, PREVRANDAO), no code left
        "a factory child's": (deploy_code(factory), bytes.fromhex("5f405f5500")),  # SSTORE(0, BLOCKHASH(0))
    }
    for what, (deployed, data) in cases.items():
        anvil = AnvilEngine(20221, T0)
        try:
            with pytest.raises(LedgerError, match="whose creation code reads BLOCKHASH or PREVRANDAO"):
                block = anvil.execute_block([anvil.sign(KEY, 0, b"", deployed, 300_000)], T0 + 10)
                anvil.execute_block([anvil.sign(KEY, 1, block.outcomes[0].contract_address, data, 300_000)],
                                    T0 + 20)
        finally:
            anvil.close()
    # Bytes after the code a deployment returns (its arguments) that would read PREVRANDAO if run, but are not.
    anvil, pyevm = AnvilEngine(20221, T0), PyEvmEngine(20221, T0, vm=PermissionedShanghaiVM)
    try:
        hashes = [engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(b"\x00") + bytes.fromhex("5b44"),
                                                    300_000)], T0 + 10).hash for engine in (anvil, pyevm)]
        assert hashes[0] == hashes[1]
    finally:
        anvil.close()


def test_no_contract_of_the_scenarios_is_refused_or_traced_on_anvil() -> None:
    # Their code runs neither BLOCKHASH, PREVRANDAO, CREATE, CREATE2 nor SELFDESTRUCT; their metadata, after
    # INVALID, is not run.
    artifacts = sorted((Path(__file__).resolve().parent.parent / "contracts" / "artifacts").glob("*.json"))
    assert len(artifacts) >= 10
    for artifact in artifacts:
        code = bytes.fromhex(json.loads(artifact.read_text())["deployedBytecode"].removeprefix("0x"))
        assert not runs_any(code, BLOCK_IDENTITY) and not runs_any(code, SELF_DESTRUCTION), artifact.name
    assert runs_any(bytes.fromhex("00" "44"), BLOCK_IDENTITY) is False  # after STOP, with no JUMPDEST: not run
    assert runs_any(bytes.fromhex("00" "5b" "44"), BLOCK_IDENTITY) is True
    assert runs_any(bytes.fromhex("6144ff" "00"), SELF_DESTRUCTION + BLOCK_IDENTITY) is False  # PUSH2 data


def test_a_refused_block_leaves_the_node_at_the_ledgers_head() -> None:
    from ledger.errors import LedgerError
    counter = bytes.fromhex("6000546001018060005560005260206000f3")  # slot 0 += 1, returned
    other = Account.derive(1, "anvil-test/other").private_key
    anvil, pyevm = AnvilEngine(20221, T0), PyEvmEngine(20221, T0, vm=PermissionedShanghaiVM)
    try:
        hashes = []
        for engine in (anvil, pyevm):
            address = engine.execute_block([engine.sign(KEY, 0, b"", deploy_code(counter), 200_000)],
                                           T0 + 10).outcomes[0].contract_address
            calls = [engine.sign(KEY, 1, address, b"", 100_000), engine.sign(other, 0, address, b"", 20_000)]
            for tx in calls[:1] if engine is anvil else ():
                engine.take(tx)  # handed over ahead, then the block is refused (intrinsic gas too low)
            with pytest.raises(LedgerError):
                engine.execute_block(calls, T0 + 20)
            snapshot = engine.snapshot()
            with pytest.raises(LedgerError):  # a nonce ahead: Anvil pools it and mines the block without it
                engine.execute_block([calls[0], engine.sign(other, 5, address, b"", 100_000)], T0 + 20)
            if engine is anvil:  # the node holds a block the ledger does not: nothing more until a revert
                with pytest.raises(LedgerError, match="stopped at block 2"):
                    engine.call(address, b"")
            engine.revert(snapshot)
            block = engine.execute_block(calls[:1], T0 + 20)
            assert engine.call(address, b"") == (True, (2).to_bytes(32, "big"))
            hashes.append(block.hash)
        assert hashes[0] == hashes[1]
    finally:
        anvil.close()
