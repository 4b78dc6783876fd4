"""pilotledger's command line.

    python cli.py run scenario share_transfer [--seed N] [--json]
    python cli.py run scenario NAME --engine rpc --rpc-url [CHAIN=]URL | --list-accounts
    python cli.py run scenario --list
    python cli.py run scenario all [--seed N] [--json]
    python cli.py run scenario all [--seed N] [--json] [--run-dir DIR]
    python cli.py verify RUN_DIR [--json]
    python cli.py audit RUN_DIR [--node NODE] [--json]
    python cli.py view RUN_DIR NODE [--as VIEWER] [--json]
    python cli.py report RUN_DIR [--out FILE]
    python cli.py query ubo|holders RUN_DIR ENTITY [--json]
    python cli.py query exposure RUN_DIR PERSON | receipt RUN_DIR RECEIPT [--json]
    python cli.py query receipts|disclosures RUN_DIR --anomalies [--json]
    python cli.py compile PATH... [--out DIR] [--json]
    python cli.py deploy RUN_DIR ARTIFACT [ARGS...] --node NODE [--json]
    python cli.py call RUN_DIR CONTRACT FUNCTION [ARGS...] [--node NODE] [--json]
    python cli.py send RUN_DIR CONTRACT FUNCTION [ARGS...] --node NODE [--signer LABEL] [--json]
    python cli.py contracts check | build
    python cli.py node [--port N]

A bad argument or input gives one line on stderr and exit code 2; a failed
verification or check exits 1; nothing prints a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ledger.tooling.compiler import BUILD_DIR
from ledger.evm import ENGINES
from ledger.errors import ConfigError, PilotLedgerError
from scenarios.registry import (SCENARIOS, SCENARIOS_ENV, USER_SCENARIOS, all_scenario_names, get_scenario,
                                load_user_scenarios)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def table(rows: list[tuple[str, object]], indent: int = 2) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{' ' * indent}{k.ljust(width)}  {v}" for k, v in rows)


@click.group(context_settings=CONTEXT)
def cli() -> None:
    """pilotledger: a permissioned-ledger simulator for capital-market blockchain pilots."""


# ----------------------------------------------------------------------- run


@cli.group(context_settings=CONTEXT)
def run() -> None:
    """Run things on the ledger."""


def scenario_options(command):
    """Adds every scenario's own options (sizes and knobs), each defaulting to the scenario's value."""
    seen: dict[str, tuple[str, bool]] = {}
    for scenario in SCENARIOS.values():
        for option in scenario.options:
            text = f"{option.help} ({scenario.name})" if option.flag else \
                f"{option.help} ({scenario.name}: {option.default})"
            seen.setdefault(option.name, (text, option.flag))
    for name, (help_text, flag) in sorted(seen.items(), reverse=True):
        kind = {"is_flag": True, "flag_value": 1} if flag else {"type": int}
        command = click.option(f"--{name.replace('_', '-')}", name, default=None, help=help_text, **kind)(command)
    return command


def user_options(scenario, args: list[str]) -> dict[str, int]:
    """A user scenario's own options that are not among the built-in ones: --NAME VALUE or a bare --NAME flag."""
    known = {f"--{o.name.replace('_', '-')}": o for o in scenario.options}
    given, rest = {}, list(args)
    while rest:
        arg = rest.pop(0)
        key, _, value = arg.partition("=")
        option = known.get(key)
        if option is None:
            raise click.NoSuchOption(key)
        if option.flag:
            given[option.name] = 1
            continue
        if not value:
            if not rest:
                raise click.UsageError(f"Option '{key}' requires an argument.")
            value = rest.pop(0)
        try:
            given[option.name] = int(value)
        except ValueError:
            raise click.UsageError(f"Invalid value for '{key}': {value!r} is not a valid integer.") from None
    return given


