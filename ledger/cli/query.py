"""`query`: penetrating-supervision (look-through) queries on a run, from its audit index."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import CONTEXT, JSON_OPTION, RUN_DIR_ARG, echo_json, table


@click.group(context_settings=CONTEXT)
def query() -> None:
    """Penetrating-supervision (look-through) queries on a run, from its audit index
    (RUN_DIR/index.sqlite, built from the ledgers' events when missing or older than them).

    \b
    ENTITY is one of:
      fund:N               fund N on the fund platform (e.g. fund:3)
      company:CODE         a company by its code (e.g. company:BJEE-880001; a bare CODE works too)
      company:0x<64 hex>   a company by its id
      identity:0x<64 hex>  an identity, e.g. a vehicle (ubo only)
      0x<64 hex>           a company id if one matches, else an identity
    """


def _short(identity: str) -> str:
    return f"{identity[:12]}…"


@query.command("ubo", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("entity")
@click.option("--limit", type=int, default=50, show_default=True, help="Owners shown in the table (0: all).")
@JSON_OPTION
def query_ubo(run_dir: Path, entity: str, limit: int, as_json: bool) -> None:
    """Ultimate beneficial owners of ENTITY (a fund, a company or a vehicle) through any depth of
    nesting: effective percentages (products along each path, summed over paths), the paths, and
    cycles (reported, not followed)."""
    from ledger.supervision.lookthrough import open_index, ubo

    with open_index(run_dir) as index:
        u = ubo(index, entity)
    if as_json:
        echo_json(u)
        return
    click.echo(f"ultimate beneficial owners of {u['label']} ({u['entity']})")
    click.echo(table([("owners", u["owner_count"]), ("total", f"{u['total_pct']:.4f}%"),
                      ("unattributed", f"{u['unattributed_pct']:.4f}% (declared bps short of 10,000)"),
                      ("deepest path", f"{u['max_depth']} levels"), ("cycles", len(u["cycles"]))]))
    shown = u["owners"] if limit <= 0 else u["owners"][:limit]
    for o in shown:
        flag = "  (vehicle that declared no investors)" if o["undeclared_vehicle"] else ""
        via = " > ".join(_short(v) for v in o["paths"][0]["via"]) if o["paths"] else ""
        paths = f"  via {via}" if via else "  direct"
        more = f" (+{o['path_count'] - 1} more paths)" if o["path_count"] > 1 else ""
        click.echo(f"  {o['effective_pct']:10.4f}%  {_short(o['identity'])}  {o['kind_name']}{flag}{paths}{more}")
    if len(shown) < len(u["owners"]):
        click.echo(f"  … {len(u['owners']) - len(shown)} more (--limit 0 or --json for all)")
    for c in u["cycles"]:
        click.echo(f"  CYCLE  {' > '.join(_short(v) for v in c['cycle'])}  ({c['pct_at_cycle']:.4f}% not followed)")


@query.command("holders", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("entity")
@click.option("--limit", type=int, default=50, show_default=True, help="Counted investors shown (0: all).")
@JSON_OPTION
def query_holders(run_dir: Path, entity: str, limit: int, as_json: bool) -> None:
    """Look-through investor count of ENTITY (a fund or a company) against its legal cap: who is
    counted and why (direct holder, or looked through vehicle X), and every breach."""
    from ledger.supervision.lookthrough import holders, open_index

    with open_index(run_dir) as index:
        h = holders(index, entity)
    if as_json:
        echo_json(h)
        return
    state = f"BREACH (+{h['breaches'][0]['excess']})" if h["breach"] else "within the cap"
    click.echo(f"look-through holders of {h['label']} ({h['entity']})")
    click.echo(table([("counted", f"{h['count']} / cap {h['cap']}: {state}"),
                      ("direct holders", h["direct_holders"]),
                      ("on chain", f"{h['holders_on_chain']} (contract rule, recomputed: "
                                   f"{h['units_by_contract_rule']})"),
                      ("counted twice or more", len(h["overlaps"])), ("cycles", len(h["cycles"]))]))
    shown = h["counted"] if limit <= 0 else h["counted"][:limit]
    for c in shown:
        r = c["reasons"][0]
        why = "looked through " + " > ".join(_short(v) for v in r["via"]) if r["via"] else r["reason"]
        more = f" (+{c['routes'] - 1} more routes)" if c["routes"] > 1 else ""
        click.echo(f"  {_short(c['identity'])}  {c['kind_name']:22s}  {why}{more}")
    if len(shown) < len(h["counted"]):
        click.echo(f"  … {len(h['counted']) - len(shown)} more (--limit 0 or --json for all)")


@query.command("exposure", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("person")
@JSON_OPTION
def query_exposure(run_dir: Path, person: str, as_json: bool) -> None:
    """One identity's exposure across every chain of the run: holdings in funds and companies,
    direct and through vehicles (effective amounts and percentages), warehouse receipts held,
    pledges given or taken, and consortium roles. PERSON is an identity id (0x + 64 hex) or an
    account address (0x + 40 hex)."""
    from ledger.supervision.lookthrough import exposure, open_index

    with open_index(run_dir) as index:
        x = exposure(index, run_dir, person)
    if as_json:
        echo_json(x)
        return
    click.echo(f"exposure of {x['person']} ({x['kind_name']})")
    click.echo(table([("identities", ", ".join(x["identities"]) or "-"),
                      ("accounts", ", ".join(x["accounts"]) or "-"),
                      ("holdings", len(x["holdings"])), ("receipts held", len(x["receipts_held"])),
                      ("pledges", len(x["pledges"])), ("member roles", len(x["roles"]))]))
    for h in x["holdings"]:
        click.echo(f"  {h['effective_pct']:10.4f}%  {h['label']:14s}  {h['effective_amount']:,.0f} effective "
                   f"({h['routes']} route{'s' if h['routes'] > 1 else ''})")
    for r in x["routes"]:
        if r["via"]:
            click.echo(f"      {r['label']}: via {' > '.join(_short(v) for v in r['via'])}  "
                       f"{r['effective_pct']:.4f}%")
    for r in x["receipts_held"]:
        pledged = f"  pledged to {r['pledged_to']}" if r["pledged_to"] else ""
        click.echo(f"  receipt {r['id']:>5}  {r['warehouse_org'] or r['warehouse']}  {r['commodity']} "
                   f"{r['quantity']} {r['unit']}{pledged}")
    for p in x["pledges"]:
        lender = p["lender_org"] or p["lender"]
        click.echo(f"  pledge   {p['receipt']:>5}  as {p['role']}  {p['amount']:,} to {lender}  "
                   f"{p['status']} (block {p['pledged']['block']})")
    for m in x["roles"]:
        click.echo(f"  member   {m['chain']}: {m.get('org', '?')} {'|'.join(m['roles'])} ({m.get('status', '?')})")


@query.command("receipt", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("receipt_id", metavar="RECEIPT")
@JSON_OPTION
def query_receipt(run_dir: Path, receipt_id: str, as_json: bool) -> None:
    """A warehouse receipt's chain of custody (RECEIPT is its id number): issue, registration, each
    transfer and delivery with block and time, split and merge lineage, cancellation or expiry,
    and its pledges (lender, amount, term, release / enforcement / lapse)."""
    from ledger.supervision.lookthrough import receipt

    r = receipt(run_dir, receipt_id)
    if as_json:
        echo_json(r)
        return
    click.echo(f"receipt {r['receipt']} on {r['chain']}: {r['state']}")
    lineage = (f"split from {r['parent']}" if r["parent"] else f"merged from {r['sources']}" if r["sources"]
               else "issued")
    click.echo(table([("warehouse", r["warehouse_org"] or r["warehouse"]),
                      ("goods", f"{r['commodity']} {r['grade']} {r['quantity']} {r['unit']} at {r['location']}"),
                      ("inspection cert", r["inspection_cert"]), ("expiry", r["expiry"]),
                      ("holder", f"{r['holder']} {r['holder_org'] or ''}".rstrip()),
                      ("lineage", lineage + (f"; split into {r['children']}" if r["children"] else "")
                       + (f"; merged into {r['merged_into']}" if r["merged_into"] else "")),
                      ("pledges", len(r["pledges"])), ("refused calls", len(r["refused_calls"]))]))
    for h in r["custody"]:
        detail = ", ".join(f"{k}={v}" for k, v in h.items()
                           if k not in ("event", "what", "chain", "block", "time", "tx_hash"))
        click.echo(f"  block {h['block']:>5}  t={h['time']}  {h['what']:24s}  {detail}")
    for p in r["pledges"]:
        click.echo(f"  pledge  {p['amount']:,} to {p['lender_org'] or p['lender']} until {p['term_end']}: "
                   f"{p['status']}" + (f" at block {p['ended']['block']}" if p["ended"] else ""))
    for x in r["refused_calls"]:
        click.echo(f"  REFUSED block {x['block']}  {x['function']} by {x['node']}: {x['error']}")


def _echo_anomalies(title: str, result: dict) -> None:
    click.echo(f"{title}: {len(result['anomalies'])} anomal{'y' if len(result['anomalies']) == 1 else 'ies'} "
               f"for the regulator, {len(result['refused_on_chain'])} refused on chain")
    for a in result["anomalies"]:
        click.echo(f"  {a['kind']:22s}  {a['detail']}")
        click.echo(f"  {'':22s}  expected {a['expected']}; found {a['found']}")
    if result["refused_on_chain"]:
        click.echo("refused on chain")
        for a in result["refused_on_chain"]:
            click.echo(f"  {a['kind']:28s}  block {a['block']:>5}  {a.get('detail') or a['error']}")


@query.command("receipts", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--anomalies", is_flag=True, required=True, help="List the receipt market's anomalies.")
@JSON_OPTION
def query_receipts(run_dir: Path, anomalies: bool, as_json: bool) -> None:
    """The warehouse receipt market's anomalies: one lot receipted on one inspection certificate
    twice and financed twice (double_financing), stock found short at inspection (phantom_stock);
    and, refused on chain, double pledges, issuance beyond declared stock, use after cancellation."""
    from ledger.supervision.lookthrough import receipt_anomalies

    result = receipt_anomalies(run_dir)
    if as_json:
        echo_json(result)
        return
    _echo_anomalies(f"receipts on {result['chain']} ({result['receipts']})", result)


@query.command("disclosures", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--anomalies", is_flag=True, required=True, help="List the disclosure anomalies.")
@JSON_OPTION
def query_disclosures(run_dir: Path, anomalies: bool, as_json: bool) -> None:
    """Disclosure anomalies: periodic deadlines missed at the chain's head, late filings, and filed
    documents whose file no longer matches the hash on chain (re-hashed with keccak)."""
    from ledger.supervision.lookthrough import disclosure_anomalies

    result = disclosure_anomalies(run_dir)
    if as_json:
        echo_json(result)
        return
    _echo_anomalies("disclosures", result)
