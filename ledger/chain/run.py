"""Opening a chain in a run directory: engine, SQLite store, CA and consortium,
laid out as RUN_DIR/<chain>/ledger.sqlite and RUN_DIR/<chain>/certs/.

A run may hold sub-runs, folders with their own run.json (`run scenario all` writes one per
scenario): their chains are the run's too, named by their path under RUN_DIR
(`share_transfer/fund_platform`). A chain's own name, the one in its genesis record and its
anchors, is the last part of that path (`own_name`).

A run in progress, or one that was interrupted, holds a marker, RUN_DIR/run.started (MARKER_FILE): what
it was started with (scenario, seed, options, engine). The runner writes run.json last and then removes
the marker, so a folder with a marker is an incomplete run (`run_status`)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ledger.trust.ca import ConsortiumCA
from ledger.chain.consortium import Consortium
from ledger.evm import make_engine
from ledger.errors import ConfigError, LedgerError
from ledger.trust.keystore import KeystoreWriter
from ledger.trust.secrets import KeyDeriver, as_deriver
from ledger.chain.reader import LedgerReader
from ledger.chain.store import DiskFull, LedgerStore
from ledger.present.i18n import translator
from ledger.tooling.files import loads, write_atomically

_ = translator("common")

LEDGER_FILE = "ledger.sqlite"
RUN_FILE = "run.json"  # a run's summary: a folder of a run holding one is a sub-run
MARKER_FILE = "run.started"  # written when a run starts, removed once its run.json is written
MARKER_BYTES = 2**20  # a marker is a few hundred bytes: a larger file is not one


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


ALL_NODES, NO_NODES = "all", "none"  # --node-copies: every member holds a copy (the default), or none does


def node_copies_choice(given: object) -> str | list[str]:
    """--node-copies as a run records it: "all", "none", or the names of the nodes that hold a copy, sorted
    (given as "A,B" on the command line, or as a list in a run's marker). ConfigError for anything else."""
    if given in (ALL_NODES, NO_NODES):
        return given
    names = given.split(",") if isinstance(given, str) else given if isinstance(given, list) else None
    if names is None or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"--node-copies takes {ALL_NODES}, {NO_NODES} or node names separated by commas "
                          f"(NODE,NODE...), got {given!r}")
    names = sorted({n.strip() for n in names})
    if set(names) & {ALL_NODES, NO_NODES}:
        raise ConfigError(f"--node-copies takes {ALL_NODES} or {NO_NODES} alone, not among node names")
    return names


def node_copies_of(run_dir: Path) -> str | list[str] | None:
    """The --node-copies choice the (sub-)run at RUN_DIR was made with, from its marker or its run.json; None
    where it recorded none (a run made before the option, or a chain put together by hand): every member
    holds a copy then, but a missing one is not reported."""
    record = read_marker(run_dir)
    if record is None:
        record = read_summary(run_dir)
    try:
        return node_copies_choice(record["node_copies"]) if isinstance(record, dict) and "node_copies" in record \
            else None
    except ConfigError:
        return None


def holds_copy(choice: str | list[str] | None, node: str) -> bool:
    """Whether the run's choice (node_copies_of) gives member `node` a copy of the ledger."""
    return choice in (None, ALL_NODES) or isinstance(choice, list) and node in choice


def shown_choice(choice: str | list[str]) -> str:
    """A --node-copies choice as it is given on the command line."""
    return choice if isinstance(choice, str) else ",".join(choice)


def write_node_copies(consortium: Consortium, run_dir: Path) -> list[str]:
    """Gives every member node the run chose (--node-copies, recorded in its marker and run.json; all by
    default) its own copy of the chain's ledger, RUN_DIR/<chain>/nodes/<NODE>/ledger.sqlite, so that one
    node's copy can be audited, or damaged, on its own; a copy a node already holds gets the blocks it
    lacks. A node that never became a member never held the ledger. Returns a line for each copy that
    could not be brought up to date."""
    problems = []
    for node in copy_holders(consortium, node_copies_of(run_of(run_dir, consortium.name))):
        copy = run_dir / consortium.name / "nodes" / node.name / LEDGER_FILE
        if any(p.is_symlink() for p in (copy, copy.parent, copy.with_name(LEDGER_FILE + "-wal"))):
            problems.append(f"{node.name}: its copy is a link to another file; left as it is")
            continue  # a member's link could make the operator write the chain's ledger, or any file
        try:
            consortium.store.extend_copy(copy) if copy.exists() else consortium.store.copy_to(copy)
        except DiskFull:
            raise  # the run stops there, its marker kept: not a problem of one copy
        except (LedgerError, sqlite3.Error) as exc:
            problems.append(f"{node.name}: {exc}")
    return problems


