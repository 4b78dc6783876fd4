"""Membership governance through the admin nodes: how a consortium admits, suspends, reactivates or
revokes a member, or changes its roles. One admin proposes, the others vote, the proposer executes;
each step is a transaction through the gateway in a block of its own, and each must succeed (the
PermissionRegistry counts the votes and applies the decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ledger.chain.access import govern
from ledger.chain.node import Node
from ledger.chain.roles import GovernanceAction, Role
from ledger.chain.store import DiskFull
from ledger.errors import LedgerError

from .contracts import ScenarioError

if TYPE_CHECKING:
    from .api import ScenarioContext


@dataclass(frozen=True)
class Governance:
    """The admins of one chain acting on its PermissionRegistry, through ledger.chain.access.govern:
    `proposer` proposes and executes, `voters` vote (enough of them, with the proposer, to make the
    registry's majority)."""

    ctx: "ScenarioContext"
    proposer: Node
    voters: Sequence[Node]

    def decide(self, action: GovernanceAction, member: Node, roles: Role = Role(0)) -> int:
        """Proposes `action` on `member` in the block being built, votes it, executes it: three blocks.
        Returns the proposal's id; a step that fails stops the run, naming it."""
        return self.decide_all([(action, member, roles)])[0]

    def decide_all(self, decisions: Sequence[tuple[GovernanceAction, Node, Role]]) -> list[int]:
        """Several decisions ((action, member, roles)) side by side, in the same three blocks: each proposed
        in the block being built, voted, executed. Returns the proposal ids; a step that fails stops the
        run, naming it."""
        chain = self.ctx.chain_of(self.proposer)
        proposals = [((action, member.address, member.org_id, int(roles)), None, b"")
                     for action, member, roles in decisions]
        doing = ", ".join(f"{action.name.lower()} {member.name}" for action, member, _ in decisions)
        try:
            return govern(chain, proposals, self.proposer, self.voters, doing)
        except DiskFull:
            raise  # not the scenario's failing: the run stops with its marker, to be resumed
        except LedgerError as exc:
            raise ScenarioError(str(exc)) from None

    def admit(self, node: Node) -> int:
        """A node certified by the consortium's CA (added with founding=False) joins with its roles."""
        return self.decide(GovernanceAction.ADD_MEMBER, node, node.roles)

    def set_roles(self, member: Node, roles: Role) -> int:
        return self.decide(GovernanceAction.SET_ROLES, member, roles)

    def suspend(self, member: Node) -> int:
        return self.decide(GovernanceAction.SUSPEND, member)

    def reactivate(self, member: Node) -> int:
        return self.decide(GovernanceAction.REACTIVATE, member)

    def revoke(self, member: Node, certificate: bool = True) -> int:
        """Expels `member`; with `certificate`, the CA then revokes its certificate too (the gateway
        refuses a revoked certificate before it looks at membership)."""
        proposal = self.decide(GovernanceAction.REVOKE, member)
        if certificate:
            self.revoke_certificate(member)
        return proposal

    def revoke_certificate(self, member: Node) -> None:
        """The CA revokes `member`'s certificate (after governance expelled it)."""
        chain = self.ctx.chain_of(self.proposer)
        chain.ca.revoke(member.certificate, chain.time)
