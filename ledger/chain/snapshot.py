"""The state at a chain's head, kept beside its ledger, so that `call`, `send`, `deploy` and `govern` reopen a
finished run in a time that does not grow with its length, instead of re-executing it from genesis.

RUN_DIR/<chain>/state.snapshot holds the number, hash and state root of the block it was taken at, every trie
node that state root reaches (the accounts trie and each account's storage trie) and the contracts' code: in
proportion to the state, not to the chain. It is written when a run finishes and after each block that
`deploy`, `send` or `govern` adds. Nothing in it is taken on trust: the headers come from the ledger (each
must hash to its stored block, the last one to the snapshot's), and the engine takes the nodes only if that
block's state root reaches exactly them (each node is stored under the hash of its bytes, so a changed node
is a missing one: ledger.evm.pyevm.PyEvmEngine.at_state). A snapshot that does not hold is refused with one
warning line and the chain is re-executed from genesis; one taken at an earlier block of the same chain is
loaded and the blocks after it re-executed."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from eth_hash.auto import keccak

from ledger.errors import LedgerError
from ledger.tooling.files import write_atomically
from ledger.evm import Engine
from ledger.chain.reader import LedgerReader

SNAPSHOT_FILE = "state.snapshot"
MAGIC = b"pilotledger state snapshot 1\n"
SLACK = 16 << 20  # bytes a snapshot may exceed twice its ledger's size by (the genesis state, tries' overhead)
ANCESTORS = 256  # headers below the snapshot's block the engine gets too (BLOCKHASH's reach)
_HEAD = struct.Struct(">Q32s32sII")  # block number, block hash, state root, trie nodes, codes
_SIZE = struct.Struct(">I")


@dataclass(frozen=True)
class StateSnapshot:
    number: int
    hash: bytes
    state_root: bytes
    nodes: list[bytes]
    codes: list[bytes]


def snapshot_path(chain_dir: Path) -> Path:
    return Path(chain_dir) / SNAPSHOT_FILE


def write_state_snapshot(engine: Engine, store: LedgerReader, chain_dir: Path) -> bool:
    """Writes the engine's head state to RUN_DIR/<chain>/state.snapshot when the engine keeps its state in
    memory (the embedded engine) and its head is the ledger's stored head; whether it was written. The file
    is replaced whole (a reader never sees half of one); a snapshot that cannot be written is left out (the
    next reopen re-executes the chain, with a warning)."""
    state = getattr(engine, "state", None)
    stored = store.head()
    if state is None or stored is None or engine.head().hash != stored[1]:
        return False
    head, nodes, codes = state()
    parts = [MAGIC, _HEAD.pack(head.number, head.hash, head.state_root, len(nodes), len(codes))]
    for item in (*nodes.values(), *codes):
        parts += [_SIZE.pack(len(item)), item]
    try:
        write_atomically(snapshot_path(chain_dir), b"".join(parts))
    except OSError:
        return False
    return True


def read_state_snapshot(path: Path) -> StateSnapshot:
    """The snapshot in the file at `path` (LedgerError if it is not one); nothing in it is checked yet."""
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:len(MAGIC)]) != MAGIC:
        raise LedgerError("it is not a state snapshot of this version")
    try:
        number, block_hash, state_root, node_count, code_count = _HEAD.unpack_from(data, len(MAGIC))
        at = len(MAGIC) + _HEAD.size
        items = []
        for _ in range(node_count + code_count):
            (size,) = _SIZE.unpack_from(data, at)
            at += 4
            if at + size > len(data):
                raise LedgerError("it is cut short")
            items.append(bytes(data[at:at + size]))
            at += size
    except struct.error:
        raise LedgerError("it is cut short") from None
    if at != len(data):
        raise LedgerError("it runs on past its last item")
    return StateSnapshot(number, block_hash, state_root, items[:node_count], items[node_count:])


def engine_at_snapshot(chain_dir: Path, store: LedgerReader, chain_id: int, genesis_time: int,
                       warn: Callable[[str], None]) -> Engine | None:
    """An embedded engine at the block of the chain's state snapshot, its state checked against that block's
    stored header; None, with one `warn`ing, when there is no snapshot or it does not hold (the caller then
    re-executes the chain from genesis). The ledger stores no genesis block: its header, when in reach of
    BLOCKHASH, is made again from the chain id and genesis time, and must be block 1's parent."""
    from ledger.evm.pyevm import PyEvmEngine

    chain = Path(chain_dir).name
    path = snapshot_path(chain_dir)
    if not path.is_file():
        warn(f"{chain} has no state snapshot: re-executing its blocks from genesis")
        return None
    try:
        # Every byte of the state was written by a transaction the ledger holds: a larger file is not this state.
        if path.stat().st_size > 2 * Path(store.path).stat().st_size + SLACK:
            raise LedgerError("it is larger than the ledger's whole history could make it")
        snapshot = read_state_snapshot(path)
        block = store.block(snapshot.number)
        if block is None or (block.hash, block.state_root) != (snapshot.hash, snapshot.state_root):
            raise LedgerError(f"it names block {snapshot.number} 0x{snapshot.hash.hex()[:12]}, not the ledger's")
        headers = []
        for number in range(max(0, snapshot.number - ANCESTORS), snapshot.number + 1):
            stored = _genesis(chain_id, genesis_time) if number == 0 else store.block(number)
            if stored is None or keccak(stored.header_rlp) != stored.hash:
                raise LedgerError(f"block {number}'s stored header does not hash to its stored hash")
            if headers and keccak(headers[-1]) != stored.parent_hash:
                raise LedgerError(f"block {number} does not follow block {number - 1}")
            headers.append(stored.header_rlp)
        return PyEvmEngine.at_state(chain_id, headers, snapshot.nodes, snapshot.codes)
    except (LedgerError, OSError) as exc:
        warn(f"{chain}'s state snapshot is refused ({exc}): re-executing its blocks from genesis")
        return None


def _genesis(chain_id: int, genesis_time: int):
    from ledger.evm.pyevm import PyEvmEngine

    return PyEvmEngine(chain_id, genesis_time).head()
