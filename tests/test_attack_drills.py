"""Attack drills: what a member who knows the code would try on a ledger, its copy or the run's public
files. Each drill names what it proves; every one must be detected, with the first bad block named
(0 stands for the genesis record and the certificates)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from conftest import T0, build_chain
from ledger.audit.reexecute import audit_ledger, audit_run
from ledger.chain.run import LEDGER_FILE
from ledger.chain.roles import GovernanceAction, Role
from ledger.chain.sealer import genesis_id, make_seals, seal_message
from ledger.chain.store import TABLES, LedgerStore
from ledger.audit.verify import verify_run

CHAIN = "test_chain"
MEMBER = "AGENT"  # holds no validator key


@pytest.fixture(scope="module")
def drill_run(tmp_path_factory) -> dict:
    """A chain with governance at known heights: NEWVAL admitted as a validator, MANAGER's validator role
    revoked, refusals recorded, business blocks before and after; every member holds a copy."""
    run = tmp_path_factory.mktemp("drills") / "run"
    chain = build_chain(run)
    c = chain.consortium
    newval = c.add_node("NEWVAL", "New Validator", Role.VALIDATOR, founding=False)
    def fund() -> int:
        chain.fund()
        return c.head.number

    heights = {"before_admission": fund()}
    admins = (chain.platform, chain.regulator, chain.custodian)

    def govern(action, account, org, roles) -> int:
        pid = chain.send(admins[0], chain.registry, "propose", action, account, org, roles).event(
            "ProposalCreated")["id"]
        assert chain.send(admins[1], chain.registry, "vote", pid).ok
        executed = chain.send(admins[2], chain.registry, "execute", pid)
        assert executed.ok, executed.reason
        return executed.block_number

    heights["admitted"] = govern(GovernanceAction.ADD_MEMBER, newval.address, newval.org_id, int(Role.VALIDATOR))
    heights["revoked"] = govern(GovernanceAction.SET_ROLES, chain.manager.address, chain.manager.org_id,
                                int(Role.FUND_MANAGER))
    outsider = c.add_node("OUTSIDER", "Outsider", Role.FUND_MANAGER, founding=False)
    outsider.send(chain.shares.call("createFund", 0, chain.custodian.address, 0))
    heights["refusal"] = fund()
    heights["after"] = fund()
    heights["head"] = fund()
    c.write_public_files()
    for node in ("AGENT", "CUSTODIAN"):
        c.store.copy_to(run / CHAIN / "nodes" / node / LEDGER_FILE)
    c.store.close()
    return {"run": run, "heights": heights, "keys": {n.name: n.account for n in c.nodes.values()}}


@pytest.fixture
def run(drill_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(drill_run["run"], copy)
    return copy


def open_writable(path: Path) -> sqlite3.Connection:
    """A member's hands on a ledger file: no trigger stops it."""
    db = sqlite3.connect(path)
    for table in TABLES:
        for op in ("update", "delete"):
            db.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
    return db


def cut_after(db: sqlite3.Connection, k: int) -> None:
    """Removes every block after block k, with all its rows."""
    for table in ("seals", "events", "contracts", "refusals"):
        db.execute(f"DELETE FROM {table} WHERE block_number > ?", (k,))
    db.execute("DELETE FROM receipts WHERE tx_hash IN (SELECT hash FROM transactions WHERE block_number > ?)", (k,))
    db.execute("DELETE FROM transactions WHERE block_number > ?", (k,))
    db.execute("DELETE FROM blocks WHERE number > ?", (k,))


def member_copy(run: Path, node: str = MEMBER) -> Path:
    return run / CHAIN / "nodes" / node / LEDGER_FILE


def first_bad(run: Path, node: str = MEMBER) -> tuple[int | None, list[str]]:
    """The audit of `node`'s copy: its first bad block and problems."""
    [audit] = audit_run(run, node)
    return audit.first_bad_block, audit.problems


