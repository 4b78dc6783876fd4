"""Who holds what (README, "Trust model"): the run operator holds the seed and the operator secret,
each node only its own keystore, and `verify`/`audit` need no secret at all.

Each test names what it proves."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import eth_keyfile
import pytest
from cryptography import x509
from eth_hash.auto import keccak

from ledger.trust import keystore as keystore_module
from ledger.trust import secrets as secrets_module
from ledger.trust.ca import CAVerifier, ConsortiumCA, certificate_address
from ledger.chain.run import LEDGER_FILE
from ledger.trust.keys import SECP256K1_ORDER, Account
from ledger.trust.keystore import (CLIENTS_FILE, EVM_FILE, KeystoreWriter, keystore_dir, keystore_nodes, open_keystore,
                             passphrase, passphrase_env)
from ledger.trust.privacy import PRIVATE_FILE, SealedDeclaration, SealedRecord, data_hash, read_declarations, read_records
from ledger.trust.secrets import KeyDeriver, operator_secret, operator_secret_path
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from scenarios.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
SEED = 918273645  # distinctive, so that its bytes can be looked for in every file
SHARE = {"investors": 60, "transfers": 30}
EQUITY = {"companies": 3, "investors": 60, "transfers": 0, "cap": 10}
REGULATOR = {"fund_platform": "CSRC-BJ", "equity_market": "CSRC-BJ", "regulatory": "CSRC"}


@pytest.fixture(scope="module")
def share_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("trust") / "share"
    run_scenario("share_transfer", SEED, SHARE, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def equity_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("trust") / "equity"
    run_scenario("regional_equity", SEED, EQUITY, run_dir)
    return run_dir


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def chains(run_dir: Path) -> list[Path]:
    return sorted(p.parent for p in run_dir.glob(f"*/{LEDGER_FILE}"))


def node_addresses(chain_dir: Path) -> dict[str, bytes]:
    """Every node's address, from its public certificate."""
    return {p.stem: certificate_address(x509.load_pem_x509_certificate(p.read_bytes()))
            for p in (chain_dir / "certs").glob("*.pem") if p.stem not in ("ca", "crl")}


def client_addresses(chain_dir: Path) -> set[bytes]:
    """Every client account's address, from the public part of every node's client file."""
    found = set()
    for path in (chain_dir / "nodes").glob(f"*/keystore/{CLIENTS_FILE}"):
        found |= {bytes.fromhex(json.loads(line)["address"][2:]) for line in path.read_text().splitlines()[1:]}
    return found


def sealed_items(chain_dir: Path) -> dict[str, list[SealedRecord | SealedDeclaration]]:
    """Owner -> every sealed record and declaration in its private store."""
    return {p.parent.name: read_records(p) + read_declarations(p)
            for p in sorted((chain_dir / "nodes").glob(f"*/{PRIVATE_FILE}"))}


# ------------------------------------------------------------------ (a) nothing in the run


def test_neither_the_seed_nor_the_operator_secret_is_written_into_any_file_of_a_run(share_run, equity_run):
    """The seed appears only in the operator's run.json; the operator secret nowhere (raw or hex), in no
    file of the run directory, SQLite files included; no ledger's meta has a seed."""
    secret = operator_secret()
    needles = {
        "seed (decimal)": str(SEED).encode(),
        "seed (4 bytes, big-endian)": SEED.to_bytes(4, "big"),
        "seed (4 bytes, little-endian)": SEED.to_bytes(4, "little"),
        "secret": secret,
        "secret (hex)": secret.hex().encode(),
        "secret (HEX)": secret.hex().upper().encode(),
    }
    checked = 0
    for run_dir in (share_run, equity_run):
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
            raw = path.read_bytes()
            checked += 1
            for what, needle in needles.items():
                if path == run_dir / "run.json" and what == "seed (decimal)":
                    continue
                assert needle not in raw, f"{what} found in {path.relative_to(run_dir)}"
        assert json.loads((run_dir / "run.json").read_text())["seed"] == SEED
        for chain_dir in chains(run_dir):
            db = sqlite3.connect(chain_dir / LEDGER_FILE)
            assert "seed" not in {k for k, in db.execute("SELECT key FROM meta")}
            db.close()
    assert checked > 50


# ------------------------------------------------------------------ (b) the seed yields no key


