"""Who is a member: a mirror of PermissionRegistry, kept from its events.

The gateway reads this mirror instead of calling the chain for every transaction;
it is seeded with the founding members and updated after each committed block,
so governance takes effect at the gateway from the next block on. `membership_at`
is the one replay of a stored ledger's membership at a height, from the genesis
record's founders and the registry's raw logs (the ones the seals and the receipts
root commit to, never a decoded column): what a reopened chain's gateway, the
verification, the audit, the views, the report and the findings all stand on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from ledger.tooling.artifacts import load_contract
from ledger.chain.access import FunctionRoles
from ledger.chain.node import org_id
from ledger.chain.roles import MemberStatus, Role

if TYPE_CHECKING:
    from ledger.chain.reader import LedgerReader

REGISTRY = "PermissionRegistry"


@dataclass
class MemberRecord:
    org_id: str
    roles: Role
    status: MemberStatus


class Membership:
    def __init__(self) -> None:
        self._members: dict[bytes, MemberRecord] = {}
        self.functions = FunctionRoles()  # the registry's function-to-role map, at the same height

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
        """Applies (contract, event name, args) triples; only the registry's membership and function-map
        events matter."""
        for contract, name, args in events:
            if contract != REGISTRY:
                continue
            if name == "MemberAdded":
                self._members[_address(args["account"])] = MemberRecord(args["orgId"], Role(0), MemberStatus.NONE)
            elif name == "RolesChanged":
                self._members[_address(args["account"])].roles = Role(args["roles"])
            elif name == "StatusChanged":
                self._members[_address(args["account"])].status = MemberStatus(args["status"])
            elif name == "FunctionRoleSet":
                self.functions.set(args)


def _address(value: str) -> bytes:
    return bytes.fromhex(value[2:])


class RawLog:
    """What membership needs of a log: who emitted it, its topics and its data."""

    __slots__ = ("address", "topics", "data")

    def __init__(self, address: bytes, topics: Sequence[bytes], data: bytes) -> None:
        self.address, self.topics, self.data = address, tuple(topics), data


def registry_events(registry: bytes | None, logs: Iterable) -> Iterator[tuple[str, str, dict]]:
    """The PermissionRegistry's events among `logs` (anything with address, topics and data), decoded
    from the raw logs with the registry's ABI."""
    if registry is None:
        return
    abi = load_contract(REGISTRY).abi
    for log in logs:
        if log.address == registry:
            named = abi.decode_event(log.topics, log.data)
            if named:
                yield (REGISTRY, *named)


def membership_at(reader: "LedgerReader", height: int | None = None) -> Membership:
    """Who was a member, with which roles and status, once block `height` (the head by default) of the
    ledger `reader` reads was applied: the genesis record's founders, then the registry's raw logs block
    by block. It reads; whether the ledger holds is for ledger.audit.verify to say first."""
    membership = Membership.from_genesis(reader.meta())
    registry = next(iter(reader.contracts(REGISTRY)), None)
    if registry is None:
        return membership
    logs = (RawLog(e.address, e.topic_list(), e.data)
            for e in reader.events(after=registry.block_number - 1, upto=height, address=registry.address))
    membership.apply(registry_events(registry.address, logs))
    return membership
