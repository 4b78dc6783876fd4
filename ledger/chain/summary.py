"""Counts a chain's ledger for the run summary: blocks, committed and refused
transactions by reason (gateway refusals and contract reverts alike)."""

from __future__ import annotations

from ledger.chain.store import LedgerStore


def chain_summary(store: LedgerStore) -> dict:
    head = store.head()
    (blocks,) = store.query("SELECT COUNT(*) FROM blocks")[0]
    (committed,) = store.query("SELECT COUNT(*) FROM receipts WHERE status = 1")[0]
    reverted = dict(store.query(
        "SELECT error, COUNT(*) FROM receipts WHERE status = 0 GROUP BY error ORDER BY COUNT(*) DESC, error"
    ))
    refused = dict(store.query(
        "SELECT reason, COUNT(*) FROM refusals GROUP BY reason ORDER BY COUNT(*) DESC, reason"
    ))
    return {
        "blocks": blocks,
        "head_number": head[0] if head else None,
        "head_hash": "0x" + head[1].hex() if head else None,
        "transactions": committed + sum(reverted.values()),
        "committed": committed,
        "reverted": sum(reverted.values()),
        "gateway_refused": sum(refused.values()),
        "refused_by_reason": {**{f"gateway:{k}": v for k, v in refused.items()},
                              **{f"contract:{k}": v for k, v in reverted.items()}},
    }
