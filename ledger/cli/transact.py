"""`deploy`, `call`, `send` and `govern`: a pilot team's contract on a finished run's chain, through the
gateway."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from eth_utils import encode_hex

from ledger.chain.reopen import address_resolver, commit_and_copy, find_contract, find_function, find_node
from ledger.cli.common import (ADVANCE_OPTION, CHAIN_OPTION, CONTEXT, JSON_OPTION, LANG_OPTION, NEGATIVE_HELP,
                               RUN_DIR_ARG, GivenPath, Progress, ValueArgsCommand, echo_json, invoked_as, table)
from ledger.errors import ConfigError
from ledger.present import fmt
from ledger.present.i18n import N_, translator
from ledger.tooling.abi_text import parse_args
from ledger.tooling.compiler import BUILD_DIR

_ = translator("cli")
SHOWN_IN_FULL = (("contract_address", N_("contract address")), ("tx_hash", N_("transaction hash")))
TIME_ARGS = ("time", "expiry", "due", "deadline", "until", "end", "at")  # an error argument named so is a time


def _arguments(detail: dict, names: dict[str, str]) -> str:
    """A revert's arguments (`{"id": 13, "expiry": 1664553630}`) with each time as a Beijing date and each
    member's or client's address with its name beside it (the address in full: it pastes as an argument)."""
    def shown(key: str, value: object) -> object:
        timed = any(key.lower() == t or key.lower().endswith(t) for t in TIME_ARGS)
        if timed and isinstance(value, int) and 10**9 <= value < 4 * 10**9:
            return fmt.date_time(value)
        if isinstance(value, str) and value.lower() in names:
            return fmt.party(value, names[value.lower()], full=True)
        return value
    return fmt.join(f"{key} {shown(key, value)}" for key, value in detail.items())


def _names(consortium) -> dict[str, str]:
    """address -> node name, or client label and its node, on the reopened chain."""
    names = {"0x" + node.address.hex(): name for name, node in consortium.nodes.items()}
    clients = getattr(consortium.client_holders, "by_address", dict)()
    names.update({"0x" + address.hex(): _("{label}, client of {node}").format(label=label, node=node)
                  for address, (label, node) in clients.items()})
    return names


def _warn(line: str) -> None:
    click.echo(_("warning: {line}").format(line=line), err=True)


def _reopen(run_dir: Path, chain: str | None, acting: str | None = None, seal: bool = False):
    """The run's chain, reopened at its head (from its state snapshot, else re-executing its blocks, with a
    progress bar), with the keystore of the `acting` node opened and, to `seal` a block, each validator's.
    The ledger is verified whole first (headers, roots and seals, in time that grows with the chain, though
    reopening does not): the snapshot is checked against the head's state root, and only a sealed head makes
    that root worth anything, for a read as much as for a block to be added."""
    from ledger.audit.verify import require_holds, require_pinned
    from ledger.chain.reader import LedgerReader
    from ledger.chain.reopen import reopen_chain
    from ledger.chain.run import ledger_path, pick_chain, run_status

    require_pinned(run_dir)
    if seal and not run_status(run_dir).complete:  # a block of ours would be one its --resume cannot make again
        raise ConfigError(_("{run} is an incomplete run: finish it with --resume before adding blocks to it").format(
            run=run_dir))
    chain = pick_chain(run_dir, chain)
    require_holds(ledger_path(run_dir, chain))  # the membership it replays, and the head the snapshot matches
    with LedgerReader(ledger_path(run_dir, chain)) as ledger:
        blocks = ledger.head_number()  # the blocks after genesis, re-executed one by one
    with Progress(_("reopening {chain}").format(chain=chain), blocks) as bar:
        return reopen_chain(run_dir, chain, progress=bar.advance, acting=acting, seal=seal, warn=_warn)


def _show(run_dir: Path, consortium, ticket, as_json: bool, proposal: int | None = None) -> None:
    """Commits the one submission as a block, brings the node copies up to date and shows the outcome
    (of a governance call: its execution, and the `proposal` it executed)."""
    block, problems = commit_and_copy(consortium, run_dir)
    for problem in problems:
        _warn(_("node copy not updated: {problem}").format(problem=problem))
    outcome = {
        "chain": consortium.name, "node": ticket.node, "contract": ticket.contract, "function": ticket.function,
        "status": ticket.status, "reason": ticket.reason, "detail": ticket.detail,
        "block": ticket.block_number or block.number,  # a deployment's block may precede its governance
        "tx_hash": ticket.tx_hash and encode_hex(ticket.tx_hash),
        "contract_address": encode_hex(ticket.contract_address) if ticket.ok and ticket.contract_address else None,
        "events": [{"event": name, "args": args} for name, args in ticket.events],
    }
    if proposal is not None:
        outcome["proposal"] = proposal
    if as_json:
        echo_json(outcome)
    else:  # ids in full: a contract's address, a transaction's hash and the events' arguments paste as they are
        from ledger.report import labels

        why = (labels.detail(ticket.detail.get("detail")) if set(ticket.detail) == {"detail"}
               else _arguments(ticket.detail, _names(consortium)))
        status = labels.label(labels.STATUS, ticket.status)
        if ticket.reason:
            meaning = labels.reason(ticket.reason)
            status += f" ({ticket.reason}{': ' + meaning if meaning else ''}; {why})"
        when = fmt.date_time(block.timestamp) if block is not None and block.number == outcome["block"] else ""
        rows = [(_("status"), status), (_("block"), f"{outcome['block']}  {when}".rstrip())]
        rows += [(_("proposal"), proposal)] if proposal is not None else []
        rows += [(_(label), outcome[key]) for key, label in SHOWN_IN_FULL if outcome[key]]
        rows += [(_("event"), f"{e['event']} {json.dumps(e['args'])}") for e in outcome["events"]]
        title = _("{call} by {node} on {chain}").format(call=f"{ticket.contract}.{ticket.function}",
                                                        node=ticket.node, chain=consortium.name)
        click.echo(title + "\n" + table(rows))
    if not ticket.ok:
        sys.exit(1)


@click.command(cls=ValueArgsCommand, context_settings=CONTEXT, epilog=NEGATIVE_HELP)
@RUN_DIR_ARG
@click.argument("artifact", type=GivenPath(path_type=Path))
@click.argument("args", nargs=-1)
@click.option("--node", "node_name", required=True, help="The node that deploys, through the gateway.")
@CHAIN_OPTION
@ADVANCE_OPTION
@JSON_OPTION
@LANG_OPTION
def deploy(run_dir: Path, artifact: Path, args: tuple[str, ...], node_name: str, chain: str | None, advance: int,
           as_json: bool) -> None:
    """Deploy a compiled contract (ARTIFACT: a file written by `compile`, or NAME for build/contracts/NAME.json)
    with constructor ARGS, as a block on a run's chain: the gateway checks the node's certificate and
    membership, the validators seal the block, the run's ledger and every node's copy get it."""
    from ledger.chain.reopen import deploy_user_contract, load_user_artifact

    if artifact.suffix != ".json":
        artifact = BUILD_DIR / f"{artifact}.json"
    if not artifact.is_file():
        raise ConfigError(_("no compiled contract at {artifact}; compile it first: {command} compile FILE.sol").format(
            artifact=artifact, command=invoked_as()))
    contract_type = load_user_artifact(artifact)
    consortium = _reopen(run_dir, chain, acting=node_name, seal=True)
    node = find_node(consortium, node_name)
    values = parse_args(contract_type.abi.constructor_types, args, address_resolver(consortium))
    consortium.advance(advance)
    ticket, proposals = deploy_user_contract(consortium, run_dir, node, artifact, contract_type, values)
    if proposals:
        click.echo(_("{contract}'s declared roles adopted by governance (proposal {ids})").format(
            contract=contract_type.name, ids=", ".join(map(str, proposals))), err=True)
    _show(run_dir, consortium, ticket, as_json)


@click.command(cls=ValueArgsCommand, context_settings=CONTEXT, epilog=NEGATIVE_HELP)
@RUN_DIR_ARG
@click.argument("contract")
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--node", "node_name", help="Call as this node's account (msg.sender); default: the zero address.")
@CHAIN_OPTION
@JSON_OPTION
@LANG_OPTION
def call(run_dir: Path, contract: str, function: str, args: tuple[str, ...], node_name: str | None,
         chain: str | None, as_json: bool) -> None:
    """Read FUNCTION of a deployed CONTRACT (name or 0x address) at the chain's head; nothing is written."""
    from ledger.tooling.abi import to_jsonable

    consortium = _reopen(run_dir, chain)  # a read needs no key: NODE's address comes from its certificate
    try:
        target = find_contract(consortium, contract)
        sender = find_node(consortium, node_name).address if node_name else b"\0" * 20
        fn = find_function(target, function)
        values = parse_args(fn.input_types, args, address_resolver(consortium))
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
        echo_json(result)
    elif ok:
        click.echo(json.dumps(result["result"]))
    else:
        click.echo(_("reverted: {error} {args}").format(error=error.name, args=json.dumps(error.args)))
    if not ok:
        sys.exit(1)