def _old_scheme_key(seed: int, label: str) -> bytes:
    """How keys were made before the operator secret: keccak of the seed and the label."""
    counter = 0
    while True:
        candidate = keccak(f"pilotledger/{seed}/{label}/{counter}".encode())
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_ORDER:
            return candidate
        counter += 1


def test_knowing_the_seed_yields_no_key(share_run):
    """With the seed and any other secret (or none: the old seed-only scheme), no derived node or client
    address is one of the run's, and no derived privacy key opens any sealed record."""
    chain_dir = share_run / "fund_platform"
    nodes = node_addresses(chain_dir)
    clients = client_addresses(chain_dir)
    run_addresses = set(nodes.values()) | clients
    assert len(nodes) > 8 and len(clients) > 60
    labels = [json.loads(line)["label"] for p in (chain_dir / "nodes").glob(f"*/keystore/{CLIENTS_FILE}")
              for line in p.read_text().splitlines()[1:]]
    sealed = [item for items in sealed_items(chain_dir).values() for item in items]
    assert sealed
    for guess in (KeyDeriver(SEED, b"\0" * 32), KeyDeriver(SEED, os.urandom(32))):
        derived = {guess.account(f"fund_platform/node/{n}").address for n in nodes}
        derived |= {guess.account(f"fund_platform/client/{label}").address for label in labels}
        assert not derived & run_addresses
        keys = [guess.x25519(f"fund_platform/{n}") for n in nodes]
        assert not any(item.open(key) for item in sealed for key in keys)
    old = {Account(_old_scheme_key(SEED, f"fund_platform/node/{n}")).address for n in nodes}
    old |= {Account(_old_scheme_key(SEED, f"fund_platform/client/{label}")).address for label in labels}
    assert not old & run_addresses
    old_privacy = [X25519PrivateKey.from_private_bytes(keccak(f"x25519/{SEED}/fund_platform/{n}".encode()))
                   for n in nodes]
    assert not any(item.open(key) for item in sealed for key in old_privacy)


# ------------------------------------------------------------------ (c) determinism


def _blocks(run_dir: Path) -> list[tuple[int, bytes]]:
    db = sqlite3.connect(run_dir / "fund_platform" / LEDGER_FILE)
    try:
        return db.execute("SELECT number, hash FROM blocks ORDER BY number").fetchall()
    finally:
        db.close()


def test_same_seed_and_secret_same_chain_another_secret_another_chain(tmp_path, monkeypatch):
    """The chain is fixed by (seed, operator secret): the same pair gives the same blocks byte for byte,
    another secret with the same seed gives other keys and another head."""
    options = {"investors": 60, "transfers": 0}
    first = run_scenario("share_transfer", SEED, options, tmp_path / "first")
    again = run_scenario("share_transfer", SEED, options, tmp_path / "again")
    assert again["head_hash"] == first["head_hash"]
    assert _blocks(tmp_path / "again") == _blocks(tmp_path / "first")
    pinned = operator_secret()
    other_secret = tmp_path / "other" / "operator.secret"
    monkeypatch.setenv("PILOTLEDGER_OPERATOR_SECRET", str(other_secret))
    other = run_scenario("share_transfer", SEED, options, tmp_path / "other-run")
    assert other_secret.read_bytes() != pinned
    assert other["head_hash"] != first["head_hash"]
    assert other["blocks"] == first["blocks"] and other["transactions"] == first["transactions"]
    assert not set(node_addresses(tmp_path / "other-run" / "fund_platform").values()) & set(
        node_addresses(tmp_path / "first" / "fund_platform").values())


# ------------------------------------------------------------------ (d) privacy, provably


def _member_keys(chain_dir: Path, member: str) -> list[X25519PrivateKey]:
    """Every private key `member` holds (its keystore opened with its passphrase), each tried as an
    X25519 key: its privacy key, its EVM key and every client key."""
    opened = open_keystore(chain_dir, member)
    raw = [opened.account.private_key] + [a.private_key for a in opened.accounts()]
    return [opened.privacy_key] + [X25519PrivateKey.from_private_bytes(k) for k in raw]


def _on_chain_hashes(chain_dir: Path) -> dict[str, str]:
    db = sqlite3.connect(chain_dir / LEDGER_FILE)
    try:
        return {json.loads(a)["id"].lower(): json.loads(a)["dataHash"].lower() for a, in db.execute(
            "SELECT args FROM events WHERE contract = 'IdentityRegistry' AND name = 'IdentityRegistered'")}
    finally:
        db.close()


