"""State tries (the account trie and every storage trie) that batch a block's writes and remember what
they read.

py-evm applies each storage write of a block to a HexaryTrie as it comes, so every
write re-encodes and re-hashes the path to the root; it opens fresh storage tries for
every block and decodes the RLP of every trie node on every read. Here:

- storage writes wait in a dict until the storage root is asked for (at the end of the block),
  then go to the trie of mpt.py in one batch, which hashes each changed node once; so do the
  account trie's (py-evm's HexaryTrie took about 0.9 ms an account, re-hashing the path to the
  root for each), and accounts are read through mpt.py's decoded nodes;
- trie nodes are decoded once per engine (keyed by hash: a node's bytes never change);
- values read under a storage root are kept for that root, and carried over to the new
  root with the block's writes applied, so the next block reads them without the trie.

What is remembered lives in one TrieCaches per engine, on the engine's database (`caches_of`), never
in the module: two engines in one process share nothing. Reads see pending writes first, exactly as py-evm's write trie would show them. The
storage roots, the nodes stored under them and so the head hash are those of stock
py-evm (tests/test_engine.py replays blocks on stock py-evm and compares).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.accesslog import KeyAccessLoggerDB
from eth.db.cache import CacheDB
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB, StorageLookup
from eth_utils import ValidationError

from ledger.evm.mpt import Trie, keccak

VALUE_CACHE_ROOTS = 4096
HASHED_SLOT_LIMIT = 500_000
NODE_CACHE_LIMIT = 300_000


class TrieCaches:
    """What one engine's tries remember between blocks."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, tuple] = {}  # decoded trie nodes by hash
        self.values_by_root: dict[bytes, dict[bytes, bytes]] = {}  # storage root -> {hashed slot: value}
        self.hashed_slots: dict[bytes, bytes] = {}

    def hashed_slot(self, key: bytes) -> bytes:
        hashed = self.hashed_slots.get(key)
        if hashed is None:
            if len(self.hashed_slots) >= HASHED_SLOT_LIMIT:
                self.hashed_slots.clear()
            hashed = self.hashed_slots[key] = keccak(key.rjust(32, b"\x00"))
        return hashed

    def trie(self, db, root: bytes) -> Trie:
        if len(self.nodes) >= NODE_CACHE_LIMIT:
            self.nodes.clear()
        return Trie(db, root, self.nodes)

    def forget_stale(self, live) -> None:
        """Drops what is kept for trie nodes and storage roots that `live` (the hashes a pruned database still
        holds) does not hold, and the slot hashes (cheap to compute again): the caches then follow the state
        rather than every state the run went through."""
        for node_hash in [h for h in self.nodes if h not in live]:
            del self.nodes[node_hash]
        for root in [r for r in self.values_by_root if r not in live]:
            del self.values_by_root[root]
        self.hashed_slots.clear()


def caches_of(db) -> TrieCaches:
    """The TrieCaches of the engine whose database is `db` (made with it on first use)."""
    caches = getattr(db, "trie_caches", None)
    if caches is None:
        caches = db.trie_caches = TrieCaches()
    return caches


