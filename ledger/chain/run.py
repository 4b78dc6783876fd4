"""Opening a chain in a run directory: engine, SQLite store, CA and consortium,
laid out as RUN_DIR/<chain>/ledger.sqlite and RUN_DIR/<chain>/certs/.

A run may hold sub-runs, folders with their own run.json (`run scenario all` writes one per
scenario): their chains are the run's too, named by their path under RUN_DIR
(`share_transfer/fund_platform`). A chain's own name, the one in its genesis record and its
anchors, is the last part of that path (`own_name`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path, PurePosixPath

from ledger.trust.ca import ConsortiumCA
from ledger.chain.consortium import Consortium
from ledger.evm import make_engine
from ledger.errors import ConfigError, LedgerError
from ledger.trust.keystore import KeystoreWriter
from ledger.trust.secrets import KeyDeriver, as_deriver
from ledger.chain.store import LedgerStore

LEDGER_FILE = "ledger.sqlite"
RUN_FILE = "run.json"  # a run's summary: a folder of a run holding one is a sub-run


def open_chain(run_dir: Path, name: str, keys: KeyDeriver | int, chain_id: int, genesis_time: int,
               engine: str = "pyevm", ca_name: str | None = None, rpc_url: str | None = None) -> Consortium:
    """A new, empty chain `name` under `run_dir`, with its own consortium CA; on the rpc engine, the
    chain continues from the current head of the node at `rpc_url`. Every key derives from `keys`, the
    run's KeyDeriver (a bare seed: with this machine's operator secret), and each node's keystore is
    written under RUN_DIR/<name>/nodes/<NODE>/keystore/ as the node and its clients are created."""
    keys = as_deriver(keys)
    chain_dir = run_dir / name
    if (chain_dir / LEDGER_FILE).exists():
        raise LedgerError(f"chain {name} already exists in {run_dir}")
    executor = make_engine(engine, chain_id, genesis_time, rpc_url)
    chain_dir.mkdir(parents=True, exist_ok=True)
    store = LedgerStore(chain_dir / LEDGER_FILE, create=True)
    if executor.name == "rpc":
        # Where the ledger's blocks live, for the audit, and the node's block the ledger starts after.
        store.write_meta({"rpc_url": rpc_url, "genesis_number": executor.head().number})
    ca = ConsortiumCA(keys, ca_name or f"{name} consortium", genesis_time - 86400)
    return Consortium(name, keys, genesis_time, executor, store, ca, KeystoreWriter(chain_dir, name))


def write_node_copies(consortium: Consortium, run_dir: Path) -> list[str]:
    """Gives every member node its own copy of the chain's ledger, RUN_DIR/<chain>/nodes/<NODE>/ledger.sqlite,
    so that one node's copy can be audited, or damaged, on its own; a copy a node already holds gets
    the blocks it lacks. A node that never became a member never held the ledger. Returns a line for
    each copy that could not be brought up to date."""
    problems = []
    for node in consortium.nodes.values():
        if consortium.membership.get(node.address) is None:
            continue
        copy = run_dir / consortium.name / "nodes" / node.name / LEDGER_FILE
        if any(p.is_symlink() for p in (copy, copy.parent, copy.with_name(LEDGER_FILE + "-wal"))):
            problems.append(f"{node.name}: its copy is a link to another file; left as it is")
            continue  # a member's link could make the operator write the chain's ledger, or any file
        try:
            consortium.store.extend_copy(copy) if copy.exists() else consortium.store.copy_to(copy)
        except (LedgerError, sqlite3.Error) as exc:
            problems.append(f"{node.name}: {exc}")
    return problems


def chain_names(run_dir: Path) -> list[str]:
    """The chains of a run: each folder of RUN_DIR holding a ledger, and the chains of its sub-runs (folders
    with their own run.json), named by their path under RUN_DIR (`share_transfer/fund_platform`)."""
    run_dir = Path(run_dir)
    return sorted(chain_name(run_dir, p) for p in chain_ledgers(run_dir))


def chain_ledgers(run_dir: Path) -> list[Path]:
    """The ledger file of every chain of the run (chain_names), in the order of their names."""
    run_dir = Path(run_dir)
    found = list(run_dir.glob(f"*/{LEDGER_FILE}"))
    for sub in sub_runs(run_dir):
        found += chain_ledgers(sub)
    return sorted(found, key=lambda p: chain_name(run_dir, p))


def sub_runs(run_dir: Path) -> list[Path]:
    """The sub-runs of a run, by name: each folder of RUN_DIR with its own run.json and no ledger (the scenarios
    of `run scenario all`). A link is never followed: it could lead back up the run, or out of it."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(sub for sub in run_dir.iterdir() if sub.is_dir() and not sub.is_symlink()
                  and (sub / RUN_FILE).is_file() and not (sub / LEDGER_FILE).exists())


def chain_name(run_dir: Path, ledger_file: Path) -> str:
    """The name in the run at `run_dir` of the chain whose ledger is `ledger_file`: its folder's path under
    RUN_DIR (`fund_platform`; in a sub-run `share_transfer/fund_platform`)."""
    folder, run_dir = Path(ledger_file).parent, Path(run_dir)
    try:
        return folder.relative_to(run_dir).as_posix()
    except ValueError:
        return folder.resolve().relative_to(run_dir.resolve()).as_posix()


def own_name(chain: str) -> str:
    """The name a chain goes by in its genesis record and its anchors: the last part of its name in the run."""
    return PurePosixPath(chain).name


def run_of(run_dir: Path, chain: str) -> Path:
    """The folder of the (sub-)run that wrote chain `chain`: RUN_DIR, or RUN_DIR/<scenario> for a sub-run's
    chain. Its chains' genesis records name each other, and its documents' URIs start, relative to it."""
    return (Path(run_dir) / chain).parent


def sibling(chain: str, other: str) -> str:
    """The run name of chain `other` (an own name, as a genesis record gives it) of the same (sub-)run as `chain`."""
    return (PurePosixPath(chain).parent / other).as_posix()


def ledger_path(run_dir: Path, chain: str) -> Path:
    """Where chain `chain` of the run keeps its ledger (`chain` as chain_names gives it, nested or not)."""
    return Path(run_dir) / chain / LEDGER_FILE


def run_chains(run_dir: Path) -> list[str]:
    """The chains of the run in `run_dir`: what every command that reads a run checks first (ConfigError,
    one line, when there is no run directory there or it holds no ledger)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"no run directory at {run_dir}")
    names = chain_names(run_dir)
    if not names:
        raise ConfigError(f"{run_dir} holds no ledger")
    return names


def pick_chain(run_dir: Path, chain: str | None) -> str:
    """`chain`, checked, or the run's only chain."""
    names = run_chains(run_dir)
    if chain is None:
        if len(names) > 1:
            raise ConfigError(f"{run_dir} has chains {', '.join(names)}; choose one with --chain")
        return names[0]
    if chain not in names:
        raise ConfigError(f"{run_dir} has no chain {chain!r}; it has {', '.join(names)}")
    return chain
