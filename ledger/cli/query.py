"""`query`: penetrating-supervision (look-through) queries on a run, from its audit index.

Every table names parties by their public names beside short ids (ledger.cli.readable), dates in Beijing
time, quantities with their units and amounts in CNY, in the language of --lang; --full prints ids in full,
and every id argument also takes the short form a table printed."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import (CONTEXT, FULL_OPTION, JSON_OPTION, LANG_OPTION, RUN_DIR_ARG, ValueArgsCommand, echo_json,
                               grid, table)
from ledger.cli.readable import Names, expand_id
from ledger.present import fmt
from ledger.present.i18n import N_, plural_translator, translator

_ = translator("cli")
P_ = plural_translator("cli")


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
    An id may also be given as the short form a table prints (0x1a2b…9f0e) or any prefix that names one
    id of the run; --full prints ids in full. A negative number (-1) is read as an argument, not an option.
    """


query.command_class = ValueArgsCommand  # `query receipt RUN -1`: -1 is a receipt number (refused), not an option


def _names(run_dir: Path, full: bool) -> Names:
    from ledger.supervision.lookthrough.index import ledger_files

    return Names.read(ledger_files(run_dir), full)  # verified once per process: the query just read them


def _ids(index, accounts: bool = False, names: Names | None = None) -> list[str]:
    """Every id of the run a short form may stand for: identities and company ids (and accounts)."""
    ids = index.ids(accounts)
    if accounts and names:
        ids += list(names.orgs) + list(names.clients)
    return ids


def _entity(names: Names, result: dict) -> str:
    """The entity a result is about, readable and pasteable: "fund 1 (fund:1)", "BJEE-880001
    (company:BJEE-880001)", "natural person 0x1a2b…9f0e"."""
    entity = result["entity"]
    if entity.startswith("fund:"):
        return f"{names.asset(entity)} ({entity})"
    if entity.startswith("company:"):
        code = fmt.company_code(entity[8:])
        key = entity if names.full or code is None else f"company:{code}"
        return f"{code or names.id(entity[8:])} ({key})"
    return f"{fmt.kind(result.get('label'))} {names.identity(entity)}"


def _path(names: Names, via: list[str]) -> str:
    return " > ".join(names.identity(v) for v in via)


def _pct(value: float) -> str:
    return f"{value:.4f}%"


def _more(n: int, text: str) -> str:
    """`text` (a translated "(+{n} more …)") when there are more, else nothing."""
    return text.format(n=n) if n > 0 else ""


# ----------------------------------------------------------------------- ubo


