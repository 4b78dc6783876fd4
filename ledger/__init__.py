"""pilotledger: a permissioned-ledger simulator for capital-market blockchain pilots.

The package follows a transaction's flow, one subpackage per stage; a stage imports only from itself and the
stages above it in this list (tests/test_layout.py keeps it so):

    present      readable output: message catalogues (--lang zh), Beijing-time dates, amounts, roles, ids
    tooling      contract ABIs, the compiler, artifacts, Solidity-typed command-line arguments
    trust        keys and the operator secret, node keystores, the consortium CA, private records
    evm          the engines that execute blocks: embedded py-evm, or a JSON-RPC node
    chain        the write path: node -> gateway -> engine -> sealer -> store, and the read-only ledger reader
    audit        what a regulator checks: seals and headers (verify), re-execution (audit), views, anchors
    supervision  penetrating supervision: the look-through index and queries, the risk monitor, the rules
    report       the HTML report
    cli          the command line (`pilotledger`, `python cli.py`)

The names below are the public surface; everything else may change between versions. They load on first use,
so `import ledger` stays cheap."""

from __future__ import annotations

from importlib import import_module

_PUBLIC = {
    # write a chain
    "open_chain": "ledger.chain.run", "Consortium": "ledger.chain.consortium", "Node": "ledger.chain.node",
    "Call": "ledger.chain.calls", "Ticket": "ledger.chain.calls", "Role": "ledger.chain.roles",
    "adopt_declared_roles": "ledger.chain.access", "KeyDeriver": "ledger.trust.secrets",
    # read a ledger
    "LedgerReader": "ledger.chain.reader", "run_chains": "ledger.chain.run", "membership_at": "ledger.chain.membership",
    # check it
    "verify_run": "ledger.audit.verify", "audit_run": "ledger.audit.reexecute", "node_view": "ledger.audit.views",
    # supervise it
    "holders": "ledger.supervision.lookthrough", "ubo": "ledger.supervision.lookthrough",
    "exposure": "ledger.supervision.lookthrough", "receipt": "ledger.supervision.lookthrough",
    "write_report": "ledger.report",
    # build contracts
    "compile_files": "ledger.tooling.compiler", "load_contract": "ledger.tooling.artifacts",
    # errors
    "PilotLedgerError": "ledger.errors", "ConfigError": "ledger.errors", "LedgerError": "ledger.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
