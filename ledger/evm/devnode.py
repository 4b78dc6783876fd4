"""The dev node: a local Hardhat node (pinned in devnode/, installed by `npm ci --prefix devnode`)
configured as the rpc engine needs it, started on a loopback port for tests and `python cli.py node`."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ledger.evm.jsonrpc import JsonRpcClient
from ledger.errors import ConfigError, LedgerError

DEVNODE_DIR = Path(__file__).resolve().parents[2] / "devnode"
HARDHAT = DEVNODE_DIR / "node_modules" / ".bin" / "hardhat"
CONFIG = DEVNODE_DIR / "hardhat.config.cjs"
STARTUP_TIMEOUT = 60.0


def missing() -> str | None:
    """Why the dev node cannot start here, or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not HARDHAT.exists():
        return f"Hardhat is not installed: run `npm ci --prefix {DEVNODE_DIR.name} --no-audit --no-fund`"
    return None


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


def start(port: int) -> tuple[subprocess.Popen, str]:
    """Starts a Hardhat node on 127.0.0.1:`port`; returns it and its URL once it answers (or a ConfigError
    within STARTUP_TIMEOUT seconds)."""
    check_port(port)
    problem = missing()
    if problem:
        raise ConfigError(f"cannot start the dev node: {problem}")
    process = subprocess.Popen(
        [str(HARDHAT), "--config", str(CONFIG), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=DEVNODE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process)
    except BaseException:
        stop(process)
        raise
    return process, url


def stop(process: subprocess.Popen) -> None:
    """Stops the node and any child it spawned (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def dev_node(port: int | None = None) -> Iterator[str]:
    """A dev node for the duration of the block: yields its URL."""
    process, url = start(port or free_port())
    try:
        yield url
    finally:
        stop(process)


def _wait_until_answering(url: str, process: subprocess.Popen) -> None:
    client = JsonRpcClient(url, timeout=5)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfigError(f"the dev node exited with code {process.returncode} while starting")
            try:
                client.call("eth_chainId")
                # The node logs every request it serves; silence spares it the work.
                client.call("hardhat_setLoggingEnabled", False)
                return
            except LedgerError:
                time.sleep(0.2)
        raise ConfigError(f"the dev node did not answer at {url} within {STARTUP_TIMEOUT:.0f} s")
    finally:
        client.close()
