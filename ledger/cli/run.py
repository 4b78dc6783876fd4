"""`run scenario`: a scenario (or all of them) played on a fresh ledger, and its summary."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import click

from ledger.cli.common import (CONTEXT, FULL_OPTION, JSON_OPTION, LANG_OPTION, Progress, echo_json, grid, invoked_as,
                               table)
from ledger.cli.readable import Names
from ledger.errors import ConfigError
from ledger.present import fmt
from ledger.present.i18n import CHINESE, current_language, translator
from ledger.evm import ENGINES
from scenarios.registry import (SCENARIOS, SCENARIOS_ENV, USER_SCENARIOS, all_scenario_names, get_scenario,
                                load_user_scenarios)

_ = translator("cli")


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
              help="Execution engine: pyevm (embedded py-evm), anvil (revm on an Anvil pilotledger starts, for "
                   "market-scale runs) or rpc (a JSON-RPC node, see --rpc-url).")
@click.option("--rpc-url", "rpc_urls", multiple=True, metavar="[CHAIN=]URL",
              help="With --engine rpc: the node's URL, or CHAIN=URL once per chain of a multi-chain scenario.")
@click.option("--node-copies", default="all", show_default=True, metavar="all|none|NODE,...",
              help="Which member nodes hold their own copy of each chain's ledger (RUN_DIR/<chain>/nodes/NODE/"
                   "ledger.sqlite): all, none, or the nodes named (e.g. the regulator's). Each copy is the whole "
                   "ledger; the chain's own ledger is always kept. Recorded in the run: --resume, send, deploy "
                   "and govern keep the choice.")
@click.option("--resume", type=click.Path(path_type=Path), metavar="RUN_DIR",
              help="Finish the interrupted run at RUN_DIR (killed, or stopped by a full disk) with the seed, options "
                   "and engine its run.started marker gives: the run is made again beside it, every block the "
                   "interrupted run stored checked to come again byte for byte, and the finished run takes its "
                   "place, with the head an uninterrupted run has. NAME must be the run's scenario; no other "
                   "option but --scenarios-dir, --json and --full.")
@click.option("--list-accounts", is_flag=True,
              help="Print every account that signs transactions in NAME (for a network's accounts allowlist).")
@JSON_OPTION
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@FULL_OPTION
@LANG_OPTION
@click.pass_context
def run_scenario_command(click_ctx, name, scenarios_dir, seed, run_dir, engine, rpc_urls, node_copies, resume,
                         list_accounts, as_json, list_only, full, **options) -> None:
    """Run scenario NAME: the business, planted violations, and a summary of what the chain refused.
    A scenario of your own (--scenarios-dir) takes its own options too, as --NAME VALUE."""
    from ledger.chain.run import node_copies_choice
    from scenarios.runner import run_scenario

    if scenarios_dir is not None:
        load_user_scenarios(scenarios_dir)
    options.update(own_options(None if list_only else name, click_ctx.args, set(options)))
    if list_only:
        rows = [{"name": n, "title": get_scenario(n).title,
                 "options": {o.name: o.default for o in get_scenario(n).options}} for n in all_scenario_names()]
        echo_json(rows) if as_json else click.echo(table([(r["name"], _scenario_title(r["name"], r["title"]))
                                                          for r in rows], 0))
        return
    if name is None:
        raise click.UsageError("name a scenario, or use --list")
    if resume is not None:
        resume_command(click_ctx, name, resume, as_json, full)
        return
    node_copies = node_copies_choice(node_copies)  # a name is checked against the run's nodes at its first block
    if name == "all":
        if scenarios_dir is not None:
            raise ConfigError("run scenario all runs the built-in scenarios only; run yours by name")
        if engine == "rpc":
            raise ConfigError("run scenario all runs on the embedded engine; run each scenario by name on a node")
        run_all_command(seed, run_dir, engine, as_json, options, full, node_copies)
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
    with Progress(_("{name} (seed {seed})").format(name=name, seed=seed), counts=run_counts()) as bar:
        summary = run_scenario(name, seed, given, run_dir, engine, bar.advance, bar.start, nodes,
                               node_copies=node_copies)
    echo_json(summary) if as_json else click.echo(render_summary(summary, _run_names(summary["run_dir"], full)))


def resume_command(click_ctx, name: str, run_dir: Path, as_json: bool, full: bool) -> None:
    """`run scenario NAME --resume RUN_DIR`: the interrupted run finished as its marker says (scenarios.runner.resume_run)."""
    from click.core import ParameterSource

    from scenarios.runner import ALL, resume_run

    kept = {"name", "resume", "scenarios_dir", "as_json", "full", "lang"}
    for param in click_ctx.command.params:
        if param.name not in kept and click_ctx.get_parameter_source(param.name) in (
                ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            raise ConfigError(f"--resume takes the seed, options and engine from the run's run.started marker; "
                              f"drop {param.opts[0]}")
    if click_ctx.args:
        raise ConfigError(f"--resume takes the run's options from its run.started marker; drop {click_ctx.args[0]}")
    with Progress("", counts=run_counts()) as bar:
        def progress_for(scenario: str):
            return bar.advance, lambda total: bar.start(total, _("{name} (seed {seed})").format(name=scenario,
                                                                                            seed=seed_of()))

        def seed_of():
            from ledger.chain.run import read_marker
            return (read_marker(run_dir) or {}).get("seed")

        summary = resume_run(run_dir, name, bar.advance, progress_for(name)[1], progress_for)
    if as_json:
        echo_json(summary)
    elif summary.get("scenario") == ALL:
        click.echo(render_all(summary, _run_names(summary["run_dir"], full)))
    else:
        click.echo(render_summary(summary, _run_names(summary["run_dir"], full)))


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
        chain, _sep, url = value.partition("=") if "=" in value.split("://", 1)[0] else (ANY_CHAIN, "", value)
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
        accounts = signing_accounts(Path(scratch) / "run")
    rows = [{"chain": a.chain, "address": "0x" + a.address.hex(),
             "signer": a.node if a.own else f"a client of {a.node}"} for a in accounts]
    if as_json:
        echo_json(rows)
    else:  # the addresses in full: they are what a network's allowlist takes
        click.echo(grid([(a.chain, "0x" + a.address.hex(), a.node if a.own else _("a client of {node}").format(
            node=a.node)) for a in accounts], indent=0))


def run_all_command(seed: int, run_dir: Path | None, engine: str, as_json: bool, options: dict,
                    full: bool = False, node_copies: str | list[str] = "all") -> None:
    """`run scenario all`: every scenario at its default sizes, and the regulator's findings scored."""
    from scenarios.registry import scenario_names
    from scenarios.runner import run_all
    from scenarios.violations import spread

    violations = options.pop("violations", None) or 0  # spread over the markets (scenarios/violations/)
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise ConfigError(f"run scenario all takes no scenario option but --violations "
                          f"(--{given[0].replace('_', '-')}); each scenario runs at its default sizes")
    if run_dir is not None and run_dir.exists():
        raise ConfigError(f"run directory {run_dir} already exists; pick a new one")
    with Progress("", counts=run_counts()) as bar:
        def progress_for(name: str):
            return bar.advance, lambda total: bar.start(total, _("{name} (seed {seed})").format(name=name, seed=seed))
        per = {name: {"violations": n} for name, n in spread(seed, violations, scenario_names()).items() if n}
        summary = run_all(seed, per, run_dir, engine, progress_for, node_copies=node_copies)
    echo_json(summary) if as_json else click.echo(render_all(summary, _run_names(summary["run_dir"], full)))


