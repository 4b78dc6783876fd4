"""IdentityRegistry: identities, linked accounts, qualification and declared vehicle investors, and the
bounds on look-through (declaration width, depth and size of a vehicle's tree)."""

import pytest

from conftest import DAY, INSTITUTION, MIN, PERSON, T0, VEHICLE, reverted

DATA = b"\x11" * 32


def ident(label: str) -> bytes:
    return label.encode().ljust(32, b"\0")


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def register(chain, label, kind=PERSON, until=0, node=None):
    t = chain.send(node or chain.agent, chain.identities, "registerIdentity", ident(label), DATA, kind, until)
    assert t.ok, (t.reason, t.detail)
    return ident(label)


# ------------------------------------------------------------ happy paths


def test_register_identity(chain):
    until = T0 + 365 * DAY
    t = chain.send(chain.agent, chain.identities, "registerIdentity", ident("alice"), DATA, PERSON, until)
    assert t.ok
    assert t.event("IdentityRegistered") == {
        "id": hx(ident("alice")), "dataHash": hx(DATA), "kind": PERSON, "qualifiedUntil": until,
        "agent": hx(chain.agent.address),
    }
    assert chain.identities.view("identity", ident("alice")) == (DATA, PERSON, until)
    assert chain.identities.view("kindOf", ident("alice")) == PERSON
    assert chain.identities.view("kindOf", ident("nobody")) == 0


def test_link_account_many_accounts_per_identity(chain):
    alice = register(chain, "alice")
    first = chain.consortium.client_account("alice-1").address
    second = chain.consortium.client_account("alice-2").address
    t = chain.send(chain.agent, chain.identities, "linkAccount", first, alice)
    assert t.event("AccountLinked") == {"account": hx(first), "id": hx(alice), "agent": hx(chain.agent.address)}
    assert chain.send(chain.platform, chain.identities, "linkAccount", second, alice).ok  # platform is a KYC agent
    assert chain.identities.view("identityOf", first) == alice
    assert chain.identities.view("identityOf", second) == alice


def test_set_qualification_renews_and_withdraws(chain):
    alice = register(chain, "alice")
    until = T0 + 100 * DAY
    t = chain.send(chain.agent, chain.identities, "setQualification", alice, until)
    assert t.event("QualificationSet") == {"id": hx(alice), "qualifiedUntil": until, "agent": hx(chain.agent.address)}
    assert chain.identities.view("identity", alice)[2] == until
    assert chain.send(chain.agent, chain.identities, "setQualification", alice, 0).ok
    assert chain.identities.view("identity", alice)[2] == 0
    assert not chain.identities.view("isQualified", alice)


def test_declare_investors_and_replace_declaration(chain):
    vehicle = register(chain, "vehicle", VEHICLE)
    a, b, c = register(chain, "a"), register(chain, "b"), register(chain, "c", INSTITUTION)
    t = chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, [a, b], [6000, 4000])
    assert t.ok
    assert t.event("InvestorsDeclared") == {
        "vehicle": hx(vehicle), "investors": [hx(a), hx(b)], "sharesBps": [6000, 4000],
        "agent": hx(chain.agent.address),
    }
    assert chain.identities.view("investorsOf", vehicle) == ((a, b), (6000, 4000))
    assert chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, [c], [10_000]).ok
    assert chain.identities.view("investorsOf", vehicle) == ((c,), (10_000,))


# ------------------------------------------------------------------ errors


def test_identity_exists(chain):
    alice = register(chain, "alice")
    t = chain.send(chain.agent, chain.identities, "registerIdentity", alice, b"\x22" * 32, INSTITUTION, 0)
    assert reverted(t, "IdentityExists") and t.detail == {"id": hx(alice)}
    assert chain.identities.view("identity", alice) == (DATA, PERSON, 0)


def test_invalid_kind(chain):
    t = chain.send(chain.agent, chain.identities, "registerIdentity", ident("x"), DATA, 0, 0)
    assert reverted(t, "InvalidKind") and t.detail == {"kind": 0}
    assert chain.identities.view("kindOf", ident("x")) == 0


def test_unknown_identity(chain):
    ghost = ident("ghost")
    account = chain.consortium.client_account("ghost").address
    for fn, args in (
        ("linkAccount", (account, ghost)),
        ("setQualification", (ghost, T0 + DAY)),
        ("declareInvestors", (ghost, [], [])),
    ):
        t = chain.send(chain.agent, chain.identities, fn, *args)
        assert reverted(t, "UnknownIdentity") and t.detail == {"id": hx(ghost)}, fn
    assert chain.identities.view("identityOf", account) == b"\0" * 32


