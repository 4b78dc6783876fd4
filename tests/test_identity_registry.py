"""IdentityRegistry: identities, linked accounts, qualification and declared vehicle investors."""

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
    assert reverted(t, "TransfereeNotQualified") and t.detail == {"identity": hx(alice)}
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