def run_counts() -> tuple[str, str]:
    """What a run's progress bar counts: blocks (its steps; the time left is estimated from the blocks the
    scenario expects) and the transactions they held."""
    return _("blocks"), _("transactions")


MISSED = re.compile(r"^(?P<kind>\S+) \(expected (?P<expected>.*), got (?P<got>.*)\)$")  # scenarios.runner's words
ALERTS_SHOWN = 8


def _run_names(run_dir: str, full: bool) -> Names:
    """The public names of a run just written (its ledgers, before anyone else could touch them)."""
    from ledger.chain.run import chain_ledgers

    return Names.read(chain_ledgers(Path(run_dir)), full)


def _scenario_title(name: str, title: str) -> str:
    from ledger.report import labels

    return labels.scenario(name) if current_language() == CHINESE and name in labels.SCENARIOS else title


def _reason(key: str) -> tuple[str, str]:
    """A refusal reason `gateway:CODE` / `contract:Error` as (where:code, what it means)."""
    from ledger.report import labels

    where, _sep, code = key.partition(":")
    return f"{labels.label(labels.WHERE, where)}:{code}", labels.reason(code)


def _rule_title(rule: str) -> str:
    """A catalogue rule's title (findings domain); an older run's monitor rule by the report's label."""
    from ledger.report import labels
    from ledger.supervision.catalogue import RULES_BY_ID, text

    return text.title(rule) if rule in RULES_BY_ID else labels.rule_title(rule)


