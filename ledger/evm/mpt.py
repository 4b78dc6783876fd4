"""A lean Merkle-Patricia trie that applies a batch of writes, then hashes once.

py-evm's HexaryTrie re-encodes and re-hashes every node on the path to the root for
each key it sets, stores each intermediate node, and prunes it again on the next set.
Here a batch of writes is applied to nodes held in memory (siblings stay as their
hashes, unread), and only the nodes that end up in the new trie are encoded and
hashed, once each. The trie is the canonical Ethereum one, so its root hash is the one
HexaryTrie computes for the same keys and values (tests/test_engine.py checks this on
random batches, deletions included); nodes are stored under the same keys
(keccak of their RLP, nodes under 32 bytes embedded in their parent, the root always
stored), so HexaryTrie reads the result as well.

Nodes in memory are immutable tuples, shared freely and cached by hash:
  (LEAF, nibbles, value)   (EXT, nibbles, child)   (BRANCH, 16 children, value)
where nibbles is a bytes object of values 0..15 and a child is None (blank), a 32-byte
hash (not yet read) or a node tuple (an embedded node, or a node changed in memory).
"""

from __future__ import annotations

from typing import Iterable, MutableMapping

import rlp

try:  # the same Keccak-256, several times faster than eth-hash's pycryptodome backend
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()
except ImportError:  # pragma: no cover
    from eth_hash.auto import keccak  # type: ignore[assignment]

LEAF, EXT, BRANCH = 0, 1, 2
BLANK_ROOT = keccak(b"\x80")
_TO_NIBBLES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_TO_HEX = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")
def nibbles(key: bytes) -> bytes:
    return key.hex().encode().translate(_TO_NIBBLES)


def _compact(path: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(path) & 1:
        prefixed = bytes((flag + 1,)) + path
    else:
        prefixed = bytes((flag, 0)) + path
    return bytes.fromhex(prefixed.translate(_TO_HEX).decode())


def _enc_bytes(b: bytes) -> bytes:
    n = len(b)
    if n == 1 and b[0] < 0x80:
        return b
    if n < 56:
        return bytes((0x80 + n,)) + b
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xB7 + len(ln),)) + ln + b


def _enc_list(payload: bytes) -> bytes:
    n = len(payload)
    if n < 56:
        return bytes((0xC0 + n,)) + payload
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(ln),)) + ln + payload


def _from_raw(raw) -> tuple | bytes | None:
    """A child reference from decoded RLP: blank, a hash, or an embedded node."""
    if raw.__class__ is list:
        return _node_from_raw(raw)
    return raw if raw else None


def _node_from_raw(raw: list) -> tuple:
    if len(raw) == 17:
        return BRANCH, tuple(_from_raw(c) for c in raw[:16]), raw[16]
    h = raw[0].hex()
    flag = int(h[0], 16)
    path = (h[1:] if flag & 1 else h[2:]).encode().translate(_TO_NIBBLES)
    if flag & 2:
        return LEAF, path, raw[1]
    return EXT, path, _from_raw(raw[1])


