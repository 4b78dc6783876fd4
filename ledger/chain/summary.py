"""Counts a chain's ledger for the run summary: blocks, committed and refused
transactions by reason (gateway refusals and contract reverts alike)."""

from __future__ import annotations

from collections import Counter

from ledger.chain.reader import LedgerReader


def chain_summary(store: LedgerReader) -> dict:
    head = store.head()
    committed, reverted = 0, Counter()
    for tx in store.transactions():
        if tx.status:
            committed += 1
        else:
            reverted[tx.error] += 1
    refused = Counter(r.reason for r in store.refusals())
    return {
        "blocks": store.block_count(),
        "head_number": head[0] if head else None,
        "head_hash": "0x" + head[1].hex() if head else None,
        "transactions": committed + sum(reverted.values()),
        "committed": committed,
        "reverted": sum(reverted.values()),
        "gateway_refused": sum(refused.values()),
        "refused_by_reason": {**{f"gateway:{k}": v for k, v in _by_count(refused)},
                              **{f"contract:{k}": v for k, v in _by_count(reverted)}},
    }


def _by_count(counts: Counter) -> list[tuple]:
    """Most frequent first, then by name (None, a revert with no decoded reason, first of its count)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0] is not None, item[0] or ""))
