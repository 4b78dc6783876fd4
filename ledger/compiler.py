"""Compiles the project's Solidity sources with the pinned solc and checks the
committed artifacts against a fresh compile.

Running a scenario needs only the committed artifacts; this module (and so Node.js
with the npm `solc` package in contracts/node_modules) is needed only to rebuild or
check them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ArtifactError, CompileError

SOLC_VERSION = "0.8.28"
EVM_VERSION = "shanghai"
CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
SOLCJS_SCRIPT = CONTRACTS_DIR / "compile.cjs"
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


def run_solcjs(standard_input: dict) -> tuple[str, dict]:
    """Runs the npm `solc` through node; returns (compiler version, standard-JSON output)."""
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not installed; install Node.js to compile contracts")
    if not (CONTRACTS_DIR / "node_modules" / "solc").is_dir():
        raise CompileError(f"solc {SOLC_VERSION} is not installed; run: npm ci --prefix {CONTRACTS_DIR}")
    proc = subprocess.run(
        [node, str(SOLCJS_SCRIPT)], input=json.dumps(standard_input), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise CompileError(f"solc failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else 'no output'}")
    result = json.loads(proc.stdout)
    return result["version"], result["output"]


def compile_sources(sources: dict[str, str]) -> dict[str, Artifact]:
    """Compiles `sources` (path -> content) and returns one artifact per contract with bytecode."""
    standard_input = {
        "language": "Solidity",
        "sources": {path: {"content": content} for path, content in sources.items()},
        "settings": SETTINGS,
    }
    version, output = run_solcjs(standard_input)
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompileError(f"solc {version} found, {SOLC_VERSION} pinned; run: npm ci --prefix {CONTRACTS_DIR}")
    problems = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if problems:
        raise CompileError("; ".join(e["formattedMessage"].strip().splitlines()[0] for e in problems))
    artifacts = {}
    for path, contracts in output["contracts"].items():
        for name, compiled in contracts.items():
            bytecode = compiled["evm"]["bytecode"]["object"]
            if not bytecode or not compiled["abi"]:  # interfaces, abstract contracts, constant-only libraries
                continue
            artifacts[name] = Artifact(
                name=name,
                source=path,
                abi=compiled["abi"],
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + compiled["evm"]["deployedBytecode"]["object"],
                compiler=version,
                source_hash=source_hash(sources[path]),
            )
    return artifacts


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
