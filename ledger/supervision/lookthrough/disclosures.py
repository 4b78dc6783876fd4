"""The disclosure market's anomalies: deadlines passed without a filing, late filings, filed
documents whose file no longer matches the hash on chain, and the calls the chain refused."""

from __future__ import annotations

from pathlib import Path

from eth_hash.auto import keccak

from ledger.errors import ConfigError
from ledger.supervision.lookthrough.events import Event, load_chains, text32, where
from ledger.supervision.lookthrough.index import company_label

DOC_KINDS = {0: "annual", 1: "semi-annual", 2: "ad hoc"}


def disclosure_anomalies(run_dir: Path) -> dict:
    """The disclosure market's anomalies, for the regulator: `missed_deadline` (a periodic deadline
    passed at the chain's head time with no filing; DisclosureOverdue events attached),
    `late_filing` (PeriodicReportFiled onTime=false), `tampered_document` (a filed version whose
    file's keccak differs from its hash on chain), `missing_document` (its file is gone), and any
    `overdue_flagged` (DisclosureOverdue) not matching the first two. Refused on chain: the
    reverted Disclosure calls."""
    run_dir = Path(run_dir)
    chains = load_chains(run_dir, ("Disclosure", "EquityMarket"))
    anomalies: list[dict] = []
    refused: list[dict] = []
    seen = False
    for chain in chains:
        events = [e for e in chain.events if e.contract == "Disclosure"]
        if not events:
            continue
        seen = True
        listed: dict[str, bool] = {}
        for e in chain.events:
            if e.contract == "EquityMarket" and e.name == "CompanyListed":
                listed[e.args["companyId"]] = True
            elif e.contract == "EquityMarket" and e.name == "CompanyDelisted":
                listed[e.args["companyId"]] = False
        due: dict[str, list[int]] = {}
        flagged: list[Event] = []
        versions: dict[tuple[str, str], list[Event]] = {}
        for e in events:
            a = e.args
            c = a.get("companyId")
            if e.name == "ScheduleSet":
                due[c] = [a["annualDue"], a["semiAnnualDue"]]
            elif e.name == "PeriodicReportFiled":
                due.setdefault(c, [0, 0])[a["kind"]] = a["nextDue"]
                if not a["onTime"]:
                    anomalies.append({
                        "kind": "late_filing", "chain": chain.name, "company": c, "code": company_label(c),
                        "document": text32(a["name"]), "document_kind": DOC_KINDS.get(a["kind"], a["kind"]),
                        "due": a["due"], "filed_at": e.time, "filed_block": e.block, "tx_hash": e.tx,
                        "late_by": e.time - a["due"],
                        "detail": f"{company_label(c)} filed {text32(a['name'])} {e.time - a['due']} s after its "
                                  f"deadline",
                        "expected": f"filed by {a['due']}", "found": f"filed at {e.time}", "overdue_events": []})
            elif e.name == "DisclosureOverdue":
                flagged.append(e)
            elif e.name == "DocumentUpdated":
                versions.setdefault((c, a["name"]), []).append(e)
            elif e.name == "DocumentRemoved":
                versions.setdefault((c, a["name"]), []).append(e)
        for c, dues in sorted(due.items()):
            if not listed.get(c, True):
                continue
            for k, d in enumerate(dues):
                if d and d < chain.head_time:
                    anomalies.append({
                        "kind": "missed_deadline", "chain": chain.name, "company": c, "code": company_label(c),
                        "document_kind": DOC_KINDS[k], "due": d, "head_time": chain.head_time,
                        "head_block": chain.head_block, "overdue_by": chain.head_time - d,
                        "detail": f"{company_label(c)}: {DOC_KINDS[k]} report due {d}, none filed by the head "
                                  f"(time {chain.head_time})",
                        "expected": f"a {DOC_KINDS[k]} report filed by {d}", "found": "no filing",
                        "overdue_events": []})
        for e in flagged:
            a = e.args
            kind = DOC_KINDS.get(a["kind"], a["kind"])
            match = [x for x in anomalies if x["kind"] in ("missed_deadline", "late_filing")
                     and x["chain"] == chain.name and x["company"] == a["companyId"] and x["document_kind"] == kind
                     and x["due"] == a["due"]]
            record = {"checked_at": a["checkedAt"], **where(e)}
            if match:
                match[0]["overdue_events"].append(record)
            else:
                anomalies.append({"kind": "overdue_flagged", "chain": chain.name, "company": a["companyId"],
                                  "code": company_label(a["companyId"]), "document_kind": kind, "due": a["due"],
                                  "detail": f"DisclosureOverdue for {company_label(a['companyId'])} ({kind}, due "
                                            f"{a['due']})", "expected": f"filed by {a['due']}",
                                  "found": "flagged overdue on chain", "overdue_events": [record]})
        for (c, name), evs in sorted(versions.items()):
            for e in evs:
                if e.name != "DocumentUpdated":
                    continue
                a = e.args
                latest = e is [x for x in evs if x.name == "DocumentUpdated"][-1]
                base = {"chain": chain.name, "company": c, "code": company_label(c), "document": text32(name),
                        "version": a["version"], "latest": latest, "uri": a["uri"], "filed_hash": a["newHash"],
                        "filed_block": e.block, "filed_at": e.time, "tx_hash": e.tx}
                path = (run_dir / a["uri"]).resolve()
                try:
                    content = path.read_bytes()
                except OSError:
                    anomalies.append({"kind": "missing_document", **base, "content_hash": None,
                                      "detail": f"{company_label(c)} {text32(name)} v{a['version']}: no file at "
                                                f"{a['uri']}", "expected": a["newHash"], "found": "no file"})
                    continue
                digest = "0x" + keccak(content).hex()
                if digest != a["newHash"]:
                    anomalies.append({"kind": "tampered_document", **base, "content_hash": digest,
                                      "detail": f"{company_label(c)} {text32(name)} v{a['version']}: the file's "
                                                f"keccak differs from the hash filed on chain",
                                      "expected": a["newHash"], "found": digest})
        for x in chain.reverts:
            if x.contract == "Disclosure":
                refused.append({"kind": "refused_disclosure_call", "error": x.error, "function": x.function,
                                "node": x.node, "sender": x.sender, **where(x), "args": x.args})
    if not seen:
        raise ConfigError(f"{run_dir} has no disclosure contract")
    return {"query": "disclosures", "anomalies": anomalies, "refused_on_chain": refused}
