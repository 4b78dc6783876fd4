"""Verifies a chain's stored ledger: every block hashes to its header and links to
its parent, the refusals chain into the digest each block records, and every
block carries seals from a quorum of the validators in force at its height (the
founders, then as the PermissionRegistry's events changed them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from eth_hash.auto import keccak

from .chain import LEDGER_FILE
from .consortium import GENESIS_REFUSALS_DIGEST
from .membership import Membership
from .sealer import check_seals, link_refusal
from .store import LedgerStore


@dataclass
class Verification:
    chain: str
    blocks: int = 0
    transactions: int = 0
    refusals: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"chain": self.chain, "verified": self.verified, "blocks": self.blocks,
                "transactions": self.transactions, "refusals": self.refusals, "problems": self.problems}


def verify_chain(chain_dir: Path) -> Verification:
    store = LedgerStore(chain_dir / LEDGER_FILE)
    try:
        return verify_store(store, chain_dir.name)
    finally:
        store.close()


def verify_store(store: LedgerStore, name: str) -> Verification:
    result = Verification(name)
    meta = store.meta()
    membership = Membership.from_genesis(meta)
    parent_hash = bytes.fromhex(str(meta["genesis_hash"])[2:])
    digest = GENESIS_REFUSALS_DIGEST
    expected_number = int(meta.get("genesis_number", 0)) + 1  # an rpc chain starts after the node's head
    for number, block_hash, stored_parent, _root, _ts, refusals_digest, header_rlp in store.blocks():
        where = f"block {number}"
        if number != expected_number:
            result.problems.append(f"{where}: expected block {expected_number} (a block is missing)")
            return result
        if keccak(header_rlp) != block_hash:
            result.problems.append(f"{where}: header does not hash to the stored block hash")
            return result
        if stored_parent != parent_hash:
            result.problems.append(f"{where}: parent hash does not match block {number - 1}")
            return result
        for seq, node, signer, contract, function, reason in store.query(
            "SELECT seq, node, signer, contract, function, reason FROM refusals WHERE block_number = ? ORDER BY seq",
            (number,),
        ):
            digest = link_refusal(digest, seq, node, signer, contract, function, reason)
            result.refusals += 1
        if digest != refusals_digest:
            result.problems.append(f"{where}: refusals do not chain into the digest the block records")
            return result
        problem = check_seals(block_hash, refusals_digest, store.seals(number), membership.validators())
        if problem:
            result.problems.append(f"{where}: {problem}")
            return result
        membership.apply(
            (contract, name, json.loads(args))
            for contract, name, args in store.query(
                "SELECT contract, name, args FROM events WHERE block_number = ? AND name IS NOT NULL "
                "ORDER BY log_index", (number,))
        )
        result.blocks += 1
        result.transactions += store.query("SELECT COUNT(*) FROM transactions WHERE block_number = ?", (number,))[0][0]
        parent_hash = block_hash
        expected_number += 1
    return result


def verify_run(run_dir: Path) -> list[Verification]:
    """Verifies every chain in a run directory."""
    return [verify_chain(path.parent) for path in sorted(run_dir.glob(f"*/{LEDGER_FILE}"))]
