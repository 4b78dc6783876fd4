"""The scenarios pilotledger knows by name: ours, plus any found in a user's folder."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from pathlib import Path

from ledger.errors import ConfigError

from .api import Scenario
from .regional_equity import RegionalEquity
from .share_transfer import ShareTransfer
from .warehouse_receipt import WarehouseReceipts

SCENARIOS: dict[str, type[Scenario]] = {cls.name: cls for cls in (ShareTransfer, WarehouseReceipts, RegionalEquity)}
USER_SCENARIOS: dict[str, type[Scenario]] = {}  # loaded from a user's folder by load_user_scenarios()
RESERVED = {"all"}  # names `run scenario` gives a meaning of its own
SCENARIOS_ENV = "PILOTLEDGER_SCENARIOS"  # the default for --scenarios-dir


def scenario_names() -> list[str]:
    """Our scenarios (the ones `run scenario all` runs)."""
    return sorted(SCENARIOS)


def all_scenario_names() -> list[str]:
    """Ours and the user's."""
    return sorted({**SCENARIOS, **USER_SCENARIOS})


def get_scenario(name: str) -> type[Scenario]:
    found = SCENARIOS.get(name) or USER_SCENARIOS.get(name)
    if found is None:
        raise ConfigError(f"unknown scenario {name!r}; known: {', '.join(all_scenario_names())}")
    return found


def load_user_scenarios(directory: Path) -> list[str]:
    """Imports every DIRECTORY/*.py and registers each Scenario subclass defined there by its `name`.
    A file that fails to import, a subclass without a name, or a name already taken is a ConfigError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"scenarios directory {directory} does not exist")
    loaded = []
    for path in sorted(directory.glob("*.py")):
        module_name = f"pilotledger_user_scenarios.{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure in a user's file is reported, one line
            sys.modules.pop(module_name, None)
            detail = str(exc).splitlines()[0] if str(exc) else ""
            raise ConfigError(f"cannot load scenario file {path}: {type(exc).__name__}: {detail}".rstrip(": "))
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, Scenario) or cls is Scenario or cls.__module__ != module_name \
                    or inspect.isabstract(cls):
                continue
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(f"scenario class {cls.__name__} in {path} needs a `name` that is a Python identifier")
            if name in SCENARIOS or name in RESERVED:
                raise ConfigError(f"scenario {name!r} in {path} clashes with a built-in scenario; rename it")
            if name in USER_SCENARIOS and USER_SCENARIOS[name] is not cls:
                raise ConfigError(f"scenario {name!r} in {path} is defined twice in {directory}")
            USER_SCENARIOS[name] = cls
            loaded.append(name)
    return loaded


def default_scenarios_dir() -> Path | None:
    value = os.environ.get(SCENARIOS_ENV)
    return Path(value) if value else None
