"""`view`: one node's audit view of a chain."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import CONTEXT, FULL_OPTION, JSON_OPTION, LANG_OPTION, RUN_DIR_ARG, echo_json, grid, table
from ledger.cli.readable import Names
from ledger.present import fmt
from ledger.present.i18n import N_, translator

_ = translator("cli")
MEMBERSHIP = {"MemberAdded": N_("admitted"), "RolesChanged": N_("roles set"), "StatusChanged": N_("status set")}
STATUS = {"active": N_("active"), "suspended": N_("suspended"), "revoked": N_("revoked"), "none": N_("not a member")}
WHERE = {"gateway": N_("gateway"), "contract": N_("contract")}
SHOWN = 20  # private records listed; --json has them all


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("node")
@click.option("--chain", help="The chain to look at (default: the run's only, or first, chain).")
@click.option("--as", "viewer", help="Whose keys open the private data (default: NODE itself; "
                                      "the regulator's node opens every node's).")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def view(run_dir: Path, node: str, chain: str | None, viewer: str | None, as_json: bool, full: bool) -> None:
    """NODE's audit view: what it submitted, what was refused and why, the membership changes
    that touched it, and the personal data it holds (sealed unless the viewer may open it)."""
    from ledger.audit.views import node_chain, node_view
    from ledger.chain.reader import LedgerReader
    from ledger.chain.run import ledger_path

    v = node_view(run_dir, chain or node_chain(run_dir, node), node, viewer)
    if as_json:
        echo_json(v)
        return
    path = ledger_path(run_dir, v["chain"])
    names = Names.read([path], full)  # the same ledger the view read
    with LedgerReader(path) as ledger:
        times = {b.number: b.timestamp for b in ledger.blocks()}
    when = (lambda block: fmt.date_time(times.get(block)))
    sub, data = v["submitted"], v["private_data"]
    click.echo(_("{node} on {chain} ({address}), seen as {viewer}").format(
        node=v["node"], chain=v["chain"], address=names.id(v["address"]), viewer=v["viewer"]))
    private = _("{n} ({opened} opened)").format(n=data["records"], opened=data["opened"])
    if data["missing"]:
        private += _(", {n} MISSING").format(n=len(data["missing"]))
    click.echo(table([(_("submitted"), sub["transactions"]), (_("committed"), sub["committed"]),
                      (_("refused"), len(v["refused"])), (_("membership changes"), len(v["membership"])),
                      (_("private records"), private)]))
    if sub["by_call"]:
        click.echo(_("submitted, by call"))
        click.echo(grid([(count, call) for call, count in sub["by_call"].items()], indent=4, right={0}))
    if v["refused"]:
        click.echo(_("refused"))
        rows = [(_("block"), _("time"), _("call"), _("refused by"), _("reason"))]
        rows += [(r["block"], when(r["block"]), r["call"], _(WHERE[r["where"]]) if r["where"] in WHERE else r["where"],
                  r["reason"]) for r in v["refused"]]
        click.echo(grid(rows, right={0}))
    if v["membership"]:
        click.echo(_("membership and roles"))
        rows = [(_("block"), _("time"), _("change"), _("roles or status"))]
        for m in v["membership"]:
            what = fmt.roles(m["roles"]) if "roles" in m else ""
            if "status" in m:
                what = _(STATUS[m["status"]]) if m["status"] in STATUS else m["status"]
            rows.append((m["block"], when(m["block"]), _(MEMBERSHIP.get(m["event"], m["event"])), what))
        click.echo(grid(rows, right={0}))
    if data["items"]:
        click.echo(_("private records (personal data, sealed on chain as a salted hash)"))
        rows = [(_("identity"), _("name"), _("hash on chain"))]
        for item in data["items"][:SHOWN]:
            if item["sealed"]:
                rows.append((names.identity(item["identity"]), _("sealed"), fmt.NONE))
            else:
                rows.append((names.identity(item["identity"]), item["personal"].get("name") or fmt.NONE,
                             _("matches") if item["matches_chain"] else _("DIFFERS")))
        click.echo(grid(rows))
        if len(data["items"]) > SHOWN:
            click.echo("  " + _("… {n} more (--json for all)").format(n=len(data["items"]) - SHOWN))
    for identity in data["missing"]:
        click.echo("  " + _("missing: {identity} registered on chain by {node}, no record in its private store").format(
            identity=names.identity(identity), node=v["node"]))