class Trie:
    """One batch of changes to the trie under `root`, read from (and written to) `db`."""

    def __init__(self, db, root: bytes, decoded: dict[bytes, tuple] | None = None) -> None:
        """`decoded`: the nodes read so far, by hash (a node's bytes never change), kept by the caller
        across batches on the same database; by default this batch's own."""
        self.db = db
        self.root: tuple | bytes | None = None if root == BLANK_ROOT else root
        self._decoded = {} if decoded is None else decoded

    def load(self, node_hash: bytes) -> tuple:
        node = self._decoded.get(node_hash)
        if node is None:
            node = self._decoded[node_hash] = _node_from_raw(rlp.decode(self.db[node_hash]))
        return node

    # reads

    def get(self, key: bytes) -> bytes:
        """The value at key, b"" when absent (as HexaryTrie returns)."""
        path = nibbles(key)
        node = self.root
        load = self.load
        while True:
            if node is None:
                return b""
            if node.__class__ is bytes:
                node = load(node)
            kind = node[0]
            if kind == BRANCH:
                if not path:
                    return node[2]
                node = node[1][path[0]]
                path = path[1:]
            elif kind == LEAF:
                return node[2] if node[1] == path else b""
            else:
                npath = node[1]
                if path[:len(npath)] != npath:
                    return b""
                node = node[2]
                path = path[len(npath):]

    # writes

    def update(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Applies (key, value) pairs in order; a value of None or b"" deletes the key."""
        root = self.root
        for key, value in changes:
            if value:
                root = self._put(root, nibbles(key), value)
            else:
                root = self._delete(root, nibbles(key))
        self.root = root

    def _put(self, ref, path: bytes, value: bytes):
        if ref is None:
            return LEAF, path, value
        node = self.load(ref) if ref.__class__ is bytes else ref
        kind = node[0]
        if kind == BRANCH:
            if not path:
                return BRANCH, node[1], value
            children = list(node[1])
            i = path[0]
            children[i] = self._put(children[i], path[1:], value)
            return BRANCH, tuple(children), node[2]
        npath = node[1]
        n = min(len(npath), len(path))
        common = 0
        while common < n and npath[common] == path[common]:
            common += 1
        if kind == LEAF and common == len(npath) == len(path):
            return LEAF, path, value
        if kind == EXT and common == len(npath):
            return EXT, npath, self._put(node[2], path[common:], value)
        children: list = [None] * 16
        branch_value = b""
        rest = npath[common:]
        if kind == LEAF:
            if rest:
                children[rest[0]] = (LEAF, rest[1:], node[2])
            else:
                branch_value = node[2]
        else:  # an extension, rest not empty
            children[rest[0]] = node[2] if len(rest) == 1 else (EXT, rest[1:], node[2])
        rest = path[common:]
        if rest:
            children[rest[0]] = (LEAF, rest[1:], value)
        else:
            branch_value = value
        branch = (BRANCH, tuple(children), branch_value)
        return (EXT, path[:common], branch) if common else branch

    def _delete(self, ref, path: bytes):
        """The node without path's key; the very same ref when the key is absent."""
        if ref is None:
            return None
        node = self.load(ref) if ref.__class__ is bytes else ref
        kind = node[0]
        if kind == LEAF:
            return None if node[1] == path else ref
        if kind == EXT:
            npath = node[1]
            if path[:len(npath)] != npath:
                return ref
            child = self._delete(node[2], path[len(npath):])
            if child is node[2]:
                return ref
            return self._extension(npath, child)
        children, branch_value = node[1], node[2]
        if not path:
            if not branch_value:
                return ref
            return self._normalize(list(children), b"")
        i = path[0]
        child = self._delete(children[i], path[1:])
        if child is children[i]:
            return ref
        children = list(children)
        children[i] = child
        return self._normalize(children, branch_value)

    def _extension(self, path: bytes, child):
        if child is None:
            return None
        node = self.load(child) if child.__class__ is bytes else child
        if node[0] == BRANCH:
            return EXT, path, child
        return node[0], path + node[1], node[2]

    def _normalize(self, children: list, value: bytes):
        """A branch left with one item becomes a leaf or an extension."""
        live = [i for i in range(16) if children[i] is not None]
        if len(live) > 1 or (live and value):
            return BRANCH, tuple(children), value
        if not live:
            return (LEAF, b"", value) if value else None
        i = live[0]
        return self._extension(bytes((i,)), children[i])

    # hashing

    def commit(self, out: MutableMapping[bytes, bytes]) -> bytes:
        """Encodes the changed nodes into `out` (hash -> RLP) and returns the root hash."""
        root = self.root
        if root is None:
            return BLANK_ROOT
        if root.__class__ is bytes:
            return root
        encoded = self._encode(root, out)
        root_hash = keccak(encoded)
        out[root_hash] = encoded
        self.root = root_hash
        return root_hash

    def _ref(self, child, out) -> bytes:
        if child is None:
            return b"\x80"
        if child.__class__ is bytes:
            return b"\xa0" + child
        encoded = self._encode(child, out)
        if len(encoded) < 32:
            return encoded
        child_hash = keccak(encoded)
        out[child_hash] = encoded
        return b"\xa0" + child_hash

    def _encode(self, node: tuple, out) -> bytes:
        kind = node[0]
        if kind == BRANCH:
            ref = self._ref
            return _enc_list(b"".join([ref(c, out) for c in node[1]]) + _enc_bytes(node[2]))
        if kind == LEAF:
            return _enc_list(_enc_bytes(_compact(node[1], True)) + _enc_bytes(node[2]))
        return _enc_list(_enc_bytes(_compact(node[1], False)) + self._ref(node[2], out))


def trie_root(items: Iterable[tuple[bytes, bytes]], out: MutableMapping[bytes, bytes] | None = None) -> bytes:
    """The root of a new trie holding items; its nodes go to out."""
    trie = Trie(None, BLANK_ROOT)
    trie.update(items)
    return trie.commit({} if out is None else out)


def logs_bloom(logs: Iterable[tuple[bytes, Iterable[bytes], bytes]]) -> bytes:
    """The 2048-bit bloom filter of (address, topics, data) logs, as a receipt carries it."""
    bloom = 0
    for address, topics, _ in logs:
        for item in (address, *topics):
            digest = keccak(item)
            for i in (0, 2, 4):
                bloom |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return bloom.to_bytes(256, "big")


def receipt_rlp(success: bool, cumulative_gas: int, logs: list[tuple[bytes, tuple[bytes, ...], bytes]]) -> bytes:
    """A legacy transaction's receipt, RLP-encoded as the receipts trie holds it (py-evm's Receipt.encode();
    hand-encoded because the rlp package's generic encoder took most of a ledger's verification time)."""
    encoded_logs = b"".join(
        _enc_list(_enc_bytes(address) + _enc_list(b"".join(_enc_bytes(t) for t in topics)) + _enc_bytes(data))
        for address, topics, data in logs)
    gas = cumulative_gas.to_bytes((cumulative_gas.bit_length() + 7) // 8, "big")
    return _enc_list(_enc_bytes(b"\x01" if success else b"") + _enc_bytes(gas) + _enc_bytes(logs_bloom(logs))
                     + _enc_list(encoded_logs))


# ------------------------------------------------------------------ what a state root holds

EMPTY_CODE_HASH = keccak(b"")


def _item_end(data: bytes, i: int) -> int:
    """Where the RLP item starting at data[i] ends."""
    b = data[i]
    if b < 0x80:
        return i + 1
    if b < 0xB8:
        return i + 1 + b - 0x80
    if b < 0xC0:
        n = b - 0xB7
        return i + 1 + n + int.from_bytes(data[i + 1:i + 1 + n], "big")
    if b < 0xF8:
        return i + 1 + b - 0xC0
    n = b - 0xF7
    return i + 1 + n + int.from_bytes(data[i + 1:i + 1 + n], "big")


def _expand(encoded: bytes, accounts: bool, stack: list, storage_roots: list, codes: set) -> None:
    """Puts on `stack` the hashes of the nodes `encoded` (a stored trie node) refers to; in the accounts trie,
    a leaf's account adds its storage root to `storage_roots` and its code hash to `codes`. A node under 32
    bytes is embedded in its parent and refers to no hash. Raises ValueError on what is not a trie node."""
    b = encoded[0]
    if b < 0xC0:
        raise ValueError("a trie node is an RLP list")
    i = 1 if b < 0xF8 else 1 + b - 0xF7
    end = len(encoded)
    if _item_end(encoded, 0) != end:  # the list spans the whole node
        raise ValueError("a trie node is one RLP list")
    items = []
    while i < end:
        j = _item_end(encoded, i)
        items.append((i, j))
        i = j
    if i != end:
        raise ValueError("a trie node's items overrun it")
    if len(items) == 17:
        for start, stop in items[:16]:
            if stop - start == 33 and encoded[start] == 0xA0:
                stack.append(encoded[start + 1:stop])
        if items[16][1] - items[16][0] != 1 or encoded[items[16][0]] != 0x80:
            raise ValueError("a branch of a hashed-key trie holds no value")
        return
    if len(items) != 2:
        raise ValueError(f"a trie node has 2 or 17 items, not {len(items)}")
    (p0, p1), (v0, v1) = items
    path = encoded[p0:p1] if encoded[p0] < 0x80 else encoded[p0 + 1:p1]
    if not path:
        raise ValueError("a leaf or extension has a path")
    if path[0] & 0x20:  # a leaf
        if accounts:
            b = encoded[v0]
            account = rlp.decode(encoded[v0 + (1 if b < 0xB8 else 1 + b - 0xB7):v1])
            if len(account) != 4 or len(account[2]) != 32 or len(account[3]) != 32:
                raise ValueError("an account is [nonce, balance, storage root, code hash]")
            if account[2] != BLANK_ROOT:
                storage_roots.append(account[2])
            if account[3] != EMPTY_CODE_HASH:
                codes.add(account[3])
    elif v1 - v0 == 33 and encoded[v0] == 0xA0:
        stack.append(encoded[v0 + 1:v1])


def state_nodes(get, state_root: bytes) -> tuple[dict[bytes, bytes], set[bytes]]:
    """Every trie node a state root holds (the accounts trie and every account's storage trie), hash -> RLP as
    stored, and the hashes of the accounts' code. `get(hash)` reads a node and raises KeyError when it is
    missing. Each node is read once, however many tries share it."""
    nodes: dict[bytes, bytes] = {}
    codes: set[bytes] = set()
    storage_roots: list[bytes] = []
    for roots, accounts in (([state_root], True), (storage_roots, False)):
        stack = [r for r in roots if r != BLANK_ROOT]
        while stack:
            node_hash = stack.pop()
            if node_hash in nodes:
                continue
            encoded = get(node_hash)
            nodes[node_hash] = encoded
            _expand(encoded, accounts, stack, storage_roots, codes)
    return nodes, codes