@pytest.mark.parametrize("which", ["share", "equity"])
def test_private_data_opens_for_its_owner_and_the_regulator_only(which, share_run, equity_run):
    """Every member other than a record's owner and the regulator, given everything in its own directory
    (its keystore opened with its passphrase, its ledger copy, its own private store) and every public
    file, opens none of another node's sealed records or declarations with any key it has; the owner
    opens its own; the regulator opens every one, and each record matches the salted hash on chain."""
    run_dir = share_run if which == "share" else equity_run
    tried = 0
    for chain_dir in chains(run_dir):
        stores = sealed_items(chain_dir)
        if not stores:
            continue
        regulator = REGULATOR[chain_dir.name]
        members = keystore_nodes(chain_dir)
        assert regulator in members and set(stores) <= set(members)
        for member in members:
            if member == regulator:
                continue
            keys = _member_keys(chain_dir, member)
            # What else it holds: only its own directory, and public files.
            own = {p.name for p in (chain_dir / "nodes" / member).iterdir()}
            assert own <= {"keystore", LEDGER_FILE, f"{LEDGER_FILE}-wal", f"{LEDGER_FILE}-shm", PRIVATE_FILE}
            for owner, items in stores.items():
                opened = [item for item in items if any(item.open(key) is not None for key in keys)]
                if owner == member:
                    assert len(opened) == len(items)
                else:
                    assert opened == [], f"{member} opened {len(opened)} of {owner}'s sealed items"
                    tried += len(items)
        regulator_keys = _member_keys(chain_dir, regulator)
        on_chain = _on_chain_hashes(chain_dir)
        declarations = 0
        for owner, items in stores.items():
            for item in items:
                data = next(d for d in (item.open(k) for k in regulator_keys) if d is not None)
                if isinstance(item, SealedRecord):
                    assert on_chain["0x" + item.identity.hex()] == "0x" + data_hash(item.salt, data).hex()
                else:
                    declarations += 1
        if which == "equity" and chain_dir.name == "equity_market":
            assert declarations > 0
    assert tried > 50


# ------------------------------------------------------------------ (e) the CLI: signer bound to its node


@pytest.fixture(scope="module")
def cli_run(share_run, tmp_path_factory) -> Path:
    """A copy of the run for commands that add blocks."""
    work = tmp_path_factory.mktemp("trust-cli")
    shutil.copytree(share_run, work / "run")
    return work


def _refusals(run: Path) -> list[tuple]:
    db = sqlite3.connect(run / "fund_platform" / LEDGER_FILE)
    try:
        return db.execute("SELECT node, signer, reason FROM refusals ORDER BY seq").fetchall()
    finally:
        db.close()


def _keystore_bytes(run: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in (run / "fund_platform" / "nodes").glob("*/keystore/*")}


def test_a_signer_held_by_another_node_is_refused_and_recorded(cli_run):
    """`send --node HX-SEC --signer inv0004/0` (JC-WEALTH's client) is refused by the gateway with
    SIGNER_NOT_HELD, recorded on the ledger with the signer's address like any refusal; the chain
    still verifies; the node that holds it signs."""
    run = cli_run / "run"
    [(label, holder, address)] = [(json.loads(line)["label"], p.parent.parent.name, json.loads(line)["address"])
                                  for p in (run / "fund_platform" / "nodes").glob(f"*/keystore/{CLIENTS_FILE}")
                                  for line in p.read_text().splitlines()[1:]
                                  if json.loads(line)["label"] == "inv0004/0"]
    assert holder == "JC-WEALTH"
    args = ["send", "run", "SettlementCash", "approve", "contract:PrivateFundShares", "5", "--json"]
    refused = cli(*args, "--node", "HX-SEC", "--signer", label, cwd=cli_run)
    assert refused.returncode == 1, refused.stderr
    outcome = json.loads(refused.stdout)
    assert (outcome["status"], outcome["reason"]) == ("refused", "SIGNER_NOT_HELD")
    assert _refusals(run)[-1] == ("HX-SEC", bytes.fromhex(address[2:]), "SIGNER_NOT_HELD")
    held = cli(*args, "--node", "JC-WEALTH", "--signer", label, cwd=cli_run)
    assert held.returncode == 0, held.stderr
    assert json.loads(held.stdout)["status"] == "committed"
    verified = cli("verify", "run", cwd=cli_run)
    assert "fund_platform: verified" in verified.stdout, verified.stdout + verified.stderr


