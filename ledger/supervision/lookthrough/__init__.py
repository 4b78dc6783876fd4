"""Penetrating supervision (穿透式监管): an audit index built from a run's decoded events, and the
look-through queries on it (ultimate beneficial owners, look-through holder counts against the caps),
and the market queries (an identity's exposure: exposure.py; a receipt's custody and the receipt
market's anomalies: receipts.py; the disclosure market's anomalies: disclosures.py).

The index is never the source of truth: it is rebuilt from the ledgers whenever it is missing or
older than them, and may be deleted at any time."""

from ledger.supervision.lookthrough.index import INDEX_FILE, AuditIndex, build_index, open_index
from ledger.supervision.lookthrough.disclosures import disclosure_anomalies
from ledger.supervision.lookthrough.exposure import exposure
from ledger.supervision.lookthrough.receipts import receipt, receipt_anomalies
from ledger.supervision.lookthrough.queries import holders, resolve_entity, ubo

__all__ = ["INDEX_FILE", "AuditIndex", "build_index", "open_index", "holders", "resolve_entity", "ubo",
           "exposure", "receipt", "receipt_anomalies", "disclosure_anomalies"]
