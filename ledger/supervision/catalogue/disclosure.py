"""Disclosure rules of the regional equity market, and the anchors of a business chain on the regulatory
chain: reports never filed, reports filed late, filed documents whose file no longer matches what the
chain recorded, and anchors the business chain stops matching."""

from __future__ import annotations

from pathlib import Path

from eth_hash.auto import keccak

from ledger.supervision.catalogue.base import RULES_BY_ID, Check, Event, Param, Rule, evidence, register
from ledger.supervision.catalogue.investors import REGIONAL_EQUITY
from ledger.supervision.rules import text32

DOC_KINDS = {0: "annual", 1: "semi-annual", 2: "ad hoc"}
DOCUMENTS = "documents"  # RUN/<chain>/documents/: where a chain's filed documents live


class MissedDisclosureCheck(Check):
    """A periodic report's deadline passed with nothing filed for it: by the head, or before a new schedule
    replaced the deadline or the company was delisted (a deadline missed stays missed)."""

    def __init__(self, world, params) -> None:
        super().__init__(world, params)
        self.due: dict[str, list[int]] = {}  # company -> [annual due, semi-annual due], for a listed company
        self.scheduled: dict[str, Event] = {}

    def on_event(self, e: Event) -> None:
        a = e.args
        if e.contract == "Disclosure" and e.name == "ScheduleSet":
            company = a["companyId"].lower()
            self._passed(company, e.time, e.block)
            self.due[company] = [a["annualDue"], a["semiAnnualDue"]]
            self.scheduled[company] = e
        elif e.contract == "Disclosure" and e.name == "PeriodicReportFiled":
            self.due.setdefault(a["companyId"].lower(), [0, 0])[a["kind"]] = a["nextDue"]
        elif e.contract == "EquityMarket" and e.name == "CompanyDelisted":
            company = a["companyId"].lower()
            self._passed(company, e.time, e.block)
            self.due.pop(company, None)  # no deadline runs after a delisting
        elif e.contract == "Disclosure" and e.name == "DisclosureOverdue":
            company = a["companyId"].lower()
            self.warn({"company": company, "document_kind": DOC_KINDS.get(a["kind"]), "due": a["due"]},
                      "the chain flags {code}'s {kind} report due {due} as overdue",
                      {"code": text32(company), "kind": DOC_KINDS.get(a["kind"]), "due": a["due"]})

    def finish(self) -> None:
        for company in sorted(self.due):
            self._passed(company, self.world.time, self.world.block)

    def _passed(self, company: str, time: int, block: int) -> None:
        """Reports every deadline of `company` that passed before `time` with nothing filed."""
        for kind, due in enumerate(self.due.get(company, ())):
            if due and due < time:
                subject = {"company": company, "document_kind": DOC_KINDS[kind], "due": due}
                self.report(subject, "{company} filed no {kind} report due {due} by block {head}",
                            {"company": company, "code": text32(company), "kind": DOC_KINDS[kind], "due": due,
                             "head": block}, (block, time), [{"id": company, "name": text32(company), "kind": "company"}],
                            [evidence(self.scheduled[company], "ScheduleSet")] if company in self.scheduled else [])


class LateDisclosureCheck(Check):
    """A periodic report filed after its deadline (the chain records it as not on time)."""

    def on_event(self, e: Event) -> None:
        if e.contract == "Disclosure" and e.name == "PeriodicReportFiled" and not e.args["onTime"]:
            a = e.args
            company = a["companyId"].lower()
            self.report({"company": company, "document": text32(a["name"])},
                        "{company} filed {document} ({kind}) {late} after its deadline {due}",
                        {"company": company, "code": text32(company), "document": text32(a["name"]),
                         "kind": DOC_KINDS.get(a["kind"], a["kind"]), "due": a["due"], "late": e.time - a["due"]},
                        e, [{"id": company, "name": text32(company), "kind": "company"}],
                        [evidence(e, "PeriodicReportFiled")])