def reseal(path: Path, number: int, signers) -> None:
    """Replaces block `number`'s seals with seals by `signers` over what the block now holds."""
    store = LedgerStore(path)
    rows = store.block_rows(number)
    message = seal_message(genesis_id(store.meta()), rows.block[1], rows.block[7], rows.records_digest())
    store.close()
    db = open_writable(path)
    db.execute("DELETE FROM seals WHERE block_number = ?", (number,))
    db.executemany("INSERT INTO seals VALUES (?, ?, ?)",
                   [(number, s.validator, s.signature) for s in make_seals(message, signers)])
    db.commit()
    db.close()


def test_untouched_run_and_every_copy_pass(run):
    [audit] = audit_run(run)
    assert audit.verified, audit.problems
    assert not audit.notes
    for node in ("AGENT", "CUSTODIAN"):
        [own] = audit_run(run, node)
        assert own.verified and own.node == node


def test_rewrite_resealed_by_a_non_validator_key(run, drill_run):
    """Proves a member cannot rewrite a block and seal it with its own key: seals count only from validators."""
    n = drill_run["heights"]["after"]
    db = open_writable(member_copy(run))
    db.execute("UPDATE transactions SET label = 'rewritten' WHERE block_number = ?", (n,))
    db.commit()
    db.close()
    reseal(member_copy(run), n, [drill_run["keys"][MEMBER]])
    number, problems = first_bad(run)
    assert number == n and "who is not a validator at this height" in problems[0]


def test_member_makes_itself_validator_by_editing_decoded_events(run, drill_run):
    """Proves the validator set comes from raw logs under seals, not from the decoded args column."""
    n = drill_run["heights"]["admitted"]
    agent = drill_run["keys"][MEMBER].address
    db = open_writable(member_copy(run))
    db.execute("UPDATE events SET args = replace(args, ?, ?) WHERE block_number = ? AND name = 'MemberAdded'",
               (drill_run["keys"]["NEWVAL"].address.hex(), agent.hex(), n))
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == n and "seal" in problems[0]


def test_seals_from_fewer_than_two_thirds(run, drill_run):
    """Proves a block needs ceil(2n/3) seals of the validators in force."""
    n = drill_run["heights"]["after"]
    db = open_writable(member_copy(run))
    db.execute("DELETE FROM seals WHERE block_number = ? AND validator IN "
               "(SELECT validator FROM seals WHERE block_number = ? ORDER BY validator LIMIT 2)", (n, n))
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == n and "valid seals" in problems[0] and "needed" in problems[0]


def test_one_validator_sealing_twice(run, drill_run):
    """Proves a quorum counts distinct validators. The seals table's key forbids a second seal by one
    validator, so a member must rebuild the table to plant one: the file's schema is then not the ledger's
    (named at 0); and seal checking refuses the repeat on its own (test_ledger_store)."""
    n = drill_run["heights"]["after"]
    db = open_writable(member_copy(run))
    db.executescript("CREATE TABLE s2 AS SELECT * FROM seals; DROP TABLE seals; ALTER TABLE s2 RENAME TO seals;")
    validator, signature = db.execute("SELECT validator, signature FROM seals WHERE block_number = ? "
                                      "ORDER BY validator LIMIT 1", (n,)).fetchone()
    db.execute("DELETE FROM seals WHERE block_number = ? AND validator != ?", (n, validator))
    db.executemany("INSERT INTO seals VALUES (?, ?, ?)", [(n, validator, signature)] * 2)
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == 0 and "table seals that is not the ledger's own" in problems[0]


@pytest.mark.parametrize("when", ["before_admission", "after_revocation"])
def test_seal_by_a_validator_not_in_force_at_that_height(run, drill_run, when):
    """Proves the validator set is the one in force at each height: NEWVAL before its admission, MANAGER
    after its validator role was removed."""
    keys, heights = drill_run["keys"], drill_run["heights"]
    n, rogue = ((heights["before_admission"], keys["NEWVAL"]) if when == "before_admission"
                else (heights["after"], keys["MANAGER"]))
    store = LedgerStore(member_copy(run))
    honest = [s.validator for s in store.seals(n)]
    store.close()
    signers = [keys[name] for name in ("PLATFORM", "REGULATOR", "CUSTODIAN", "MANAGER", "NEWVAL")
               if keys[name].address in honest and keys[name] is not rogue][:2] + [rogue]
    reseal(member_copy(run), n, signers)
    number, problems = first_bad(run)
    assert number == n and f"seal by 0x{rogue.address.hex()}, who is not a validator" in problems[0]


