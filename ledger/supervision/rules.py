"""Rules the chain enforces that supervisors and scenarios must count exactly as the contracts do,
written once in Python: the look-through holder units of an identity (IdentityRegistry.lookThrough,
which the fund market's holder cap counts) and the inspection certificate of a merged warehouse
receipt (WarehouseReceipt.merge). The look-through queries and the scenarios' shadow books call
these; tests/test_rules.py checks them against the contracts on generated cases."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

from eth_hash.auto import keccak

Id = TypeVar("Id", bound=Hashable)


class IdentityKind(IntEnum):
    """IdentityRegistry.Kind: what a registered identity is."""

    NONE = 0
    PERSON = 1
    INSTITUTION = 2
    PRODUCT = 3  # a registered product (counts as one, never looked through)
    VEHICLE = 4  # an unregistered vehicle: looked through to its declared investors

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {IdentityKind.NONE: "unregistered identity", IdentityKind.PERSON: "natural person",
               IdentityKind.INSTITUTION: "institution", IdentityKind.PRODUCT: "registered product",
               IdentityKind.VEHICLE: "unregistered vehicle"}


class Failure(IntEnum):
    """IdentityRegistry.Failure: why a look-through stopped."""

    NONE = 0
    NOT_QUALIFIED = 1
    NO_INVESTORS = 2
    TOO_DEEP = 3
    TOO_LARGE = 4


DEFAULT_MAX_DEPTH = 4  # IdentityRegistry.DEFAULT_MAX_LOOK_THROUGH_DEPTH
DEFAULT_MAX_SIZE = 200  # IdentityRegistry.DEFAULT_MAX_LOOK_THROUGH_SIZE
DEPTH_CEILING = 16  # IdentityRegistry.LOOK_THROUGH_DEPTH_CEILING


@dataclass(frozen=True)
class LookThrough:
    """What a look-through found, field for field as IdentityRegistry.LookThrough (None for bytes32(0))."""

    failure: Failure
    units: int
    identity: object = None
    vehicle: object = None
    limit: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is Failure.NONE


def look_through(identity: Id, kind_of: Callable[[Id], int], investors_of: Callable[[Id], Sequence[Id]],
                 qualified: Callable[[Id], bool] | None = None, max_depth: int = DEFAULT_MAX_DEPTH,
                 max_size: int = DEFAULT_MAX_SIZE) -> LookThrough:
    """IdentityRegistry.lookThrough: holder units of `identity`, one for each route to an identity that
    is not an unregistered vehicle (routes are not de-duplicated), vehicles looked through depth first
    to `max_depth` levels and at most `max_size` identities visited; with `qualified`, every identity on
    the way must be qualified. The first failure stops the walk, as on chain."""
    max_depth = min(max_depth, DEPTH_CEILING)
    visited = units = 0

    class _Stop(Exception):
        def __init__(self, failure: Failure, at: Id, vehicle: Id | None, limit: int) -> None:
            self.result = LookThrough(failure, units, at, vehicle, limit)

    def walk(node: Id, depth: int, vehicle: Id | None) -> None:
        nonlocal visited, units
        visited += 1
        if visited > max_size:
            raise _Stop(Failure.TOO_LARGE, identity, None, max_size)
        if qualified is not None and not qualified(node):
            raise _Stop(Failure.NOT_QUALIFIED, node, vehicle, 0)
        if kind_of(node) != IdentityKind.VEHICLE:
            units += 1
            return
        if depth >= max_depth:
            raise _Stop(Failure.TOO_DEEP, node, vehicle, max_depth)
        investors = investors_of(node)
        if not investors:
            raise _Stop(Failure.NO_INVESTORS, node, vehicle, 0)
        for investor in investors:
            walk(investor, depth + 1, node)

    try:
        walk(identity, 0, None)
    except _Stop as stop:
        return stop.result
    return LookThrough(Failure.NONE, units)


def holder_units(identity: Id, investors_of: Callable[[Id], Sequence[Id]], cache: dict | None = None) -> int:
    """The units `identity` adds to a fund's holder count when its look-through succeeds: a vehicle
    counts the units of its declared investors (every route), anything else counts one. For audits of
    a recorded graph, which may hold what the chain would refuse, an identity that declared no investors
    counts as one, and a route back to an identity already on it (a cycle) is not followed. `cache`,
    shared across calls on one graph, keeps the units of every subtree that met no cycle."""
    cache = {} if cache is None else cache

    def units(node: Id, route: frozenset) -> tuple[int, bool]:  # (units, a cycle was cut below)
        if node in cache:
            return cache[node], False
        total, cut = 0, False
        investors = investors_of(node)
        for investor in investors:
            if investor in route:
                cut = True
                continue
            n, below = units(investor, route | {investor})
            total, cut = total + n, cut or below
        if not investors:
            total = 1
        if not cut:
            cache[node] = total
        return total, cut

    return units(identity, frozenset((identity,)))[0]


def merged_certificate(certificates: Sequence[bytes]) -> bytes:
    """The inspection certificate WarehouseReceipt.merge gives a merged receipt (and its ReceiptsMerged
    event carries): its sources' common one, else the keccak of theirs in order (a new certificate,
    which a later issuance may reuse)."""
    if len(set(certificates)) == 1:
        return certificates[0]
    return keccak(b"".join(certificates))


def investors_behind(holders: Iterable[Id], declared: Mapping[Id, Sequence[tuple[Id, int]]],
                     nominees: Mapping[Id, Sequence[Id]] | None = None) -> set[Id]:
    """The distinct investors a regulator counts behind `holders` (穿透核查): a vehicle that declared
    investors is replaced by them, a nominee by the people it holds for (`nominees`), recursively; anything
    else counts as itself, once however many routes reach it. A route back to an identity already on it (a
    cycle) adds nobody, but a vehicle whose declarations only ever lead back into a loop (a vehicle declaring
    itself) reaches nobody else and counts as itself: money that is held is somebody's. The supervision rules
    (investor cap, qualified investor) and `query holders` count with this one function."""
    nominees = nominees or {}

    def behind(node: Id) -> list[Id]:
        return [i for i, _ in declared.get(node, ())] or list(nominees.get(node, ()))

    found: set[Id] = set()
    expanded: dict[Id, list[Id]] = {}  # every vehicle or nominee reached -> who is behind it
    stack = list(holders)
    while stack:
        node = stack.pop()
        if node in expanded:
            continue
        below = behind(node)
        if below:
            expanded[node] = below
            stack.extend(below)
        else:
            found.add(node)
    # Who reaches anybody: walk up from the investors found. One left out (a vehicle declaring itself, a loop
    # with no way out) holds for nobody but itself, and counts as itself.
    above: dict[Id, list[Id]] = {}
    for node, below in expanded.items():
        for investor in below:
            above.setdefault(investor, []).append(node)
    reaches, stack = set(), list(found)
    while stack:
        for parent in above.get(stack.pop(), ()):
            if parent not in reaches:
                reaches.add(parent)
                stack.append(parent)
    found.update(node for node in expanded if node not in reaches)
    return found


def text32(value: object) -> str:
    """A NUL-padded bytes32 as the contracts write codes and names (`ZKXY`, `copper`): its text when it is
    printable ASCII, else the hex as given."""
    if not (isinstance(value, str) and value.startswith("0x")):
        return str(value)
    try:
        text = bytes.fromhex(value[2:]).rstrip(b"\0").decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return value
    return text if text and text.isprintable() else value