@pytest.mark.parametrize("args, message", [
    (["send", "run", "SettlementCash", "approve", "contract:PrivateFundShares", "5", "--node", "HX-SEC",
      "--signer", "nobody/9"], "no client account 'nobody/9'"),
    (["send", "run", "SettlementCash", "mint", "client:nobody/9", "5", "--node", "CUSTODY"],
     "no client account 'nobody/9'"),
    (["send", "run", "SettlementCash", "approve", "contract:PrivateFundShares", "5", "--node", "NOPE"],
     "no node 'NOPE'"),
    (["view", "run", "HX-SEC", "--as", "NOPE"], "no node 'NOPE'"),
    (["view", "run", "NOPE"], "NOPE"),
])
def test_unknown_labels_and_nodes_are_one_line_exit_2_and_create_nothing(cli_run, args, message):
    """An unknown signer label, client label, node or viewer: one line, exit 2, no traceback, no block,
    no account created in any keystore."""
    run = cli_run / "run"
    before, keystores = _blocks(run), _keystore_bytes(run)
    done = cli(*args, cwd=cli_run)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert _blocks(run) == before and _keystore_bytes(run) == keystores


def test_commands_open_only_the_keystores_they_need(cli_run):
    """`call` opens no keystore (a wrong passphrase for every node changes nothing); `send` fails on a
    wrong passphrase for its own node (exit 2, one line); a validator whose keystore does not open
    cannot seal, and without a quorum nothing is written."""
    run = cli_run / "run"
    wrong = {"PILOTLEDGER_PASSPHRASE": "wrong"}
    called = cli("call", "run", "SettlementCash", "totalSupply", "--node", "HX-SEC", cwd=cli_run, env=wrong)
    assert called.returncode == 0 and called.stdout.strip().isdigit(), called.stderr
    before = _blocks(run)
    own = cli("send", "run", "SettlementCash", "approve", "contract:PrivateFundShares", "5", "--node", "HX-SEC",
              cwd=cli_run, env={passphrase_env("fund_platform", "HX-SEC"): "wrong"})
    assert own.returncode == 2 and "wrong passphrase for HX-SEC" in own.stderr and "Traceback" not in own.stderr
    no_quorum = cli("send", "run", "SettlementCash", "approve", "contract:PrivateFundShares", "5", "--node", "HX-SEC",
                    cwd=cli_run, env={passphrase_env("fund_platform", v): "wrong" for v in ("CSRC-BJ", "CUSTODY")})
    assert no_quorum.returncode != 0 and "Traceback" not in no_quorum.stderr
    assert "validator CSRC-BJ cannot seal" in no_quorum.stderr
    assert _blocks(run) == before


def test_verify_and_audit_need_no_secret(share_run, monkeypatch):
    """verify and audit read public material only: with the operator secret and every keystore out of
    reach they give the same results."""
    from ledger.audit.reexecute import audit_run
    from ledger.audit.verify import verify_run

    expected = ([(v.chain, v.verified, v.blocks, v.problems) for v in verify_run(share_run)],
                [(a.chain, a.verified, a.blocks, a.problems) for a in audit_run(share_run)])

    def forbidden(*args, **kwargs):
        raise AssertionError("verify/audit touched a secret")

    import ledger.chain.reopen
    import ledger.audit.views

    monkeypatch.setattr(secrets_module, "operator_secret", forbidden)
    monkeypatch.setattr(KeyDeriver, "for_seed", forbidden)
    for module in (keystore_module, ledger.audit.views, ledger.chain.reopen):
        monkeypatch.setattr(module, "open_keystore", forbidden)
    monkeypatch.setattr(eth_keyfile, "decode_keyfile_json", forbidden)
    monkeypatch.setenv("PILOTLEDGER_OPERATOR_SECRET", "/nonexistent/operator.secret")
    got = ([(v.chain, v.verified, v.blocks, v.problems) for v in verify_run(share_run)],
           [(a.chain, a.verified, a.blocks, a.problems) for a in audit_run(share_run)])
    assert got == expected


