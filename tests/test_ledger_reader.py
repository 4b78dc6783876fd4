"""The ledger reader: typed records over a ledger, membership at a height from the registry's raw logs,
read-only runs that verify and audit, and no SQL against a ledger outside the store layer."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from ledger.audit.reexecute import audit_run
from ledger.audit.verify import verify_run
from ledger.audit.views import node_view
from ledger.chain.reader import Block, Event, LedgerReader, Refusal, Transaction
from ledger.chain.roles import GovernanceAction, MemberStatus, Role
from ledger.chain.run import LEDGER_FILE, ledger_path, run_chains
from ledger.errors import ConfigError, LedgerError
from ledger.supervision.catalogue import findings
from ledger.supervision.replay import active_regulators
from ledger.supervision.lookthrough.index import open_index
from ledger.supervision.lookthrough.queries import ubo
from ledger.report import write_report
from scenarios.runner import run_scenario

PACKAGE = Path(__file__).resolve().parent.parent / "ledger"
# Where SQL may be written: the ledger's store layer, the look-through index (its own file) and the
# private store (its own file).
SQL_HOMES = {"chain/reader.py", "chain/store.py", "supervision/lookthrough/index.py", "trust/privacy.py"}
SQL = re.compile(r"\bSELECT\b|sqlite3\.connect\(")


def _revoke_regulator(chain) -> int:
    """Governance revokes the regulator's membership; the block it happened in."""
    proposed = chain.send(chain.platform, chain.registry, "propose", GovernanceAction.REVOKE,
                          chain.regulator.address, b"\0" * 32, 0)
    assert proposed.ok, proposed.reason
    pid = proposed.event("ProposalCreated")["id"]
    assert chain.send(chain.custodian, chain.registry, "vote", pid).ok
    executed = chain.send(chain.platform, chain.registry, "execute", pid)
    assert executed.ok, (executed.reason, executed.detail)
    return executed.block_number


def test_records_are_typed_and_in_chain_order(chain):
    refused = chain.agent.send(chain.registry.call("propose", GovernanceAction.SUSPEND, chain.manager.address,
                                                   b"\0" * 32, 0))
    chain.consortium.commit()
    assert refused.status == "refused"
    with LedgerReader(chain.consortium.store.path) as reader:
        blocks = list(reader.blocks())
        assert all(isinstance(b, Block) for b in blocks)
        assert [b.number for b in blocks] == reader.block_numbers() == list(range(1, reader.head_number() + 1))
        txs = list(reader.transactions())
        assert all(isinstance(t, Transaction) for t in txs)
        assert len(txs) == sum(b.tx_count for b in blocks)
        assert [(t.block_number, t.tx_index) for t in txs] == sorted((t.block_number, t.tx_index) for t in txs)
        deployed = reader.contracts()  # by block, then address
        assert {"IdentityRegistry", "PermissionRegistry", "PrivateFundShares", "SettlementCash"} <= {
            c.name for c in deployed}
        assert [c.address for c in deployed] == sorted(c.address for c in deployed)
        created = {t.contract_address for t in txs if t.contract_address}
        assert {c.address for c in deployed} <= created
        events = list(reader.events(contracts="PermissionRegistry", names="MemberAdded"))
        assert events and all(isinstance(e, Event) and e.name == "MemberAdded" for e in events)
        assert all(len(e.topic_list()) >= 1 and e.args["account"].startswith("0x") for e in events)
        [refusal] = reader.refusals(node="AGENT")
        assert isinstance(refusal, Refusal) and refusal.reason == refused.reason
        assert reader.last_refusal_seq() == refusal.seq
        nonces = reader.next_nonces()
        assert nonces[chain.platform.address] == max(t.nonce for t in txs if t.sender == chain.platform.address) + 1


