"""`node`: the dev node for --engine rpc, in the foreground."""

from __future__ import annotations

import sys

import click

from ledger.cli.common import CONTEXT, LANG_OPTION, invoked_as
from ledger.errors import PilotLedgerError
from ledger.present.i18n import translator

_ = translator("cli")


@click.command(context_settings=CONTEXT)
@click.option("--port", type=click.IntRange(1, 65535), default=8545, show_default=True,
              help="Port on 127.0.0.1 to serve JSON-RPC on (1 to 65535; one in use is refused).")
@click.option("--anvil", is_flag=True,
              help="Run Anvil (from the same `npm ci --prefix devnode`, Linux x64) instead of Hardhat.")
@click.option("--block-time", type=click.IntRange(min=1), metavar="SECONDS",
              help="Anvil mines a block every SECONDS on its own clock, as a QBFT network does, instead of "
                   "on request (implies --anvil).")
@LANG_OPTION
def node(port: int, anvil: bool, block_time: int | None) -> None:
    """Run the dev node (Hardhat, or Anvil, from `npm ci --prefix devnode`) in the foreground, for --engine rpc.
    Each scenario run needs a fresh node: stop it with Ctrl-C and start it again."""
    import signal
    import time

    from ledger.evm.devnode import start, stop

    anvil = anvil or block_time is not None
    # so that `finally` stops the node on kill too; the caller's handler is back once the node is gone
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # a ConfigError for a port in use, a node not installed, or not answering in time
        process, url = start(port, anvil=anvil, block_time=block_time)
        if block_time is not None:
            click.echo(_("Anvil at {url} (chain id 7001, genesis 2021-01-01), mining a block every {seconds} s "
                         "on its own clock; run a scenario on it with:\n"
                         "  {command} run scenario share_transfer --engine rpc --rpc-url {url}\n"
                         "Ctrl-C stops it.").format(url=url, seconds=block_time, command=invoked_as()))
        else:
            click.echo(_("dev node at {url} (chain id 7001, genesis 2021-01-01); run a scenario on it with:\n"
                         "  {command} run scenario share_transfer --engine rpc --rpc-url {url}\n"
                         "Ctrl-C stops it.").format(url=url, command=invoked_as()))
        try:
            while process.poll() is None:
                time.sleep(0.5)
            raise PilotLedgerError(_("the dev node exited with code {code}").format(code=process.returncode))
        finally:
            stop(process)
    finally:
        signal.signal(signal.SIGTERM, previous)