# ------------------------------------------------------------------ (f) one key-derivation per keystore


def test_a_node_with_many_clients_opens_its_keystore_with_one_key_derivation(tmp_path, monkeypatch):
    """A node holding 2,000 client accounts opens its keystore, and every client key in it, with one
    scrypt at the default cost; the EVM key file is a standard keystore v3 file (eth-keyfile opens it)."""
    monkeypatch.delenv("PILOTLEDGER_KEYSTORE_SCRYPT_N", raising=False)
    keys = KeyDeriver(1, b"\x07" * 32)
    writer = KeystoreWriter(tmp_path / "c", "c")
    node = keys.account("c/node/AGENT")
    started = time.perf_counter()
    writer.write_node("AGENT", node, keys.x25519("c/AGENT"))
    written = time.perf_counter() - started
    clients = [keys.account(f"c/client/inv{i}", f"inv{i}") for i in range(2000)]
    for client in clients:
        writer.add_client("AGENT", client)
    calls = []
    real_decode = eth_keyfile.decode_keyfile_json
    monkeypatch.setattr(eth_keyfile, "decode_keyfile_json",
                        lambda v3, secret: calls.append(v3["crypto"]["kdf"]) or real_decode(v3, secret))
    keystore_module._opened.clear()
    started = time.perf_counter()
    opened = open_keystore(tmp_path / "c", "AGENT")
    accounts = opened.accounts()
    elapsed = time.perf_counter() - started
    assert calls == ["scrypt"]
    assert opened.account == node and [a.address for a in accounts] == [c.address for c in clients]
    assert opened.privacy_key.public_key().public_bytes_raw() == keys.x25519("c/AGENT").public_key().public_bytes_raw()
    v3 = json.loads((keystore_dir(tmp_path / "c", "AGENT") / EVM_FILE).read_text())
    assert v3["crypto"]["kdfparams"]["n"] == keystore_module.DEFAULT_SCRYPT_N
    assert eth_keyfile.decode_keyfile_json(v3, passphrase("c", "AGENT")) == node.private_key
    print(f"\nkeystore written in {written * 1000:.0f} ms; opened with 2,000 client keys in {elapsed * 1000:.0f} ms")
    assert elapsed < 5


def test_passphrases_come_from_the_node_variable_then_the_shared_one_then_the_operator(tmp_path, monkeypatch):
    """PILOTLEDGER_PASSPHRASE_<CHAIN>_<NODE>, else PILOTLEDGER_PASSPHRASE, else the operator's default; a
    keystore opens only with the passphrase it was written with."""
    assert passphrase_env("fund_platform", "JC-WEALTH") == "PILOTLEDGER_PASSPHRASE_FUND_PLATFORM_JC_WEALTH"
    default = passphrase("c", "N")
    monkeypatch.setenv("PILOTLEDGER_PASSPHRASE", "shared")
    assert passphrase("c", "N") == b"shared"
    monkeypatch.setenv("PILOTLEDGER_PASSPHRASE_C_N", "own")
    assert passphrase("c", "N") == b"own" and passphrase("c", "M") == b"shared"
    keys = KeyDeriver(2, b"\x09" * 32)
    KeystoreWriter(tmp_path / "c", "c").write_node("N", keys.account("n"), keys.x25519("n"))
    assert open_keystore(tmp_path / "c", "N").account == keys.account("n")
    monkeypatch.delenv("PILOTLEDGER_PASSPHRASE_C_N")
    with pytest.raises(Exception, match="wrong passphrase for N"):
        open_keystore(tmp_path / "c", "N")
    monkeypatch.delenv("PILOTLEDGER_PASSPHRASE")
    assert passphrase("c", "N") == default != b"shared"


def test_the_operator_secret_is_created_once_private_and_checked(tmp_path, monkeypatch):
    """Created on first use at $PILOTLEDGER_OPERATOR_SECRET with 32 random bytes, mode 0600, then read
    back unchanged; a secret readable by others is refused."""
    path = tmp_path / "cfg" / "operator.secret"
    monkeypatch.setenv("PILOTLEDGER_OPERATOR_SECRET", str(path))
    assert operator_secret_path() == path
    first = operator_secret()
    assert len(first) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert operator_secret() == first
    path.chmod(0o644)
    with pytest.raises(Exception, match="readable by others"):
        operator_secret()
    monkeypatch.delenv("PILOTLEDGER_OPERATOR_SECRET")
    assert operator_secret_path() == Path("~/.config/pilotledger/operator.secret").expanduser()


