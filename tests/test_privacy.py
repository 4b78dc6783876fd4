"""Personal data stays off chain, sealed in the owning node's private store: the owner and
the regulator open it, any other node sees it sealed, and the chain holds only its salted hash."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ledger.errors import LedgerError
from ledger.trust.privacy import PRIVATE_FILE, PrivateStore, data_hash, privacy_key, read_records
from ledger.audit.views import node_view
from scenarios.runner import run_scenario

CHAIN = "fund_platform"
OWNER, OTHER, REGULATOR = "HX-SEC", "JC-WEALTH", "CSRC-BJ"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("privacy") / "run"
    run_scenario("share_transfer", 5, {"investors": 60, "transfers": 0}, run_dir)
    return run_dir


def test_owner_opens_its_records_and_they_match_the_chain(run: Path) -> None:
    data = node_view(run, CHAIN, OWNER)["private_data"]
    assert data["records"] > 20 and data["opened"] == data["records"]
    assert all(item["matches_chain"] and item["personal"]["name"] for item in data["items"])


def test_another_nodes_view_never_shows_the_data(run: Path) -> None:
    view = node_view(run, CHAIN, OWNER, viewer=OTHER)
    data = view["private_data"]
    assert data["opened"] == 0 and all(item["sealed"] for item in data["items"])
    own_names = {i["personal"]["name"] for i in node_view(run, CHAIN, OWNER)["private_data"]["items"]}
    text = json.dumps(view)
    assert not any(name in text for name in own_names)


def test_regulator_opens_every_nodes_records(run: Path) -> None:
    for node in (OWNER, OTHER):
        data = node_view(run, CHAIN, node, viewer=REGULATOR)["private_data"]
        assert data["records"] > 0 and data["opened"] == data["records"]
        assert all(item["matches_chain"] for item in data["items"])


def test_the_files_and_the_chain_hold_no_plaintext(run: Path) -> None:
    names = [i["personal"]["name"] for i in node_view(run, CHAIN, OWNER)["private_data"]["items"]]
    raw = (run / CHAIN / "nodes" / OWNER / PRIVATE_FILE).read_bytes() + (run / CHAIN / "ledger.sqlite").read_bytes()
    assert names and not any(name.encode() in raw for name in names)


def test_views_show_submissions_refusals_and_membership(run: Path) -> None:
    view = node_view(run, CHAIN, "KYC-TEMP")
    assert [r["reason"] for r in view["refused"]] == ["CERT_EXPIRED"]
    assert {m["event"] for m in view["membership"]} == {"MemberAdded", "RolesChanged", "StatusChanged"}
    assert node_view(run, CHAIN, OWNER)["submitted"]["by_call"]["IdentityRegistry.registerIdentity"] > 20


def test_sealed_record_round_trip_wrong_key_and_tampering(tmp_path: Path) -> None:
    store = PrivateStore(tmp_path / PRIVATE_FILE, 1, "c", "A", "R")
    identity, salt, personal = b"\x01" * 32, b"\x02" * 32, {"name": "Wang Wei", "id_number": "110101199001011234"}
    store.put(identity, salt, personal)
    store.close()
    [record] = read_records(tmp_path / PRIVATE_FILE)
    assert record.open(privacy_key(1, "c", "A")) == personal
    assert record.open(privacy_key(1, "c", "R")) == personal
    assert record.open(privacy_key(1, "c", "B")) is None
    assert data_hash(salt, personal) != data_hash(b"\x03" * 32, personal)  # the salt matters
    db = sqlite3.connect(tmp_path / PRIVATE_FILE)
    db.execute("UPDATE records SET ciphertext = CAST(x'00' || ciphertext AS BLOB)")
    db.commit()
    db.close()
    [tampered] = read_records(tmp_path / PRIVATE_FILE)
    with pytest.raises(LedgerError, match="was altered"):
        tampered.open(privacy_key(1, "c", "A"))
