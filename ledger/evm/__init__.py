"""Engines execute blocks of signed transactions. `make_engine` picks one by name."""

from __future__ import annotations

from ledger.errors import ConfigError
from ledger.evm.base import Engine, ExecutedBlock, Log, SignedTx, TxOutcome

ENGINES = ("pyevm", "anvil", "rpc")


def make_engine(name: str, chain_id: int, genesis_timestamp: int | None, rpc_url: str | None = None) -> Engine:
    """Engine `name`. The embedded pyevm engine, and the anvil engine on a node of its own, start a chain
    `chain_id` at `genesis_timestamp`; the rpc
    engine runs on the node at `rpc_url`, with that node's chain id (a new chain starting at
    `genesis_timestamp`, or with None one already on the node)."""
    if name == "pyevm":
        from ledger.evm.pyevm import PyEvmEngine

        return PyEvmEngine(chain_id, genesis_timestamp)
    if name == "anvil":
        from ledger.evm.anvil import AnvilEngine

        return AnvilEngine(chain_id, genesis_timestamp)
    if name == "rpc":
        if not rpc_url:
            raise ConfigError("the rpc engine needs a node: give --rpc-url URL")
        from ledger.evm.rpc import RpcEngine

        return RpcEngine(rpc_url, genesis_timestamp)
    raise ConfigError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")


__all__ = ["Engine", "ExecutedBlock", "Log", "SignedTx", "TxOutcome", "ENGINES", "make_engine"]
