"""The supervision rule catalogue: every rule the regulator checks, each with its id, the regulation it
enforces, its parameters (named thresholds with the design's defaults), the evidence it reports and one
incremental check (ledger.supervision.catalogue.base).

    findings(run_dir)      every finding on a run: each chain's sealed history replayed from the audit
                           index through every rule, then the rules that need the regulator's sealed data
                           or the files beside the ledger
    evaluate(index)        the same over an audit index alone (bench/lookthrough.py's synthetic market)
    Evaluation(world)      the rules fed one event at a time, closed block by block (the risk monitor)
    score(run_dir)         findings against the run's ground truth (precision and recall)

Rules by market: investors.py (funds and regional equity), receipts.py, disclosure.py (and anchors);
text.py shows a finding in the reader's language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping

from ledger.errors import ConfigError
from ledger.supervision.catalogue.base import RULES_BY_ID, Check, Finding, Param, Rule, subject_key
from ledger.supervision.catalogue.disclosure import RULES as DISCLOSURE_RULES
from ledger.supervision.catalogue.investors import RULES as INVESTOR_RULES
from ledger.supervision.catalogue.receipts import RULES as RECEIPT_RULES
from ledger.supervision.replay import Event, Sealed, World
from ledger.tooling.files import loads

CATALOGUE: tuple[Rule, ...] = INVESTOR_RULES + RECEIPT_RULES + DISCLOSURE_RULES

__all__ = ["CATALOGUE", "RULES_BY_ID", "Check", "Evaluation", "Finding", "Param", "Rule", "evaluate", "findings",
           "resolve_params", "score", "select", "subject_key"]


def resolve_params(overrides: Mapping[str, int | float] | None = None) -> dict[str, dict[str, int | float]]:
    """Every rule's parameters: the defaults, with `overrides` ("rule.param" -> value) applied; an unknown
    name is a ConfigError."""
    params = {rule.id: rule.defaults() for rule in CATALOGUE}
    for name, value in (overrides or {}).items():
        rule, _, param = name.partition(".")
        if param not in params.get(rule, {}):
            known = ", ".join(f"{r.id}.{p.name}" for r in CATALOGUE for p in r.params)
            raise ConfigError(f"unknown rule parameter {name!r}; known: {known}")
        params[rule][param] = value
    return params


def select(ids: Iterable[str] | None) -> tuple[Rule, ...]:
    """The rules with these ids (all of them for None); an unknown id is a ConfigError."""
    if ids is None:
        return CATALOGUE
    ids = list(ids)
    unknown = [i for i in ids if i not in RULES_BY_ID]
    if unknown:
        raise ConfigError(f"unknown rule {unknown[0]!r}; known: {', '.join(r.id for r in CATALOGUE)}")
    return tuple(RULES_BY_ID[i] for i in ids)


class Evaluation:
    """Every rule of the catalogue on one chain, fed its history in order."""

    def __init__(self, world: World, params: Mapping[str, Mapping[str, int | float]] | None = None,
                 rules: Iterable[Rule] = CATALOGUE) -> None:
        params = params or resolve_params()
        self.world = world
        self.checks: list[Check] = [rule.check(world, dict(params[rule.id])) for rule in rules]
        self._block: tuple[int, int] | None = None

    def feed(self, e: Event) -> None:
        """One event, in order; a new block first closes the one before."""
        if self._block is not None and e.block != self._block[0]:
            self.end_block(*self._block)
        self._block = (e.block, e.time)
        self.world.apply(e)
        for check in self.checks:
            check.on_event(e)

    def end_block(self, block: int, time: int) -> list[Finding]:
        """Closes block `block`: the world's look-through is brought up to date and every rule looks at it.
        Returns the findings opened since the last call (what the monitor alerts on)."""
        self._block = None
        self.world.end_block(block, time)
        for check in self.checks:
            check.on_block(block, time)
        return self.take_opened()

    def take_opened(self) -> list[Finding]:
        opened = [f for check in self.checks for f in check.opened]
        for check in self.checks:
            check.opened = []
        return opened

    def finish(self, head: tuple[int, int]) -> list[Finding]:
        """The history is over at `head` (block, time): the rules that look at the whole of it run, and every
        finding is returned, in block order."""
        if self._block is not None:
            self.end_block(*self._block)
        self.world.block, self.world.time = head
        for check in self.checks:
            check.finish()
        return sorted((f for check in self.checks for f in check.findings.values()),
                      key=lambda f: (f.first_block, f.rule, json.dumps(f.subject, sort_keys=True)))


def findings(run_dir: Path, params: Mapping[str, Mapping[str, int | float]] | None = None,
             rules: Iterable[str] | None = None) -> list[Finding]:
    """Every finding on the run in `run_dir` (of `rules`, by id, or of the whole catalogue), chain by chain,
    from its sealed ledgers (verified first) and what the regulator opens of the private stores; never from
    ground_truth.json."""
    from ledger.supervision.lookthrough.index import open_index

    opened: dict[str, Sealed] = {}  # what the index's build opened of the sealed stores, opened once
    with open_index(Path(run_dir), anchored=False, sealed=opened) as index:  # the anchors are a rule here
        return evaluate(index, params, rules, Path(run_dir), opened)


def evaluate(index, params: Mapping[str, Mapping[str, int | float]] | None = None, rules: Iterable[str] | None = None,
             run_dir: Path | None = None, opened: Mapping[str, Sealed] | None = None) -> list[Finding]:
    """The catalogue over an audit index (ledger.supervision.lookthrough.index.AuditIndex): each chain's history
    through every rule. With `run_dir`, the run the index was built from, the rules also open the regulator's
    sealed data (`opened`, by chain, if already opened) and check the files beside each ledger."""
    from ledger.chain.run import ledger_path
    from ledger.supervision.replay import open_sealed

    out: list[Finding] = []
    for chain, head_block, head_time in index.chains():
        ledger = ledger_path(run_dir, chain) if run_dir else None
        if ledger is None:
            sealed = Sealed(nominees=index.nominees())
        else:
            sealed = (opened or {}).get(chain) or open_sealed(ledger.parent)
        evaluation = Evaluation(World(chain, sealed, ledger=ledger, run_dir=run_dir), params, select(rules))
        for e in index.events(chain):
            evaluation.feed(e)
        out += evaluation.finish((head_block, head_time))
    return out


# ------------------------------------------------------------------------- score

def _subject(rule: str) -> tuple[str, ...]:
    known = RULES_BY_ID.get(rule)
    return known.subject if known else ()


def score(run_dir: Path, found: list[Finding] | None = None) -> dict:
    """The findings against ground_truth.json's regulator plants: one finding per plant, matched on rule and
    subject; precision and recall."""
    run_dir = Path(run_dir)
    found = findings(run_dir) if found is None else found
    truth = loads((run_dir / "ground_truth.json").read_text(encoding="utf-8"))
    plants = [p for p in truth if p.get("detect") == "regulator"]
    unmatched = {i: subject_key(p["kind"], {k: p["subject"].get(k) for k in _subject(p["kind"])})
                 for i, p in enumerate(plants)}
    matched, unexpected = [], []
    for f in found:
        key = f.key()
        hit = next((i for i, k in unmatched.items() if k == key), None)
        if hit is None:
            unexpected.append({"rule": f.rule, "subject": f.subject, "what": f.what})
        else:
            del unmatched[hit]
            matched.append({"rule": f.rule, "plant": plants[hit]["id"], "subject": f.subject})
    missed = [{"rule": plants[i]["kind"], "plant": plants[i]["id"], "subject": plants[i]["subject"]}
              for i in unmatched]
    tp, fp, fn = len(matched), len(unexpected), len(missed)
    return {"plants": len(plants), "findings": len(found), "true_positives": tp, "false_positives": fp,
            "false_negatives": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0, "matched": matched, "unexpected": unexpected,
            "missed": missed}