@run.command("scenario", context_settings={**CONTEXT, "ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name", required=False)
@click.option("--scenarios-dir", type=click.Path(path_type=Path), envvar=SCENARIOS_ENV,
              help=f"Also load the scenarios in DIR/*.py (default: ${SCENARIOS_ENV}).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed: same seed, same chain, byte for byte.")
@click.option("--run-dir", type=click.Path(path_type=Path), help="Where to write the run (default: runs/NAME-seedN).")
@click.option("--engine", type=click.Choice(ENGINES), default="pyevm", show_default=True,
              help="Execution engine: pyevm (embedded) or rpc (a JSON-RPC node, see --rpc-url).")
@click.option("--rpc-url", "rpc_urls", multiple=True, metavar="[CHAIN=]URL",
              help="With --engine rpc: the node's URL, or CHAIN=URL once per chain of a multi-chain scenario.")
@click.option("--list-accounts", is_flag=True,
              help="Print every account that signs transactions in NAME (for a network's accounts allowlist).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@scenario_options
@click.pass_context
def run_scenario_command(click_ctx, name, scenarios_dir, seed, run_dir, engine, rpc_urls, list_accounts, as_json,
                         list_only, **options) -> None:
    """Run scenario NAME: the business, planted violations, and a summary of what the chain refused."""
    from scenarios.runner import run_scenario

    if scenarios_dir is not None:
        load_user_scenarios(scenarios_dir)
    extra = list(click_ctx.args)
    if extra and (name not in USER_SCENARIOS or list_only):
        if not extra[0].startswith("-"):
            raise click.UsageError(f"Got unexpected extra argument ({extra[0]})")
        raise click.NoSuchOption(extra[0].split("=", 1)[0])
    if extra:
        options.update(user_options(USER_SCENARIOS[name], extra))
    if list_only:
        rows = [{"name": n, "title": get_scenario(n).title,
                 "options": {o.name: o.default for o in get_scenario(n).options}} for n in all_scenario_names()]
        click.echo(json.dumps(rows, indent=2) if as_json else table([(r["name"], r["title"]) for r in rows], 0))
        return
    if name is None:
        raise click.UsageError("name a scenario, or use --list")
    if name == "all":
        if scenarios_dir is not None:
            raise ConfigError("run scenario all runs the built-in scenarios only; run yours by name")
        if engine == "rpc":
            raise ConfigError("run scenario all runs on the embedded engine; run each scenario by name on a node")
        run_all_command(seed, run_dir, engine, as_json, options)
        return
    scenario = get_scenario(name)
    known = {o.name for o in scenario.options}
    given = {k: v for k, v in options.items() if v is not None}
    scenario.resolve_options({k: v for k, v in given.items() if k in known})  # fail fast on bad values
    if set(given) - known:
        raise ConfigError(f"scenario {name} has no option --{sorted(set(given) - known)[0].replace('_', '-')}")
    if list_accounts:
        echo_signing_accounts(name, seed, given, as_json)
        return
    nodes = node_urls(engine, rpc_urls)
    if run_dir is not None and run_dir.exists():
        raise ConfigError(f"run directory {run_dir} already exists; pick a new one")

    bar = None

    def on_start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label=f"{name} (seed {seed})", file=sys.stderr, show_eta=False)
        bar.__enter__()

    def progress(steps: int) -> None:
        if bar is not None and bar.pos + steps < bar.length:
            bar.update(steps)

    try:
        summary = run_scenario(name, seed, given, run_dir, engine, progress, on_start, nodes)
    finally:
        if bar is not None:
            bar.update(bar.length - bar.pos)
            bar.__exit__(None, None, None)
    click.echo(json.dumps(summary, indent=2) if as_json else render_summary(summary))


def node_urls(engine: str, given: tuple[str, ...]) -> dict[str, str]:
    """--rpc-url values as {chain: URL} (a plain URL under ANY_CHAIN), each node checked to answer."""
    from ledger.evm.jsonrpc import JsonRpcClient, NodeUnreachable
    from scenarios.api import ANY_CHAIN

    if engine != "rpc":
        if given:
            raise ConfigError("--rpc-url needs --engine rpc")
        return {}
    if not given:
        raise ConfigError("--engine rpc needs a node: give --rpc-url URL (e.g. http://127.0.0.1:8545, "
                          "from `python cli.py node`)")
    urls: dict[str, str] = {}
    for value in given:
        chain, _, url = value.partition("=") if "=" in value.split("://", 1)[0] else (ANY_CHAIN, "", value)
        if chain in urls:
            raise ConfigError(f"--rpc-url given twice for {chain or 'the scenario'}")
        urls[chain] = url
    if ANY_CHAIN in urls and len(urls) > 1:
        raise ConfigError("give either one plain --rpc-url URL or CHAIN=URL for every chain, not both")
    for url in urls.values():
        client = JsonRpcClient(url, timeout=10)
        try:
            client.call("eth_chainId")
        except NodeUnreachable as exc:
            raise ConfigError(str(exc)) from None
        finally:
            client.close()
    return urls


def echo_signing_accounts(name: str, seed: int, options: dict, as_json: bool) -> None:
    """Runs NAME on the embedded engine in a scratch directory and prints each account that signed a
    transaction there: the node accounts and the clients' accounts, derived from the seed and the
    operator secret (ledger.trust.secrets)."""
    import sqlite3
    import tempfile

    from ledger.chain.run import LEDGER_FILE
    from ledger.trust.secrets import KeyDeriver
    from scenarios.runner import run_scenario

    rows = []
    keys = KeyDeriver.for_seed(seed)
    with tempfile.TemporaryDirectory() as scratch:
        run_scenario(name, seed, options, Path(scratch) / "run")
        for ledger in sorted((Path(scratch) / "run").glob(f"*/{LEDGER_FILE}")):
            chain = ledger.parent.name
            db = sqlite3.connect(ledger)
            try:
                signers = db.execute("SELECT node, sender FROM transactions GROUP BY sender ORDER BY MIN(rowid)")
                for node, sender in signers.fetchall():
                    own = keys.account(f"{chain}/node/{node}").address == sender
                    rows.append({"chain": chain, "address": "0x" + sender.hex(),
                                 "signer": node if own else f"a client of {node}"})
            finally:
                db.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo("\n".join(f"{r['chain']}  {r['address']}  {r['signer']}" for r in rows))


def run_all_command(seed: int, run_dir: Path | None, engine: str, as_json: bool, options: dict) -> None:
    """`run scenario all`: every scenario at its default sizes, and the regulator's findings scored."""
    from scenarios.runner import run_all

    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise ConfigError(f"run scenario all takes no scenario option (--{given[0].replace('_', '-')}); "
                          "each scenario runs at its default sizes")
    if run_dir is not None and run_dir.exists():
        raise ConfigError(f"run directory {run_dir} already exists; pick a new one")
    bars: list = []

    def progress_for(name: str):
        def on_start(total: int) -> None:
            if bars:
                bars[-1].update(bars[-1].length - bars[-1].pos)
                bars[-1].__exit__(None, None, None)
            bars.append(click.progressbar(length=total, label=f"{name} (seed {seed})", file=sys.stderr,
                                          show_eta=False))
            bars[-1].__enter__()

        def progress(steps: int) -> None:
            if bars and bars[-1].pos + steps < bars[-1].length:
                bars[-1].update(steps)
        return progress, on_start

    try:
        summary = run_all(seed, None, run_dir, engine, progress_for)
    finally:
        if bars:
            bars[-1].update(bars[-1].length - bars[-1].pos)
            bars[-1].__exit__(None, None, None)
    click.echo(json.dumps(summary, indent=2) if as_json else render_all(summary))


def render_all(s: dict) -> str:
    def figures(x: dict) -> str:
        return (f"precision {x['precision']:.2f}  recall {x['recall']:.2f}  ({x['true_positives']} found of "
                f"{x['plants']} planted, {x['false_positives']} false, {x['false_negatives']} missed)")

    rows: list[tuple[str, object]] = [(name, figures(x)) for name, x in s["scores"].items()]
    rows.append(("overall", figures(s["overall"])))
    for name, x in s["scores"].items():
        rows += [(f"  {name} missed", f"{m['kind']} (plant {m['plant']})") for m in x["missed"]]
        rows += [(f"  {name} false", f"{f['kind']}: {f.get('detail', '')}") for f in x["unexpected"]]
    rows.append(("run directory", s["run_dir"]))
    parts = [f"all scenarios  seed {s['seed']}  engine {s['engine']}  (regulator's findings vs ground truth)\n"
             + table(rows)]
    parts += [render_summary(s[name]) for name in s["scores"]]
    return "\n\n".join(parts)


def render_summary(s: dict) -> str:
    rows: list[tuple[str, object]] = [
        ("blocks", s["blocks"]),
        ("transactions", f"{s['transactions']} ({s['committed']} committed, {s['refused']} refused)"),
    ]
    rows += [(f"  {reason}", count) for reason, count in s["refused_by_reason"].items()]
    rows += [
        ("planted violations", f"{s['planted']} ({s['planted_for_chain']} for the chain, "
                               f"{s['planted_for_regulator']} left for the regulator)"),
        ("caught by the chain", f"{s['caught']} / {s['planted_for_chain']}"),
        ("unexpected refusals", s["unexpected_refusals"]),
        ("head hash", s["head_hash"]),
    ]
    if len(s["chains"]) > 1:
        rows += [(f"  chain {name}", f"{c['blocks']} blocks, head {c['head_hash']}") for name, c in s["chains"].items()]
    if "anchors" in s:
        rows.append(("regulatory chain", f"{s['anchors']} anchors (to block {s['anchored_height']}), "
                                         f"{s['reports_filed']} reports"))
    rows.append(("risk alerts", len(s["alerts"])))
    rows += [(f"  block {a['block']}", f"{a['rule']}: {a['detail']}") for a in s["alerts"][:8]]
    if len(s["alerts"]) > 8:
        rows.append(("  ...", f"{len(s['alerts']) - 8} more in --json"))
    if "exit_drill" in s:
        e = s["exit_drill"]
        rows.append(("exit drill", f"paused at block {e['paused_at_block']}, {e['holdings']} holdings in the "
                                   f"signed snapshot, {len(e['lost'])} lost"))
    rows += [
        ("run directory", s["run_dir"]),
        ("throughput", f"{s['tx_per_second']} tx/s ({s['elapsed_seconds']} s)"),
    ]
    missed = [("missed", m) for m in s["missed"]]
    return f"{s['scenario']}  seed {s['seed']}  engine {s['engine']}\n" + table(rows + missed)


# -------------------------------------------------------------------- verify


PIN_OPTION = click.option(
    "--pin", "pins", type=click.Path(path_type=Path, dir_okay=False), envvar="PILOTLEDGER_PINS",
    help="The regulator's pins file (chain -> genesis hash), kept outside the run: every chain must match it. "
         "Written from this run if it does not exist yet. [env: PILOTLEDGER_PINS]")


@cli.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@PIN_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def verify(run_dir: Path, pins: Path | None, as_json: bool) -> None:
    """Verify every chain in RUN_DIR and every member's copy: headers, transaction and receipt roots,
    refusal digests, validator seals over every stored row, certificates."""
    from ledger.audit.verify import verify_run

    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    pinned = pins is not None and pins.exists()
    results = verify_run(run_dir, pins)
    if not results:
        raise ConfigError(f"{run_dir} holds no ledger")
    verified = all(r.verified for r in results)
    if as_json:
        click.echo(json.dumps({"verified": verified, "chains": [r.to_json() for r in results]}, indent=2))
    else:
        for r in results:
            state = "verified" if r.verified else "NOT verified"
            click.echo(f"{r.chain}: {state}, {r.blocks} blocks, {r.transactions} transactions, {r.refusals} refusals")
            for line in r.problems + r.notes:
                click.echo(f"  {line}")
    _say_pinned(pins, pinned)
    if not verified:
        sys.exit(1)


def _say_pinned(pins: Path | None, existed: bool) -> None:
    if pins is not None and not existed and pins.exists():
        click.echo(f"pinned every chain's genesis in {pins}: keep it outside the run, and give it with --pin "
                   "(or PILOTLEDGER_PINS) from now on", err=True)


# --------------------------------------------------------------------- audit


@cli.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--node", help="Audit this node's own copies (RUN_DIR/<chain>/nodes/NODE/) instead of the chains'.")
@PIN_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def audit(run_dir: Path, node: str | None, pins: Path | None, as_json: bool) -> None:
    """Audit a run's ledgers: verify, re-execute every block from genesis, check signatures,
    permissions at each height and the anchors on the regulatory chain."""
    from ledger.audit.reexecute import audit_run, ledger_copies

    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    copies = ledger_copies(run_dir, node)
    if not copies:
        raise ConfigError(f"{run_dir} holds no ledger" + (f" copy of node {node}" if node else ""))
    pinned = pins is not None and pins.exists()
    if as_json:
        audits = audit_run(run_dir, node, pins=pins)
    else:
        with click.progressbar(length=sum(blocks for _, _, blocks in copies), label="re-executing",
                               file=sys.stderr) as bar:
            audits = audit_run(run_dir, node, progress=bar.update, pins=pins)
    verified = all(a.verified for a in audits)
    if as_json:
        click.echo(json.dumps({
            "verified": verified, "node": node,
            "blocks": sum(a.blocks for a in audits), "transactions": sum(a.transactions for a in audits),
            "problems": [f"{a.chain}: {p}" for a in audits for p in a.problems],
            "chains": [a.to_json() for a in audits],
        }, indent=2))
    else:
        for a in audits:
            state = "verified" if a.verified else "NOT verified"
            anchors = f", {a.anchors_checked} anchors matched" if a.anchors_checked and a.verified else ""
            whose = f" ({a.node}'s copy)" if a.node else ""
            click.echo(f"{a.chain}{whose}: {state}, {a.blocks} blocks {a.replayed}, {a.transactions} transactions"
                       f"{anchors}")
            for line in a.problems + a.notes:
                click.echo(f"  {line}")
    _say_pinned(pins, pinned)
    if not verified:
        sys.exit(1)


# ---------------------------------------------------------------------- view


@cli.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("node")
@click.option("--chain", help="The chain to look at (default: the run's only, or first, chain).")
@click.option("--as", "viewer", help="Whose keys open the private data (default: NODE itself; "
                                      "the regulator's node opens every node's).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def view(run_dir: Path, node: str, chain: str | None, viewer: str | None, as_json: bool) -> None:
    """NODE's audit view: what it submitted, what was refused and why, the membership changes
    that touched it, and the personal data it holds (sealed unless the viewer may open it)."""
    from ledger.chain.run import chain_names
    from ledger.audit.views import node_view

    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    chains = chain_names(run_dir)
    if not chains:
        raise ConfigError(f"{run_dir} holds no ledger")
    v = node_view(run_dir, chain or chains[0], node, viewer)
    if as_json:
        click.echo(json.dumps(v, indent=2))
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


# -------------------------------------------------------------------- report


@cli.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the HTML (default: RUN_DIR/report.html).")
def report(run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML report on RUN_DIR for the regulator: the audit, per-node views,
    refusals by reason, planted violations against what was caught, and charts."""
    from ledger.audit.reexecute import ledger_copies
    from ledger.report import write_report

    bar = None

    def progress(blocks: int) -> None:
        nonlocal bar
        if bar is None:             # opened by the audit's first block, after the run has been read
            total = sum(n for _, _, n in ledger_copies(run_dir))
            bar = click.progressbar(length=total, label="re-executing", file=sys.stderr)
            bar.__enter__()
        bar.update(blocks)

    try:
        path = write_report(run_dir, out, progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(path)


# --------------------------------------------------------------------- query


@cli.group(context_settings=CONTEXT)
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


def _open_index(run_dir: Path):
    from ledger.supervision.lookthrough import open_index

    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    return open_index(run_dir)


@query.command("ubo", context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("entity")
@click.option("--limit", type=int, default=50, show_default=True, help="Owners shown in the table (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def query_ubo(run_dir: Path, entity: str, limit: int, as_json: bool) -> None:
    """Ultimate beneficial owners of ENTITY (a fund, a company or a vehicle) through any depth of
    nesting: effective percentages (products along each path, summed over paths), the paths, and
    cycles (reported, not followed)."""
    from ledger.supervision.lookthrough import ubo

    with _open_index(run_dir) as index:
        u = ubo(index, entity)
    if as_json:
        click.echo(json.dumps(u, indent=2))
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
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("entity")
@click.option("--limit", type=int, default=50, show_default=True, help="Counted investors shown (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def query_holders(run_dir: Path, entity: str, limit: int, as_json: bool) -> None:
    """Look-through investor count of ENTITY (a fund or a company) against its legal cap: who is
    counted and why (direct holder, or looked through vehicle X), and every breach."""
    from ledger.supervision.lookthrough import holders

    with _open_index(run_dir) as index:
        h = holders(index, entity)
    if as_json:
        click.echo(json.dumps(h, indent=2))
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
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def query_exposure(run_dir: Path, person: str, as_json: bool) -> None:
    """One identity's exposure across every chain of the run: holdings in funds and companies,
    direct and through vehicles (effective amounts and percentages), warehouse receipts held,
    pledges given or taken, and consortium roles. PERSON is an identity id (0x + 64 hex) or an
    account address (0x + 40 hex)."""
    from ledger.supervision.lookthrough import exposure

    with _open_index(run_dir) as index:
        x = exposure(index, run_dir, person)
    if as_json:
        click.echo(json.dumps(x, indent=2))
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
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("receipt_id", metavar="RECEIPT")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def query_receipt(run_dir: Path, receipt_id: str, as_json: bool) -> None:
    """A warehouse receipt's chain of custody (RECEIPT is its id number): issue, registration, each
    transfer and delivery with block and time, split and merge lineage, cancellation or expiry,
    and its pledges (lender, amount, term, release / enforcement / lapse)."""
    from ledger.supervision.lookthrough import receipt

    r = receipt(run_dir, receipt_id)
    if as_json:
        click.echo(json.dumps(r, indent=2))
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
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--anomalies", is_flag=True, required=True, help="List the receipt market's anomalies.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def query_receipts(run_dir: Path, anomalies: bool, as_json: bool) -> None:
    """The warehouse receipt market's anomalies: one lot receipted on one inspection certificate
    twice and financed twice (double_financing), stock found short at inspection (phantom_stock);
    and, refused on chain, double pledges, issuance beyond declared stock, use after cancellation."""
    from ledger.supervision.lookthrough import receipt_anomalies

    result = receipt_anomalies(run_dir)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    _echo_anomalies(f"receipts on {result['chain']} ({result['receipts']})", result)


@query.command("disclosures", context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--anomalies", is_flag=True, required=True, help="List the disclosure anomalies.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def query_disclosures(run_dir: Path, anomalies: bool, as_json: bool) -> None:
    """Disclosure anomalies: periodic deadlines missed at the chain's head, late filings, and filed
    documents whose file no longer matches the hash on chain (re-hashed with keccak)."""
    from ledger.supervision.lookthrough import disclosure_anomalies

    result = disclosure_anomalies(run_dir)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    _echo_anomalies("disclosures", result)


# ----------------------------------------------------------------- scenario


@cli.group("scenario", context_settings=CONTEXT)
def scenario_group() -> None:
    """Write scenarios of your own."""


@scenario_group.command("new", context_settings=CONTEXT)
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("my_scenarios"),
              show_default=True, help="The folder to write NAME.py into (created if missing).")
def scenario_new(name, directory) -> None:
    """Write DIR/NAME.py: a working scenario with one violation planted for the chain and one for the regulator."""
    import keyword

    from scenarios.skeleton import render

    if not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"scenario name {name!r} is not a Python identifier (letters, digits, _; no leading digit)")
    if name in SCENARIOS or name == "all":
        raise ConfigError(f"scenario name {name!r} clashes with a built-in scenario; pick another")
    path = directory / f"{name}.py"
    if path.exists():
        raise ConfigError(f"{path} already exists; pick another name or remove it")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(render(name, str(directory)), encoding="utf-8")
    click.echo(f"wrote {path}\nrun it:  python cli.py run scenario {name} --scenarios-dir {directory}")


# --------------------------------------------------------- deploy, call, send


def _reopen(run_dir: Path, chain: str | None, acting: str | None = None, seal: bool = False):
    """The run's chain, reopened at its head (re-executing its blocks, with a progress bar), with the
    keystore of the `acting` node opened and, to `seal` a block, each validator's."""
    from ledger.chain.run import LEDGER_FILE, pick_chain
    from ledger.chain.reopen import reopen_chain
    from ledger.chain.store import LedgerStore
    from ledger.audit.verify import require_pinned

    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    require_pinned(run_dir)
    chain = pick_chain(run_dir, chain)
    store = LedgerStore(run_dir / chain / LEDGER_FILE)
    blocks = (store.head() or (0,))[0]
    store.close()
    with click.progressbar(length=blocks, label=f"reopening {chain}", file=sys.stderr) as bar:
        return reopen_chain(run_dir, chain, progress=bar.update, acting=acting, seal=seal,
                            warn=lambda line: click.echo(f"warning: {line}", err=True))


def _node(consortium, name: str):
    if name not in consortium.nodes:
        raise ConfigError(f"no node {name!r} on {consortium.name}; nodes: {', '.join(sorted(consortium.nodes))}")
    return consortium.nodes[name]


def _contract(consortium, given: str):
    """A deployed contract by name or 0x address."""
    for contract in consortium.contracts.values():
        if given == contract.name or given.lower() == "0x" + contract.address.hex():
            return contract
    raise ConfigError(f"no contract {given!r} on {consortium.name}; deployed: {', '.join(sorted(consortium.contracts))}")


def _function(contract, name: str):
    if name not in contract.abi.functions:
        raise ConfigError(f"{contract.name} has no function {name!r}; it has {', '.join(sorted(contract.abi.functions))}")
    return contract.abi.functions[name]


def _address_resolver(consortium):
    def address_of(text: str) -> bytes:
        kind, _, name = text.partition(":")
        if kind == "node":
            return _node(consortium, name).address
        if kind == "contract":
            return _contract(consortium, name).address
        held = consortium.client_holders.get(name)  # the public part of every node's client file
        if held is None:
            raise ConfigError(f"no client account {name!r} on {consortium.name}")
        return held[1]
    return address_of


def _commit_and_show(run_dir: Path, consortium, ticket, as_json: bool) -> None:
    """Commits the one submission as a block, brings the node copies up to date and shows the outcome."""
    from ledger.tooling.abi import hex0x
    from ledger.chain.run import write_node_copies

    block = consortium.commit()
    for problem in write_node_copies(consortium, run_dir):
        click.echo(f"warning: node copy not updated: {problem}", err=True)
    consortium.store.close()
    outcome = {
        "chain": consortium.name, "node": ticket.node, "contract": ticket.contract, "function": ticket.function,
        "status": ticket.status, "reason": ticket.reason, "detail": ticket.detail, "block": block.number,
        "tx_hash": ticket.tx_hash and hex0x(ticket.tx_hash),
        "contract_address": hex0x(ticket.contract_address) if ticket.ok and ticket.contract_address else None,
        "events": [{"event": name, "args": args} for name, args in ticket.events],
    }
    if as_json:
        click.echo(json.dumps(outcome, indent=2))
    else:
        why = ticket.detail.get("detail") if set(ticket.detail) == {"detail"} else json.dumps(ticket.detail)
        rows = [("status", ticket.status + (f" ({ticket.reason}: {why})" if ticket.reason else "")),
                ("block", block.number)]
        rows += [(k, outcome[k]) for k in ("contract_address", "tx_hash") if outcome[k]]
        rows += [("event", f"{e['event']} {json.dumps(e['args'])}") for e in outcome["events"]]
        click.echo(f"{ticket.contract}.{ticket.function} by {ticket.node} on {consortium.name}\n" + table(rows))
    if not ticket.ok:
        sys.exit(1)


RUN_DIR_ARG = click.argument("run_dir", type=click.Path(path_type=Path))
CHAIN_OPTION = click.option("--chain", help="The chain (default: the run's only chain).")
ADVANCE_OPTION = click.option("--advance", type=click.IntRange(min=0), default=0,
                              help="Move the chain's clock this many seconds before the block.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")


@cli.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("artifact", type=click.Path(path_type=Path))
@click.argument("args", nargs=-1)
@click.option("--node", "node_name", required=True, help="The node that deploys, through the gateway.")
@CHAIN_OPTION
@ADVANCE_OPTION
@JSON_OPTION
def deploy(run_dir: Path, artifact: Path, args: tuple[str, ...], node_name: str, chain: str | None, advance: int,
           as_json: bool) -> None:
    """Deploy a compiled contract (ARTIFACT: a file written by `compile`, or NAME for build/contracts/NAME.json)
    with constructor ARGS, as a block on a run's chain: the gateway checks the node's certificate and
    membership, the validators seal the block, the run's ledger and every node's copy get it."""
    from ledger.tooling.abi_text import parse_args
    from ledger.chain.reopen import keep_user_contract, load_user_artifact

    if artifact.suffix != ".json":
        artifact = BUILD_DIR / f"{artifact}.json"
    if not artifact.is_file():
        raise ConfigError(f"no compiled contract at {artifact}; compile it first: python cli.py compile FILE.sol")
    contract_type = load_user_artifact(artifact)
    consortium = _reopen(run_dir, chain, acting=node_name, seal=True)
    node = _node(consortium, node_name)
    values = parse_args(contract_type.abi.constructor_types, args, _address_resolver(consortium))
    consortium.advance(advance)
    ticket = consortium.deploy(node, contract_type.name, *values, contract_type=contract_type)
    if ticket.status == "pending":
        keep_user_contract(run_dir, consortium.name, artifact, contract_type.name)
    _commit_and_show(run_dir, consortium, ticket, as_json)


@cli.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("contract")
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--node", "node_name", help="Call as this node's account (msg.sender); default: the zero address.")
@CHAIN_OPTION
@JSON_OPTION
def call(run_dir: Path, contract: str, function: str, args: tuple[str, ...], node_name: str | None,
         chain: str | None, as_json: bool) -> None:
    """Read FUNCTION of a deployed CONTRACT (name or 0x address) at the chain's head; nothing is written."""
    from ledger.tooling.abi import to_jsonable
    from ledger.tooling.abi_text import parse_args

    consortium = _reopen(run_dir, chain)  # a read needs no key: NODE's address comes from its certificate
    try:
        target = _contract(consortium, contract)
        sender = _node(consortium, node_name).address if node_name else b"\0" * 20
        fn = _function(target, function)
        values = parse_args(fn.input_types, args, _address_resolver(consortium))
        ok, output = consortium.engine.call(target.address, target.abi.encode_call(function, values), sender)
    finally:
        consortium.store.close()
    if not ok:
        error = consortium.decode_error(output)
        result = {"reverted": True, "error": error.name, "args": error.args}
    else:
        decoded = target.abi.decode_output(function, output)
        result = {"reverted": False, "result": to_jsonable(decoded if len(fn.output_types) == 1 else list(decoded))}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif ok:
        click.echo(json.dumps(result["result"]))
    else:
        click.echo(f"reverted: {error.name} {json.dumps(error.args)}")
    if not ok:
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@RUN_DIR_ARG
@click.argument("contract")
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--node", "node_name", required=True, help="The node that submits, through the gateway.")
@click.option("--signer", help="Sign with this client account (its label) held by the node, not the node's own key; "
                                "a label another node holds is refused by the gateway (SIGNER_NOT_HELD).")
@CHAIN_OPTION
@ADVANCE_OPTION
@JSON_OPTION
def send(run_dir: Path, contract: str, function: str, args: tuple[str, ...], node_name: str, signer: str | None,
         chain: str | None, advance: int, as_json: bool) -> None:
    """Send FUNCTION of a deployed CONTRACT (name or 0x address) as a block on a run's chain, through
    the gateway; a refusal is recorded with its reason, like any other, and exits 1."""
    from ledger.tooling.abi_text import parse_args

    from ledger.chain.reopen import signer_account

    consortium = _reopen(run_dir, chain, acting=node_name, seal=True)
    node = _node(consortium, node_name)
    target = _contract(consortium, contract)
    values = parse_args(_function(target, function).input_types, args, _address_resolver(consortium))
    account = signer_account(consortium, run_dir / consortium.name, node, signer) if signer else None
    consortium.advance(advance)
    ticket = node.send(target.call(function, *values), signer=account)
    _commit_and_show(run_dir, consortium, ticket, as_json)


# ------------------------------------------------------------------- compile


@cli.command("compile", context_settings=CONTEXT)
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=BUILD_DIR,
              show_default=True, help="Where to write one artifact JSON per contract.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def compile_contracts(paths, out_dir, as_json) -> None:
    """Compile your own Solidity files with the pinned solc 0.8.28 (native on PATH, else npm).

    Import your own files by relative path and the project's contracts as pilotledger/<path under contracts/>,
    e.g. pilotledger/identity/IdentityRegistry.sol.
    """
    from ledger.tooling.compiler import artifact_text, compile_files

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is not a directory")
    result = compile_files(list(paths))
    for line in result.warnings + result.errors:
        click.echo(line, err=True)
    if result.errors:
        sys.exit(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    compiled = []
    for artifact in result.artifacts:
        path = out_dir / f"{artifact.name}.json"
        path.write_text(artifact_text(artifact), encoding="utf-8")
        compiled.append({"name": artifact.name, "source": result.shown[artifact.source], "artifact": str(path),
                         "bytecode_bytes": len(artifact.bytecode) // 2 - 1})
    if as_json:
        click.echo(json.dumps({"compiler": {"version": result.version, "kind": result.solc.kind,
                                            "path": result.solc.path},
                               "out_dir": str(out_dir), "contracts": compiled}, indent=2))
        return
    click.echo(f"solc {result.version} ({result.solc.kind}: {result.solc.path})")
    rows = [("contract", "source", "bytecode")]
    rows += [(c["name"], c["source"], f"{c['bytecode_bytes']:,} bytes") for c in compiled]
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    for name, source, size in rows:
        click.echo(f"  {name.ljust(widths[0])}  {source.ljust(widths[1])}  {size}")
    click.echo(f"artifacts in {out_dir}" if compiled else
               "no artifact: interfaces, abstract contracts, internal libraries and contracts without public "
               "functions get none")


# ---------------------------------------------------------------------- node


@cli.command(context_settings=CONTEXT)
@click.option("--port", type=int, default=8545, show_default=True, help="Port on 127.0.0.1 to serve JSON-RPC on.")
def node(port: int) -> None:
    """Run the dev node (Hardhat, from `npm ci --prefix devnode`) in the foreground, for --engine rpc.
    Each scenario run needs a fresh node: stop it with Ctrl-C and start it again."""
    import signal
    import time

    from ledger.evm.devnode import start, stop

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that `finally` stops the node on kill too
    process, url = start(port)
    click.echo(f"dev node at {url} (chain id 7001, genesis 2021-01-01); run a scenario on it with:\n"
               f"  python cli.py run scenario share_transfer --engine rpc --rpc-url {url}\nCtrl-C stops it.")
    try:
        while process.poll() is None:
            time.sleep(0.5)
        raise PilotLedgerError(f"the dev node exited with code {process.returncode}")
    finally:
        stop(process)


# ----------------------------------------------------------------- contracts


@cli.group(context_settings=CONTEXT)
def contracts() -> None:
    """Build or check the committed contract artifacts (needs Node.js and `npm ci --prefix contracts`)."""


@contracts.command("check", context_settings=CONTEXT)
def contracts_check() -> None:
    """Recompile with the pinned solc and fail if any committed artifact is stale."""
    from ledger.tooling.compiler import SOLC_VERSION, stale_artifacts

    problems = stale_artifacts()
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo("artifacts are stale; run: python cli.py contracts build", err=True)
        sys.exit(1)
    click.echo(f"artifacts match a fresh compile with solc {SOLC_VERSION}")


@contracts.command("build", context_settings=CONTEXT)
def contracts_build() -> None:
    """Recompile the contracts and rewrite their artifacts."""
    from ledger.tooling.compiler import ARTIFACTS_DIR, build_artifacts

    for name in build_artifacts():
        click.echo(f"wrote {ARTIFACTS_DIR / name}.json")


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI and turns every expected failure into one line and an exit code."""
    from ledger.trust.secrets import operator_secret_path

    secret = operator_secret_path()
    had_secret = secret.exists()
    try:
        return _run(argv)
    finally:
        if not had_secret and secret.exists():
            click.echo(f"note: created the operator secret {secret}; every key of a run derives from it and the "
                       "seed, so keep it (outside run directories) to reproduce or extend your runs", err=True)


def _run(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="cli.py", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except PilotLedgerError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