class BatchedStorageLookup(StorageLookup):
    """StorageLookup with pending writes in a dict; has_changed_root once anything is written."""

    _pending: dict[bytes, bytes] | None

    caches: TrieCaches

    def _initialize_to_root_hash(self, root_hash: bytes) -> None:
        self._starting_root_hash = root_hash
        self._pending = None  # hashed slot -> value (b"" deletes)
        self._computed = None  # (root hash, nodes) for the current pending writes
        self._historical_write_tries = []

    def _base_value(self, hashed: bytes) -> bytes:
        root = self._starting_root_hash
        if root == BLANK_ROOT_HASH:
            return b""
        by_root = self.caches.values_by_root
        known = by_root.get(root)
        if known is None:
            if len(by_root) >= VALUE_CACHE_ROOTS:
                by_root.clear()
            known = by_root[root] = {}
        value = known.get(hashed)
        if value is None:
            value = known[hashed] = self.caches.trie(self._db, root).get(hashed)
        return value

    def __getitem__(self, key: bytes) -> bytes:
        hashed = self.caches.hashed_slot(key)
        pending = self._pending
        if pending is not None:
            value = pending.get(hashed)
            if value is not None:
                return value
        return self._base_value(hashed)

    def _exists(self, key: bytes) -> bool:
        return self[key] != b""

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._write(self.caches.hashed_slot(key), value)

    def __delitem__(self, key: bytes) -> None:
        self._write(self.caches.hashed_slot(key), b"")

    def _write(self, hashed: bytes, value: bytes) -> None:
        if self._pending is None:
            self._pending = {}
        self._pending[hashed] = value
        self._computed = None

    def _compute(self) -> tuple[bytes, dict[bytes, bytes]]:
        if self._computed is None:
            trie = self.caches.trie(self._db, self._starting_root_hash)
            trie.update(self._pending.items())
            nodes: dict[bytes, bytes] = {}
            self._computed = (trie.commit(nodes), nodes)
        return self._computed

    @property
    def has_changed_root(self) -> bool:
        return self._pending is not None

    def get_changed_root(self) -> bytes:
        if self._pending is None:
            raise ValidationError("Asked for changed root when no writes have been made")
        return self._compute()[0]

    def commit_to(self, db) -> None:
        if self._pending is None:
            raise ValidationError("It is invalid to commit an account's storage if it has no pending changes.")
        root, nodes = self._compute()
        for node_hash, encoded in nodes.items():
            db[node_hash] = encoded
        # The values known under the old root move to the new one, with this block's writes applied
        # (no reader holds on to the dict; a later read under the old root reads its trie again).
        starting = self._starting_root_hash
        by_root = self.caches.values_by_root
        known = {} if starting == BLANK_ROOT_HASH else by_root.pop(starting, None)
        if known is not None and root != BLANK_ROOT_HASH:
            if len(by_root) >= VALUE_CACHE_ROOTS:
                by_root.clear()
            known.update(self._pending)
            by_root[root] = known
        self._initialize_to_root_hash(root)

    def new_trie(self) -> int:
        self._historical_write_tries.append((
            {} if self._pending is None else self._pending, self._computed, self._starting_root_hash))
        self._starting_root_hash = BLANK_ROOT_HASH
        self._pending = None
        self._computed = None
        return len(self._historical_write_tries)

    def rollback_trie(self, trie_index: int) -> None:
        if trie_index >= len(self._historical_write_tries):
            raise ValidationError(
                f"Trying to roll back a delete to index {trie_index}, but there are "
                f"only {len(self._historical_write_tries)} indices available."
            )
        self._pending, self._computed, self._starting_root_hash = self._historical_write_tries[trie_index]
        del self._historical_write_tries[trie_index:]


class BatchedStorageDB(AccountStorageDB):
    def __init__(self, db, storage_root, address, caches: TrieCaches) -> None:
        super().__init__(db, storage_root, address)
        # The same layering as AccountStorageDB, over the batching lookup.
        self._storage_lookup = BatchedStorageLookup(db, storage_root, address)
        self._storage_lookup.caches = caches
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class _AccountWrites:
    """What AccountDB writes to the account trie when it squashes a block's changes: kept, by hashed
    address, for one batch."""

    def __init__(self) -> None:
        self.items: dict[bytes, bytes] = {}

    def __setitem__(self, address: bytes, encoded: bytes) -> None:
        self.items[keccak(address)] = encoded

    def __delitem__(self, address: bytes) -> None:
        self.items[keccak(address)] = b""


class BatchedAccountTrie:
    """The account trie as AccountDB uses it (py-evm's HashTrie over a HexaryTrie: read by address, a root
    hash to get and set, squash_changes() to write a block's accounts), over mpt.py: the writes of a squash
    go to the trie in one batch, hashing each changed node once."""

    def __init__(self, db, root_hash: bytes, caches: TrieCaches) -> None:
        self._db, self.root_hash, self._caches = db, root_hash, caches

    def __getitem__(self, address: bytes) -> bytes:
        return self._caches.trie(self._db, self.root_hash).get(keccak(address))

    def __contains__(self, address: bytes) -> bool:
        return self[address] != b""

    @contextmanager
    def squash_changes(self) -> Iterator[_AccountWrites]:
        writes = _AccountWrites()
        yield writes
        if writes.items:
            trie = self._caches.trie(self._db, self.root_hash)
            trie.update(writes.items.items())
            nodes: dict[bytes, bytes] = {}
            self.root_hash = trie.commit(nodes)
            for node_hash, encoded in nodes.items():
                self._db[node_hash] = encoded


class BatchedAccountDB(AccountDB):
    def __init__(self, db, state_root=BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        self._caches = caches_of(db)
        # AccountDB's layering over its account trie, with the batched trie in HexaryTrie's place.
        self._trie = BatchedAccountTrie(self._batchtrie, state_root, self._caches)
        self._trie_logger = KeyAccessLoggerDB(self._trie, log_missing_keys=False)
        self._trie_cache = CacheDB(self._trie_logger)
        self._journaltrie = JournalDB(self._trie_cache)

    def _get_address_store(self, address):
        store = self._account_stores.get(address)
        if store is None:
            store = BatchedStorageDB(self._raw_store_db, self._get_storage_root(address), address, self._caches)
            self._account_stores[address] = store
        return store
