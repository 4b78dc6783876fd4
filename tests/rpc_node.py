"""The dev nodes for the rpc engine's tests. Without Node.js or `npm ci --prefix devnode` the Hardhat tests
skip, except in CI (env CI set), where a missing node is a failure. Anvil is a native binary npm installs
with the same command (@foundry-rs/anvil-linux-amd64): a test that needs it fails without it, anywhere."""

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


def start_anvil(block_time: int | None = None, **chain: int) -> tuple[subprocess.Popen, str]:
    """The managed Anvil, mining every `block_time` seconds on its own clock (else on request); `chain`:
    devnode.start's chain_id, genesis_timestamp, gas_limit."""
    problem = devnode.missing(anvil=True)
    if problem:
        pytest.fail(f"this test needs the managed Anvil: {problem}")
    return devnode.start(devnode.free_port(), anvil=True, block_time=block_time, **chain)


def assert_verifies_and_audits_against_the_node(run_dir, blocks: int) -> None:
    """An rpc run whose node still answers: verify and audit hold, the audit re-reading every block from it."""
    from ledger.audit.reexecute import audit_run
    from ledger.audit.verify import verify_run

    [verified] = verify_run(run_dir)
    assert verified.verified, verified.problems
    assert verified.blocks == blocks
    [audited] = audit_run(run_dir)
    assert audited.verified, audited.problems
    assert audited.blocks == blocks
    assert audited.replayed.startswith("re-read from the node at http://127.0.0.1:")