@click.command(cls=ValueArgsCommand, context_settings=CONTEXT, epilog=NEGATIVE_HELP)
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
@LANG_OPTION
def send(run_dir: Path, contract: str, function: str, args: tuple[str, ...], node_name: str, signer: str | None,
         chain: str | None, advance: int, as_json: bool) -> None:
    """Send FUNCTION of a deployed CONTRACT (name or 0x address) as a block on a run's chain, through
    the gateway; a refusal is recorded with its reason, like any other, and exits 1."""
    from ledger.chain.reopen import signer_account

    consortium = _reopen(run_dir, chain, acting=node_name, seal=True)
    node = find_node(consortium, node_name)
    target = find_contract(consortium, contract)
    values = parse_args(find_function(target, function).input_types, args, address_resolver(consortium))
    account = signer_account(consortium, run_dir / consortium.name, node, signer) if signer else None
    consortium.advance(advance)
    ticket = node.send(target.call(function, *values), signer=account)
    _show(run_dir, consortium, ticket, as_json)


@click.command(cls=ValueArgsCommand, context_settings=CONTEXT, epilog=NEGATIVE_HELP)
@RUN_DIR_ARG
@click.argument("contract")
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--admin", "admins", multiple=True,
              help="An admin node that takes part (repeat it; the first proposes and executes, the next ones vote "
                   "up to a majority of the active admins); default: every active admin whose keystore opens.")
