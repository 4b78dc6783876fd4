"""The root command group, `--version`, and main(): every expected failure as one line and an exit code."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from ledger.cli.common import CONTEXT, LANG_OPTION
from ledger.cli.contracts import compile_contracts, contracts
from ledger.cli.findings import findings, rules
from ledger.cli.node import node
from ledger.cli.query import query
from ledger.cli.report import report
from ledger.cli.run import run
from ledger.cli.scenario import scenario_group
from ledger.cli.transact import call, deploy, govern, send
from ledger.cli.verify import audit, verify
from ledger.cli.view import view
from ledger.errors import ConfigError, PilotLedgerError
from ledger.present.i18n import translator

_translate = translator("cli")


def _(message: str) -> str:
    """A message in the chosen language; English when the language itself is what is wrong (PILOTLEDGER_LANG
    naming no language), so that the error saying so is still one line."""
    try:
        return _translate(message)
    except ConfigError:
        return message

PACKAGE = "pilotledger"


def package_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed: pip install -e .)"


@click.group(context_settings=CONTEXT)
@click.version_option(package_version(), "--version", "-V", package_name=PACKAGE, message=f"{PACKAGE} %(version)s")
@LANG_OPTION
def cli() -> None:
    """pilotledger: a permissioned-ledger simulator for capital-market blockchain pilots."""


for command in (run, scenario_group, verify, audit, view, report, query, findings, rules, compile_contracts, deploy,
                call, send, govern, contracts, node):
    cli.add_command(command)


def main(argv: list[str] | None = None, prog_name: str = PACKAGE) -> int:
    """Runs the CLI and turns every expected failure into one line and an exit code."""
    from ledger.trust.secrets import operator_secret_path

    secret = operator_secret_path()
    had_secret = secret.exists()
    try:
        return _run(argv, prog_name)
    finally:
        if not had_secret and secret.exists():
            click.echo(_("note: created the operator secret {path}; every key of a run derives from it and the "
                         "seed, so keep it (outside run directories) to reproduce or extend your runs").format(
                path=secret), err=True)


def _run(argv: list[str] | None, prog_name: str) -> int:
    try:
        cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.Abort:
        click.echo(_("aborted"), err=True)
        return 130
    except click.ClickException as exc:
        click.echo(_("error: {message}").format(message=exc.format_message()), err=True)
        return 2
    except ConfigError as exc:
        click.echo(_("error: {message}").format(message=exc), err=True)
        return 2
    except PilotLedgerError as exc:
        click.echo(_("error: {message}").format(message=exc), err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0