def _figures(x: dict) -> str:
    return _("precision {precision:.2f}  recall {recall:.2f}  ({found} found of {planted} planted, {false} false, "
             "{missed} missed)").format(precision=x["precision"], recall=x["recall"], found=x["true_positives"],
                                        planted=x["plants"], false=x["false_positives"], missed=x["false_negatives"])


def _subject(names: Names, subject: object) -> str:
    """A finding's or an alert's subject ({"asset": "fund:3", ...} or "fund:3/0x…") readable."""
    values = list(subject.values()) if isinstance(subject, dict) else str(subject).split("/")
    shown = []
    for value in values:
        if isinstance(value, (list, tuple)):
            shown.append(fmt.join(_subject(names, [v]) for v in value))
            continue
        text = str(value)
        if text.startswith(("fund:", "company:")):
            shown.append(names.asset(text))
        elif text.startswith("0x") and len(text) == 42:
            shown.append(names.account(text))
        elif text.startswith("0x") and len(text) == 66:
            code = fmt.company_code(text)
            shown.append(fmt.commodity(code) if code and code.islower() else names.company(text) if code
                         else names.id(text))
        else:
            shown.append(fmt.commodity(text))
    return " / ".join(shown)


def _alert(names: Names, a: dict) -> str:
    """What an alert says, in the reader's language: the rule's message with readable values where the alert
    carries them, else its English detail translated by pattern (ledger.report.labels), else its subject."""
    from ledger.report import labels
    from ledger.supervision.catalogue import text

    if a.get("message"):
        return text.what(a, names.full)
    detail = str(a.get("detail", ""))
    shown = labels.detail(detail, names.by_address())
    if shown == detail and current_language() == CHINESE:
        return _subject(names, a.get("subject", ""))
    return _readable_ids(shown, names) if shown == detail else shown


UNIX_TIME = re.compile(r"\b1[5-9]\d{8}\b")  # 2017-07 .. 2033-05: a block time in an older run's English text
HEX_ID = re.compile(r"0x[0-9a-fA-F]{64}\b|0x[0-9a-fA-F]{40}\b")


def _readable_ids(text: str, names: Names) -> str:
    """An English text of an older run with its ids named (companies by code, accounts by name) and its Unix
    times as Beijing dates."""
    def name(m: re.Match) -> str:
        value = m.group(0).lower()
        return names.account(value) if len(value) == 42 else (
            names.company(value) if fmt.company_code(value) else names.id(value))
    return UNIX_TIME.sub(lambda m: fmt.date_time(int(m.group(0))), HEX_ID.sub(name, text))


def render_all(s: dict, names: Names | None = None) -> str:
    names = names or Names()
    rows: list[tuple[str, object]] = [(name, _figures(x)) for name, x in s["scores"].items()]
    rows.append((_("overall"), _figures(s["overall"])))
    for name, x in s["scores"].items():
        for m in x["missed"]:
            rule = m.get("rule") or m.get("kind", "")
            rows.append((_("  {scenario} missed").format(scenario=name), _("{title} [{rule}] (plant {plant})").format(
                title=_rule_title(rule), rule=rule, plant=m.get("plant"))))
        for f in x["unexpected"]:
            rule = f.get("rule") or f.get("kind", "")
            what = f.get("what") or f.get("detail", "") if current_language() != CHINESE else \
                _subject(names, f.get("subject", ""))
            rows.append((_("  {scenario} false").format(scenario=name), f"{_rule_title(rule)} [{rule}]: {what}"))
    rows.append((_("run directory"), s["run_dir"]))
    parts = [_("all scenarios  seed {seed}  engine {engine}  (regulator's findings vs ground truth)").format(
        seed=s["seed"], engine=s["engine"]) + "\n" + table(rows)]
    parts += [render_summary(s[name], names) for name in s["scores"]]
    return "\n\n".join(parts)


