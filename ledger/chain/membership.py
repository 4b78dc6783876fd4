"""Who is a member now: a mirror of PermissionRegistry, kept from its events.

The gateway reads this mirror instead of calling the chain for every transaction;
it is seeded with the founding members and updated after each committed block,
so governance takes effect at the gateway from the next block on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ledger.chain.node import org_id
from ledger.chain.roles import MemberStatus, Role

REGISTRY = "PermissionRegistry"


@dataclass
class MemberRecord:
    org_id: str
    roles: Role
    status: MemberStatus


class Membership:
    def __init__(self) -> None:
        self._members: dict[bytes, MemberRecord] = {}

    @classmethod
    def from_genesis(cls, meta: dict) -> "Membership":
        """The founding members, as a chain's genesis record (LedgerStore.meta()) lists them."""
        membership = cls()
        membership.found_all(meta)
        return membership

    def found_all(self, meta: dict) -> None:
        for founder in meta.get("founders", []):
            self.found(bytes.fromhex(founder["address"][2:]), founder["org_id"], Role(founder["roles"]))

    def found(self, address: bytes, org_id: str, roles: Role) -> None:
        """Adds a founding member, as the registry's constructor does."""
        self._members[address] = MemberRecord(org_id, Role(roles), MemberStatus.ACTIVE)

    def get(self, address: bytes) -> MemberRecord | None:
        return self._members.get(address)

    def members(self) -> Iterable[tuple[bytes, MemberRecord]]:
        return self._members.items()

    def address_of(self, node: str) -> bytes | None:
        """The account of the member whose organisation id is node `node`'s."""
        org = "0x" + org_id(node).hex()
        return next((a for a, m in self._members.items() if m.org_id == org), None)

    def status(self, address: bytes) -> MemberStatus:
        record = self._members.get(address)
        return record.status if record else MemberStatus.NONE

    def validators(self) -> list[bytes]:
        """Active validators, in address order (the order seals are made and checked in)."""
        return sorted(
            a for a, m in self._members.items() if m.status == MemberStatus.ACTIVE and m.roles & Role.VALIDATOR
        )

    def apply(self, events: Iterable[tuple[str, str, dict]]) -> None:
        """Applies (contract, event name, args) triples; only the registry's membership events matter."""
        for contract, name, args in events:
            if contract != REGISTRY:
                continue
            if name == "MemberAdded":
                self._members[_address(args["account"])] = MemberRecord(args["orgId"], Role(0), MemberStatus.NONE)
            elif name == "RolesChanged":
                self._members[_address(args["account"])].roles = Role(args["roles"])
            elif name == "StatusChanged":
                self._members[_address(args["account"])].status = MemberStatus(args["status"])


def _address(value: str) -> bytes:
    return bytes.fromhex(value[2:])
