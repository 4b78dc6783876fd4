"""The committed contract artifacts: ABI and bytecode, loaded once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ledger.tooling.abi import ContractABI
from ledger.tooling.compiler import ARTIFACTS_DIR
from ledger.errors import ArtifactError
from ledger.tooling.files import loads


@dataclass(frozen=True)
class ContractType:
    """A deployable contract: its name, ABI and creation bytecode."""

    name: str
    abi: ContractABI
    bytecode: bytes


@lru_cache(maxsize=None)
def load_contract(name: str, directory: Path = ARTIFACTS_DIR) -> ContractType:
    path = directory / f"{name}.json"
    try:
        artifact = loads(path.read_text(encoding="utf-8"))
        return ContractType(name, ContractABI(artifact["abi"]), bytes.fromhex(artifact["bytecode"][2:]))
    except FileNotFoundError:
        raise ArtifactError(f"no artifact for contract {name!r} at {path}") from None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ArtifactError(f"malformed artifact {path}: {exc}") from None


USER_CONTRACTS = "contracts"  # RUN_DIR/<chain>/contracts/: the artifacts of pilot teams' deployed contracts


def chain_contract(chain_dir: Path, name: str) -> ContractType:
    """The contract a chain deployed as `name`: the project's artifact, or, for a name the project does not
    use, the pilot team's kept with the chain (a file planted there never shadows a project contract)."""
    if (ARTIFACTS_DIR / f"{name}.json").exists():
        return load_contract(name)
    return load_contract(name, chain_dir / USER_CONTRACTS)
