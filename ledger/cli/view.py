"""`view`: one node's audit view of a chain."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import CONTEXT, JSON_OPTION, RUN_DIR_ARG, echo_json, table


@click.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("node")
@click.option("--chain", help="The chain to look at (default: the run's only, or first, chain).")
@click.option("--as", "viewer", help="Whose keys open the private data (default: NODE itself; "
                                      "the regulator's node opens every node's).")
@JSON_OPTION
def view(run_dir: Path, node: str, chain: str | None, viewer: str | None, as_json: bool) -> None:
    """NODE's audit view: what it submitted, what was refused and why, the membership changes
    that touched it, and the personal data it holds (sealed unless the viewer may open it)."""
    from ledger.audit.views import node_view
    from ledger.chain.run import run_chains

    v = node_view(run_dir, chain or run_chains(run_dir)[0], node, viewer)
    if as_json:
        echo_json(v)
        return
    sub, data = v["submitted"], v["private_data"]
    click.echo(f"{v['node']} on {v['chain']} ({v['address']}), seen as {v['viewer']}")
    click.echo(table([("submitted", sub["transactions"]), ("committed", sub["committed"]),
                      ("refused", len(v["refused"])), ("membership changes", len(v["membership"])),
                      ("private records", f"{data['records']} ({data['opened']} opened)"
                       + (f", {len(data['missing'])} MISSING" if data["missing"] else ""))]))
    for call, count in sub["by_call"].items():
        click.echo(f"    {count:6d}  {call}")
    for r in v["refused"]:
        click.echo(f"  refused  block {r['block']}  {r['call']}  {r['where']}:{r['reason']}")
    for m in v["membership"]:
        click.echo(f"  member   block {m['block']}  {m['event']}  {m.get('status', '')}{' '.join(m.get('roles', []))}")
    for item in data["items"][:20]:
        shown = "sealed" if item["sealed"] else (
            f"{item['personal'].get('name', '')}  hash on chain {'matches' if item['matches_chain'] else 'DIFFERS'}")
        click.echo(f"  private  {item['identity'][:18]}…  {shown}")
    for identity in data["missing"]:
        click.echo(f"  missing  {identity}  registered on chain by {v['node']}, no record in its private store")
