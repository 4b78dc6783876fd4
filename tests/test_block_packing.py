"""Blocks grow with the work, not faster: a scenario puts in each block all the pending work that can go
together (a step that needs an earlier one's result on chain waits for the next block), and the consortium
never lets the explicit gas of a block's transactions pass the chain's block gas limit: a full block is
committed and the next call opens another."""

from __future__ import annotations

import math
import random
import sqlite3
from collections import Counter
from types import SimpleNamespace

import pytest

from ledger.chain.consortium import block_gas_limit
from ledger.chain.roles import Role
from ledger.chain.run import open_chain
from ledger.errors import ConfigError, LedgerError
from scenarios import regional_equity as equity
from scenarios import share_transfer as st
from scenarios.runner import run_scenario

T0 = 1641916800
# Twice the default investors for the default four funds (whose caps hold 500 holder units): the small funds
# full, trading 60 rounds.
SIZE = {"investors": 300, "transfers": 1200, "batch": 20}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("packing") / "run"
    summary = run_scenario("share_transfer", 7, SIZE, run_dir)
    db = sqlite3.connect(run_dir / "fund_platform" / "ledger.sqlite")
    try:
        sizes = [n for (n,) in db.execute("SELECT tx_count FROM blocks ORDER BY number")]
        requests = db.execute("SELECT COUNT(*) FROM transactions WHERE function = 'requestTransfer'").fetchone()[0]
    finally:
        db.close()
    return summary, sizes, requests


def test_every_transfer_asked_is_requested(run):
    summary, _, requests = run
    assert "transfers_requested" not in summary  # the market never ran dry
    assert requests >= SIZE["transfers"]  # and the planted requests besides
    assert summary["caught"] == summary["planted_for_chain"] and summary["unexpected_refusals"] == 0


def test_single_transaction_blocks_are_rare(run):
    _, sizes, _ = run
    singles = sum(1 for n in sizes if n == 1)
    assert singles < 0.05 * len(sizes), f"{singles} of {len(sizes)} blocks hold one transaction"


def test_blocks_grow_with_the_work(run):
    summary, sizes, _ = run
    rounds = math.ceil(SIZE["transfers"] / SIZE["batch"])  # trading rounds a full market takes
    assert len(sizes) == summary["blocks"] <= 30 + 2 * rounds
    # A round's block carries its requests, the approvals of the round before and the settlements of the
    # one before that: on average more than a batch.
    assert sum(sizes) / len(sizes) >= SIZE["batch"]


def test_a_fund_past_its_headroom_still_trades_among_its_holders():
    """Investors outgrow the funds: a small fund one holder unit past the headroom ordinary business keeps
    below its cap (the planted holdings take it there), and many more investors than it may hold. A newcomer
    may not buy in, but a holder may buy more (its units are counted already): every request finds a buyer.
    (Drawing buyers among all investors and giving up after a few tries, such a market once requested a
    transfer or two a block, most blocks holding one transaction, or none at all in a fund past its headroom.)"""
    s = st.ShareTransfer()
    s.rng, s.chain = random.Random(7), SimpleNamespace(time=st.GENESIS_TIME + 100 * st.DAY)
    s.owners, s.frozen, s.long_term, s.paying = {}, set(), set(), Counter()
    people = [st.Investor(f"p{k}", st.PERSON, True, {}, k.to_bytes(32, "big")) for k in range(1000)]
    for k, person in enumerate(people):
        person.accounts = [SimpleNamespace(address=k.to_bytes(20, "big"))]
        s.owners[person.accounts[0].address] = (person, person.accounts[0])
    fund = st.Fund(1, 2, None, st.GENESIS_TIME, s.owners)  # a limited partnership: 50 investors at most
    for person in people[:fund.soft_cap + 1]:
        fund.credit(person.accounts[0], 2_000_000)
    s.funds, s.buyers = [fund], people
    s.can_pay = lambda account, amount: True
    sent = []

    def request(fund, seller, account, buyer, amount, fate, paying):
        fund.reserve(seller, buyer)
        sent.append((seller, buyer, amount))
        return sent[-1]

    s.request = request
    units = fund.units
    assert units > fund.soft_cap
    while s.new_transfer():
        pass
    assert len(sent) >= fund.soft_cap // 3  # each transfer ties up its seller, and its buyer as a seller
    assert all(fund.stake(buyer) for _, buyer, _ in sent) and fund.units == units


def test_a_block_never_holds_more_explicit_gas_than_the_limit(tmp_path):
    chain = open_chain(tmp_path, "packed", 5, 31337, T0)
    nodes = [chain.add_node(name, name, Role.ADMIN | Role.VALIDATOR | Role.PLATFORM) for name in ("A", "B", "C")]
    nodes[0].deploy("PermissionRegistry", *chain.founding_members())
    chain.commit()
    registry = chain.contract("PermissionRegistry")
    share = block_gas_limit() // 3 + 1  # two such calls fit in a block, three do not
    tickets = [nodes[1].send(registry.call("propose", 0, bytes([k]) * 20, b"\x04" * 32, 1, gas=share))
               for k in range(1, 6)]
    chain.commit()
    assert [t.block_number for t in tickets] == [2, 2, 3, 3, 4]
    assert all(t.ok for t in tickets)
    with pytest.raises(LedgerError, match="more than a block's limit"):
        nodes[1].send(registry.call("propose", 0, b"\x09" * 20, b"\x04" * 32, 1, gas=block_gas_limit() + 1))
    chain.store.close()


def test_an_allotment_too_large_for_a_block_is_refused_up_front():
    """regional_equity allots an offering in one transaction, its gas growing with the subscriptions: a
    --cap whose allotment would not fit in a block is refused before anything runs, in one line."""
    most = (block_gas_limit() - equity.ALLOT_GAS) // equity.ALLOT_GAS_PER_SUBSCRIPTION
    assert equity.RegionalEquity.resolve_options({"cap": most})["cap"] == most
    with pytest.raises(ConfigError, match="must fit in a block") as refused:
        equity.RegionalEquity.resolve_options({"cap": most + 1})
    assert "\n" not in str(refused.value)