def test_a_revoked_regulator_is_no_longer_the_regulator(chain):
    before = chain.consortium.head.number
    revoked_at = _revoke_regulator(chain)
    path = chain.consortium.store.path
    with LedgerReader(path) as reader:
        then, now = reader.membership_at(before), reader.membership_at()
        assert then.status(chain.regulator.address) == MemberStatus.ACTIVE
        assert reader.membership_at(revoked_at - 1).status(chain.regulator.address) == MemberStatus.ACTIVE
        assert now.status(chain.regulator.address) == MemberStatus.REVOKED
        assert now.get(chain.regulator.address).roles & Role.REGULATOR  # roles kept, membership gone
    # The consortium's own mirror, kept block by block, agrees with the replay.
    assert chain.consortium.membership.status(chain.regulator.address) == MemberStatus.REVOKED
    assert active_regulators(path) == []


def test_membership_comes_from_the_raw_logs_not_the_decoded_columns(chain, tmp_path):
    revoked_at = _revoke_regulator(chain)
    chain.consortium.store.close()
    copy = tmp_path / "copy" / LEDGER_FILE
    copy.parent.mkdir()
    shutil.copy(chain.consortium.store.path, copy)
    db = sqlite3.connect(copy)
    db.execute("DROP TRIGGER events_no_update")
    # Whoever edits the decoded columns cannot bring the regulator back.
    db.execute("UPDATE events SET name = 'RolesChanged', args = NULL WHERE block_number = ? "
               "AND name = 'StatusChanged'", (revoked_at,))
    db.commit()
    db.close()
    with LedgerReader(copy) as reader:
        assert reader.membership_at().status(chain.regulator.address) == MemberStatus.REVOKED


def test_the_reader_refuses_what_is_not_a_ledger(tmp_path):
    with pytest.raises(LedgerError, match="no ledger at"):
        LedgerReader(tmp_path / "missing.sqlite")
    (tmp_path / "text.sqlite").write_text("not a database")
    with pytest.raises(LedgerError, match="not a readable ledger"):
        LedgerReader(tmp_path / "text.sqlite")
    with pytest.raises(ConfigError, match="no run directory at"):
        run_chains(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="holds no ledger"):
        run_chains(tmp_path)


def _files(root: Path) -> dict[str, tuple[int, int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
            for p in sorted(root.rglob("*"))}


def _chmod_tree(root: Path, files: int, folders: int) -> None:
    for p in [root, *root.rglob("*")]:
        os.chmod(p, folders if p.is_dir() else files)


def test_a_read_only_run_verifies_audits_and_answers(tmp_path):
    """A finished run on read-only media: every reading command works and nothing is written to it."""
    run_dir = tmp_path / "run"
    run_scenario("share_transfer", 3, {"investors": 60, "funds": 3, "transfers": 40, "batch": 20}, run_dir)
    [chain] = run_chains(run_dir)
    node = sorted(p.name for p in (run_dir / chain / "nodes").iterdir())[0]
    for leftover in run_dir.rglob(f"{LEDGER_FILE}-*"):
        assert leftover.stat().st_size == 0 or not leftover.name.endswith("-wal"), leftover
    _chmod_tree(run_dir, 0o444, 0o555)
    try:
        before = _files(run_dir)
        assert all(r.verified for r in verify_run(run_dir)), [r.problems for r in verify_run(run_dir)]
        assert all(a.verified for a in audit_run(run_dir)), [a.problems for a in audit_run(run_dir)]
        assert node_view(run_dir, chain, node)["node"] == node
        with open_index(run_dir) as index:
            assert ubo(index, "fund:1")["entity"] == "fund:1"
        assert sorted(f.rule for f in findings(run_dir)) == ["pooling_institution", "split_identity"]
        with LedgerReader(ledger_path(run_dir, chain)) as reader:
            assert reader.head_number() > 0
        elsewhere = write_report(run_dir, tmp_path / "report.html")
        assert "Seen as CSRC-BJ." in elsewhere.read_text(encoding="utf-8")
        assert _files(run_dir) == before  # no -shm, no -wal, no index, nothing touched
    finally:
        _chmod_tree(run_dir, 0o644, 0o755)


def test_no_sql_against_a_ledger_outside_the_store_layer():
    found = [f"{p.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).as_posix() not in SQL_HOMES
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if SQL.search(line)]
    assert found == []
