"""The Hardhat dev node for the rpc engine's tests. Without Node.js or `npm ci --prefix devnode` the
tests skip, except in CI (env CI set), where a missing node is a failure."""

from __future__ import annotations

import os
import subprocess

import pytest

from ledger.evm import devnode


def start_node() -> tuple[subprocess.Popen, str]:
    problem = devnode.missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the rpc engine's tests: {problem}")
        pytest.skip(problem)
    return devnode.start(devnode.free_port())