def test_the_public_ca_verifier_checks_like_the_ca_and_refuses_a_forged_revocation_list():
    """A reopened chain's gateway checks certificates with the CA certificate and its signed revocation
    list only (no CA key): the same answers as the issuing CA; a revocation list not signed by the CA
    (a revoked certificate quietly dropped) is refused."""
    keys = KeyDeriver(3, b"\x05" * 32)
    ca = ConsortiumCA(keys, "Test CA", 1_000_000)
    good = ca.issue("A", "A Org", keys.private_key("a"), 1_000_000, 9_000_000)
    revoked = ca.issue("B", "B Org", keys.private_key("b"), 1_000_000, 9_000_000)
    ca.revoke(revoked, 2_000_000)
    verifier = CAVerifier(ca.certificate, ca.crl(3_000_000))
    rogue = ConsortiumCA(keys, "Rogue", 1_000_000).issue("C", "C Org", keys.private_key("c"), 1_000_000, 9_000_000)
    for certificate in (good, revoked, rogue):
        for at in (1_500_000, 2_500_000, 9_500_000):
            assert verifier.check(certificate, at) == ca.check(certificate, at)
    assert verifier.check(revoked, 2_500_000).reason == "CERT_REVOKED"
    impostor = ConsortiumCA(KeyDeriver(3, b"\x06" * 32), "Test CA", 1_000_000)  # same name, another key
    with pytest.raises(Exception, match="not signed by its CA"):
        CAVerifier(ca.certificate, impostor.crl(3_000_000))
    with pytest.raises(Exception, match="only the run operator's CA issues"):
        verifier.issue("D", "D Org", keys.private_key("d"), 1_000_000, 9_000_000)


def test_two_agents_sealing_one_identity_share_no_data_key(tmp_path):
    """Proves a KYC agent that sealed an identity cannot open another agent's record of the same identity
    with the data key of its own: data keys and nonces derive from the owner too."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ledger.trust.privacy import PrivateStore, _unwrap, privacy_key

    keys = KeyDeriver(SEED, b"\x07" * 32)
    identity, salt = b"\x01" * 32, b"\x02" * 32
    for owner, name in (("HX", "Person seen by HX"), ("JC", "Person seen by JC")):
        store = PrivateStore(tmp_path / owner / PRIVATE_FILE, keys, "chain", owner, "REG")
        store.put(identity, salt, {"name": name})
        store.close()
    [mine] = read_records(tmp_path / "JC" / PRIVATE_FILE)
    [theirs] = read_records(tmp_path / "HX" / PRIVATE_FILE)
    own_key = _unwrap(mine.owner_wrap, privacy_key(keys, "chain", "JC"))
    assert mine.open(privacy_key(keys, "chain", "JC")) == {"name": "Person seen by JC"}
    assert theirs.open(privacy_key(keys, "chain", "JC")) is None
    with pytest.raises(InvalidTag):
        AESGCM(own_key).decrypt(theirs.nonce, theirs.ciphertext, theirs.identity)


def test_records_deleted_from_a_private_store_are_reported_missing(share_run, tmp_path):
    """Proves a KYC agent cannot make personal data vanish unseen: every identity it registered on chain
    must have its sealed record, and the view names each one that has none."""
    from ledger.audit.views import node_view

    run = tmp_path / "run"
    shutil.copytree(share_run, run)
    store = run / "fund_platform" / "nodes" / "JC-WEALTH" / PRIVATE_FILE
    whole = node_view(run, "fund_platform", "JC-WEALTH", "CSRC-BJ")["private_data"]
    assert whole["missing"] == [] and whole["records"] > 2
    db = sqlite3.connect(store)
    gone = [row[0] for row in db.execute("SELECT identity FROM records ORDER BY identity LIMIT 2")]
    db.execute("DELETE FROM records WHERE identity IN (?, ?)", gone)
    db.commit()
    db.close()
    seen = node_view(run, "fund_platform", "JC-WEALTH", "CSRC-BJ")["private_data"]
    assert seen["missing"] == sorted("0x" + g.hex() for g in gone)
    assert seen["records"] == whole["records"] - 2
