"""Look-through queries on the audit index. Each returns plain dicts (JSON-ready).

ENTITY syntax (what `resolve_entity` accepts):

    fund:N              fund N on the fund platform
    company:CODE        a company by its code (e.g. company:BJEE-880001, any case)
    company:0x<64 hex>  a company by its id
    identity:0x<64 hex> an identity (a vehicle, usually)
    0x<64 hex>          a company id if one matches, else an identity id
    CODE                a company code, bare (e.g. BJEE-880001)
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from functools import wraps

from ledger.errors import ConfigError
from ledger.supervision.lookthrough.index import AuditIndex
from ledger.supervision.rules import IdentityKind, holder_units

VEHICLE = IdentityKind.VEHICLE
KIND_NAMES = {**{int(k): k.label for k in IdentityKind if k}, None: IdentityKind.NONE.label}
MAX_REASONS = 5  # routes kept per counted investor (all are counted in `routes`)
HEX32 = re.compile(r"^0x[0-9a-f]{64}$")


def resolve_entity(index: AuditIndex, text: str) -> dict:
    """{"type": "asset", "asset": ..., ...asset row} or {"type": "identity", "identity": ...};
    ConfigError if nothing in the index matches."""
    raw = text.strip()
    low = raw.lower()
    if low.startswith("fund:"):
        number = low[5:]
        if not number.isdigit():
            raise ConfigError(f"bad fund {raw!r}: write fund:N, e.g. fund:1")
        return _asset(index, f"fund:{int(number)}", raw)
    if low.startswith("company:"):
        key = raw[8:]
        if HEX32.match(key.lower()):
            return _asset(index, f"company:{key.lower()}", raw)
        return _company_by_code(index, key, raw)
    if low.startswith("identity:"):
        return _identity(index, low[9:], raw)
    if HEX32.match(low):
        if index.asset(f"company:{low}") is not None:
            return _asset(index, f"company:{low}", raw)
        return _identity(index, low, raw)
    return _company_by_code(index, raw, raw)


def _asset(index: AuditIndex, asset: str, given: str) -> dict:
    row = index.asset(asset)
    if row is None:
        raise ConfigError(f"unknown entity {given!r}: no such {asset.split(':')[0]} in this run")
    return {"type": "asset", **row}


def _company_by_code(index: AuditIndex, code: str, given: str) -> dict:
    asset = index.company_asset(code)
    if asset is None:
        raise ConfigError(f"unknown entity {given!r} (expected fund:N, company:CODE or an 0x identity id)")
    return _asset(index, asset, given)


def _identity(index: AuditIndex, identity: str, given: str) -> dict:
    if not HEX32.match(identity) or not index.known_identity(identity):
        raise ConfigError(f"unknown entity {given!r}: no such identity in this run")
    return {"type": "identity", "identity": identity}


def _describe(index: AuditIndex, target: dict) -> dict:
    if target["type"] == "asset":
        return {"entity": target["asset"], "market": target["market"], "label": target["label"],
                "chain": target["chain"]}
    kind = index.kind(target["identity"])
    return {"entity": target["identity"], "market": None, "label": KIND_NAMES[kind], "chain": None}


def _no_gc(query):
    """Runs a query with the cyclic garbage collector paused: the queries build many small containers
    and no cycles, and the collector's passes over them cost more than the query itself."""
    @wraps(query)
    def run(*args, **kwargs):
        with _gc_paused():
            return query(*args, **kwargs)
    return run


@contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pct(x: float) -> float:
    return round(100 * x, 6)


# ----------------------------------------------------------------------- ubo


@_no_gc
def ubo(index: AuditIndex, entity: str, *, max_paths: int = 20) -> dict:
    """The ultimate beneficial owners of a fund, a company or a vehicle.

    Every identity that declared investors is looked through to them, at any depth; an owner is an
    identity that declared none (a person, an institution, a product, or a vehicle that never
    declared: the last is flagged). A holder's weight is its share of the asset (or, under a vehicle,
    its declared bps); an owner's effective percentage is the product along each path, summed over
    paths. A path that comes back to an identity already on it is a cycle: reported, not followed.
    Declared bps short of 10,000 leave part of a vehicle unattributed (reported)."""
    index.load_graph()
    target = resolve_entity(index, entity)
    if target["type"] == "asset":
        roots = [(holder, share) for holder, _, share in index.holdings(target["asset"])]
    else:
        roots = [(target["identity"], 1.0)]
    owners: dict[str, float] = {}
    paths: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    path_counts: dict[str, int] = {}
    cycles: list[dict] = []
    unattributed: list[dict] = []
    max_depth = 0  # the longest chain of vehicles looked through
    declared, kinds = index.graph

    def own(node: str, weight: float, via: tuple[str, ...]) -> None:
        if node in owners:
            owners[node] += weight
            path_counts[node] += 1
            if path_counts[node] <= max_paths:
                paths[node].append((via, weight))
        else:
            owners[node] = weight
            path_counts[node] = 1
            paths[node] = [(via, weight)]

    stack: list[tuple[tuple[str, ...], float]] = []
    for holder, weight in roots:
        if declared.get(holder):
            stack.append(((holder,), weight))
        else:
            own(holder, weight, ())
    while stack:
        via, weight = stack.pop()
        if len(via) > max_depth:
            max_depth = len(via)
        investors = declared[via[-1]]
        missing = 10_000 - sum(b for _, b in investors)
        if missing > 0:
            unattributed.append({"vehicle": via[-1], "bps_undeclared": missing, "via": list(via),
                                 "pct": _pct(weight * missing / 10_000)})
        for investor, bps in investors:
            w = weight * bps / 10_000
            if investor in via:
                cycles.append({"cycle": list(via[via.index(investor):]) + [investor], "via": list(via),
                               "pct_at_cycle": _pct(w)})
            elif investor in declared:
                stack.append((via + (investor,), w))
            elif investor in owners:  # own(), inlined: the hot path
                owners[investor] += w
                n = path_counts[investor] = path_counts[investor] + 1
                if n <= max_paths:
                    paths[investor].append((via, w))
            else:
                owners[investor] = w
                path_counts[investor] = 1
                paths[investor] = [(via, w)]
    max_depth += 1 if owners else 0  # levels from the entity's holders to the deepest owner
    rows = []
    for owner, weight in sorted(owners.items(), key=lambda kv: (-kv[1], kv[0])):
        kind = kinds.get(owner)
        rows.append({"identity": owner, "kind": kind, "kind_name": KIND_NAMES.get(kind, KIND_NAMES[None]),
                     "undeclared_vehicle": kind == VEHICLE, "effective_pct": _pct(weight),
                     "path_count": path_counts[owner],
                     "paths": [{"via": list(via), "pct": 100 * w} for via, w in paths[owner]]})
    return {**_describe(index, target), "query": "ubo", "owners": rows, "owner_count": len(rows),
            "total_pct": _pct(sum(owners.values())),
            "unattributed_pct": round(sum(u["pct"] for u in unattributed), 6), "unattributed": unattributed,
            "cycles": cycles, "max_depth": max_depth}


