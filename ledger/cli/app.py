"""The root command group, `--version`, and main(): every expected failure as one line and an exit code."""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version

import click

from ledger.cli.common import CONTEXT, LANG_OPTION
from ledger.cli.contracts import compile_contracts, contracts
from ledger.cli.findings import findings, rules
from ledger.cli.node import node
from ledger.cli.query import query
from ledger.cli.report import report
from ledger.cli.run import run
from ledger.cli.runs import runs
from ledger.cli.scenario import scenario_group
from ledger.cli.transact import call, deploy, govern, send
from ledger.cli.verify import audit, verify
from ledger.cli.view import view
from ledger.errors import ConfigError, PilotLedgerError
from ledger.present.i18n import translator

USER_MODULES = "pilotledger_user_scenarios."  # scenarios.registry loads a user's scenario files under it

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
                call, send, govern, contracts, node, runs):
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
    except click.Abort as exc:  # click turns Ctrl-C (and EOF at a prompt) into Abort
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        click.echo(_("interrupted") if interrupted else _("aborted"), err=True)
        return 130
    except click.ClickException as exc:
        click.echo(_one_line(_("error: {message}").format(message=exc.format_message())), err=True)
        return 2
    except ConfigError as exc:
        click.echo(_one_line(_("error: {message}").format(message=exc)), err=True)
        return 2
    except PilotLedgerError as exc:
        click.echo(_one_line(_("error: {message}").format(message=exc)), err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        click.echo(_("interrupted"), err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        return _last_resort(exc)
    return 0


DEBUG_ENV = "PILOTLEDGER_DEBUG"  # set to 1: an unexpected exception shows its traceback
LONGEST = 1000  # characters of one error line; a huge argument quoted in a message is cut
BAD_PATH = {errno.EACCES, errno.EPERM, errno.ENOENT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EROFS,
            errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL, errno.ENXIO}  # about a path the user gave: exit 2


LINE_BREAKS = frozenset("\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _one_line(text: str) -> str:
    """`text` as one line of at most LONGEST characters."""
    line = " ".join(str(text)[:2 * LONGEST].split("\n")).replace("\r", " ")
    # what else str.splitlines() (and some terminals) break a line at, escaped: \x85, \u2028...
    line = "".join(repr(c)[1:-1] if c in LINE_BREAKS else c for c in line)
    # a byte of a path or word the locale could not decode (a lone surrogate) as \udcff: any stream can print it
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    return line if len(line) <= LONGEST else line[:LONGEST - 1] + "\u2026"


def _detail(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else ""


def _user_scenario_frame(exc: BaseException):
    """The innermost frame of a user's scenario file (loaded from --scenarios-dir) that `exc` went through,
    or None: then the exception is the scenario's own, and its traceback is worth showing."""
    found = None
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        if str(frame.f_globals.get("__name__", "")).startswith(USER_MODULES):
            found = frame
    return found


def _error(message: str) -> None:
    """`message` as the one error line, "error: " in the chosen language before it."""
    click.echo(_one_line(_("error: {message}").format(message=message)), err=True)


def _last_resort(exc: Exception) -> int:
    """An exception nothing expected, as one line and an exit code (its traceback with PILOTLEDGER_DEBUG=1).
    A user scenario's own exception keeps its traceback, labelled as the scenario's."""
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        raise exc
    frame = _user_scenario_frame(exc)
    if frame is not None:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        _error(f"your scenario ({frame.f_code.co_filename}) raised {type(exc).__name__}: {_detail(exc)}; "
               "the traceback above is its own")
        return 1
    if isinstance(exc, OSError):
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        reason = exc.strerror or _detail(exc) or type(exc).__name__
        what = f"{where}: {reason}" if where else reason
        if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
            _error(f"disk full: {what}")
            return 1
        _error(what)
        return 2 if exc.errno in BAD_PATH and where else 1
    if isinstance(exc, sqlite3.DatabaseError):
        message = _detail(exc) or type(exc).__name__
        _error(f"SQLite database: {message}")
        bad_file = any(s in message for s in ("not a database", "malformed", "unable to open", "no such table",
                                              "no such column"))
        return 2 if bad_file else 1
    if isinstance(exc, UnicodeEncodeError) and "surrogates" in str(exc):  # bytes the locale could not decode
        _error(f"an argument holds bytes that are not UTF-8 text ({exc.object[exc.start:exc.end]})")
        return 2
    if isinstance(exc, ValueError) and "embedded null" in str(exc):  # a NUL in a path or name given in-process
        _error("an argument holds a NUL character")
        return 2
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):  # int() of a 5,000-digit word
        _error(f"a number given has more digits than any value here can have ({sys.get_int_max_str_digits()} "
               "or more)")
        return 2
    if isinstance(exc, RecursionError):
        _error("the input nests too deeply to read")
        return 2
    if isinstance(exc, MemoryError):
        _error("out of memory (is an input or a size absurdly large?)")
        return 1
    click.echo(_one_line(_("internal error: {kind}: {message} (set {env}=1 for the traceback)").format(
        kind=type(exc).__name__, message=_detail(exc), env=DEBUG_ENV)), err=True)
    return 1
