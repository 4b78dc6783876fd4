"""KYC onboarding, written once for every market: what an investor agent does to register an identity.

The investor's personal data is sealed in the agent's private store (readable by the agent and the
regulator); on chain go only its salted hash, the identity's kind (ledger.supervision.rules.IdentityKind)
and the date its qualified-investor assessment lapses; then the investor's accounts are linked to the
identity. The salt and the personal data come from the seed and the operator secret (ctx.salt,
ctx.private_rng), never from the seed alone: anyone may know the seed, and could otherwise rebuild
the data or try ID numbers against the hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ledger.chain.calls import Ticket
from ledger.chain.consortium import Consortium
from ledger.chain.node import Node
from ledger.supervision.rules import IdentityKind
from ledger.trust.keys import Account
from ledger.trust.privacy import data_hash

from .contracts import Handle

if TYPE_CHECKING:
    from .api import ScenarioContext


@dataclass(frozen=True)
class KycDesk:
    """Onboarding on one chain: its IdentityRegistry, and the regulator who may open the agents' stores."""

    ctx: "ScenarioContext"
    chain: Consortium
    identities: Handle
    regulator: Node

    def register(self, agent: Node, label: str, identity: bytes, kind: IdentityKind, personal: dict,
                 qualified_until: int, accounts: Sequence[Account] = ()) -> Ticket:
        """`agent` registers `identity` (the person or entity called `label` in this run) and links
        `accounts` to it, all in the block being built; every call must succeed."""
        salt = self.ctx.salt(label)
        self.ctx.private_store(self.chain, agent, self.regulator).put(identity, salt, personal)
        ticket = self.ctx.expect_ok(agent.send(self.identities.registerIdentity(
            identity, data_hash(salt, personal), int(kind), qualified_until)))
        for account in accounts:
            self.link(agent, account, identity)
        return ticket

    def link(self, agent: Node, account: Account, identity: bytes) -> Ticket:
        """`agent` links one more account to a registered identity."""
        return self.ctx.expect_ok(agent.send(self.identities.linkAccount(account.address, identity)))

    def declare(self, agent: Node, vehicle: bytes, investors: Sequence[bytes]) -> Ticket:
        """An unregistered vehicle's investors, in equal shares (the first takes the rounding)."""
        bps = [10_000 // len(investors)] * len(investors)
        bps[0] += 10_000 - sum(bps)
        return self.ctx.expect_ok(agent.send(self.identities.declareInvestors(vehicle, list(investors), bps)))
