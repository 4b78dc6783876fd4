"""Anchoring the regional equity market's business chain on the regulatory chain: the anchors
match the business chain's blocks, one every `interval` blocks plus the head; a tampered copy
of the business ledger is named by check_anchors; event_digest covers every event."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import T0
from ledger.chain.access import adopt_declared_roles
from ledger.audit.anchors import EMPTY_DIGEST, Anchorer, anchors_on, chain_key, check_anchors, event_digest
from ledger.chain.run import LEDGER_FILE, open_chain
from ledger.errors import LedgerError
from ledger.chain.roles import Role
from ledger.chain.store import LedgerStore
from scenarios.runner import run_scenario

BUSINESS, REGULATORY = "equity_market", "regulatory"
INTERVAL = 4
SMALL = {"investors": 60, "companies": 3, "transfers": 30, "batch": 10, "cap": 10, "anchor_interval": INTERVAL}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("anchoring") / "run"
    summary = run_scenario("regional_equity", 5, SMALL, run_dir)
    return run_dir, summary


def stores(run_dir: Path, business: Path | None = None) -> tuple[LedgerStore, LedgerStore]:
    return (LedgerStore(business or run_dir / BUSINESS / LEDGER_FILE),
            LedgerStore(run_dir / REGULATORY / LEDGER_FILE))


def tampered_copy(run_dir: Path, tmp_path: Path, *statements: str) -> Path:
    """A copy of the business ledger with the append-only triggers dropped and `statements` applied."""
    copy = tmp_path / "tampered.sqlite"
    shutil.copyfile(run_dir / BUSINESS / LEDGER_FILE, copy)
    db = sqlite3.connect(copy)
    try:
        for table in ("blocks", "events"):
            db.execute(f"DROP TRIGGER {table}_no_update")
            db.execute(f"DROP TRIGGER {table}_no_delete")
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()
    return copy


def test_anchors_match_the_business_chain(run):
    run_dir, summary = run
    business, regulatory = stores(run_dir)
    try:
        assert check_anchors(business, BUSINESS, regulatory) == []
        anchors = anchors_on(regulatory, BUSINESS)
        head = business.head()
        blocks = {n: (h, root) for n, h, root in business.query("SELECT number, hash, state_root FROM blocks")}
    finally:
        business.close()
        regulatory.close()
    # One anchor every INTERVAL blocks, and one of the head at the end of the run.
    expected = list(range(INTERVAL, head[0] + 1, INTERVAL))
    if expected[-1] != head[0]:
        expected.append(head[0])
    assert [a.block_number for a in anchors] == expected
    assert len(anchors) == -(-head[0] // INTERVAL) == summary["anchors"]
    assert anchors[-1].block_hash == head[1]
    for anchor in anchors:
        assert (anchor.block_hash, anchor.state_root) == blocks[anchor.block_number]
    assert summary["anchored_height"] == head[0]


def test_reports_are_filed_for_every_kind(run):
    run_dir, summary = run
    _, regulatory = stores(run_dir)
    try:
        kinds = [k for (k,) in regulatory.query(
            "SELECT json_extract(args, '$.kind') FROM events WHERE name = 'Reported' ORDER BY block_number")]
    finally:
        regulatory.close()
    assert summary["reports_filed"] == len(kinds) >= 4
    assert set(kinds) == {0, 1, 2, 3}


def test_a_changed_event_is_named(run, tmp_path):
    run_dir, _ = run
    business, regulatory = stores(run_dir)
    try:
        (number, index), = business.query(
            "SELECT block_number, log_index FROM events WHERE name = 'SharesTransferred' LIMIT 1")
        anchored = [a.block_number for a in anchors_on(regulatory, BUSINESS)]
    finally:
        business.close()
        regulatory.close()
    upto = min(h for h in anchored if h >= number)
    after = max([h for h in anchored if h < number], default=0)
    copy = tampered_copy(run_dir, tmp_path, f"UPDATE events SET data = zeroblob(96) WHERE block_number = {number} "
                                            f"AND log_index = {index}")
    business, regulatory = stores(run_dir, copy)
    try:
        assert check_anchors(business, BUSINESS, regulatory) == [
            f"blocks {after + 1}-{upto}: events differ from the anchored digest"]
    finally:
        business.close()
        regulatory.close()


def test_a_changed_block_hash_and_a_missing_block_are_named(run, tmp_path):
    run_dir, _ = run
    _, regulatory = stores(run_dir)
    try:
        anchored = [a.block_number for a in anchors_on(regulatory, BUSINESS)]
    finally:
        regulatory.close()
    copy = tampered_copy(run_dir, tmp_path,
                         f"UPDATE blocks SET hash = randomblob(32) WHERE number = {anchored[1]}",
                         f"UPDATE blocks SET state_root = randomblob(32) WHERE number = {anchored[2]}",
                         f"DELETE FROM blocks WHERE number = {anchored[-1]}")
    business, regulatory = stores(run_dir, copy)
    try:
        assert check_anchors(business, BUSINESS, regulatory) == [
            f"block {anchored[1]}: hash differs from the anchored hash",
            f"block {anchored[2]}: state root differs from the anchored one",
            f"block {anchored[-1]}: anchored on the regulatory chain but missing here",
        ]
    finally:
        business.close()
        regulatory.close()


# ------------------------------------------------------------------ event_digest


EVENT = (b"\x11" * 32, b"\x22" * 20, "EquityMarket", "SharesTransferred", "{}", b"\x33" * 64, b"\x44" * 96)


@pytest.fixture
def store(tmp_path: Path):
    s = LedgerStore(tmp_path / "events.sqlite", create=True)
    yield s
    s.close()


def add_events(store: LedgerStore, rows) -> None:
    store._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)


def digest_after(store: LedgerStore, rows) -> tuple[bytes, int]:
    """event_digest over blocks (0, 10] of a new ledger beside `store` holding just `rows`."""
    path = store.path.with_name(f"events-{len(list(store.path.parent.glob('events-*.sqlite')))}.sqlite")
    other = LedgerStore(path, create=True)
    try:
        add_events(other, rows)
        return event_digest(other, 0, 10)
    finally:
        other.close()


def test_event_digest_of_no_events_is_empty(store):
    assert event_digest(store, 0, 100) == (EMPTY_DIGEST, 0)


def test_event_digest_covers_exactly_the_range(store):
    add_events(store, [(1, 0, *EVENT), (2, 0, *EVENT), (2, 1, *EVENT), (3, 0, *EVENT)])
    digest, count = event_digest(store, 1, 2)
    assert count == 2
    assert digest != EMPTY_DIGEST
    assert event_digest(store, 0, 3)[1] == 4
    assert event_digest(store, 1, 2) == (digest, count)  # deterministic
    assert event_digest(store, 0, 2)[0] != digest


def test_event_digest_changes_when_any_part_of_an_event_changes(store):
    base = [(1, 0, *EVENT), (2, 3, *EVENT)]
    original = digest_after(store, base)
    tx, address, contract, name, args, topics, data = EVENT
    variants = {
        "data": (2, 3, tx, address, contract, name, args, topics, b"\x45" + data[1:]),
        "topics": (2, 3, tx, address, contract, name, args, b"\x34" + topics[1:], data),
        "address": (2, 3, tx, b"\x23" * 20, contract, name, args, topics, data),
        "log index": (2, 4, *EVENT),
        "block": (3, 3, *EVENT),
    }
    for what, changed in variants.items():
        assert digest_after(store, [base[0], changed]) != original, what
    assert digest_after(store, base + [(2, 4, *EVENT)])[0] != original[0]  # an event added
    assert digest_after(store, base[:1])[0] != original[0]  # an event removed


# ---------------------------------------------------------------------- Anchorer


def small_chains(tmp_path: Path):
    business = open_chain(tmp_path, "biz", 3, 31401, T0)
    platform = business.add_node("PLAT", "Platform", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR)
    business.store.write_meta(business.genesis_meta())
    regulatory = open_chain(tmp_path, "reg", 3, 31402, T0)
    regulator = regulatory.add_node("CSRC", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR | Role.PLATFORM)
    reporter = regulatory.add_node("PLAT", "Platform (reporter)", Role.PLATFORM)
    regulatory.store.write_meta(regulatory.genesis_meta())
    registry = regulator.deploy("PermissionRegistry", *regulatory.founding_members()).contract_address
    regulator.deploy("ReportRegistry", registry)
    regulatory.commit()
    adopt_declared_roles(regulatory)
    return business, platform, regulatory, regulator, reporter


def test_anchorer_refuses_an_interval_below_one(tmp_path):
    business, _, regulatory, _, reporter = small_chains(tmp_path)
    with pytest.raises(LedgerError, match="at least 1 block"):
        Anchorer(business, regulatory, reporter, 0)


def test_a_refused_anchor_is_retried_from_the_last_anchor_that_stands(tmp_path):
    business, platform, regulatory, regulator, reporter = small_chains(tmp_path)
    anchorer = Anchorer(business, regulatory, reporter, 2)
    registry = platform.deploy("PermissionRegistry", *business.founding_members()).contract_address
    business.commit()
    business.advance(10)
    identities = platform.deploy("IdentityRegistry", registry).contract_address
    business.commit()  # block 2: the chain is not registered yet, so the anchor is refused
    assert anchorer.tickets[-1].reason == "UnknownChain"
    assert anchorer.anchored_height == 0
    regulator.send(regulatory.contract("ReportRegistry").call("registerChain", chain_key("biz"), reporter.address))
    regulatory.commit()
    business.advance(10)
    platform.deploy("SettlementCash", registry, identities)
    business.commit()  # block 3: retried, covering blocks 1-3
    assert anchorer.tickets[-1].ok and anchorer.anchored_height == 3
    anchors = anchors_on(regulatory.store, "biz")
    assert [a.block_number for a in anchors] == [3]
    assert anchors[0].event_digest == event_digest(business.store, 0, 3)[0] != EMPTY_DIGEST
    assert check_anchors(business.store, "biz", regulatory.store) == []
    # The regulatory block that holds an anchor is stamped no earlier than the anchored block.
    reg_time = regulatory.store.query("SELECT MAX(timestamp) FROM blocks")[0][0]
    assert reg_time >= business.head.timestamp
    business.store.close()
    regulatory.store.close()
