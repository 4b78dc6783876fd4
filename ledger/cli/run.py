"""`run scenario`: a scenario (or all of them) played on a fresh ledger, and its summary."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ledger.cli.common import CONTEXT, JSON_OPTION, Progress, echo_json, invoked_as, table
from ledger.errors import ConfigError
from ledger.evm import ENGINES
from scenarios.registry import (SCENARIOS, SCENARIOS_ENV, USER_SCENARIOS, all_scenario_names, get_scenario,
                                load_user_scenarios)


@click.group(context_settings=CONTEXT)
def run() -> None:
    """Run things on the ledger."""


def _option(option, help_text: str) -> click.Option:
    """A scenario's option (scenarios.api.Option) as a click option: --NAME VALUE, or a bare --NAME flag meaning 1."""
    kind = {"is_flag": True, "flag_value": 1} if option.flag else {"type": int}
    return click.Option([f"--{option.name.replace('_', '-')}", option.name], default=None, help=help_text, **kind)


def builtin_options(command):
    """Adds every built-in scenario's options (sizes and knobs), each defaulting to the scenario's value."""
    seen = {}
    for scenario in SCENARIOS.values():
        for option in scenario.options:
            text = f"{option.help} ({scenario.name})" if option.flag else \
                f"{option.help} ({scenario.name}: {option.default})"
            seen.setdefault(option.name, _option(option, text))
    command.params.extend(seen[name] for name in sorted(seen))
    return command


def own_options(name: str | None, args: list[str], builtin: set[str]) -> dict[str, int]:
    """What is left after NAME on the command line, read as scenario NAME's own options (a user scenario's
    that are not among the built-in ones) by a click command made from them: anything else is click's
    usual error (no such option, unexpected argument)."""
    scenario = USER_SCENARIOS.get(name)
    params = [_option(o, o.help) for o in (scenario.options if scenario else ()) if o.name not in builtin]
    command = click.Command(f"scenario {name}", params=params, context_settings=CONTEXT)
    with command.make_context(command.name, list(args)) as ctx:
        return {k: v for k, v in ctx.params.items() if v is not None}


@builtin_options
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
@JSON_OPTION
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.pass_context
def run_scenario_command(click_ctx, name, scenarios_dir, seed, run_dir, engine, rpc_urls, list_accounts, as_json,
                         list_only, **options) -> None:
    """Run scenario NAME: the business, planted violations, and a summary of what the chain refused.
    A scenario of your own (--scenarios-dir) takes its own options too, as --NAME VALUE."""
    from scenarios.runner import run_scenario

    if scenarios_dir is not None:
        load_user_scenarios(scenarios_dir)
    options.update(own_options(None if list_only else name, click_ctx.args, set(options)))
    if list_only:
        rows = [{"name": n, "title": get_scenario(n).title,
                 "options": {o.name: o.default for o in get_scenario(n).options}} for n in all_scenario_names()]
        echo_json(rows) if as_json else click.echo(table([(r["name"], r["title"]) for r in rows], 0))
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
    with Progress(f"{name} (seed {seed})", eta=False) as bar:
        summary = run_scenario(name, seed, given, run_dir, engine, bar.advance, bar.start, nodes)
    echo_json(summary) if as_json else click.echo(render_summary(summary))


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
                          f"from `{invoked_as()} node`)")
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
    transaction there: the node accounts and the clients' accounts."""
    from ledger.chain.reopen import signing_accounts
    from scenarios.runner import run_scenario

    with tempfile.TemporaryDirectory() as scratch:
        run_scenario(name, seed, options, Path(scratch) / "run")
        rows = [{"chain": a.chain, "address": "0x" + a.address.hex(),
                 "signer": a.node if a.own else f"a client of {a.node}"}
                for a in signing_accounts(Path(scratch) / "run")]
    if as_json:
        echo_json(rows)
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
    with Progress("", eta=False) as bar:
        def progress_for(name: str):
            return bar.advance, lambda total: bar.start(total, f"{name} (seed {seed})")
        summary = run_all(seed, None, run_dir, engine, progress_for)
    echo_json(summary) if as_json else click.echo(render_all(summary))


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
