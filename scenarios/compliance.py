"""A market's compliance on a chain: deploy ModularCompliance and its rule modules, then register a
token's rules, in order, through an admin's node and the gateway (every step a recorded transaction).

The rules themselves are on chain (contracts/compliance/); this only wires them, as a pilot team
would for its own token: deploy the contracts, have governance adopt their role tables, then
`register_rules` (ModularCompliance.bindToken and addModule are ADMIN functions)."""

from __future__ import annotations

from ledger.chain.consortium import Consortium
from ledger.chain.node import Node
from ledger.errors import LedgerError

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


def register_rules(chain: Consortium, admin: Node, token: str, look_through_depth: int,
                   modules: tuple[str, ...]) -> None:
    """Binds deployed contract `token` to the chain's compliance with `look_through_depth` (0: every
    identity counts one unit) and registers `modules` for it in order, in one block; raises LedgerError
    naming the step that failed."""
    compliance = chain.contract(COMPLIANCE)
    tickets = [admin.send(compliance.call("bindToken", chain.contract(token).address, look_through_depth))]
    tickets += [admin.send(compliance.call("addModule", chain.contract(token).address, chain.contract(m).address))
                for m in modules]
    chain.commit()
    for ticket in tickets:
        if not ticket.ok:
            raise LedgerError(f"registering the rules of {token}: {ticket.function} was {ticket.status} "
                              f"({ticket.reason} {ticket.detail})")
