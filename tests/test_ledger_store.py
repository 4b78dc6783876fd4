"""The store is append-only and hash-chained; verification finds tampering."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from ledger.trust.keys import Account
from ledger.chain.sealer import Seal, check_seals, make_seals, quorum, seal_message
from ledger.audit.verify import verify_chain


def test_quorum_is_two_thirds_rounded_up():
    assert [quorum(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 4, 4, 5]


def test_seals_need_a_quorum_of_distinct_validators_in_force():
    validators = [Account.derive(1, f"v{i}") for i in range(4)]
    addresses = sorted(v.address for v in validators)
    message = seal_message(b"\x00" * 32, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)
    seals = make_seals(message, validators)
    assert check_seals(message, seals, addresses) is None
    assert "2 valid seals, 3 needed" in check_seals(message, seals[:2], addresses)
    assert "two seals by" in check_seals(message, seals[:2] + seals[:1], addresses)
    assert "not a validator" in check_seals(message, seals, addresses[:3])
    outsider = make_seals(message, [Account.derive(1, "outsider")])[0]
    forged = Seal(validators[0].address, outsider.signature)
    assert "was signed by" in check_seals(message, [forged] + seals[1:], addresses)
    for other in (seal_message(b"\x09" * 32, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32),  # genesis record
                  seal_message(b"\x00" * 32, b"\x01" * 32, b"\x09" * 32, b"\x03" * 32),  # refusals digest
                  seal_message(b"\x00" * 32, b"\x01" * 32, b"\x02" * 32, b"\x09" * 32)):  # stored rows
        assert check_seals(other, seals, addresses) is not None


def test_store_refuses_update_and_delete(chain):
    db = sqlite3.connect(chain.consortium.store.path)
    for statement in ("UPDATE blocks SET gas_used = 0", "DELETE FROM seals", "DELETE FROM transactions"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()


def tampered_copy(chain, tmp_path, *statements, tamper=None):
    chain.consortium.store.close()
    copy = tmp_path / "copy" / "test_chain"
    shutil.copytree(chain.consortium.store.path.parent, copy)
    db = sqlite3.connect(copy / "ledger.sqlite")
    for name in ("blocks", "seals", "refusals"):
        for op in ("update", "delete"):
            db.execute(f"DROP TRIGGER {name}_no_{op}")
    for statement in statements:
        db.execute(statement)
    if tamper:
        tamper(db)
    db.commit()
    db.close()
    return copy


def test_untouched_chain_verifies(chain):
    chain.fund()
    chain.consortium.store.close()
    assert verify_chain(chain.consortium.store.path.parent).verified


def test_changed_header_is_found(chain, tmp_path):
    chain.fund()
    def flip_a_byte(db):
        (header,) = db.execute("SELECT header_rlp FROM blocks WHERE number = 2").fetchone()
        changed = header[:-1] + bytes([header[-1] ^ 1])
        db.execute("UPDATE blocks SET header_rlp = ? WHERE number = 2", (changed,))

    copy = tampered_copy(chain, tmp_path, tamper=flip_a_byte)
    result = verify_chain(copy)
    assert not result.verified and result.problems[0].startswith("block 2: header does not hash")


def test_removed_block_is_found(chain, tmp_path):
    chain.fund()
    chain.fund()
    copy = tampered_copy(chain, tmp_path, "DELETE FROM blocks WHERE number = 2")
    assert verify_chain(copy).problems[0].startswith("block 2: missing")


def test_removed_seals_are_found(chain, tmp_path):
    chain.fund()
    copy = tampered_copy(chain, tmp_path, "DELETE FROM seals WHERE block_number = 2 AND rowid IN "
                                          "(SELECT rowid FROM seals WHERE block_number = 2 LIMIT 2)")
    assert "valid seals" in verify_chain(copy).problems[0]


def test_erased_refusal_is_found(chain, tmp_path):
    outsider = chain.consortium.add_node("OUTSIDER", "Outsider", chain.manager.roles, founding=False)
    outsider.send(chain.shares.call("createFund", 0, chain.custodian.address, 0))
    chain.fund()
    copy = tampered_copy(chain, tmp_path, "DELETE FROM refusals")
    assert "refusals do not chain" in verify_chain(copy).problems[0]
