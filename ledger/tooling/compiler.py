"""Compiles the project's Solidity sources with the pinned solc and checks the
committed artifacts against a fresh compile; compiles pilot teams' own files too.

Running a scenario needs only the committed artifacts; this module (and so Node.js
with the npm `solc` package in contracts/node_modules) is needed only to rebuild or
check them. A team's own files (`compile_files`) may also use a native solc 0.8.28.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ArtifactError, CompileError, ConfigError

SOLC_VERSION = "0.8.28"
EVM_VERSION = "shanghai"
CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
BUILD_DIR = Path("build") / "contracts"  # where `compile` writes a team's artifacts, under the working directory
SOLCJS_SCRIPT = CONTRACTS_DIR / "compile.cjs"
NPM_SOLC = CONTRACTS_DIR / "node_modules" / "solc"
PROJECT_PREFIX = "pilotledger/"  # a team's files import the project's contracts as pilotledger/<path under contracts/>
SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": EVM_VERSION,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


@dataclass(frozen=True)
class Artifact:
    """One compiled contract as committed under contracts/artifacts/."""

    name: str
    source: str
    abi: list
    bytecode: str
    deployed_bytecode: str
    compiler: str
    source_hash: str

    def to_json(self) -> dict:
        return {
            "contractName": self.name,
            "sourceName": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": {"name": "solc", "version": self.compiler, "settings": SETTINGS},
            "sourceHash": self.source_hash,
        }


def project_sources(root: Path = CONTRACTS_DIR) -> dict[str, str]:
    """Every .sol file under `root`, keyed by its path relative to `root`."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*.sol"))
        if "node_modules" not in path.parts
    }


