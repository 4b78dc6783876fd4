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
from typing import Callable, Iterable, Sequence

from ledger.errors import ConfigError
from ledger.supervision.lookthrough.index import AuditIndex
from ledger.supervision.rules import IdentityKind, holder_units, investors_behind

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
        if not (number.isascii() and number.isdigit()) or len(number) > 20:
            raise ConfigError(f"bad fund {raw[:40]!r}: write fund:N, e.g. fund:1")
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
#
# Effective ownership is the sum over every walk from the entity down to an owner: what goes round a
# loop of cross-holdings comes back, a smaller part each time, and in the limit all of it reaches the
# owners below the loop (a geometric series). With Q the declared shares (bps / 10,000) between looked-
# through vehicles and r what the entity's holders put in, the mass x through the vehicles solves
# x = r + xQ; it is solved exactly, one strongly connected component of the declaration graph at a time
# in topological order (a component of one vehicle that does not declare itself is just its inflow),
# each component by Gaussian elimination. A component none of whose declared shares leaves it (a
# closed loop) keeps whatever enters it: that part never reaches an owner and is reported unattributed.


def strong_components(nodes: Iterable[str], successors: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of the graph spanned from `nodes`, iteratively (nesting is
    unbounded). Emitted sinks first: every component after each component it leads to."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for start in nodes:
        if start in order:
            continue
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(successors(start)))]
        while work:
            node, pending = work[-1]
            for nxt in pending:
                if nxt not in order:
                    order[nxt] = low[nxt] = len(order)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(successors(nxt))))
                    break
                if nxt in on_stack and order[nxt] < low[node]:
                    low[node] = order[nxt]
            else:
                work.pop()
                if work and low[node] < low[work[-1][0]]:
                    low[work[-1][0]] = low[node]
                if low[node] == order[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(component)
    return out


ELIMINATION_LIMIT = 150  # unknowns solved by elimination; a larger component is iterated (see solve_linear)
SWEEP_WORK = 2_000_000  # coefficients visited by Gauss-Seidel sweeps before falling back to elimination


def solve_linear(unknowns: Sequence[str], rows: dict[str, dict[str, float]], rhs: dict[str, float]) -> dict[str, float]:
    """The y with sum(rows[r][c] * y[c]) == rhs[r] for every r, rows kept sparse; each system solved here is
    I - Q (or its transpose) over a component of substochastic shares that has an exit: a nonsingular
    M-matrix. Up to ELIMINATION_LIMIT unknowns, Gaussian elimination (every pivot stays positive, so none is
    needed); a larger component (cross-holdings among hundreds of vehicles: elimination fills the matrix in
    and costs the cube of its size) by Gauss-Seidel sweeps, which converge for such a matrix, until no value
    moves by more than rounding, and by elimination after all if that takes more than SWEEP_WORK."""
    if len(unknowns) > ELIMINATION_LIMIT:
        y = _sweep(unknowns, rows, rhs)
        if y is not None:
            return y
    return _eliminate(unknowns, rows, rhs)


def _sweep(unknowns: Sequence[str], rows: dict[str, dict[str, float]], rhs: dict[str, float]
           ) -> dict[str, float] | None:
    """Gauss-Seidel on rows (None when it has not settled within SWEEP_WORK)."""
    plan = [(p, rhs[p], rows[p][p], [(c, v) for c, v in rows[p].items() if c != p]) for p in unknowns]
    y = dict.fromkeys(unknowns, 0.0)
    per_sweep = sum(len(others) + 1 for _, _, _, others in plan)
    for _ in range(max(1, SWEEP_WORK // per_sweep)):
        moved = 0.0
        for p, b, diagonal, others in plan:
            value = (b - sum(v * y[c] for c, v in others)) / diagonal
            moved = max(moved, abs(value - y[p]))
            y[p] = value
        if moved <= 1e-15 * max(map(abs, y.values())):
            return y
    return None


def _eliminate(unknowns: Sequence[str], rows: dict[str, dict[str, float]], rhs: dict[str, float]
               ) -> dict[str, float]:
    rows = {r: dict(cols) for r, cols in rows.items()}
    rhs = dict(rhs)
    column: dict[str, set[str]] = {}
    for r, cols in rows.items():
        for c in cols:
            column.setdefault(c, set()).add(r)
    pending = set(unknowns)
    for p in unknowns:
        pending.discard(p)
        pivot_row = rows[p]
        pivot = pivot_row[p]
        for r in [r for r in column.get(p, ()) if r in pending]:
            factor = rows[r].pop(p) / pivot
            for c, value in pivot_row.items():
                if c != p:
                    rows[r][c] = rows[r].get(c, 0.0) - factor * value
                    column.setdefault(c, set()).add(r)
            rhs[r] -= factor * rhs[p]
    y: dict[str, float] = {}
    for p in reversed(unknowns):
        row = rows[p]
        y[p] = (rhs[p] - sum(v * y[c] for c, v in row.items() if c != p)) / row[p]
    return y


def _loop_through(start: str, members: set[str], declared: dict[str, list[tuple[str, int]]]) -> list[str]:
    """A shortest loop from `start` back to itself inside one component: [start, ..., start]."""
    came: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for investor, bps in declared[node]:
                if bps <= 0 or investor not in members:
                    continue
                if investor == start:
                    loop = [start, node]
                    while loop[-1] != start:
                        loop.append(came[loop[-1]])
                    return list(reversed(loop[1:])) + [start]
                if investor not in came:
                    came[investor] = node
                    nxt_frontier.append(investor)
        frontier = nxt_frontier
    return [start, start]  # unreachable inside a component with a loop


def solve_flow(roots: Iterable[tuple[str, float]], declared: dict[str, list[tuple[str, int]]]) -> dict:
    """Where the weights of `roots` ((identity, weight): an asset's holders and their shares, or one
    identity with 1.0) end up, summed over every walk through the declared vehicles.

    {"owners": identity -> weight (identities that declared nobody), "through": vehicle -> weight passing
    through it (every pass counted), "undeclared": vehicle -> weight lost to its bps short of 10,000,
    "loops": [{"vehicles", "cycle", "entering", "closed"}] for each component with a loop, "entering" the
    weight that enters it from outside (for a closed loop: all of it is lost)}."""
    owners: dict[str, float] = {}
    inflow: dict[str, float] = {}
    for holder, weight in roots:
        if declared.get(holder):
            inflow[holder] = inflow.get(holder, 0.0) + weight
        else:
            owners[holder] = owners.get(holder, 0.0) + weight
    reached = set(inflow)
    frontier = list(inflow)
    while frontier:
        node = frontier.pop()
        for investor, _ in declared[node]:
            if investor not in reached and declared.get(investor):
                reached.add(investor)
                frontier.append(investor)

    def successors(node: str) -> list[str]:
        return [i for i, bps in declared[node] if bps > 0 and i in reached]

    components = strong_components(sorted(reached), successors)
    through: dict[str, float] = {}
    undeclared: dict[str, float] = {}
    loops: list[dict] = []
    for component in reversed(components):  # sources first: each component's inflow is complete
        members = set(component)
        looped = len(component) > 1 or any(i == component[0] and bps > 0 for i, bps in declared[component[0]])
        if not looped:
            (vehicle,) = component
            x = {vehicle: inflow.get(vehicle, 0.0)}
        else:
            entering = {v: inflow.get(v, 0.0) for v in component}
            exits = sum(10_000 - sum(bps for i, bps in declared[v] if i in members) for v in component)
            start = max(sorted(component), key=lambda v: entering[v])
            loop = {"vehicles": sorted(component), "cycle": _loop_through(start, members, declared),
                    "entering": sum(entering.values()), "closed": exits <= 0}
            loops.append(loop)
            if loop["closed"]:
                continue  # nothing leaves: what entered goes round for ever
            rows: dict[str, dict[str, float]] = {v: {v: 1.0} for v in component}
            for u in component:
                for investor, bps in declared[u]:
                    if investor in members and bps:
                        rows[investor][u] = rows[investor].get(u, 0.0) - bps / 10_000
            x = solve_linear(sorted(component), rows, entering)
        for vehicle, weight in x.items():
            through[vehicle] = weight
            investors = declared[vehicle]
            missing = 10_000 - sum(bps for _, bps in investors)
            if missing > 0:
                undeclared[vehicle] = weight * missing / 10_000
            for investor, bps in investors:
                if investor in members:
                    continue
                w = weight * bps / 10_000
                if investor in reached:
                    inflow[investor] = inflow.get(investor, 0.0) + w
                else:
                    owners[investor] = owners.get(investor, 0.0) + w
    return {"owners": owners, "through": through, "undeclared": undeclared, "loops": loops}


def reach_weights(targets: Iterable[str], declared: dict[str, list[tuple[str, int]]]) -> dict[str, float]:
    """solve_flow in reverse: identity -> the part of it that reaches `targets`, summed over every walk
    down the declarations (round loops too); 1.0 for each target, which is not looked through further.
    Only identities from which a target is reached through positive shares: each of their components
    has an exit towards a target, so every system solved is nonsingular."""
    targets = set(targets)
    investing_in: dict[str, list[str]] = {}
    for vehicle, investors in declared.items():
        for investor, bps in investors:
            if bps > 0:
                investing_in.setdefault(investor, []).append(vehicle)
    above: set[str] = set()
    frontier = list(targets)
    while frontier:
        for vehicle in investing_in.get(frontier.pop(), ()):
            if vehicle not in above and vehicle not in targets:
                above.add(vehicle)
                frontier.append(vehicle)

    def successors(node: str) -> list[str]:
        return [i for i, bps in declared[node] if bps > 0 and i in above]

    z = dict.fromkeys(targets, 1.0)
    for component in strong_components(sorted(above), successors):  # sinks first: what they reach is known
        members = set(component)
        outside = {v: sum(bps * z.get(i, 0.0) for i, bps in declared[v] if i not in members) / 10_000
                   for v in component}
        looped = len(component) > 1 or any(i == component[0] and bps > 0 for i, bps in declared[component[0]])
        if not looped:
            z.update(outside)
            continue
        rows = {v: {v: 1.0} for v in component}
        for v in component:
            for investor, bps in declared[v]:
                if investor in members and bps:
                    rows[v][investor] = rows[v].get(investor, 0.0) - bps / 10_000
        z.update(solve_linear(sorted(component), rows, outside))
    return z


def _routes(roots: Iterable[tuple[str, float]], declared: dict[str, list[tuple[str, int]]], max_paths: int
            ) -> tuple[dict[str, int], dict[str, list[tuple[tuple[str, ...], float]]], int]:
    """The acyclic routes from the roots to each owner: (owner -> number of routes, owner -> the first
    `max_paths` routes (vehicles on the way, the route's own product), the most vehicles on one route).
    A route never comes back to an identity on it; the weight round loops is in solve_flow's figures."""
    path_counts: dict[str, int] = {}
    paths: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    max_depth = 0
    stack: list[tuple[tuple[str, ...], float]] = []
    for holder, weight in roots:
        if declared.get(holder):
            stack.append(((holder,), weight))
        elif holder in path_counts:
            path_counts[holder] += 1
            if path_counts[holder] <= max_paths:
                paths[holder].append(((), weight))
        else:
            path_counts[holder] = 1
            paths[holder] = [((), weight)]
    while stack:
        via, weight = stack.pop()
        if len(via) > max_depth:
            max_depth = len(via)
        for investor, bps in declared[via[-1]]:
            if investor in via:
                continue
            w = weight * bps / 10_000
            if declared.get(investor):
                stack.append((via + (investor,), w))
                continue
            n = path_counts.get(investor, 0) + 1  # the hot path
            path_counts[investor] = n
            if n == 1:
                paths[investor] = [(via, w)]
            elif n <= max_paths:
                paths[investor].append((via, w))
    return path_counts, paths, max_depth


@_no_gc
def ubo(index: AuditIndex, entity: str, *, max_paths: int = 20) -> dict:
    """The ultimate beneficial owners of a fund, a company or a vehicle.

    Every identity that declared investors is looked through to them, at any depth; an owner is an
    identity that declared none (a person, an institution, a product, or a vehicle that never
    declared: the last is flagged). A holder's weight is its share of the asset (or, under a vehicle,
    its declared bps). An owner's effective percentage sums the products of the shares along every walk
    that reaches it, round loops of cross-holding vehicles as often as they go (solved exactly, see
    solve_flow); `paths` lists its acyclic routes (the first `max_paths`, each with its own product) and
    `path_count` counts them. `cycles` lists each loop (its vehicles, a cycle through them, the percentage
    entering it). What reaches no owner is `unattributed`, with its reason: declared bps short of 10,000,
    or a closed loop (vehicles whose declared shares all point back among themselves). Owners and
    unattributed together make 100% of the entity."""
    index.load_graph()
    target = resolve_entity(index, entity)
    if target["type"] == "asset":
        roots = [(holder, share) for holder, _, share in index.holdings(target["asset"])]
    else:
        roots = [(target["identity"], 1.0)]
    declared, kinds = index.graph
    flow = solve_flow(roots, declared)
    owners = flow["owners"]
    path_counts, paths, max_depth = _routes(roots, declared, max_paths)
    max_depth += 1 if path_counts else 0  # levels from the entity's holders to the deepest owner
    unattributed = [{"reason": "declared bps short of 10,000", "vehicle": vehicle,
                     "bps_undeclared": 10_000 - sum(bps for _, bps in declared[vehicle]), "pct": _pct(weight)}
                    for vehicle, weight in sorted(flow["undeclared"].items())]
    unattributed += [{"reason": "closed loop: every share these vehicles declare points back among them, so "
                                "what enters never reaches an owner",
                      "vehicles": loop["vehicles"], "cycle": loop["cycle"], "pct": _pct(loop["entering"])}
                     for loop in flow["loops"] if loop["closed"]]
    cycles = [{"cycle": loop["cycle"], "vehicles": loop["vehicles"], "pct_at_cycle": _pct(loop["entering"]),
               "closed": loop["closed"]} for loop in flow["loops"]]
    rows = []
    for owner in sorted(path_counts, key=lambda o: (-owners.get(o, 0.0), o)):
        kind = kinds.get(owner)
        rows.append({"identity": owner, "kind": kind, "kind_name": KIND_NAMES.get(kind, KIND_NAMES[None]),
                     "undeclared_vehicle": kind == VEHICLE, "effective_pct": _pct(owners.get(owner, 0.0)),
                     "path_count": path_counts[owner],
                     "paths": [{"via": list(via), "pct": 100 * w} for via, w in paths[owner]]})
    return {**_describe(index, target), "query": "ubo", "owners": rows, "owner_count": len(rows),
            "total_pct": _pct(sum(owners.values())),
            "unattributed_pct": round(sum(u["pct"] for u in unattributed), 6), "unattributed": unattributed,
            "cycles": cycles, "max_depth": max_depth}


# ------------------------------------------------------------------- holders


def _why(route: tuple[str, ...], nominees: dict[str, list[str]]) -> str:
    """Why an identity found at the end of `route` (the vehicles and nominee looked through) is counted."""
    if route[-1] in nominees:
        inner = f", looked through vehicle {' > '.join(route[:-1])}" if len(route) > 1 else ""
        return f"behind nominee {route[-1]}{inner}"
    return "looked through vehicle " + " > ".join(route)


@_no_gc
def holders(index: AuditIndex, entity: str) -> dict:
    """The look-through investor count of a fund or company against its legal cap, counted as the
    investor-cap rule counts (ledger.supervision.rules.investors_behind).

    A natural person, an institution or a registered product counts as one, under its own identity;
    an unregistered vehicle (kind 4) is looked through to its declared investors, recursively (a
    vehicle that declared none counts as one, flagged); a company's nominee holder is looked through to
    the people it holds for (the nominee declarations its KYC agent sealed, as the regulator opens them:
    AuditIndex.nominees), reason "behind nominee X", and `nominee_people` counts those people. Each
    ultimate investor is counted once however many routes lead to it (the chain does not de-duplicate;
    `units_by_contract_rule` is the chain's own, non-de-duplicated figure, which for funds must equal
    HolderCapModule's last `holders`, and for companies counts the identities on the register). Every
    count above the cap is a breach."""
    index.load_graph()
    target = resolve_entity(index, entity)
    if target["type"] != "asset":
        raise ConfigError(f"holders needs a fund or a company, not identity {entity!r}")
    asset, market = target["asset"], target["market"]
    declared, kinds = index.graph
    nominees = {n: people for n, people in index.nominees(asset).items() if people}
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

    def behind(node: str) -> list[str]:  # as investors_behind expands a node
        investors = declared.get(node)
        return [i for i, _ in investors] if investors else nominees.get(node, [])

    undeclared = index.vehicles_undeclared()  # vehicles without investors: counted as one, flagged
    expandable = {v for v, investors in declared.items() if investors} | set(nominees)
    for holder, _, _ in direct:
        if holder not in expandable:
            count(holder, "direct holder: unregistered vehicle that declared no investors, counted as one"
                  if holder in undeclared else "direct holder", ())
            continue
        # Look through, depth first; the contract's rule counts every route (units), we count identities.
        stack: list[tuple[str, ...]] = [(holder,)]
        while stack:
            route = stack.pop()
            reason = None
            for investor in behind(route[-1]):
                if investor in route:
                    cycles.append({"cycle": list(route[route.index(investor):]) + [investor], "via": list(route)})
                    continue
                if investor in expandable:
                    stack.append(route + (investor,))
                    continue
                if investor in undeclared:
                    count(investor, _why(route, nominees) + " (a vehicle that declared no investors, counted as one)",
                          route)
                    continue
                if reason is None:  # count(), inlined: the hot path
                    reason = _why(route, nominees)
                entry = counted.get(investor)
                if entry is None:
                    counted[investor] = [1, [(reason, route)]]
                else:
                    entry[0] += 1
                    if entry[0] <= MAX_REASONS:
                        entry[1].append((reason, route))
    n = len(investors_behind([holder for holder, _, _ in direct], declared, nominees))  # == len(counted)
    if market == "company":
        units_rule = len(direct)  # EquityMarket counts identities, without looking through
    else:
        looked = index.vehicles_declared()
        investors, cache = (lambda v: [i for i, _ in declared[v]] if v in looked else ()), {}
        units_rule = sum(holder_units(holder, investors, cache) for holder, _, _ in direct)
    cap = target["cap"]
    overlaps = sorted(i for i, (routes, _) in counted.items() if routes > 1)
    holding = sorted(holder for holder, _, _ in direct if holder in nominees)
    nominee_people = len(investors_behind(holding, declared, nominees))
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
            "nominees": [{"identity": h, "people": len(nominees[h])} for h in holding],
            "nominee_people": nominee_people,
            "breach": bool(breaches), "breaches": breaches, "overlaps": overlaps, "cycles": cycles,
            "counted": rows}