@CHAIN_OPTION
@ADVANCE_OPTION
@JSON_OPTION
@LANG_OPTION
def govern(run_dir: Path, contract: str, function: str, args: tuple[str, ...], admins: tuple[str, ...],
           chain: str | None, advance: int, as_json: bool) -> None:
    """Call governance-only FUNCTION of a deployed CONTRACT (name or 0x address) by governance, as three
    blocks on a run's chain: an admin proposes the call (a CALL_TARGET proposal), a majority of the admins
    votes, the proposer executes it and the PermissionRegistry makes the call (ModularCompliance's
    bindToken, addModule and removeModule, a reference setter). A failed step exits 1, naming it."""
    from ledger.chain.access import calls_by_governance
    from ledger.chain.reopen import open_node
    from ledger.chain.roles import Role
    from ledger.errors import LedgerError

    consortium = _reopen(run_dir, chain, seal=True)
    try:
        for name in admins:
            find_node(consortium, name)
        target = find_contract(consortium, contract)
        values = parse_args(find_function(target, function).input_types, args, address_resolver(consortium))
        for node in (consortium.nodes[n] for n in admins) if admins else consortium.nodes.values():
            if getattr(node.account, "private_key", None) or not (admins or node.roles & Role.ADMIN):
                continue
            try:
                open_node(consortium, run_dir / consortium.name, node.name)
            except (ConfigError, LedgerError) as exc:
                if admins:
                    raise
                _warn(_("admin {node} cannot sign: {problem}").format(node=node.name, problem=exc))
    except Exception:
        consortium.store.close()
        raise
    consortium.advance(advance)
    executions: list = []
    try:
        ids = calls_by_governance(consortium, [(target.name, function, values)], admins=admins or None,
                                  executions=executions)
    except LedgerError:
        _block, problems = commit_and_copy(consortium, run_dir)  # the steps that passed stay on the chain
        for problem in problems:
            _warn(_("node copy not updated: {problem}").format(problem=problem))
        raise
    _show(run_dir, consortium, executions[0], as_json, proposal=ids[0])