@pytest.mark.parametrize("edit", [
    "DELETE FROM refusals",
    "UPDATE refusals SET reason = 'ROLE_MISSING'",
    "UPDATE refusals SET detail = 'nothing happened'",
    "UPDATE refusals SET label = 'relabelled'",
    "INSERT INTO refusals SELECT seq + 100, block_number, node, signer, contract, function, label, reason, "
    "detail, digest FROM refusals",
])
def test_deleted_altered_or_inserted_refusal(run, drill_run, edit):
    """Proves every field of every refusal is under the seals."""
    db = open_writable(member_copy(run))
    db.execute(edit)
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == drill_run["heights"]["refusal"], problems


def test_rows_after_the_head_or_tied_to_no_block(run, drill_run):
    """Proves rows that no sealed block carries are reported, not believed (they changed query answers)."""
    head = drill_run["heights"]["head"]
    db = open_writable(member_copy(run))
    db.execute("INSERT INTO events SELECT block_number + 100, log_index, tx_hash, address, contract, name, args, "
               "topics, data FROM events WHERE block_number = ?", (head,))
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == head + 100 and "tied to no sealed block" in problems[0]


def test_replaced_ca_certificate(run):
    """Proves the CA certificate is the one the genesis record (bound into every seal) names."""
    key = ed25519.Ed25519PrivateKey.generate()
    genuine = x509.load_pem_x509_certificate((run / CHAIN / "certs" / "ca.pem").read_bytes())
    rogue = (x509.CertificateBuilder().subject_name(genuine.subject).issuer_name(genuine.subject)
             .public_key(key.public_key()).serial_number(1)
             .not_valid_before(genuine.not_valid_before_utc).not_valid_after(genuine.not_valid_after_utc)
             .sign(key, None))
    (run / CHAIN / "certs" / "ca.pem").write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and "ca.pem is not the CA certificate" in result.problems[0]
    number, _ = first_bad(run)
    assert number == 0


def test_crl_with_a_revocation_removed(run):
    """Proves the revocation list must be signed by the consortium CA: a member cannot forge one."""
    key = ed25519.Ed25519PrivateKey.generate()
    crl_path = run / CHAIN / "certs" / "crl.pem"
    genuine = x509.load_pem_x509_crl(crl_path.read_bytes())
    forged = (x509.CertificateRevocationListBuilder().issuer_name(genuine.issuer)
              .last_update(dt.datetime.fromtimestamp(T0, dt.timezone.utc))
              .next_update(dt.datetime.fromtimestamp(T0 + 86400, dt.timezone.utc)).sign(key, None))
    crl_path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and "crl.pem is not signed by the consortium CA" in result.problems[0]


def test_member_copy_forked_at_block_k(run, drill_run):
    """Proves the run-level audit compares every member's copy with the chain and names where it forks,
    even when the fork is whole and sealed by the real validators."""
    k = drill_run["heights"]["after"]
    keys = drill_run["keys"]
    path = member_copy(run)
    db = open_writable(path)
    cut_after(db, k)
    # Block k again, with another label: the validators (whose keys the operator has) seal the fork.
    db.execute("UPDATE transactions SET label = 'forked' WHERE block_number = ?", (k,))
    db.commit()
    db.close()
    reseal(path, k, [keys["PLATFORM"], keys["REGULATOR"], keys["CUSTODIAN"], keys["NEWVAL"]])
    [own] = audit_run(run, MEMBER)
    assert own.verified, own.problems  # whole on its own
    [audit] = audit_run(run)
    assert audit.first_bad_block == k and audit.problems[0].startswith(f"{MEMBER}'s copy: block {k}: forks")