def test_unknown_investor_in_declaration(chain):
    vehicle = register(chain, "vehicle", VEHICLE)
    a = register(chain, "a")
    t = chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, [a, ident("ghost")], [5000, 5000])
    assert reverted(t, "UnknownIdentity") and t.detail == {"id": hx(ident("ghost"))}


def test_account_already_linked(chain):
    alice, bob = register(chain, "alice"), register(chain, "bob")
    account = chain.consortium.client_account("shared").address
    assert chain.send(chain.agent, chain.identities, "linkAccount", account, alice).ok
    for target in (bob, alice):
        t = chain.send(chain.agent, chain.identities, "linkAccount", account, target)
        assert reverted(t, "AccountAlreadyLinked")
        assert t.detail == {"account": hx(account), "id": hx(alice)}
    assert chain.identities.view("identityOf", account) == alice


def test_not_a_vehicle(chain):
    person, a = register(chain, "person"), register(chain, "a")
    t = chain.send(chain.agent, chain.identities, "declareInvestors", person, [a], [10_000])
    assert reverted(t, "NotAVehicle") and t.detail == {"id": hx(person)}


@pytest.mark.parametrize("shares, total", [([6000, 3999], 9999), ([6000, 4001], 10_001), ([], 0)])
def test_shares_must_sum_to_whole(chain, shares, total):
    vehicle = register(chain, "vehicle", VEHICLE)
    investors = [register(chain, f"i{n}") for n in range(len(shares))]
    t = chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, investors, shares)
    assert reverted(t, "SharesMustSumToWhole") and t.detail == {"sumBps": total}
    assert chain.identities.view("investorsOf", vehicle) == ((), ())


def test_length_mismatch(chain):
    vehicle = register(chain, "vehicle", VEHICLE)
    a, b = register(chain, "a"), register(chain, "b")
    t = chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, [a, b], [10_000])
    assert reverted(t, "LengthMismatch")


def test_only_kyc_agents_write(chain):
    alice = register(chain, "alice")
    account = chain.consortium.client_account("x").address
    for node in (chain.manager, chain.custodian, chain.regulator):
        for fn, args in (
            ("registerIdentity", (ident("y"), DATA, PERSON, 0)),
            ("linkAccount", (account, alice)),
            ("setQualification", (alice, T0 + DAY)),
            ("declareInvestors", (alice, [], [])),
        ):
            t = chain.send(node, chain.identities, fn, *args)
            assert t.status == "refused" and t.reason == "ROLE_MISSING", (node.name, fn)
    assert chain.identities.view("kindOf", ident("y")) == 0
    assert chain.identities.view("identityOf", account) == b"\0" * 32


# --------------------------------------------------------------- qualification expiry


def test_qualification_expiry_enforced_on_chain(chain):
    """Executed in a block, isQualified compares against the block's time: a holder whose
    qualification expired cannot subscribe again."""
    fund = chain.fund()
    alice, account = chain.investor("alice")
    assert chain.send(chain.agent, chain.identities, "setQualification", alice, T0 + 30 * DAY).ok
    assert chain.send(chain.agent, chain.shares, "subscribe", fund, MIN, signer=account).ok
    chain.consortium.advance(31 * DAY)
    t = chain.send(chain.agent, chain.shares, "subscribe", fund, MIN, signer=account)
    assert reverted(t, "NotQualified") and t.detail == {"identity": hx(alice)}
    assert chain.send(chain.agent, chain.identities, "setQualification", alice, T0 + 365 * DAY).ok
    assert chain.send(chain.agent, chain.shares, "subscribe", fund, MIN, signer=account).ok


def test_never_qualified_identity(chain):
    bob = register(chain, "bob", until=0)
    assert not chain.identities.view("isQualified", bob)
    assert not chain.identities.view("isQualified", ident("nobody"))


def test_is_qualified_view_follows_the_chain_clock(chain):
    alice = register(chain, "alice", until=T0 + 30 * DAY)
    assert chain.consortium.head.timestamp < T0 + 30 * DAY
    assert chain.identities.view("isQualified", alice)
    chain.consortium.advance(31 * DAY)
    register(chain, "tick")  # one more block, stamped after the expiry
    assert chain.consortium.head.timestamp > T0 + 30 * DAY
    assert not chain.identities.view("isQualified", alice)


def test_standing_gives_kind_and_qualification_in_one_call(chain):
    alice = register(chain, "alice", PERSON, T0 + 365 * DAY)
    pool = register(chain, "pool", VEHICLE)
    assert chain.identities.view("standing", alice) == (PERSON, True)
    assert chain.identities.view("standing", pool) == (VEHICLE, False)
    assert chain.identities.view("standing", ident("nobody")) == (0, False)


