"""`compile` (a pilot team's own Solidity) and `contracts check | build` (the project's artifacts)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ledger.cli.common import CONTEXT, JSON_OPTION, LANG_OPTION, GivenPath, echo_json, grid, invoked_as
from ledger.errors import ConfigError
from ledger.present.i18n import translator
from ledger.tooling.compiler import BUILD_DIR

_ = translator("cli")


@click.command("compile", context_settings=CONTEXT)
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=GivenPath(path_type=Path))
@click.option("--out", "out_dir", type=GivenPath(path_type=Path), default=BUILD_DIR,
              show_default=True, help="Where to write one artifact JSON per contract.")
@JSON_OPTION
@LANG_OPTION
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
        echo_json({"compiler": {"version": result.version, "kind": result.solc.kind, "path": result.solc.path},
                   "out_dir": str(out_dir), "contracts": compiled})
        return
    click.echo(f"solc {result.version} ({result.solc.kind}: {result.solc.path})")
    rows = [(_("contract"), _("source"), _("bytecode"))]
    rows += [(c["name"], c["source"], _("{n} bytes").format(n=f"{c['bytecode_bytes']:,}")) for c in compiled]
    click.echo(grid(rows))
    click.echo(_("artifacts in {dir}").format(dir=out_dir) if compiled else
               _("no artifact: interfaces, abstract contracts, internal libraries and contracts without public "
                 "functions get none"))


@click.group(context_settings=CONTEXT)
def contracts() -> None:
    """Build or check the committed contract artifacts (needs Node.js and `npm ci --prefix contracts`)."""


@contracts.command("check", context_settings=CONTEXT)
@LANG_OPTION
def contracts_check() -> None:
    """Recompile with the pinned solc and fail if any committed artifact is stale."""
    from ledger.tooling.compiler import SOLC_VERSION, stale_artifacts

    problems = stale_artifacts()
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(_("artifacts are stale; run: {command} contracts build").format(command=invoked_as()), err=True)
        sys.exit(1)
    click.echo(_("artifacts match a fresh compile with solc {version}").format(version=SOLC_VERSION))


@contracts.command("build", context_settings=CONTEXT)
@LANG_OPTION
def contracts_build() -> None:
    """Recompile the contracts and rewrite their artifacts."""
    from ledger.tooling.compiler import ARTIFACTS_DIR, build_artifacts

    for name in build_artifacts():
        click.echo(_("wrote {path}").format(path=f"{ARTIFACTS_DIR / name}.json"))