def test_member_copy_lagging(run, drill_run):
    """Proves a copy that simply stops early is reported as lagging, not as tampered."""
    k = drill_run["heights"]["after"]
    path = member_copy(run)
    db = open_writable(path)
    cut_after(db, k)
    db.commit()
    db.close()
    [audit] = audit_run(run)
    assert audit.verified, audit.problems
    assert audit.notes == [f"{MEMBER}'s copy lags: it ends at block {k} of {drill_run['heights']['head']}"]


def test_flipped_byte_in_a_member_copy_fails_the_run_level_audit_and_verify(run, drill_run):
    """Proves `audit RUN_DIR` and `verify RUN_DIR` look at every member's copy, naming the node."""
    path = member_copy(run, "CUSTODIAN")
    db = open_writable(path)
    n = drill_run["heights"]["refusal"]
    db.execute("UPDATE receipts SET gas_used = gas_used + 1 WHERE tx_hash IN "
               "(SELECT hash FROM transactions WHERE block_number = ?)", (n,))
    db.commit()
    db.close()
    [audit] = audit_run(run)
    assert audit.first_bad_block == n and audit.problems[0].startswith("CUSTODIAN's copy: ")
    [result] = verify_run(run)
    assert result.first_bad_block == n and result.problems[0].startswith("CUSTODIAN's copy: ")


def test_earliest_bad_block_is_named_whatever_the_fault(run, drill_run):
    """A seal fault late and an execution fault early (resealed by the validators, so only re-execution
    sees it): the audit names the early one."""
    heights, keys = drill_run["heights"], drill_run["keys"]
    ledger = run / CHAIN / LEDGER_FILE
    early = heights["admitted"]
    db = open_writable(ledger)
    db.execute("DELETE FROM seals WHERE block_number = ?", (heights["head"],))
    db.execute("UPDATE receipts SET output = x'00' WHERE tx_hash IN (SELECT hash FROM transactions "
               "WHERE block_number = ?)", (early,))
    db.commit()
    db.close()
    reseal(ledger, early, [keys["PLATFORM"], keys["REGULATOR"], keys["CUSTODIAN"]])
    result = audit_ledger(ledger, CHAIN, chain_dir=run / CHAIN)
    assert result.first_bad_block == early and "differs from re-execution" in result.problems[0], result.problems


def test_rows_with_no_block_number(run):
    """Proves every row of every table must be one of the sealed blocks' rows: rows whose block_number is
    NULL (in a table rebuilt without NOT NULL) are counted and reported, not read by the queries."""
    db = open_writable(member_copy(run))
    db.executescript("CREATE TABLE e2 AS SELECT * FROM events; DROP TABLE events; ALTER TABLE e2 RENAME TO events;"
                     "INSERT INTO events SELECT NULL, log_index, tx_hash, address, contract, name, args, topics, "
                     "data FROM events LIMIT 3;")
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == 0 and "not the ledger's own" in problems[0]


def test_a_shadow_index_planted_in_the_schema(run):
    """Proves an index (or view, or trigger) the ledger does not create is refused, so no query can be
    steered to rows other than the sealed ones."""
    db = open_writable(member_copy(run))
    db.execute("CREATE INDEX ev_lookup ON events(contract, name, args)")
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number == 0 and "index ev_lookup that is not the ledger's own" in problems[0]


@pytest.mark.parametrize("removed", ["genesis.json", "certs"])
def test_public_genesis_or_certificates_removed(run, removed):
    """Proves a chain with blocks is never checked without its public genesis record and certificates."""
    target = run / CHAIN / removed
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and removed.split(".")[0] in result.problems[0]


def test_a_members_certificate_swapped(run):
    """Proves a member's certificate file must be the CA's, issued to that node, for its member key."""
    certs = run / CHAIN / "certs"
    shutil.copyfile(certs / "CUSTODIAN.pem", certs / "AGENT.pem")
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and "AGENT.pem is not AGENT's certificate" in result.problems[0]