# ------------------------------------------------------- look-through bounds

MAX_WIDTH, MAX_DEPTH, MAX_SIZE = 50, 4, 200  # the registry's defaults


def many(chain, prefix: str, n: int, kind=PERSON) -> list[bytes]:
    """`n` identities registered in one block."""
    tickets = [chain.agent.send(chain.identities.call("registerIdentity", ident(f"{prefix}{i}"), DATA, kind, 0))
               for i in range(n)]
    chain.consortium.commit()
    assert all(t.ok for t in tickets)
    return [ident(f"{prefix}{i}") for i in range(n)]


def declare(chain, vehicle, investors):
    bps = [10_000 // len(investors)] * len(investors)
    bps[0] += 10_000 - sum(bps)
    return chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, investors, bps)


def test_default_limits(chain):
    ids = chain.identities
    assert (ids.view("maxDeclarationWidth"), ids.view("maxLookThroughDepth"), ids.view("maxLookThroughSize")) == (
        MAX_WIDTH, MAX_DEPTH, MAX_SIZE)
    assert ids.view("LOOK_THROUGH_SIZE_CEILING") == MAX_SIZE


def test_a_declaration_wider_than_the_maximum_is_refused(chain):
    vehicle = register(chain, "vehicle", VEHICLE)
    people = many(chain, "p", MAX_WIDTH + 1)
    t = declare(chain, vehicle, people)
    assert reverted(t, "DeclarationTooWide")
    assert t.detail == {"vehicle": hx(vehicle), "width": MAX_WIDTH + 1, "maxWidth": MAX_WIDTH}
    assert chain.identities.view("investorsOf", vehicle) == ((), ())
    assert declare(chain, vehicle, people[:MAX_WIDTH]).ok
    assert chain.identities.view("extentOf", vehicle) == (MAX_WIDTH + 1, 1)


def test_extent_counts_inner_vehicles_as_declared(chain):
    inner, outer = register(chain, "inner", VEHICLE), register(chain, "outer", VEHICLE)
    a, b, c = many(chain, "x", 3)
    assert chain.identities.view("extentOf", a) == (1, 0)
    assert chain.identities.view("extentOf", inner) == (1, 1)  # undeclared: itself, one level
    twin = register(chain, "twin", VEHICLE)
    assert declare(chain, inner, [a, b]).ok
    assert declare(chain, twin, [a, b]).ok
    assert declare(chain, outer, [inner, c, twin]).ok  # a and b twice: repeats count, as the walk visits them
    assert chain.identities.view("extentOf", outer) == (1 + 3 + 1 + 3, 2)


@pytest.mark.parametrize("at", [(0, 1), (0, MAX_WIDTH - 1), (MAX_WIDTH - 2, MAX_WIDTH - 1), (17, 31)])
def test_a_declaration_listing_an_investor_twice_is_refused(chain, at):
    """One entry per investor: a repeat, wherever it stands in a declaration of any width up to the maximum,
    reverts with DuplicateInvestor naming the vehicle and the first investor listed again, and leaves the
    earlier declaration in force."""
    vehicle = register(chain, "vehicle", VEHICLE)
    people = many(chain, "p", MAX_WIDTH)
    assert declare(chain, vehicle, people[:2]).ok
    first, second = at
    investors = list(people)
    investors[second] = investors[first]
    t = declare(chain, vehicle, investors)
    assert reverted(t, "DuplicateInvestor")
    assert t.detail == {"vehicle": hx(vehicle), "investor": hx(people[first])}
    assert chain.identities.view("investorsOf", vehicle) == (tuple(people[:2]), (5000, 5000))
    assert declare(chain, vehicle, people).ok  # the same width without the repeat goes through


def test_a_repeated_vehicle_or_the_vehicle_itself_twice_is_refused(chain):
    vehicle, inner = register(chain, "vehicle", VEHICLE), register(chain, "inner", VEHICLE)
    a, b = many(chain, "x", 2)
    assert declare(chain, inner, [a]).ok
    t = declare(chain, vehicle, [inner, b, inner])
    assert reverted(t, "DuplicateInvestor") and t.detail == {"vehicle": hx(vehicle), "investor": hx(inner)}
    t = chain.send(chain.agent, chain.identities, "declareInvestors", vehicle, [a, a], [10_000, 0])
    assert reverted(t, "DuplicateInvestor") and t.detail["investor"] == hx(a)  # even with a share of 0


