"""The dev node: a local Hardhat node, or Anvil (both pinned in devnode/, installed by `npm ci --prefix
devnode`), configured as the rpc engine needs it, started on a loopback port for tests and `python cli.py
node`. Hardhat mines on request only; Anvil mines on request, or with a block time on its own clock,
as a QBFT network does, with the same chain id, genesis date, free gas and hardfork as the Hardhat node."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Iterator

from ledger.evm.jsonrpc import JsonRpcClient
from ledger.errors import ConfigError, LedgerError

DEVNODE_DIR = Path(__file__).resolve().parents[2] / "devnode"
HARDHAT = DEVNODE_DIR / "node_modules" / ".bin" / "hardhat"
ANVIL = DEVNODE_DIR / "node_modules" / ".bin" / "anvil"  # @foundry-rs/anvil-linux-amd64's native binary
CONFIG = DEVNODE_DIR / "hardhat.config.cjs"
STARTUP_TIMEOUT = 60.0
# As devnode/hardhat.config.cjs sets the Hardhat node: chain id, genesis date (2021-01-01T00:00:00Z, before
# the scenarios' business), a block gas limit as large as the embedded engine's, free gas, Shanghai.
CHAIN_ID = 7001
GENESIS_TIMESTAMP = 1609459200
GAS_LIMIT = 2_000_000_000
HARDFORK = "shanghai"


def missing(anvil: bool = False) -> str | None:
    """Why the dev node (Hardhat, or with `anvil` Anvil) cannot start here, or None."""
    install = f"run `npm ci --prefix {DEVNODE_DIR.name} --no-audit --no-fund`"
    if anvil:
        if not ANVIL.exists():
            return f"Anvil is not installed (@foundry-rs/anvil-linux-amd64, for Linux x64): {install}"
        return None
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not HARDHAT.exists():
        return f"Hardhat is not installed: {install}"
    return None


# The blocks, and states, a node that keeps only recent ones keeps besides its head's: each costs a copy of the
# state's memory (about 80 bytes a storage slot), and a replay of the head still runs with 1.
RECENT_BLOCKS = 1
# Anvil allocates with jemalloc (tikv-jemallocator, whose settings are read from _RJEM_MALLOC_CONF), which by
# default holds freed pages for 10 s: the engine's node gives them back at once. Anvil with 500,000 storage
# slots loaded: 187 MiB, six blocks later 230 (221 and 270 MiB without this setting).
ANVIL_MEMORY = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}


def anvil_command(port: int, block_time: int | None = None, *, chain_id: int = CHAIN_ID,
                  genesis_timestamp: int = GENESIS_TIMESTAMP, gas_limit: int = GAS_LIMIT,
                  recent_only: bool = False, load_state: Path | None = None,
                  dump_state: Path | None = None) -> list[str]:
    """Anvil on 127.0.0.1:`port`, configured as the Hardhat dev node (or with the chain id, genesis date and
    block gas limit given): mining on request, or every `block_time` seconds on its own clock; transactions
    in the order they came (fifo); free gas (a base fee of 0 stays 0 on Anvil); no accounts (the consortium
    signs its own transactions). With `recent_only`, it keeps the transactions and states of its head and
    of the RECENT_BLOCKS blocks before it only (the anvil engine's node: the ledger holds the chain), so its
    memory follows the state, not the run's length. With `load_state`, it starts from that state file
    (anvil_dumpState's JSON); with `dump_state`, it writes its state to that file when stopped with SIGTERM."""
    mining = ["--block-time", str(block_time)] if block_time else ["--no-mining"]
    if recent_only:
        mining += ["--prune-history", str(RECENT_BLOCKS), "--transaction-block-keeper", str(RECENT_BLOCKS)]
    if load_state is not None:
        mining += ["--load-state", str(load_state)]
    if dump_state is not None:
        mining += ["--dump-state", str(dump_state)]
    return [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), *mining, "--order", "fifo",
            "--chain-id", str(chain_id), "--timestamp", str(genesis_timestamp), "--gas-limit", str(gas_limit),
            "--base-fee", "0", "--gas-price", "0", "--hardfork", HARDFORK, "--accounts", "0",
            "--disable-default-create2-deployer"]  # a genesis with nothing in it, as the embedded engine's


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port(port: int) -> None:
    """A ConfigError unless a server could listen on 127.0.0.1:`port` now (a bind test, as Node's own
    listen would do it: SO_REUSEADDR, so a closed connection's TIME_WAIT does not count as in use)."""
    if not 0 < port < 65536:
        raise ConfigError(f"port {port} is not a TCP port (1 to 65535); choose another with --port")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} is in use (by another process); choose another with --port") from None
            if exc.errno == errno.EACCES:
                raise ConfigError(f"port {port} needs privileges this user lacks; choose another (above 1023) "
                                  "with --port") from None
            raise ConfigError(f"cannot listen on port {port}: {exc.strerror or exc}; choose another with --port") \
                from None