def render_summary(s: dict, names: Names | None = None) -> str:
    from ledger.report import labels

    names = names or Names()
    rows: list[tuple[str, object]] = [
        (_("blocks"), s["blocks"]),
        (_("transactions"), _("{n} ({committed} committed, {refused} refused)").format(
            n=s["transactions"], committed=s["committed"], refused=s["refused"])),
    ]
    for key, count in s["refused_by_reason"].items():
        reason, meaning = _reason(key)
        rows.append((f"  {reason}", f"{count}  {meaning}".rstrip()))
    rows += [
        (_("planted violations"), _("{n} ({chain} for the chain, {regulator} left for the regulator)").format(
            n=s["planted"], chain=s["planted_for_chain"], regulator=s["planted_for_regulator"])),
        (_("caught by the chain"), f"{s['caught']} / {s['planted_for_chain']}"),
        (_("unexpected refusals"), s["unexpected_refusals"]),
        (_("head hash"), s["head_hash"]),
    ]
    if len(s["chains"]) > 1:
        rows += [(_("  chain {name}").format(name=name), _("{n} blocks, head {hash}").format(
            n=c["blocks"], hash=c["head_hash"])) for name, c in s["chains"].items()]
    if "anchors" in s:
        rows.append((_("regulatory chain"), _("{n} anchors (to block {height}), {reports} reports").format(
            n=s["anchors"], height=s["anchored_height"], reports=s["reports_filed"])))
    if s.get("node_copies_never_members"):
        rows.append((_("node copies"), _("none for {names}: named by --node-copies, never a member").format(
            names=", ".join(s["node_copies_never_members"]))))
    rows.append((_("risk alerts"), len(s["alerts"])))
    for a in s["alerts"][:ALERTS_SHOWN]:
        when = fmt.date_time(a["time"]) if a.get("time") else ""
        said = _("{title}: {what}").format(title=_rule_title(a["rule"]), what=_alert(names, a))
        if a.get("severity") == "warning":
            said = _("warning: {line}").format(line=said)
        rows.append((_("  block {n}").format(n=a["block"]), f"{when}  {said}".strip()))
    if len(s["alerts"]) > ALERTS_SHOWN:
        rows.append(("  ...", _("{n} more in --json").format(n=len(s["alerts"]) - ALERTS_SHOWN)))
    if "transfers_requested" in s:
        rows.append((_("transfers requested"), _("{n} of the {asked} asked: no seller was left for more (give more "
                                                 "--investors)").format(n=s["transfers_requested"],
                                                                        asked=s["options"]["transfers"])))
    if "exit_drill" in s:
        e = s["exit_drill"]
        rows.append((_("exit drill"), _("paused at block {block}, {holdings} holdings in the signed snapshot, "
                                        "{lost} lost").format(block=e["paused_at_block"], holdings=e["holdings"],
                                                              lost=len(e["lost"]))))
    rows += [
        (_("run directory"), s["run_dir"]),
        (_("throughput"), _("{tps} tx/s ({seconds} s)").format(tps=s["tx_per_second"], seconds=s["elapsed_seconds"])),
    ]
    for m in s["missed"]:
        hit = MISSED.match(str(m))
        if hit:
            kind, _description = labels.planted_kind(hit["kind"])
            m = _("{kind} (expected {expected}, got {got})").format(kind=kind, expected=hit["expected"],
                                                                    got=hit["got"])
        rows.append((_("missed"), m))
    title = _("{scenario}  seed {seed}  engine {engine}").format(scenario=s["scenario"], seed=s["seed"],
                                                                 engine=s["engine"])
    return title + "\n" + table(rows)
