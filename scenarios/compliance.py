"""A market's compliance on a chain: deploy ModularCompliance and its rule modules, then register a
token's rules, in order, by governance: the admins' nodes propose, vote and execute through the gateway
(every step a recorded transaction).

The rules themselves are on chain (contracts/compliance/); this only wires them, as a pilot team
would for its own token: deploy the contracts, have governance adopt their role tables, then
`register_rules` (ModularCompliance.bindToken, addModule and removeModule are governance-only, so no
single admin can strip, weaken or jam a market's rules)."""

from __future__ import annotations

from typing import Iterable

from ledger.chain.access import calls_by_governance
from ledger.chain.consortium import Consortium
from ledger.chain.node import Node

COMPLIANCE = "ModularCompliance"
# The rules of each market, in the order they run (the first broken one names the refusal).
FUND_RULES = ("LockupModule", "MinimumHoldingModule", "QualificationModule", "HolderCapModule")
EQUITY_RULES = ("QualificationModule", "LinkedAccountsModule", "HolderCapModule")
EXTRA_ARGS = {"LinkedAccountsModule": ("linkage",)}  # constructor arguments after (permissions, compliance)


def deploy_compliance(node: Node, registry: bytes, identities: bytes, modules: tuple[str, ...],
                      **addresses: bytes) -> bytes:
    """Deploys ModularCompliance and each module in `modules` (their deployments pending, not committed);
    returns the compliance's address. `addresses` gives a module's extra constructor arguments by name
    (LinkedAccountsModule: linkage=...)."""
    compliance = node.deploy(COMPLIANCE, registry, identities).contract_address
    for name in modules:
        extra = [addresses[arg] for arg in EXTRA_ARGS.get(name, ())]
        node.deploy(name, registry, compliance, *extra)
    return compliance


def register_rules(chain: Consortium, token: str, look_through_depth: int, modules: tuple[str, ...],
                   admins: Iterable[str] | None = None) -> list[int]:
    """Binds deployed contract `token` to the chain's compliance with `look_through_depth` (0: every
    identity counts one unit) and registers `modules` for it in order, by governance: one CALL_TARGET
    proposal per call, run side by side in one propose/vote/execute round (`calls_by_governance`).
    `admins`: the admin nodes to use, by name (by default every active admin whose key is here). Returns
    the proposal ids; raises LedgerError naming the step that failed."""
    address = chain.contract(token).address
    calls = [(COMPLIANCE, "bindToken", (address, look_through_depth))]
    calls += [(COMPLIANCE, "addModule", (address, chain.contract(m).address)) for m in modules]
    return calls_by_governance(chain, calls, admins=admins)