def test_a_declaration_deeper_than_the_maximum_is_refused(chain):
    below = register(chain, "person")
    vehicles = many(chain, "v", MAX_DEPTH + 1, VEHICLE)
    for level, vehicle in enumerate(vehicles[:MAX_DEPTH], start=1):
        assert declare(chain, vehicle, [below]).ok
        assert chain.identities.view("extentOf", vehicle) == (level + 1, level)
        below = vehicle
    t = declare(chain, vehicles[-1], [below])
    assert reverted(t, "LookThroughTooDeep") and t.detail == {"vehicle": hx(vehicles[-1]), "maxDepth": MAX_DEPTH}


def test_a_declaration_larger_than_the_maximum_is_refused(chain):
    inner = many(chain, "inner", 5, VEHICLE)
    people = many(chain, "p", 39)
    for vehicle in inner:  # 5 vehicles of 40 identities each
        assert declare(chain, vehicle, people).ok
    top = register(chain, "top", VEHICLE)
    assert declare(chain, top, inner[:4] + people).ok  # 1 + 4 * 40 + 39 = 200
    assert chain.identities.view("extentOf", top) == (MAX_SIZE, 2)
    t = declare(chain, top, inner)  # 1 + 5 * 40
    assert reverted(t, "LookThroughTooLarge") and t.detail == {"vehicle": hx(top), "maxSize": MAX_SIZE}


def test_an_admin_sets_the_limits(chain):
    t = chain.send(chain.regulator, chain.identities, "setLookThroughLimits", 2, 1, 4)
    assert t.ok
    assert t.event("LookThroughLimitsSet") == {"maxDeclarationWidth": 2, "maxLookThroughDepth": 1,
                                               "maxLookThroughSize": 4, "admin": hx(chain.regulator.address)}
    vehicle, inner = register(chain, "vehicle", VEHICLE), register(chain, "inner", VEHICLE)
    a, b, c = many(chain, "x", 3)
    t = declare(chain, vehicle, [a, b, c])
    assert reverted(t, "DeclarationTooWide") and t.detail["maxWidth"] == 2
    assert declare(chain, inner, [a, b]).ok
    t = declare(chain, vehicle, [inner, c])
    assert reverted(t, "LookThroughTooDeep") and t.detail == {"vehicle": hx(vehicle), "maxDepth": 1}
    assert chain.send(chain.regulator, chain.identities, "setLookThroughLimits", 2, 2, 4).ok
    t = declare(chain, vehicle, [inner, c])  # 1 + 3 + 1
    assert reverted(t, "LookThroughTooLarge") and t.detail == {"vehicle": hx(vehicle), "maxSize": 4}


@pytest.mark.parametrize("width, depth, size", [
    (0, 4, 200), (200, 4, 200), (50, 0, 200), (50, 17, 200), (50, 4, 201), (3, 4, 3),
])
def test_limits_out_of_range_are_refused(chain, width, depth, size):
    t = chain.send(chain.platform, chain.identities, "setLookThroughLimits", width, depth, size)
    assert reverted(t, "InvalidLookThroughLimits")
    assert t.detail == {"maxDeclarationWidth": width, "maxLookThroughDepth": depth, "maxLookThroughSize": size}
    assert chain.identities.view("maxLookThroughSize") == MAX_SIZE


def test_only_admins_set_the_limits(chain):
    """The gateway refuses a non-admin before execution (the agent is a KYC agent only), and the contract
    wants ADMIN too: a call that slips past the gateway reverts."""
    t = chain.send(chain.agent, chain.identities, "setLookThroughLimits", 10, 2, 20)
    assert t.status == "refused" and t.reason == "ROLE_MISSING"
    c = chain.consortium
    data = chain.identities.abi.encode_call("setLookThroughLimits", (10, 2, 20))
    ok, output = c.engine.call(chain.identities.address, data, chain.agent.address)
    assert not ok and c.decode_error(output).name == "MissingRole"
    assert chain.identities.view("maxDeclarationWidth") == MAX_WIDTH


def test_look_through_view_reports_where_it_stopped(chain):
    ids = chain.identities
    until = T0 + 365 * DAY
    vehicle, inner = register(chain, "vehicle", VEHICLE, until), register(chain, "inner", VEHICLE, until)
    good = register(chain, "good", until=until)
    bad = register(chain, "bad")
    assert declare(chain, inner, [good, bad]).ok
    assert declare(chain, vehicle, [good, inner]).ok
    failure, units, identity, via, limit = range(5)
    r = ids.view("lookThrough", vehicle, 4, False)
    assert (r[failure], r[units]) == (0, 3)
    r = ids.view("lookThrough", vehicle, 4, True)  # NotQualified
    assert (r[failure], r[identity], r[via], r[limit]) == (1, bad, inner, 0)
    r = ids.view("lookThrough", vehicle, 1, False)  # TooDeep: inner sits at depth 1
    assert (r[failure], r[identity], r[via], r[limit]) == (3, inner, vehicle, 1)