class DocumentMismatchCheck(Check):
    """A filed document version whose file is gone, differs from the hash on chain, or is named outside the
    chain's documents folder (a path the regulator's tool never follows)."""

    def __init__(self, world, params) -> None:
        super().__init__(world, params)
        self.filed: list[Event] = []

    def on_event(self, e: Event) -> None:
        if e.contract == "Disclosure" and e.name == "DocumentUpdated":
            self.filed.append(e)

    def finish(self) -> None:
        chain_dir = self.world.chain_dir
        if chain_dir is None:
            return
        folder = (chain_dir / DOCUMENTS).resolve()
        for e in self.filed:
            a = e.args
            company = a["companyId"].lower()
            problem, found = self._problem(chain_dir.parent, folder, a["uri"], a["newHash"].lower())
            if problem is None:
                continue
            self.report({"company": company, "document": text32(a["name"]), "version": a["version"]},
                        "{company} {document} version {version}: {problem}",
                        {"company": company, "code": text32(company), "document": text32(a["name"]),
                         "version": a["version"], "problem": problem, "uri": a["uri"], "filed_hash": a["newHash"],
                         "content_hash": found}, e, [{"id": company, "name": text32(company), "kind": "company"}],
                        [evidence(e, "DocumentUpdated"), {"type": "document", "chain": e.chain, "path": a["uri"],
                                                          "what": problem}])

    def _problem(self, root: Path, folder: Path, uri: str, filed_hash: str) -> tuple[str | None, str | None]:
        try:
            path = (root / uri).resolve()
        except (ValueError, OSError):  # a NUL byte, a loop of links
            return "the file name is not a valid path (not read)", None
        if not path.is_relative_to(folder):
            return "the file is named outside the documents folder (not read)", None
        if not path.exists():
            return "the file is missing", None
        if not path.is_file():  # a folder, a pipe, a device: never opened
            return "the name is not a regular file (not read)", None
        if path.stat().st_size > self.params["max_document_bytes"]:
            return "the file is larger than a filed document may be (not read)", None
        try:
            digest = "0x" + keccak(path.read_bytes()).hex()
        except OSError:
            return "the file cannot be read", None
        if digest != filed_hash:
            return "the file differs from the hash filed on chain", digest
        return None, None


class AnchorMismatchCheck(Check):
    """A business chain's blocks that no longer match their anchors on the regulatory chain: its history was
    rewritten after it was anchored, seals and all."""

    def finish(self) -> None:
        from ledger.audit.verify import anchor_problems

        world = self.world
        if world.run_dir is None:
            return
        for block, problem in anchor_problems(world.run_dir, world.chain):
            self.report({"chain": world.chain, "block": block}, "{chain}: {problem}",
                        {"chain": world.chain, "problem": problem}, (block, 0), [],
                        [{"type": "block", "chain": world.chain, "block": block, "what": problem}])


register(Rule("missed_disclosure", "disclosure", "A periodic report never filed", REGIONAL_EQUITY, None, (),
              "the company's disclosure schedule and the head the deadline passed before", MissedDisclosureCheck, ("company", "document_kind", "due")))
register(Rule("late_disclosure", "disclosure", "A periodic report filed late", REGIONAL_EQUITY, None, (),
              "the filing transaction, its deadline and how late it came", LateDisclosureCheck, ("company", "document")))
register(Rule("document_mismatch", "disclosure", "A filed document that no longer matches the chain",
              REGIONAL_EQUITY, None,
              (Param("max_document_bytes", 64 * 1024 * 1024, "bytes", "the largest file read as a filed document"),),
              "the filing transaction, the file's path, the hash on chain and the file's",
              DocumentMismatchCheck, ("company", "document", "version")))
register(Rule("anchor_mismatch", "anchors", "A business chain that no longer matches its anchors",
              "the pilot's regulatory-chain anchoring: block hash, state root and event digest anchored at every "
              "interval", None, (), "the first anchored block that differs, and how", AnchorMismatchCheck, ("chain", "block")))


RULES: tuple[Rule, ...] = tuple(r for r in RULES_BY_ID.values() if r.check.__module__ == __name__)