def copy_holders(consortium: Consortium, choice: str | list[str] | None) -> list:
    """The nodes of the chain that hold a copy of its ledger by the run's choice: members only (a node that
    never became a member never held the ledger)."""
    return [node for node in consortium.nodes.values()
            if consortium.membership.get(node.address) is not None and holds_copy(choice, node.name)]


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
    of `run scenario all`; an interrupted one has its run.started marker instead). A link is never followed: it could lead back up the run, or out of it."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(sub for sub in run_dir.iterdir() if sub.is_dir() and not sub.is_symlink()
                  and not sub.name.startswith(".")  # a sub-run being resumed (runner's .NAME.resuming)
                  and ((sub / RUN_FILE).is_file() or (sub / MARKER_FILE).is_file())
                  and not (sub / LEDGER_FILE).exists())


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


# ------------------------------------------------------------------ interrupted runs

def write_json_atomically(path: Path, value: object) -> None:
    """Writes `value` as JSON to `path` through a temporary file beside it, flushed to disk and renamed over
    `path`: a reader (or a run killed meanwhile) sees the old file or the whole new one, never part of one."""
    write_atomically(Path(path), (json.dumps(value, indent=2) + "\n").encode("utf-8"))


def _process_start(pid: int) -> str | None:
    """When process `pid` started (Linux: /proc/PID/stat's start time in clock ticks), to tell it from a later
    process given the same pid; None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def start_marker(run_dir: Path, record: dict) -> None:
    """Marks RUN_DIR as a run in progress: `record` (scenario, seed, options, engine, rpc urls, ...) with the
    time, host and process, written atomically. The runner removes it once run.json is written."""
    pid = os.getpid()
    write_json_atomically(Path(run_dir) / MARKER_FILE, {
        **record, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname(), "pid": pid,
        "process_start": _process_start(pid), "chains": []})


def read_marker(run_dir: Path) -> dict | None:
    """RUN_DIR's run.started marker; None when there is none, {} when it cannot be read as one."""
    path = Path(run_dir) / MARKER_FILE
    try:
        if path.is_symlink() or not path.is_file():
            return None
        with open(path, "rb") as f:
            raw = f.read(MARKER_BYTES + 1)
        value = loads(raw) if len(raw) <= MARKER_BYTES else None
    except (OSError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def read_summary(run_dir: Path) -> dict:
    """RUN_DIR's run.json; {} when there is none or it cannot be read as one (a summary is a few kB: a link, as
    read_marker says of its marker, or a file far larger is none)."""
    path = Path(run_dir) / RUN_FILE
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 64 * MARKER_BYTES:
            return {}
        value = loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def note_chain(run_dir: Path, chain: str) -> None:
    """Adds `chain` to the chains RUN_DIR's marker lists, in the order they were opened (the first is the
    run's primary chain, whose head an interrupted run is described by). No marker: nothing to do."""
    marker = read_marker(run_dir)
    if marker and chain not in marker.get("chains", []):
        write_json_atomically(Path(run_dir) / MARKER_FILE, {**marker, "chains": [*marker.get("chains", []), chain]})


def finish_marker(run_dir: Path) -> None:
    """The run is complete (its run.json is written): its marker goes."""
    (Path(run_dir) / MARKER_FILE).unlink(missing_ok=True)


def marker_running(marker: dict) -> bool:
    """Is the process that wrote `marker` still running (on this host)? Then the run is in progress."""
    pid = marker.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or marker.get("host") != socket.gethostname():
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        pass  # it exists (another user's)
    started = marker.get("process_start")
    return started is None or _process_start(pid) in (None, started)


@dataclass(frozen=True)
class RunStatus:
    """Whether a run directory holds a complete run, and where an incomplete one stopped (run_status)."""

    run_dir: Path
    complete: bool  # no run.started marker: run.json was written (a folder without a marker counts as complete)
    scenario: str | None  # from the marker or run.json ("all" for `run scenario all`)
    seed: int | None
    chain: str | None  # the primary chain (an `all` run: of the sub-run that was interrupted), its path in the run
    head: int | None  # that chain's last stored block (None: no block yet)
    running: bool  # the marker's process is still alive on this host: in progress, not interrupted
    resumable: bool  # `run scenario NAME --resume RUN_DIR` can finish it
    marker: dict | None = None  # the marker as read ({}: unreadable), None for a complete run
    why_not: str = ""  # why an incomplete run cannot be resumed

    def describe(self, command: str = "pilotledger") -> str:
        """One line for an incomplete run ("" for a complete one): where it stopped and how to finish it."""
        if self.complete:
            return ""
        where = _("at block {n}").format(n=self.head) if self.head is not None else _("before its first block")
        if self.chain and "/" in self.chain:  # an `all` run: the sub-run that stopped
            where = _("in {scenario} {where}").format(scenario=PurePosixPath(self.chain).parent, where=where)
        if self.running:
            return _("run in progress ({where}, process {pid})").format(where=where, pid=self.marker.get("pid"))
        line = _("incomplete run (interrupted {where})").format(where=where)
        if self.resumable:
            resume = f"{command} run scenario {shlex.quote(str(self.scenario))} --resume {shlex.quote(str(self.run_dir))}"
            return _("{line}: resume with {command}").format(line=line, command=f"`{resume}`")
        return f"{line}: {self.why_not}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.isprintable() and len(value) <= 200 else None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _head_of(ledger: Path) -> int | None:
    try:
        with LedgerReader(ledger) as reader:
            head = reader.head()
    except (LedgerError, sqlite3.Error, OSError):
        return None
    return _number(head[0]) if head else None


def run_status(run_dir: Path, command: str = "pilotledger") -> RunStatus:
    """The state of the run at RUN_DIR, read from its marker, its run.json and one ledger's head (read-only);
    never raises. `command` is how the CLI is invoked, for the line a sub-run of an `all` run gives."""
    run_dir = Path(run_dir)
    marker = read_marker(run_dir)
    if marker is None:
        summary = read_summary(run_dir)
        return RunStatus(run_dir, True, _text(summary.get("scenario")), _number(summary.get("seed")), None, None,
                         False, False)
    scenario, seed = _text(marker.get("scenario")), _number(marker.get("seed"))
    chain, folder = None, run_dir
    if scenario == "all":  # the sub-run that stopped: the one with a marker (or the last one begun)
        subs = [s for s in sub_runs(run_dir) if (s / MARKER_FILE).is_file()] or sub_runs(run_dir)[-1:]
        folder = subs[0] if subs else None
    if folder is not None:
        sub_marker = read_marker(folder) if folder != run_dir else marker
        listed = (sub_marker or {}).get("chains")
        names = [c for c in listed if isinstance(c, str)] if isinstance(listed, list) else []
        try:
            on_disk = [chain_name(folder, p) for p in sorted(folder.glob(f"*/{LEDGER_FILE}"))]
        except OSError:
            on_disk = []
        first = next((c for c in names if c in on_disk), on_disk[0] if on_disk else None)
        if first is not None:
            chain = first if folder == run_dir else f"{folder.name}/{first}"
    head = _head_of(run_dir / chain / LEDGER_FILE) if chain else None
    running = bool(marker) and marker_running(marker)
    why_not = ""
    if not marker or scenario is None or seed is None:
        why_not = _("its {marker} marker cannot be read, so it cannot be resumed").format(marker=MARKER_FILE)
    elif marker.get("engine") == "rpc":
        why_not = _("a run on the rpc engine cannot be resumed (its node already holds the interrupted blocks); "
                    "start a new run")
    elif marker.get("part_of"):
        parent = shlex.quote(str(run_dir.parent))
        whole = shlex.quote(str(marker.get("part_of")))
        why_not = _("it is part of a {run} run: resume that with {command}").format(
            run=f"`run scenario {whole}`", command=f"`{command} run scenario {whole} --resume {parent}`")
    return RunStatus(run_dir, False, scenario, seed, chain, head, running, not why_not and not running, marker,
                     why_not)