@pytest.mark.parametrize("genesis", ["[]", '"x"', '{"founders": [{"address": "0xzz"}]}'])
def test_a_malformed_genesis_record_is_one_problem(run, genesis):
    (run / CHAIN / "genesis.json").write_text(genesis)
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and len(result.problems) == 1


def test_the_chain_cut_short_while_copies_go_on(run, drill_run):
    """Proves a chain that lost its last blocks is named, against the members' copies that still hold them,
    and that the queries refuse it."""
    from ledger.errors import LedgerError
    from ledger.audit.verify import sealed_ledgers

    k = drill_run["heights"]["after"]
    db = open_writable(run / CHAIN / LEDGER_FILE)
    cut_after(db, k)
    db.commit()
    db.close()
    [result] = verify_run(run)
    assert result.first_bad_block == k + 1 and "the chain has lost blocks" in result.problems[0]
    with pytest.raises(LedgerError, match="lost blocks"):
        sealed_ledgers(run)


def test_a_chain_folder_renamed_to_steer_sqlite_to_another_file(run):
    """Proves a chain's folder must bear the name its genesis record gives it: `fund#` would make a file:
    URI name another file than the one verified."""
    (run / CHAIN).rename(run / f"{CHAIN}#")
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and "not of 'test_chain#'" in result.problems[0]


def test_pins_are_the_root_of_trust(run, tmp_path):
    """Proves what the run's own files cannot: a chain the regulator never pinned (dropped into the run, or
    built whole by a member with its own CA), a chain whose genesis is not the pinned one, and a pinned
    chain taken out of the run are all refused against the regulator's pins."""
    import json

    pins = tmp_path / "pins.json"
    assert all(r.verified for r in verify_run(run, pins)) and pins.exists()  # first use writes them
    assert all(r.verified for r in verify_run(run, pins))
    assert all(a.verified for a in audit_run(run, pins=pins))
    pinned = json.loads(pins.read_text())
    for other, expected in (({}, "is not pinned"), ({CHAIN: "0x" + "00" * 32}, "is not the one pinned"),
                            ({**pinned, "regulatory": "0x" + "00" * 32}, "missing from the run")):
        pins.write_text(json.dumps(other))
        results = verify_run(run, pins)
        assert any(expected in p for r in results for p in r.problems), (expected, [r.problems for r in results])
        assert not all(a.verified for a in audit_run(run, pins=pins))


def test_values_of_another_type_in_a_column(run):
    """Proves a REAL stored where bytes belong is a difference, not a crash."""
    db = open_writable(member_copy(run))
    db.execute("UPDATE receipts SET contract_address = 5.0 WHERE rowid = 1")
    db.commit()
    db.close()
    number, problems = first_bad(run)
    assert number is not None and len(problems) == 1


@pytest.mark.parametrize("edit", [
    lambda g: {**g, "genesis_number": 1e400},
    lambda g: {**g, "chain_id": "1"},
])
def test_genesis_fields_of_the_wrong_type(run, edit):
    import json

    path = run / CHAIN / "genesis.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and len(result.problems) == 1


def test_deeply_nested_json_is_refused_not_a_crash(run):
    (run / CHAIN / "genesis.json").write_text("[" * 100_000)
    [result] = verify_run(run)
    assert result.first_bad_block == 0 and "nested deeper" in result.problems[0]


def test_an_artifact_planted_beside_the_chain_cannot_shadow_a_project_contract(run):
    """Proves a project contract always decodes by the project's own artifact."""
    planted = run / CHAIN / "contracts" / "PrivateFundShares.json"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text('{"contractName": "PrivateFundShares", "abi": [], "bytecode": "0x"}')
    [audit] = audit_run(run)
    assert audit.verified, audit.problems


