"""Engines execute blocks of signed transactions. `make_engine` picks one by name."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Engine, ExecutedBlock, Log, SignedTx, TxOutcome

ENGINES = ("pyevm",)


def make_engine(name: str, chain_id: int, genesis_timestamp: int) -> Engine:
    if name == "pyevm":
        from .pyevm import PyEvmEngine

        return PyEvmEngine(chain_id, genesis_timestamp)
    raise ConfigError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")


__all__ = ["Engine", "ExecutedBlock", "Log", "SignedTx", "TxOutcome", "ENGINES", "make_engine"]
