"""`scenario new`: a working scenario of your own to start from."""

from __future__ import annotations

import errno
from pathlib import Path

import click

from ledger.cli.common import CONTEXT, LANG_OPTION, GivenPath, invoked_as
from ledger.errors import ConfigError
from ledger.present.i18n import translator
from scenarios.registry import SCENARIOS

_ = translator("cli")


@click.group("scenario", context_settings=CONTEXT)
def scenario_group() -> None:
    """Write scenarios of your own."""


@scenario_group.command("new", context_settings=CONTEXT)
@click.argument("name")
@click.option("--dir", "directory", type=GivenPath(path_type=Path), default=Path("my_scenarios"),
              show_default=True, help="The folder to write NAME.py into (created if missing).")
@LANG_OPTION
def scenario_new(name, directory) -> None:
    """Write DIR/NAME.py: a working scenario with one violation planted for the chain and one for the regulator."""
    import keyword

    from scenarios.skeleton import render

    if not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"scenario name {name!r} is not a Python identifier (letters, digits, _; no leading digit)")
    if name in SCENARIOS or name == "all":
        raise ConfigError(f"scenario name {name!r} clashes with a built-in scenario; pick another")
    path = directory / f"{name}.py"
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--dir {directory} is a file, not a folder")
    if path.exists():
        raise ConfigError(f"{path} already exists; pick another name or remove it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(render(name, str(directory)), encoding="utf-8")
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise  # main() says "disk full", exit 1
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(_("wrote {path}\nrun it:  {command} run scenario {name} --scenarios-dir {directory}").format(
        path=path, command=invoked_as(), name=name, directory=directory))