def source_hash(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def run_solcjs(standard_input: dict, base_path: str | None = None) -> tuple[str, dict]:
    """Runs the npm `solc` through node; returns (compiler version, standard-JSON output). With `base_path`,
    solc may load the files the sources import, from under it."""
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not installed; install Node.js to compile contracts")
    if not NPM_SOLC.is_dir():
        raise CompileError(f"solc {SOLC_VERSION} is not installed; run: npm ci --prefix {CONTRACTS_DIR}")
    proc = _compile_process([node, str(SOLCJS_SCRIPT), *(["--base-path", base_path] if base_path else [])],
                            standard_input)
    if proc.returncode != 0:
        raise CompileError(f"solc failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else 'no output'}")
    result = json.loads(proc.stdout)
    return result["version"], result["output"]


COMPILE_TIMEOUT = 600  # seconds: a compiler that hangs is stopped, never waited on for ever


def _compile_process(command: list[str], request: dict) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, input=json.dumps(request), capture_output=True, text=True, check=False,
                              timeout=COMPILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CompileError(f"the compiler gave no answer in {COMPILE_TIMEOUT} s; stopped") from None


def standard_input(sources: dict[str, str]) -> dict:
    """solc's standard-JSON input for `sources` (source unit name -> content) with the pinned settings."""
    return {
        "language": "Solidity",
        "sources": {path: {"content": content} for path, content in sources.items()},
        "settings": SETTINGS,
    }


def output_artifacts(output: dict, sources: dict[str, str], version: str) -> list[Artifact]:
    """One artifact per contract with bytecode in solc's standard-JSON output."""
    artifacts = []
    for path, contracts in output.get("contracts", {}).items():
        for name, compiled in contracts.items():
            bytecode = compiled["evm"]["bytecode"]["object"]
            if not bytecode or not compiled["abi"]:  # interfaces, abstract contracts, constant-only libraries
                continue
            artifacts.append(Artifact(
                name=name,
                source=path,
                abi=compiled["abi"],
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + compiled["evm"]["deployedBytecode"]["object"],
                compiler=version,
                source_hash=source_hash(sources[path]),
            ))
    return artifacts


def compile_sources(sources: dict[str, str]) -> dict[str, Artifact]:
    """Compiles `sources` (path -> content) and returns one artifact per contract with bytecode."""
    version, output = run_solcjs(standard_input(sources))
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompileError(f"solc {version} found, {SOLC_VERSION} pinned; run: npm ci --prefix {CONTRACTS_DIR}")
    problems = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if problems:
        raise CompileError("; ".join(e["formattedMessage"].strip().splitlines()[0] for e in problems))
    return {artifact.name: artifact for artifact in output_artifacts(output, sources, version)}


def artifact_text(artifact: Artifact) -> str:
    return json.dumps(artifact.to_json(), indent=2, sort_keys=True) + "\n"


def build_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Recompiles the project's contracts and writes their artifacts; returns the names written."""
    artifacts = compile_sources(project_sources())
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    for name, artifact in artifacts.items():
        (out_dir / f"{name}.json").write_text(artifact_text(artifact), encoding="utf-8")
    return sorted(artifacts)


def stale_artifacts(out_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Recompiles and lists each artifact that is missing, extra or differs from the fresh compile."""
    fresh = compile_sources(project_sources())
    committed = {path.stem: path for path in out_dir.glob("*.json")}
    problems = [f"{name}: missing" for name in sorted(set(fresh) - set(committed))]
    problems += [f"{name}: no such contract in sources" for name in sorted(set(committed) - set(fresh))]
    for name in sorted(set(fresh) & set(committed)):
        if committed[name].read_text(encoding="utf-8") != artifact_text(fresh[name]):
            problems.append(f"{name}: stale (differs from a fresh compile)")
    if not committed and not fresh:
        raise ArtifactError("no contracts found")
    return problems


# ------------------------------------------------------ a pilot team's own files


@dataclass(frozen=True)
class Solc:
    """The compiler for a team's own files: a native solc on PATH or the npm package through node."""

    kind: str  # "native" or "npm"
    path: str  # the native binary, or the npm package's directory
    version: str  # the native binary's full version; the npm package's x.y.z until it has compiled

    def run(self, request: dict, base_path: str | None = None) -> tuple[str, dict]:
        """Compiles a standard-JSON `request`; returns (the full compiler version, solc's standard-JSON output).
        With `base_path`, solc may load the files the sources import, from under it (solc's --base-path)."""
        if self.kind == "npm":
            return run_solcjs(request, base_path)
        proc = _compile_process([self.path, "--standard-json", *(["--base-path", base_path] if base_path else [])],
                                request)
        try:
            return self.version, json.loads(proc.stdout)
        except ValueError:
            detail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no output"
            raise CompileError(f"{self.path} --standard-json failed: {detail}") from None


def native_version(solc: str) -> str | None:
    """The full version `solc --version` reports (e.g. 0.8.28+commit.7893614a.Linux.g++), None if it fails."""
    try:
        proc = subprocess.run([solc, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"Version:\s*(\S+)", proc.stdout)
    return found[1] if found else None


def find_solc() -> Solc:
    """A native solc reporting exactly the pinned version, else the npm one; else says what to install."""
    notes = []
    native = shutil.which("solc")
    if native:
        version = native_version(native)
        if version and version.split("+")[0] == SOLC_VERSION:
            return Solc("native", native, version)
        notes.append(f"the solc on PATH ({native}) is {version or 'unusable'}")
    package = NPM_SOLC / "package.json"
    if not package.is_file():
        notes.append(f"no npm solc in {NPM_SOLC.parent}")
    elif shutil.which("node") is None:
        notes.append("node is not on PATH")
    else:
        version = json.loads(package.read_text(encoding="utf-8"))["version"]
        if version == SOLC_VERSION:
            return Solc("npm", str(NPM_SOLC), version)
        notes.append(f"the npm solc in {NPM_SOLC.parent} is {version}")
    raise CompileError(f"no solc {SOLC_VERSION} found ({'; '.join(notes)}): install Node.js and run "
                       f"`npm ci --prefix {CONTRACTS_DIR}`, or put solc {SOLC_VERSION} on PATH")


@dataclass(frozen=True)
class Compilation:
    """What compiling a team's files gave: artifacts, or `FILE:LINE:COL: error: MESSAGE` lines."""

    solc: Solc
    version: str
    artifacts: list[Artifact]
    shown: dict[str, str]  # source unit name -> its file as the user would write it
    errors: list[str]
    warnings: list[str]


def _shown(path: Path) -> str:
    """`path` as the user would write it: relative to the current directory when under it."""
    absolute = Path(os.path.abspath(path))
    return absolute.relative_to(Path.cwd()).as_posix() if absolute.is_relative_to(Path.cwd()) else str(absolute)


def _line_col(text: str, offset: int) -> str:
    """`LINE:COL` (both 1-based) of character `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return f"{line}:{column}"


def _given(path: Path) -> str:
    """A file named on the command line, as its absolute path."""
    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    if path.suffix != ".sol":
        raise ConfigError(f"{path} is not a Solidity file (.sol)")
    return os.path.abspath(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{_shown(path)} is not UTF-8 text") from None


def _file(name: str) -> Path:
    """The file of a source unit solc loaded with base path /."""
    return Path("/", name)


def _project_name(path: str) -> str | None:
    """The pilotledger/<path under contracts/> name of a file of the project's contracts, else None."""
    real = _file(path).resolve()
    return PROJECT_PREFIX + real.relative_to(CONTRACTS_DIR).as_posix() if real.is_relative_to(CONTRACTS_DIR) else None


_MISSING = re.compile(r'Source "(.*)" not found: .*', re.S)  # solc's message for an import it cannot load


def _diagnostics(output: dict, shown: dict[str, str], texts: dict[str, str]) -> dict[str, list[str]]:
    """solc's errors and warnings as `FILE:LINE:COL: error: MESSAGE` lines."""
    lines: dict[str, list[str]] = {"error": [], "warning": []}
    for problem in output.get("errors", []):
        if problem["severity"] not in lines:
            continue
        where, message = problem.get("sourceLocation"), problem["message"]
        prefix = ""
        if where and where.get("file") in texts:
            source = texts[where["file"]].encode("utf-8")
            before = source[:max(where["start"], 0)].decode("utf-8", "replace")
            prefix = f"{shown[where['file']]}:{_line_col(before, len(before))}: "
            missing = _MISSING.fullmatch(message)
            if missing:  # solc names the file it looked for; say which import that was, and what would work
                directive = source[where["start"]:where["end"]].decode("utf-8", "replace")
                target = re.search(r"[\"']([^\"']*)[\"']", directive)
                message = f"import \"{target[1] if target else missing[1]}\" not found: " + (
                    f"no file {_shown(Path(missing[1]))}" if missing[1].startswith("/") else
                    f"import your own files by ./ or ../ paths, the project's as {PROJECT_PREFIX}<path under "
                    "contracts/>")
        lines[problem["severity"]].append(f"{prefix}{problem['severity']}: {message}")
    return lines


def compile_files(paths: list[Path]) -> Compilation:
    """Compiles a team's Solidity files and what they import (their own files by relative path, the project's
    as pilotledger/<path>) with the pinned settings. Artifacts are made for the contracts in the files given
    and in the team's files they import, not for the project's contracts they import."""
    given = [_given(path) for path in paths]
    solc = find_solc()
    # solc finds what the files import, by its own rules: relative imports against the importer's name, the
    # pilotledger/ prefix remapped onto contracts/, every file named by its absolute path (base path /).
    texts = {name: _read(Path(name)) for name in given}
    request = {"language": "Solidity", "sources": {name: {"content": text} for name, text in texts.items()},
               "settings": {"remappings": [f"{PROJECT_PREFIX}={CONTRACTS_DIR}/"], "outputSelection": {"*": {"": []}}}}
    version, output = solc.run(request, base_path="/")
    texts.update((name, _read(_file(name))) for name in output.get("sources", {}) if name not in texts)
    errors = _diagnostics(output, {name: _shown(_file(name)) for name in texts}, texts)["error"]
    if errors:
        return Compilation(solc, version, [], {}, errors, [])

    # Compiled with the project's files named pilotledger/<path>, and the team's relative to the folder holding
    # them all: relative imports resolve the same, and the bytecode's metadata does not depend on where the
    # files sit on this machine.
    team = [name for name in texts if _project_name(name) is None]
    placed = [name for name in team if name.startswith("/")]  # the others keep the name solc gave them
    root = posixpath.commonpath([posixpath.dirname(name) for name in placed]) if placed else ""
    rename = {name: _project_name(name) or (posixpath.relpath(name, root) if name in placed else name)
              for name in texts}
    sources = {rename[name]: text for name, text in texts.items()}
    shown = {rename[name]: _shown(_file(name)) for name in texts}
    wanted = {rename[name] for name in texts if name in given or name in team}

    version, output = solc.run(standard_input(sources))
    diagnostics = _diagnostics(output, shown, sources)
    if diagnostics["error"]:
        return Compilation(solc, version, [], shown, diagnostics["error"], diagnostics["warning"])

    artifacts = [a for a in output_artifacts(output, sources, version) if a.source in wanted]
    by_name: dict[str, Artifact] = {}
    for artifact in artifacts:
        if artifact.name in by_name:  # artifacts are files named by contract, as deploy looks them up
            raise CompileError(f"two contracts named {artifact.name} ({shown[by_name[artifact.name].source]}, "
                               f"{shown[artifact.source]}); rename one")
        if "__$" in artifact.bytecode:
            raise CompileError(f"{artifact.name} ({shown[artifact.source]}) calls a library's external functions; "
                               "library linking is not supported, make them internal")
        by_name[artifact.name] = artifact
    return Compilation(solc, version, artifacts, shown, [], diagnostics["warning"])