@query.command("ubo", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("entity")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Owners shown in the table (0: all).")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def query_ubo(run_dir: Path, entity: str, limit: int, as_json: bool, full: bool) -> None:
    """Ultimate beneficial owners of ENTITY (a fund, a company or a vehicle) through any depth of
    nesting: effective percentages (products along each path, summed over paths, loops of cross-holding
    vehicles solved exactly), the paths, and the cycles."""
    from ledger.supervision.lookthrough import open_index, ubo

    with open_index(run_dir) as index:
        u = ubo(index, expand_id(entity, _ids(index)))
    if as_json:
        echo_json(u)
        return
    names = _names(run_dir, full)
    click.echo(_("ultimate beneficial owners of {entity}").format(entity=_entity(names, u)))
    click.echo(table([(_("owners"), u["owner_count"]), (_("total"), _pct(u["total_pct"])),
                      (_("unattributed"), _pct(u["unattributed_pct"])),
                      (_("deepest path"), P_("{n} level", "{n} levels", u["max_depth"]).format(n=u["max_depth"])),
                      (_("cycles"), len(u["cycles"]))]))
    shown = u["owners"] if limit <= 0 else u["owners"][:limit]
    rows = [(_("share"), _("owner"), _("kind"), _("held"))]
    for o in shown:
        kind = fmt.kind(o["kind_name"]) + (_(" (declared no investors)") if o["undeclared_vehicle"] else "")
        via = o["paths"][0]["via"] if o["paths"] else []
        held = _("via {path}").format(path=_path(names, via)) if via else _("direct")
        more = _more(o["path_count"] - 1, P_("(+{n} more path)", "(+{n} more paths)", o["path_count"] - 1))
        rows.append((_pct(o["effective_pct"]), names.identity(o["identity"]), kind, f"{held} {more}".rstrip()))
    click.echo(grid(rows, right={0}))
    if len(shown) < len(u["owners"]):
        click.echo("  " + _("… {n} more (--limit 0 or --json for all)").format(n=len(u["owners"]) - len(shown)))
    for x in u.get("unattributed", []):
        if "vehicle" in x:
            why = _("{vehicle} declared {bps} basis points short of 10,000").format(
                vehicle=names.identity(x["vehicle"]), bps=fmt.number(x["bps_undeclared"]))
        else:
            why = _("a closed loop: every share of {vehicles} points back among them").format(
                vehicles=fmt.join(names.identity(v) for v in x.get("vehicles", x.get("cycle", []))))
        click.echo("  " + _("unattributed {pct}: {why}").format(pct=_pct(x["pct"]), why=why))
    for c in u["cycles"]:
        state = _("closed: nothing leaves it") if c.get("closed") else _("solved: what goes round is attributed")
        click.echo("  " + _("cycle {path}: {pct} enters it; {state}").format(
            path=_path(names, c["cycle"]), pct=_pct(c["pct_at_cycle"]), state=state))


# ------------------------------------------------------------------- holders


@query.command("holders", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("entity")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Counted investors shown (0: all).")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def query_holders(run_dir: Path, entity: str, limit: int, as_json: bool, full: bool) -> None:
    """Look-through investor count of ENTITY (a fund or a company) against its legal cap: who is
    counted and why (direct holder, looked through vehicle X, behind nominee Y), and every breach."""
    from ledger.supervision.lookthrough import holders, open_index

    with open_index(run_dir) as index:
        h = holders(index, expand_id(entity, _ids(index)))
    if as_json:
        echo_json(h)
        return
    names = _names(run_dir, full)
    state = (_("BREACH (+{n} over the cap)").format(n=h["breaches"][0]["excess"]) if h["breach"]
             else _("within the cap"))
    click.echo(_("look-through holders of {entity}").format(entity=_entity(names, h)))
    rows = [(_("counted"), _("{count} / cap {cap}: {state}").format(count=h["count"], cap=h["cap"], state=state)),
            (_("direct holders"), h["direct_holders"]),
            (_("on chain"), _("{n} (contract rule, recomputed: {units})").format(
                n=fmt.NONE if h["holders_on_chain"] is None else h["holders_on_chain"],
                units=h["units_by_contract_rule"]))]
    if h.get("nominees"):
        rows.append((_("nominees"), _("{n} holding for {people} people").format(
            n=len(h["nominees"]), people=h.get("nominee_people", 0))))
    rows += [(_("counted twice or more"), len(h["overlaps"])), (_("cycles"), len(h["cycles"]))]
    click.echo(table(rows))
    nominees = {n["identity"] for n in h.get("nominees", [])}
    shown = h["counted"] if limit <= 0 else h["counted"][:limit]
    lines = [(_("investor"), _("kind"), _("why counted"))]
    for c in shown:
        via = c["reasons"][0]["via"]
        if not via:
            why = _("direct holder")
        elif via[-1] in nominees:
            why = _("behind nominee {nominee}").format(nominee=names.identity(via[-1]))
            if len(via) > 1:
                why += _(", looked through vehicle {path}").format(path=_path(names, via[:-1]))
        else:
            why = _("looked through vehicle {path}").format(path=_path(names, via))
        if c.get("kind") == 4:  # an unregistered vehicle counted as itself: it declared nobody
            why += _(" (a vehicle that declared no investors, counted as one)")
        more = _more(c["routes"] - 1, P_("(+{n} more route)", "(+{n} more routes)", c["routes"] - 1))
        lines.append((names.identity(c["identity"]), fmt.kind(c["kind_name"]), f"{why} {more}".rstrip()))
    click.echo(grid(lines))
    if len(shown) < len(h["counted"]):
        click.echo("  " + _("… {n} more (--limit 0 or --json for all)").format(n=len(h["counted"]) - len(shown)))
    for c in h["cycles"][:10]:
        click.echo("  " + _("cycle {path}").format(path=_path(names, c["cycle"])))


# ------------------------------------------------------------------ exposure

NO_IDENTITY = N_("account (no linked identity)")
PLEDGE_ROLES = {"holder": N_("as holder"), "lender": N_("as lender")}
PLEDGE_STATES = {"active": N_("active"), "released": N_("released"), "enforced": N_("enforced"),
                 "lapsed": N_("lapsed")}
MEMBER_STATES = {"active": N_("active"), "suspended": N_("suspended"), "revoked": N_("revoked"),
                 "none": N_("not a member")}


def _state(table_: dict[str, str], value: str | None) -> str:
    return _(table_[value]) if value in table_ else str(value or fmt.NONE)


@query.command("exposure", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("person")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def query_exposure(run_dir: Path, person: str, as_json: bool, full: bool) -> None:
    """One identity's exposure across every chain of the run: holdings in funds and companies,
    direct and through vehicles (effective amounts and percentages), warehouse receipts held,
    pledges given or taken, and consortium roles. PERSON is an identity id (0x + 64 hex) or an
    account address (0x + 40 hex), or the short form of one that a table printed."""
    from ledger.supervision.lookthrough import exposure, open_index

    with open_index(run_dir) as index:
        names = _names(run_dir, full)
        x = exposure(index, run_dir, expand_id(person, _ids(index, accounts=True, names=names)))
    if as_json:
        echo_json(x)
        return
    who = names.account(x["person"]) if len(x["person"]) == 42 else names.identity(x["person"])
    kind = _(NO_IDENTITY) if x["kind_name"] == NO_IDENTITY else fmt.kind(x["kind_name"])
    click.echo(_("exposure of {person}: {kind}").format(person=who, kind=kind))
    click.echo(table([(_("identities"), fmt.join(names.identity(i) for i in x["identities"]) or fmt.NONE),
                      (_("accounts"), fmt.join(names.account(a) for a in x["accounts"]) or fmt.NONE),
                      (_("holdings"), len(x["holdings"])), (_("receipts held"), len(x["receipts_held"])),
                      (_("pledges"), len(x["pledges"])), (_("member roles"), len(x["roles"]))]))
    if x.get("markets"):
        rows = [(_("chain"), _("market"), _("as"), _("holdings"), _("receipts held"), _("pledges"), _("member roles"))]
        rows += [(m["chain"], _(m["market"]), fmt.kind(m["identity_kind"]) if m["identity_kind"] else fmt.NONE,
                  fmt.join(m["holdings"]) or fmt.NONE, m["receipts_held"], m["pledges"], fmt.join(m["roles"]) or fmt.NONE)
                 for m in x["markets"]]
        click.echo(_("markets"))
        click.echo(grid(rows, right={4, 5}))
    if x["holdings"]:
        rows = [(_("asset"), _("effective share"), _("effective holding"), _("routes"))]
        rows += [(names.asset(h["asset"]), _pct(h["effective_pct"]),
                  fmt.quantity(round(h["effective_amount"]), "shares"), h["routes"]) for h in x["holdings"]]
        click.echo(_("holdings, direct and looked through"))
        click.echo(grid(rows, right={1, 2}))
        via = [(names.asset(r["asset"]), _("via {path}").format(path=_path(names, r["via"])),
                _pct(r["effective_pct"])) for r in x["routes"] if r["via"]]
        if via:
            click.echo(grid(via, indent=4))
    if x["receipts_held"]:
        rows = [(_("receipt"), _("warehouse"), _("goods"), _("expiry"), _("pledged to"))]
        rows += [(r["id"], names.org(r["warehouse"], r.get("warehouse_org")),
                  names.goods(r["commodity"], r["quantity"], r.get("unit")), fmt.date_time(r.get("expiry")),
                  names.account(r["pledged_to"]) if r["pledged_to"] else fmt.NONE) for r in x["receipts_held"]]
        click.echo(_("warehouse receipts held"))
        click.echo(grid(rows, right={0}))
    if x["pledges"]:
        rows = [(_("receipt"), _("role"), _("amount"), _("counterparty"), _("status"), _("pledged"))]
        for p in x["pledges"]:
            other = p["lender"] if p["role"] == "holder" else p["holder"]
            pledged = p.get("pledged") or {}
            rows.append((p["receipt"], _state(PLEDGE_ROLES, p["role"]), fmt.cny(p["amount"]), names.account(other),
                         _state(PLEDGE_STATES, p["status"]),
                         _("{date} (block {n})").format(date=fmt.date_time(pledged.get("time")),
                                                        n=pledged.get("block"))))
        click.echo(_("pledges"))
        click.echo(grid(rows, right={0, 2}))
    if x["roles"]:
        rows = [(_("chain"), _("member"), _("roles"), _("status"), _("since"))]
        rows += [(m["chain"], names.org(m["account"], m.get("org")), fmt.roles(m["roles"]),
                  _state(MEMBER_STATES, m.get("status")),
                  _("block {n}").format(n=m["since_block"]) if m.get("since_block") is not None else fmt.NONE)
                 for m in x["roles"]]
        click.echo(_("consortium membership"))
        click.echo(grid(rows))


# ------------------------------------------------------------------- receipts

RECEIPT_STATES = {"Issued": N_("issued"), "Registered": N_("registered"), "Cancelled": N_("cancelled"),
                  "Expired": N_("expired"), "Split": N_("split"), "Merged": N_("merged")}
CUSTODY = {w: w for w in (N_("issued"), N_("registered"), N_("transferred"), N_("delivered"), N_("pledged"),
                          N_("pledge released"), N_("pledge enforced"), N_("pledge lapsed"),
                          N_("cancellation requested"), N_("cancelled"), N_("expired"), N_("split"),
                          N_("created by split"), N_("merged"), N_("created by merge"))}


def _custody_detail(names: Names, r: dict, h: dict) -> str:
    """What one custody step did, from its fields: who to whom, how much, against what."""
    qty = (lambda q: names.quantity(q, r.get("commodity"), r.get("unit")))
    parts = []
    if "from" in h and "to" in h:
        parts.append(_("{from_} → {to}").format(from_=names.account(h["from"]), to=names.account(h["to"])))
    elif "to" in h:
        parts.append(_("to {to}").format(to=names.account(h["to"])))
    if h.get("warehouse"):
        parts.append(_("by {who}").format(who=names.org(h["warehouse"], h.get("warehouse_org"))))
    if h.get("exchange"):
        parts.append(_("by {who}").format(who=names.org(h["exchange"], h.get("exchange_org"))))
    if "amount" in h:
        parts.append(_("{amount} from {lender}").format(amount=fmt.cny(h["amount"]),
                                                         lender=names.org(h.get("lender"), h.get("lender_org"))))
    elif h.get("lender") and "to" not in h:
        parts.append(_("lender {lender}").format(lender=names.account(h["lender"])))
    if h.get("term_end"):
        parts.append(_("until {date}").format(date=fmt.date_time(h["term_end"])))
    if "quantity" in h:
        parts.append(qty(h["quantity"]))
    if h.get("parts"):
        parts.append(_("into {parts}").format(parts=fmt.join(
            f"{p} ({qty(q)})" for p, q in zip(h["parts"], h.get("quantities", [None] * len(h["parts"]))))))
    if h.get("source") is not None:
        parts.append(_("from receipt {id}").format(id=h["source"]))
    if h.get("sources"):
        parts.append(_("from receipts {ids}").format(ids=fmt.join(str(s) for s in h["sources"])))
    if h.get("into") is not None:
        parts.append(_("into receipt {id}").format(id=h["into"]))
    if h.get("holder") and "to" not in h:
        parts.append(_("holder {holder}").format(holder=names.account(h["holder"])))
    if h.get("position_ref"):
        parts.append(_("position {ref}").format(ref=h["position_ref"]))
    return _("; ").join(parts)


@query.command("receipt", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("receipt_id", metavar="RECEIPT")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def query_receipt(run_dir: Path, receipt_id: str, as_json: bool, full: bool) -> None:
    """A warehouse receipt's chain of custody (RECEIPT is its id number): issue, registration, each
    transfer and delivery with block and time, split and merge lineage, cancellation or expiry,
    and its pledges (lender, amount, term, release / enforcement / lapse)."""
    from ledger.supervision.lookthrough import receipt

    r = receipt(run_dir, receipt_id)
    if as_json:
        echo_json(r)
        return
    names = _names(run_dir, full)
    click.echo(_("warehouse receipt {id} on {chain}: {state}").format(
        id=r["receipt"], chain=r["chain"], state=_state(RECEIPT_STATES, r["state"])))
    if r["parent"]:
        lineage = _("split from receipt {id}").format(id=r["parent"])
    elif r["sources"]:
        lineage = _("merged from receipts {ids}").format(ids=fmt.join(str(s) for s in r["sources"]))
    else:
        lineage = _("issued")
    if r["children"]:
        lineage += "; " + _("split into receipts {ids}").format(ids=fmt.join(str(c) for c in r["children"]))
    if r["merged_into"]:
        lineage += "; " + _("merged into receipt {id}").format(id=r["merged_into"])
    goods = _("{goods}, grade {grade}, at {location}").format(
        goods=names.goods(r["commodity"], r["quantity"], r.get("unit")), grade=r["grade"], location=r["location"])
    click.echo(table([(_("warehouse"), names.account(r["warehouse"])), (_("goods"), goods),
                      (_("inspection certificate"), names.id(r["inspection_cert"])),
                      (_("expiry"), fmt.date_time(r["expiry"])), (_("holder"), names.account(r["holder"])),
                      (_("lineage"), lineage), (_("pledges"), len(r["pledges"])),
                      (_("refused calls"), len(r["refused_calls"]))]))
    rows = [(_("block"), _("time"), _("step"), _("detail"))]
    rows += [(h["block"], fmt.date_time(h.get("time")), _(CUSTODY.get(h["what"], h["what"])),
              _custody_detail(names, r, h)) for h in r["custody"]]
    click.echo(_("chain of custody"))
    click.echo(grid(rows, right={0}))
    for p in r["pledges"]:
        ended = p.get("ended")
        at = (" " + _("at block {n} ({date})").format(n=ended["block"], date=fmt.date_time(ended.get("time")))
              if ended else "")
        click.echo("  " + _("pledge: {amount} from {lender} until {date}: {status}").format(
            amount=fmt.cny(p["amount"]), lender=names.org(p["lender"], p.get("lender_org")),
            date=fmt.date_time(p["term_end"]), status=_state(PLEDGE_STATES, p["status"])) + at)
    for x in r["refused_calls"]:
        click.echo("  " + _("refused at block {n} ({date}): {function} by {node}: {error}").format(
            n=x["block"], date=fmt.date_time(x.get("time")), function=_call(x["function"]), node=x["node"],
            error=x["error"]))


# ------------------------------------------------------------------ anomalies

REFUSED_KINDS = {k: k for k in (N_("double_pledge_attempt"), N_("issuance_beyond_stock"),
                                N_("activity_after_cancellation"), N_("refused_disclosure_call"))}


def _call(function: str | None) -> str:
    """A contract function as code, `pledge()`: a name in the contract, not a word to translate."""
    return f"{function}()" if function else fmt.NONE


def _refused_detail(names: Names, a: dict) -> str:
    kind, args = a["kind"], a.get("args") or {}
    if kind == "double_pledge_attempt":
        return _("pledge of receipt {id} by {holder}: already pledged to {lender}").format(
            id=a.get("receipt"), holder=names.account(a.get("sender") or a.get("holder")),
            lender=names.account(a.get("existing_lender")))
    if kind == "issuance_beyond_stock":
        commodity = a.get("commodity")
        qty = (lambda q: names.quantity(q, commodity))
        return _("{warehouse} issuing {quantity} of {commodity} with {live} live of {declared} declared").format(
            warehouse=names.account(args.get("warehouse") or a.get("sender")), quantity=qty(a.get("quantity")),
            commodity=fmt.commodity(commodity or ""), live=qty(a.get("live")), declared=qty(a.get("declared")))
    if kind == "activity_after_cancellation":
        return _("{function} on receipt {id} by {who}, cancelled at block {block}").format(
            function=_call(a.get("function")), id=a.get("receipt"), who=names.account(a.get("sender")),
            block=a.get("cancelled_block") if a.get("cancelled_block") is not None else fmt.NONE)
    return _("{function} by {node}: {error}").format(function=_call(a.get("function")), node=a.get("node"),
                                                     error=a.get("error"))


def _echo_anomalies(names: Names, title: str, result: dict) -> None:
    from ledger.supervision.catalogue import text

    click.echo(title)
    for f in result["anomalies"]:
        if "rule" in f:
            click.echo(f"  {text.title(f['rule'])} [{f['rule']}]")
            click.echo(table([(_("what"), text.what(f, names.full)), (_("who"), text.who(f, names.full)),
                              (_("when"), text.when(f))], indent=4))
        else:  # an older query's anomaly: its kind and its own words
            click.echo(f"  {a_kind(f)}  {f.get('detail', '')}")
    if result["refused_on_chain"]:
        click.echo(_("refused on chain"))
        rows = [(_("what"), _("block"), _("time"), _("detail"))]
        rows += [(_(REFUSED_KINDS.get(a["kind"], a["kind"])), a["block"], fmt.date_time(a.get("time")),
                  _refused_detail(names, a)) for a in result["refused_on_chain"]]
        click.echo(grid(rows, right={1}))


def a_kind(a: dict) -> str:
    return str(a.get("kind") or a.get("rule") or "")


@query.command("receipts", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--anomalies", is_flag=True, required=True, help="List the receipt market's anomalies.")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def query_receipts(run_dir: Path, anomalies: bool, as_json: bool, full: bool) -> None:
    """The warehouse receipt market's anomalies: the findings of the receipt rules (one lot receipted
    twice on one inspection certificate, stock found short at inspection, a declaration undoing an
    inspection, a receipt used after it ended); and, refused on chain, double pledges, issuance beyond
    declared stock, use after cancellation."""
    from ledger.supervision.lookthrough import receipt_anomalies

    result = receipt_anomalies(run_dir)
    if as_json:
        echo_json(result)
        return
    title = _("warehouse receipts on {chain} ({n} receipts): {found} for the regulator, {refused} refused "
              "on chain").format(chain=result["chain"], n=result["receipts"],
                                 found=P_("{n} finding", "{n} findings", len(result["anomalies"])).format(
                                     n=len(result["anomalies"])),
                                 refused=len(result["refused_on_chain"]))
    _echo_anomalies(_names(run_dir, full), title, result)


@query.command("disclosures", context_settings=CONTEXT)
@RUN_DIR_ARG
@click.option("--anomalies", is_flag=True, required=True, help="List the disclosure anomalies.")
@JSON_OPTION
@FULL_OPTION
@LANG_OPTION
def query_disclosures(run_dir: Path, anomalies: bool, as_json: bool, full: bool) -> None:
    """Disclosure anomalies: the findings of the disclosure rules (periodic reports never filed,
    filed late, filed documents whose file no longer matches the hash on chain) and the disclosure
    calls the chain refused."""
    from ledger.supervision.lookthrough import disclosure_anomalies

    result = disclosure_anomalies(run_dir)
    if as_json:
        echo_json(result)
        return
    title = _("information disclosure: {found} for the regulator, {refused} refused on chain").format(
        found=P_("{n} finding", "{n} findings", len(result["anomalies"])).format(n=len(result["anomalies"])),
        refused=len(result["refused_on_chain"]))
    _echo_anomalies(_names(run_dir, full), title, result)
