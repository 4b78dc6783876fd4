"""The scenarios pilotledger knows by name: ours, plus any found in a user's folder."""

from __future__ import annotations

from ledger.errors import ConfigError

from .api import Scenario
from .regional_equity import RegionalEquity
from .share_transfer import ShareTransfer
from .warehouse_receipt import WarehouseReceipts

SCENARIOS: dict[str, type[Scenario]] = {cls.name: cls for cls in (ShareTransfer, WarehouseReceipts, RegionalEquity)}


def scenario_names() -> list[str]:
    return sorted(SCENARIOS)


def get_scenario(name: str) -> type[Scenario]:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; known: {', '.join(scenario_names())}") from None