# ------------------------------------------------------------------- holders


@_no_gc
def holders(index: AuditIndex, entity: str) -> dict:
    """The look-through investor count of a fund or company against its legal cap.

    A natural person, an institution or a registered product counts as one, under its own identity;
    an unregistered vehicle (kind 4) is looked through to its declared investors, recursively (a
    vehicle that declared none counts as one, flagged). Each ultimate investor is counted once however
    many routes lead to it (the chain does not de-duplicate; `units_by_contract_rule` is the chain's
    own, non-de-duplicated figure, which for funds must equal HolderCapModule's last `holders`). Every
    count above the cap is a breach."""
    index.load_graph()
    target = resolve_entity(index, entity)
    if target["type"] != "asset":
        raise ConfigError(f"holders needs a fund or a company, not identity {entity!r}")
    asset, market = target["asset"], target["market"]
    declared, kinds = index.graph
    counted: dict[str, list] = {}  # identity -> [routes, [(reason, via), ... up to MAX_REASONS]]
    cycles: list[dict] = []
    direct = index.holdings(asset)

    def count(identity: str, reason: str, via: tuple[str, ...]) -> None:
        entry = counted.get(identity)
        if entry is None:
            counted[identity] = [1, [(reason, via)]]
        else:
            entry[0] += 1
            if entry[0] <= MAX_REASONS:
                entry[1].append((reason, via))

    looked = index.vehicles_declared()  # vehicles with investors declared: looked through
    undeclared = index.vehicles_undeclared()  # vehicles without: counted as one, flagged
    for holder, _, _ in direct:
        if holder not in looked:
            count(holder, "direct holder: unregistered vehicle that declared no investors, counted as one"
                  if holder in undeclared else "direct holder", ())
            continue
        # Look through, depth first; the contract's rule counts every route (units), we count identities.
        stack: list[tuple[str, ...]] = [(holder,)]
        while stack:
            route = stack.pop()
            reason = None
            for investor, _ in declared[route[-1]]:
                if investor in route:
                    cycles.append({"cycle": list(route[route.index(investor):]) + [investor], "via": list(route)})
                    continue
                if investor in looked:
                    stack.append(route + (investor,))
                    continue
                if investor in undeclared:
                    count(investor, "looked through vehicle " + " > ".join(route)
                          + " (a vehicle that declared no investors, counted as one)", route)
                    continue
                if reason is None:  # count(), inlined: the hot path
                    reason = "looked through vehicle " + " > ".join(route)
                entry = counted.get(investor)
                if entry is None:
                    counted[investor] = [1, [(reason, route)]]
                else:
                    entry[0] += 1
                    if entry[0] <= MAX_REASONS:
                        entry[1].append((reason, route))
    if market == "company":
        units_rule = len(direct)  # EquityMarket counts identities, without looking through
    else:
        investors, cache = (lambda v: [i for i, _ in declared[v]] if v in looked else ()), {}
        units_rule = sum(holder_units(holder, investors, cache) for holder, _, _ in direct)
    n = len(counted)
    cap = target["cap"]
    overlaps = sorted(i for i, (routes, _) in counted.items() if routes > 1)
    rows = []
    for identity in sorted(counted, key=lambda i: (bool(counted[i][1][0][1]), i)):
        routes, reasons = counted[identity]
        kind = kinds.get(identity)
        rows.append({"identity": identity, "kind": kind, "kind_name": KIND_NAMES.get(kind, KIND_NAMES[None]),
                     "routes": routes, "reasons": [{"reason": r, "via": list(v)} for r, v in reasons]})
    breaches = [{"asset": asset, "count": n, "cap": cap, "excess": n - cap,
                 "looked_through": sum(1 for r in rows if r["reasons"][0]["via"])}] if n > cap else []
    return {**_describe(index, target), "query": "holders", "cap": cap, "count": n, "direct_holders": len(direct),
            "holders_on_chain": target["holders_on_chain"], "units_by_contract_rule": units_rule,
            "breach": bool(breaches), "breaches": breaches, "overlaps": overlaps, "cycles": cycles,
            "counted": rows}
