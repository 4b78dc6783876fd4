"""A finished run's state snapshot (ledger.chain.snapshot): `call`, `send`, `deploy` and `govern` reopen the
chain at its head from RUN_DIR/<chain>/state.snapshot instead of re-executing it from genesis, with the same
state and the same next block; a snapshot that does not give the head's state root is refused with one
warning and the chain is re-executed. The engine prunes its database as it goes, with the same hashes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.chain.reopen import find_contract, reopen_chain
from ledger.chain.run import LEDGER_FILE
from ledger.chain.snapshot import SNAPSHOT_FILE, StateSnapshot, read_state_snapshot, write_state_snapshot
from ledger.chain.store import LedgerStore
from ledger.evm import pyevm
from ledger.evm.base import ExecutedBlock
from ledger.evm.mpt import state_nodes
from ledger.evm.pyevm import PyEvmEngine
from scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
CHAIN = "fund_platform"
SIZES = {"investors": 60, "funds": 3, "transfers": 40, "batch": 20}
PAUSE_REASON = "0x" + "00" * 31 + "01"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("snapshot") / "run"
    run_scenario("share_transfer", 5, SIZES, run_dir)
    return run_dir


@pytest.fixture()
def run(finished, tmp_path) -> Path:
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path / "run"


def _reopened(run_dir: Path, **kwargs):
    warnings: list[str] = []
    consortium = reopen_chain(run_dir, CHAIN, warn=warnings.append, **kwargs)
    return consortium, warnings


def _reads(consortium) -> tuple:
    """The head, the whole state it reaches, and a few reads through the contracts."""
    engine = consortium.engine
    cash, shares = find_contract(consortium, "SettlementCash"), find_contract(consortium, "PrivateFundShares")
    head, nodes, codes = engine.state()
    return head, nodes, codes, cash.view("totalSupply"), shares.view("paused")


class _Given:
    """An engine and a store that hand write_state_snapshot a given snapshot, to write it in the file's own
    encoding."""

    def __init__(self, snapshot: StateSnapshot) -> None:
        self.block = ExecutedBlock(snapshot.number, snapshot.hash, b"", snapshot.state_root, 0, 0, b"", ())
        self.snapshot = snapshot

    def head(self):
        return self.block

    def state(self):
        return self.block, dict(enumerate(self.snapshot.nodes)), self.snapshot.codes


def _write(path: Path, snapshot: StateSnapshot) -> None:
    given = _Given(snapshot)
    store = type("Store", (), {"head": lambda _: (snapshot.number, snapshot.hash)})()
    assert write_state_snapshot(given, store, path.parent)


def test_a_finished_run_has_a_snapshot_of_its_head(finished):
    snapshot = read_state_snapshot(finished / CHAIN / SNAPSHOT_FILE)
    with LedgerStore(finished / CHAIN / LEDGER_FILE) as store:
        head = store.block(store.head_number())
    assert (snapshot.number, snapshot.hash, snapshot.state_root) == (head.number, head.hash, head.state_root)


def test_call_on_the_snapshot_equals_call_after_re_executing(run, tmp_path):
    from_snapshot, warnings = _reopened(run)
    assert warnings == []
    state = _reads(from_snapshot)
    from_snapshot.store.close()
    (run / CHAIN / SNAPSHOT_FILE).unlink()  # missing: re-executed from genesis, with one warning
    re_executed, warnings = _reopened(run)
    assert len(warnings) == 1 and "no state snapshot" in warnings[0] and "from genesis" in warnings[0]
    assert _reads(re_executed) == state
    re_executed.store.close()


def test_a_tampered_snapshot_is_refused_and_the_chain_re_executed(run):
    """One storage slot changed, every node above it re-hashed up to a new state root: the head's stored
    state root no longer reaches the snapshot's nodes, so it is refused (one warning) and the chain is
    re-executed to the same state as an untouched snapshot gives."""
    path = run / CHAIN / SNAPSHOT_FILE
    honest, _ = _reopened(run)
    expected = _reads(honest)
    honest.store.close()
    snapshot = read_state_snapshot(path)
    with LedgerStore(run / CHAIN / LEDGER_FILE) as store:
        headers = [store.block(n).header_rlp for n in range(max(1, snapshot.number - 3), snapshot.number + 1)]
    engine = PyEvmEngine.at_state(int(store_meta(run)["chain_id"]), headers, snapshot.nodes, snapshot.codes)
    shares = find_contract(honest, "PrivateFundShares").address
    state = engine.chain.get_vm().state
    state.set_storage(shares, 0, state.get_storage(shares, 0) + 1)
    state.persist()
    kv = engine.chain.chaindb.db.wrapped_db.kv_store
    nodes, _ = state_nodes(kv.__getitem__, state.state_root)
    assert state.state_root != snapshot.state_root
    for claimed_root in (snapshot.state_root, state.state_root):  # the head's root, or the tampered one
        _write(path, StateSnapshot(snapshot.number, snapshot.hash, claimed_root, list(nodes.values()),
                                   snapshot.codes))
        reopened, warnings = _reopened(run)
        assert len(warnings) == 1 and "state snapshot is refused" in warnings[0], warnings
        assert _reads(reopened) == expected
        reopened.store.close()
    path.write_bytes(path.read_bytes()[:-5])  # cut short
    reopened, warnings = _reopened(run)
    assert len(warnings) == 1 and "refused" in warnings[0] and _reads(reopened) == expected
    reopened.store.close()


def store_meta(run_dir: Path) -> dict:
    with LedgerStore(run_dir / CHAIN / LEDGER_FILE) as store:
        return store.meta()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True)


def test_send_gives_the_same_block_from_the_snapshot_as_after_re_executing(run, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    (twin / CHAIN / SNAPSHOT_FILE).unlink()
    for where in (run, twin):
        done = _cli("send", str(where), "PrivateFundShares", "pause", PAUSE_REASON, "--node", "BJEE", "--json")
        assert done.returncode == 0, done.stderr
    assert "state snapshot" not in _cli("call", str(run), "PrivateFundShares", "paused").stderr
    with LedgerStore(run / CHAIN / LEDGER_FILE) as ours, LedgerStore(twin / CHAIN / LEDGER_FILE) as theirs:
        number = ours.head_number()
        assert ours.block(number) == theirs.block(number)  # hash, header and all
        assert ours.block_rows(number) == theirs.block_rows(number)
        block_hash = ours.block(number).hash
    for where in (run, twin):  # each wrote the snapshot of its new head
        snapshot = read_state_snapshot(where / CHAIN / SNAPSHOT_FILE)
        assert (snapshot.number, snapshot.hash) == (number, block_hash)


def test_an_earlier_snapshot_is_caught_up_from(run, tmp_path):
    """A snapshot of an earlier block of the same chain (a command stopped between its block and the
    snapshot): loaded, and the blocks after it re-executed, with no warning."""
    earlier = (run / CHAIN / SNAPSHOT_FILE).read_bytes()
    done = _cli("send", str(run), "PrivateFundShares", "pause", PAUSE_REASON, "--node", "BJEE", "--json")
    assert done.returncode == 0, done.stderr
    (run / CHAIN / SNAPSHOT_FILE).write_bytes(earlier)
    reopened, warnings = _reopened(run)
    assert warnings == [] and find_contract(reopened, "PrivateFundShares").view("paused") is True
    reopened.store.close()


def test_pruning_keeps_the_chain_byte_for_byte(tmp_path, monkeypatch):
    """Pruning each time the engine's database doubles from a small start, and never: the same chain."""
    pruned = []
    prune = PyEvmEngine._maybe_prune

    def counted(engine):
        kept = engine._kept
        prune(engine)
        pruned.append(engine._kept != kept)

    monkeypatch.setattr(PyEvmEngine, "_maybe_prune", counted)
    heads = []
    for at_least in (10, 10**12):
        monkeypatch.setattr(pyevm, "PRUNE_AT_LEAST", at_least)
        summary = run_scenario("share_transfer", 5, {**SIZES, "transfers": 20}, tmp_path / str(at_least))
        heads.append(summary["head_hash"])
        assert any(pruned) == (at_least == 10)
        pruned.clear()
    assert heads[0] == heads[1]