def test_a_forged_node_url_is_never_contacted(run, monkeypatch):
    """Proves the audit contacts no node before the genesis record holds: a member who rewrites its copy's
    genesis to name its own rpc node gets no request."""
    import json

    from ledger.evm import rpc

    def contacted(*args, **kwargs):
        raise AssertionError("the audit contacted the forged node")

    monkeypatch.setattr(rpc.RpcEngine, "__init__", contacted)
    db = open_writable(member_copy(run))
    db.execute("UPDATE meta SET value = ? WHERE key = 'engine'", (json.dumps("rpc"),))
    db.execute("INSERT INTO meta VALUES ('rpc_url', ?)", (json.dumps("http://127.0.0.1:9"),))
    db.commit()
    db.close()
    number, _ = first_bad(run)
    assert number == 0


def test_a_client_label_claimed_by_two_nodes_is_believed_from_neither(tmp_path):
    """Proves a member cannot hijack another node's client label by listing it in its own client file, and
    cannot stop every command by writing garbage into its own."""
    from ledger.errors import ConfigError
    from ledger.trust.keystore import ClientDirectory, KeystoreWriter
    from ledger.trust.secrets import KeyDeriver

    keys = KeyDeriver(1, b"\x05" * 32)
    writer = KeystoreWriter(tmp_path, "c")
    for node in ("HONEST", "THIEF", "BROKEN"):
        writer.write_node(node, keys.account(f"c/node/{node}"), keys.x25519(f"c/{node}"))
    writer.add_client("HONEST", keys.account("c/client/inv1", "inv1"))
    writer.add_client("THIEF", keys.account("c/client/mine", "inv1"))  # same label, the thief's own account
    writer.add_client("HONEST", keys.account("c/client/inv2", "inv2"))
    with open(tmp_path / "nodes" / "BROKEN" / "keystore" / "clients.jsonl", "a") as f:
        f.write("not json\n")
    directory = ClientDirectory(tmp_path, ["HONEST", "THIEF", "BROKEN"])
    with pytest.raises(ConfigError, match="claimed by more than one"):
        directory.get("inv1")
    assert directory.get("inv2")[0] == "HONEST"
    assert len(directory.skipped) == 1 and "BROKEN" in directory.skipped[0]
    assert ClientDirectory(tmp_path, ["HONEST"]).get("inv1")[0] == "HONEST"  # only certified nodes' files


def test_a_member_copy_linked_to_another_file_is_never_written(run, drill_run):
    """Proves the operator's copy-writing follows no link a member planted (to the chain's ledger, or to a
    file anywhere), and says so."""
    from ledger.chain.run import write_node_copies

    target = run / "elsewhere.sqlite"
    copy = member_copy(run)
    copy.unlink()
    copy.symlink_to(target)

    class Node:
        def __init__(self, name):
            self.name, self.address = name, name

    class Consortium:
        name = CHAIN
        nodes = {"AGENT": Node("AGENT")}
        membership = type("M", (), {"get": staticmethod(lambda address: True)})()
        store = LedgerStore(run / CHAIN / LEDGER_FILE)

    problems = write_node_copies(Consortium, run)
    Consortium.store.close()
    assert problems == ["AGENT: its copy is a link to another file; left as it is"]
    assert not target.exists()


def test_a_planted_artifact_never_decodes_a_project_contract_when_reopened(run):
    from ledger.tooling.artifacts import chain_contract, load_contract

    planted = run / CHAIN / "contracts" / "SettlementCash.json"
    planted.parent.mkdir(exist_ok=True)
    planted.write_text('{"contractName": "SettlementCash", "abi": [], "bytecode": "0x"}')
    assert chain_contract(run / CHAIN, "SettlementCash") is load_contract("SettlementCash")


def test_pins_guard_every_command_that_reads_or_extends_a_run(run, tmp_path, monkeypatch):
    from ledger.errors import LedgerError
    from ledger.audit.verify import require_pinned
    from ledger.audit.views import node_view

    pins = tmp_path / "pins.json"
    pins.write_text('{"test_chain": "0x' + "00" * 32 + '"}')
    monkeypatch.setenv("PILOTLEDGER_PINS", str(pins))
    with pytest.raises(LedgerError, match="not the one pinned"):
        require_pinned(run)
    with pytest.raises(LedgerError, match="not the one pinned"):
        node_view(run, CHAIN, "AGENT")