def start(port: int, *, anvil: bool = False, block_time: int | None = None, chain_id: int = CHAIN_ID,
          genesis_timestamp: int = GENESIS_TIMESTAMP, gas_limit: int = GAS_LIMIT,
          recent_only: bool = False, load_state: Path | None = None,
          dump_state: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Starts a Hardhat node, or with `anvil` Anvil (mining every `block_time` seconds if given, else on
    request; for the chain id, genesis date and gas limit given), on 127.0.0.1:`port`; returns it and its URL
    once it answers (or a ConfigError within STARTUP_TIMEOUT seconds)."""
    if not anvil and (block_time is not None or (chain_id, genesis_timestamp, gas_limit) != (
            CHAIN_ID, GENESIS_TIMESTAMP, GAS_LIMIT)):
        raise ConfigError("a block time or chain settings are for Anvil: the Hardhat dev node is set in "
                          f"devnode/{CONFIG.name} and mines on request only")
    if block_time is not None and block_time < 1:
        raise ConfigError(f"block time {block_time} s: give a whole number of seconds, 1 or more")
    check_port(port)
    problem = missing(anvil)
    if problem:
        raise ConfigError(f"cannot start the dev node: {problem}")
    command = anvil_command(port, block_time, chain_id=chain_id, genesis_timestamp=genesis_timestamp,
                            gas_limit=gas_limit, recent_only=recent_only, load_state=load_state,
                            dump_state=dump_state) if anvil else [
        str(HARDHAT), "--config", str(CONFIG), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=DEVNODE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True,
                               # a node that dumps its state on SIGTERM is killed outright: nobody would read it
                               preexec_fn=partial(_end_with_parent, signal.SIGKILL if dump_state else signal.SIGTERM),
                               env={**os.environ, **ANVIL_MEMORY} if anvil and recent_only else None)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process, anvil)
    except BaseException:
        stop(process, signal.SIGKILL)
        raise
    return process, url


PR_SET_PDEATHSIG = 1


def _end_with_parent(sent: int) -> None:
    """In the node's process, before it starts: Linux sends it `sent` when the thread that started it (the main
    one, in pilotledger) ends, however it ends (a kill, SIGKILL too, leaves no time for stop()), so that no
    node outlives its run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, sent)


def stop(process: subprocess.Popen, sent: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Stops the node and any child it spawned (its own process group): `sent`, then SIGKILL after `timeout`
    seconds."""
    if process.poll() is None:
        os.killpg(process.pid, sent)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def dev_node(port: int | None = None, **options) -> Iterator[str]:
    """A dev node, as start() makes it with `options`, for the duration of the block: yields its URL."""
    process, url = start(port or free_port(), **options)
    try:
        yield url
    finally:
        stop(process)


def _wait_until_answering(url: str, process: subprocess.Popen, anvil: bool) -> None:
    client = JsonRpcClient(url, timeout=5)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfigError(f"the dev node exited with code {process.returncode} while starting")
            try:
                client.call("eth_chainId")
                # The node logs every request it serves; silence spares it the work.
                client.call("anvil_setLoggingEnabled" if anvil else "hardhat_setLoggingEnabled", False)
                return
            except LedgerError:
                time.sleep(0.2)
        raise ConfigError(f"the dev node did not answer at {url} within {STARTUP_TIMEOUT:.0f} s")
    finally:
        client.close()
