"""The disclosure market's anomalies: the findings of the catalogue's disclosure rules (reports never
filed, filed late, filed documents whose file no longer matches the chain), and the calls the chain
refused."""

from __future__ import annotations

from pathlib import Path

from ledger.errors import ConfigError
from ledger.supervision.catalogue import findings
from ledger.supervision.lookthrough.events import load_chains, where

DISCLOSURE_RULES = ("missed_disclosure", "late_disclosure", "document_mismatch")


def disclosure_anomalies(run_dir: Path) -> dict:
    """For the regulator (`anomalies`): the findings of DISCLOSURE_RULES (ledger.supervision.catalogue.
    disclosure), each as Finding.to_json(). Refused on chain: the reverted Disclosure calls."""
    run_dir = Path(run_dir)
    chains = [c for c in load_chains(run_dir, ("Disclosure",)) if c.events or any(
        r.contract == "Disclosure" for r in c.reverts)]
    if not chains:
        raise ConfigError(f"{run_dir} has no disclosure contract")
    refused = [{"kind": "refused_disclosure_call", "error": x.error, "function": x.function, "node": x.node,
                "sender": x.sender, **where(x), "args": x.args}
               for chain in chains for x in chain.reverts if x.contract == "Disclosure"]
    return {"query": "disclosures", "anomalies": [f.to_json() for f in findings(run_dir, rules=DISCLOSURE_RULES)],
            "refused_on_chain": refused}
