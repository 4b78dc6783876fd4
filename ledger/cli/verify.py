"""`verify` and `audit`: a run's ledgers checked, and re-executed from genesis."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from ledger.cli.common import CONTEXT, JSON_OPTION, LANG_OPTION, PIN_OPTION, RUN_DIR_ARG, Progress, echo_json
from ledger.errors import ConfigError
from ledger.present.i18n import plural_translator, translator

_ = translator("cli")
P_ = plural_translator("cli")
REEXECUTED = "re-executed from genesis on stock py-evm"  # ledger.audit.reexecute.ChainAudit.replayed
REEXECUTED_ON_REVM = "re-executed from genesis on revm (Anvil)"
REEXECUTED_ON_PYEVM = "re-executed from genesis on py-evm"
LAGS = re.compile(r"^(?P<where>.+) lags: it ends at block (?P<held>\d+) of (?P<head>\d+)$")
NO_COPY = re.compile(r"^no copy held by (?P<nodes>.+), by the run's choice \(--node-copies (?P<choice>\S+)\)$")


def _state(verified: bool) -> str:
    return _("verified") if verified else _("NOT verified")


def _counts(blocks: int, transactions: int) -> str:
    return (P_("{n} block", "{n} blocks", blocks).format(n=blocks) + _(", ")
            + P_("{n} transaction", "{n} transactions", transactions).format(n=transactions))


def _replayed(text: str) -> str:
    if text == REEXECUTED:
        return _("re-executed from genesis on stock py-evm")
    if text == REEXECUTED_ON_REVM:
        return _("re-executed from genesis on revm (Anvil)")
    if text == REEXECUTED_ON_PYEVM:
        return _("re-executed from genesis on py-evm")
    if text.startswith("re-read from the node at "):
        return _("re-read from the node at {url}").format(url=text.removeprefix("re-read from the node at "))
    return text


def _note(line: str) -> str:
    """A note of the checks (a member's copy lagging) in the reader's language; a problem stays as the
    checks word it, beside the translated first bad block."""
    lag = LAGS.match(line)
    if lag:
        where = lag["where"]
        if where.endswith("'s copy"):
            where = _("{node}'s copy").format(node=where.removesuffix("'s copy"))
        return _("{where} lags: it ends at block {held} of {head}").format(
            where=where, held=lag["held"], head=lag["head"])
    none = NO_COPY.match(line)
    if none:
        return _("no copy held by {nodes}, by the run's choice (--node-copies {choice})").format(
            nodes=none["nodes"], choice=none["choice"])
    return line


def _echo_lines(result) -> None:
    for line in result.problems:
        click.echo(f"  {line}")
    if not result.verified and result.first_bad_block is not None:
        click.echo("  " + _("first bad block: {n}").format(n=result.first_bad_block))
    for line in result.notes:
        click.echo(f"  {_note(line)}")


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@PIN_OPTION
@JSON_OPTION
@LANG_OPTION
def verify(run_dir: Path, pins: Path | None, as_json: bool) -> None:
    """Verify every chain in RUN_DIR and every member's copy: headers, transaction and receipt roots,
    refusal digests, validator seals over every stored row, certificates."""
    from ledger.audit.verify import verify_run

    pinned = pins is not None and pins.exists()
    results = verify_run(run_dir, pins)
    verified = all(r.verified for r in results)
    if as_json:
        echo_json({"verified": verified, "chains": [r.to_json() for r in results]})
    else:
        for r in results:
            click.echo(_("{chain}: {state}, {counts}, {refusals}").format(
                chain=r.chain, state=_state(r.verified), counts=_counts(r.blocks, r.transactions),
                refusals=P_("{n} refusal", "{n} refusals", r.refusals).format(n=r.refusals)))
            _echo_lines(r)
    _say_pinned(pins, pinned)
    if not verified:
        sys.exit(1)


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--node", help="Audit this node's own copies (RUN_DIR/<chain>/nodes/NODE/) instead of the chains'.")
@click.option("--reexecute-on", "on", type=click.Choice(("pyevm", "anvil")),
              help="The EVM that re-executes the blocks (default: the other one than the chain's: revm through "
                   "Anvil for a py-evm chain, where Anvil is installed; stock py-evm for an Anvil chain).")
@PIN_OPTION
@JSON_OPTION
@LANG_OPTION
def audit(run_dir: Path, node: str | None, on: str | None, pins: Path | None, as_json: bool) -> None:
    """Audit a run's ledgers: verify, re-execute every block from genesis on another EVM, check signatures,
    permissions at each height and the anchors on the regulatory chain."""
    from ledger.audit.reexecute import audit_run, ledger_copies

    copies = ledger_copies(run_dir, node)
    if not copies:
        raise ConfigError(_no_copy(run_dir, node))
    pinned = pins is not None and pins.exists()
    if as_json:
        audits = audit_run(run_dir, node, pins=pins, on=on)
    else:
        with Progress(_("re-executing"), sum(blocks for _c, _n, blocks in copies)) as bar:
            audits = audit_run(run_dir, node, progress=bar.advance, pins=pins, on=on)
    verified = all(a.verified for a in audits)
    if as_json:
        echo_json({
            "verified": verified, "node": node,
            "blocks": sum(a.blocks for a in audits), "transactions": sum(a.transactions for a in audits),
            "problems": [f"{a.chain}: {p}" for a in audits for p in a.problems],
            "chains": [a.to_json() for a in audits],
        })
    else:
        for a in audits:
            anchors = (_(", ") + P_("{n} anchor matched", "{n} anchors matched", a.anchors_checked).format(
                n=a.anchors_checked)) if a.anchors_checked and a.verified else ""
            whose = _("{chain} ({node}'s copy)").format(chain=a.chain, node=a.node) if a.node else a.chain
            click.echo(_("{chain}: {state}, {counts} ({replayed}){anchors}").format(
                chain=whose, state=_state(a.verified), counts=_counts(a.blocks, a.transactions),
                replayed=_replayed(a.replayed), anchors=anchors))
            _echo_lines(a)
    _say_pinned(pins, pinned)
    if not verified:
        sys.exit(1)


def _no_copy(run_dir: Path, node: str | None) -> str:
    """Why `audit` finds nothing to audit: no ledger at all, or no copy of NODE's (by the run's choice, or lost)."""
    from ledger.audit.verify import NODES_DIR
    from ledger.chain.run import chain_names, holds_copy, node_copies_of, shown_choice

    if node is None:
        return f"{run_dir} holds no ledger"
    choice = node_copies_of(run_dir)
    if choice is not None and any((run_dir / chain / NODES_DIR / node).is_dir() for chain in chain_names(run_dir)):
        if not holds_copy(choice, node):
            return (f"{node} holds no copy of the ledger in {run_dir}: the run was made with --node-copies "
                    f"{shown_choice(choice)}; audit the chains themselves with `audit {run_dir}`")
        return (f"{node}'s copy of the ledger is missing from {run_dir}, though the run gives {node} one "
                f"(--node-copies {shown_choice(choice)})")
    return f"{run_dir} holds no ledger copy of node {node}"


def _say_pinned(pins: Path | None, existed: bool) -> None:
    if pins is not None and not existed and pins.exists():
        click.echo(_("pinned every chain's genesis in {pins}: keep it outside the run, and give it with --pin "
                     "(or PILOTLEDGER_PINS) from now on").format(pins=pins), err=True)
