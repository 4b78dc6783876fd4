"""Storage tries that decode each trie node once.

py-evm opens fresh storage tries for every block and decodes the RLP of every trie
node on every storage read, though a node's bytes never change for a given hash.
These classes keep the decoded nodes, keyed by node hash, for the life of the
process. The trie code edits nodes in place, so each read hands out a copy: the
cache can never be changed through a node it returned, and the results stay those of
stock py-evm (same state roots, same head hash).
"""

from __future__ import annotations

from eth.db.account import AccountDB
from eth.db.batch import BatchDB
from eth.db.cache import CacheDB
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB, StorageLookup
from trie import HexaryTrie

NODE_CACHE_LIMIT = 200_000
_decoded: dict[bytes, object] = {}


def _copy(node):
    return [_copy(item) if item.__class__ is list else item for item in node] if node.__class__ is list else node


class NodeCachingTrie(HexaryTrie):
    def get_node(self, node_hash):
        if node_hash.__class__ is not bytes or len(node_hash) != 32:
            return super().get_node(node_hash)  # blank or embedded nodes: nothing to decode
        node = _decoded.get(node_hash)
        if node is None:
            node = super().get_node(node_hash)
            if len(_decoded) >= NODE_CACHE_LIMIT:
                _decoded.clear()
            _decoded[node_hash] = node
        return _copy(node)


class NodeCachingStorageLookup(StorageLookup):
    def _get_write_trie(self) -> HexaryTrie:
        if self._trie_nodes_batch is None:
            self._trie_nodes_batch = BatchDB(self._db, read_through_deletes=True)
        if self._write_trie is None:
            self._write_trie = NodeCachingTrie(self._trie_nodes_batch, root_hash=self._starting_root_hash, prune=True)
        return self._write_trie

    def _get_read_trie(self) -> HexaryTrie:
        if self._write_trie is not None:
            return self._write_trie
        return NodeCachingTrie(self._db, root_hash=self._starting_root_hash)


class NodeCachingStorageDB(AccountStorageDB):
    def __init__(self, db, storage_root, address) -> None:
        super().__init__(db, storage_root, address)
        # The same layering as AccountStorageDB, over the caching lookup.
        self._storage_lookup = NodeCachingStorageLookup(db, storage_root, address)
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class NodeCachingAccountDB(AccountDB):
    def _get_address_store(self, address):
        store = self._account_stores.get(address)
        if store is None:
            store = NodeCachingStorageDB(self._raw_store_db, self._get_storage_root(address), address)
            self._account_stores[address] = store
        return store
