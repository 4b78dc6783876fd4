"""The gateway: each refusal reason reached through the real Consortium, refusals recorded in
the store, no nonce consumed, and the refusal digest covered by the blocks' seals."""

import shutil
import sqlite3

from conftest import DAY, PERSON, T0
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ledger.trust.ca import ConsortiumCA
from ledger.chain.run import LEDGER_FILE, open_chain
from ledger.trust.keys import Account
from ledger.chain.node import Node
from ledger.chain.roles import GovernanceAction as A, Role
from ledger.chain.sealer import check_seals, genesis_id, seal_message
from ledger.audit.verify import verify_chain

NO_ORG = b"\0" * 32
counter = iter(range(10**6))


def refused(ticket, reason: str) -> bool:
    return ticket.status == "refused" and ticket.reason == reason


def kyc_write(chain, node, **kw):
    """One small KYC write, submitted by `node` and committed in its own block."""
    ident = f"id-{next(counter)}".encode().ljust(32, b"\0")
    return chain.send(node, chain.identities, "registerIdentity", ident, b"\x11" * 32, PERSON, 0, **kw)


def govern(chain, action, address, org=NO_ORG, roles=0):
    t = chain.send(chain.platform, chain.registry, "propose", action, address, org, int(roles))
    assert t.ok, (t.reason, t.detail)
    pid = t.event("ProposalCreated")["id"]
    assert chain.send(chain.regulator, chain.registry, "vote", pid).ok
    t = chain.send(chain.custodian, chain.registry, "execute", pid)
    assert t.ok, (t.reason, t.detail)


def admitted_node(chain, name="NEWCO", **kw):
    """A non-founding KYC node, added to the consortium by governance."""
    node = chain.consortium.add_node(name, "New Co", Role.KYC_AGENT, founding=False, **kw)
    govern(chain, A.ADD_MEMBER, node.address, node.org_id, Role.KYC_AGENT)
    return node


def refusal_rows(chain):
    return chain.consortium.store.query(
        "SELECT seq, block_number, node, signer, contract, function, reason FROM refusals ORDER BY seq")


def last_refusal(chain):
    rows = refusal_rows(chain)
    assert rows, "no refusal stored"
    return rows[-1]


def assert_recorded(chain, ticket, reason, node):
    """The refusal is stored with the block that was just committed."""
    assert refused(ticket, reason), (ticket.status, ticket.reason, ticket.detail)
    _, block, name, _, contract, function, stored = last_refusal(chain)
    assert (block, name, contract, function, stored) == (
        chain.consortium.head.number, node.name, ticket.contract, ticket.function, reason)


# ------------------------------------------------------------ certificates


def test_cert_untrusted_foreign_ca(chain):
    rogue = ConsortiumCA(99, "Rogue CA", T0 - DAY)
    node = chain.consortium.add_node("ROGUE", "Rogue", Role.KYC_AGENT, founding=False, ca=rogue)
    assert_recorded(chain, kyc_write(chain, node), "CERT_UNTRUSTED", node)


def test_cert_untrusted_ca_impersonating_the_consortium_name(chain):
    """Same issuer name as the consortium CA, different key: the signature check catches it."""
    impostor = ConsortiumCA(99, chain.consortium.ca.name, T0 - DAY)
    assert impostor.certificate.subject == chain.consortium.ca.certificate.subject
    node = chain.consortium.add_node("IMPOSTOR", "Impostor", Role.KYC_AGENT, founding=False, ca=impostor)
    assert_recorded(chain, kyc_write(chain, node), "CERT_UNTRUSTED", node)


def test_cert_untrusted_even_for_an_admitted_member(chain):
    """Certificate checks come before membership: on-chain membership does not make a foreign cert good."""
    rogue = ConsortiumCA(99, "Rogue CA", T0 - DAY)
    node = chain.consortium.add_node("ROGUE", "Rogue", Role.KYC_AGENT, founding=False, ca=rogue)
    govern(chain, A.ADD_MEMBER, node.address, node.org_id, Role.KYC_AGENT)
    assert chain.registry.view("hasRole", node.address, Role.KYC_AGENT)
    assert refused(kyc_write(chain, node), "CERT_UNTRUSTED")


def test_a_certificate_whose_signature_is_altered_after_a_good_check_is_still_untrusted(chain):
    """The CA's signature check is remembered per certificate, whole: a copy differing only in its signature,
    or in the algorithm it names outside the signed part, is another certificate and is refused."""
    node = admitted_node(chain)
    assert kyc_write(chain, node).ok
    good = node.certificate.public_bytes(serialization.Encoding.DER)
    ed25519, ed448 = bytes.fromhex("06032b6570"), bytes.fromhex("06032b6571")  # the algorithms' OIDs
    outer = good.rindex(ed25519)  # the signatureAlgorithm outside the signed part
    for altered in (good[:-1] + bytes([good[-1] ^ 1]),  # the signature's last byte
                    good[:outer] + ed448 + good[outer + len(ed448):]):  # another algorithm named, same signature
        node.certificate = x509.load_der_x509_certificate(altered)
        assert_recorded(chain, kyc_write(chain, node), "CERT_UNTRUSTED", node)


def test_cert_expired_non_founding_member(chain):
    node = admitted_node(chain, cert_days=1)
    assert kyc_write(chain, node).ok
    chain.consortium.advance(2 * DAY)
    assert_recorded(chain, kyc_write(chain, node), "CERT_EXPIRED", node)


def test_cert_expired_founding_member(tmp_path):
    c = open_chain(tmp_path, "short_chain", 7, 31337, T0)
    platform = c.add_node("PLATFORM", "Platform", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR, cert_days=1)
    c.store.write_meta(c.genesis_meta())
    try:
        registry = platform.deploy("PermissionRegistry", *c.founding_members())
        c.commit()
        assert registry.ok
        c.advance(2 * DAY)
        t = platform.deploy("IdentityRegistry", registry.contract_address)
        assert refused(t, "CERT_EXPIRED")
        assert "IdentityRegistry" not in c.contracts
        c.commit()
        assert c.store.query("SELECT reason FROM refusals") == [("CERT_EXPIRED",)]
        result = verify_chain(tmp_path / "short_chain")
        assert result.verified, result.problems
        assert (result.blocks, result.refusals) == (2, 1)
    finally:
        c.store.close()


def test_cert_revoked(chain):
    chain.consortium.ca.revoke(chain.agent.certificate, chain.consortium.time)
    assert_recorded(chain, kyc_write(chain, chain.agent), "CERT_REVOKED", chain.agent)
    # the agent is still an active member on chain: only its certificate is revoked
    assert chain.registry.view("hasRole", chain.agent.address, Role.KYC_AGENT)


def test_cert_revoked_from_the_revocation_time(chain):
    chain.consortium.ca.revoke(chain.agent.certificate, chain.consortium.time + DAY)
    assert kyc_write(chain, chain.agent).ok
    chain.consortium.advance(DAY)
    assert refused(kyc_write(chain, chain.agent), "CERT_REVOKED")


def test_cert_not_yet_valid(chain):
    c = chain.consortium
    account = c.keys.account("future-node")
    cert = c.ca.issue("FUTURE", "Future", account.private_key, c.time + DAY, c.time + 10 * DAY)
    node = Node("FUTURE", "Future", Role.KYC_AGENT, account, cert, c)
    assert refused(kyc_write(chain, node), "CERT_NOT_YET_VALID")


def test_cert_key_mismatch(chain):
    """A trusted, valid certificate presented with another node's key."""
    c = chain.consortium
    thief = Node("THIEF", "Thief", Role.KYC_AGENT, c.keys.account("thief"), chain.agent.certificate, c)
    assert_recorded(chain, kyc_write(chain, thief), "CERT_KEY_MISMATCH", thief)


# -------------------------------------------------------------- membership


def test_not_member_until_governance_executes(chain):
    node = chain.consortium.add_node("NEWCO", "New Co", Role.KYC_AGENT, founding=False)
    assert_recorded(chain, kyc_write(chain, node), "NOT_MEMBER", node)
    t = chain.send(chain.platform, chain.registry, "propose", A.ADD_MEMBER, node.address, node.org_id,
                   int(Role.KYC_AGENT))
    pid = t.event("ProposalCreated")["id"]
    chain.send(chain.regulator, chain.registry, "vote", pid)
    assert refused(kyc_write(chain, node), "NOT_MEMBER")  # voted, not executed
    assert chain.send(chain.custodian, chain.registry, "execute", pid).ok
    assert kyc_write(chain, node).ok


def test_member_suspended_then_reactivated(chain):
    govern(chain, A.SUSPEND, chain.agent.address)
    assert_recorded(chain, kyc_write(chain, chain.agent), "MEMBER_SUSPENDED", chain.agent)
    govern(chain, A.REACTIVATE, chain.agent.address)
    assert kyc_write(chain, chain.agent).ok


def test_member_revoked_with_a_valid_certificate(chain):
    govern(chain, A.REVOKE, chain.agent.address)
    assert chain.consortium.ca.check(chain.agent.certificate, chain.consortium.time).ok
    assert_recorded(chain, kyc_write(chain, chain.agent), "MEMBER_REVOKED", chain.agent)


def test_role_missing(chain):
    t = kyc_write(chain, chain.manager)
    assert_recorded(chain, t, "ROLE_MISSING", chain.manager)
    assert "KYC_AGENT" in t.detail["detail"]


def test_role_missing_after_roles_changed_on_chain(chain):
    govern(chain, A.SET_ROLES, chain.agent.address, roles=Role.INVESTOR_AGENT)
    assert refused(kyc_write(chain, chain.agent), "ROLE_MISSING")


def test_signer_not_held(chain):
    stranger = chain.consortium.client_account("not-held")
    t = chain.send(chain.agent, chain.cash, "approve", chain.shares.address, 1, signer=stranger)
    assert_recorded(chain, t, "SIGNER_NOT_HELD", chain.agent)
    assert last_refusal(chain)[3] == stranger.address


def test_signer_held_by_another_node(chain):
    """The platform may not sign with a client account the agent holds, nor with the agent's own key."""
    _, alice = chain.investor("alice")
    proposals = chain.registry.view("proposalCount")
    t = chain.send(chain.platform, chain.registry, "propose", A.SUSPEND, chain.manager.address, NO_ORG, 0,
                   signer=alice)
    assert refused(t, "SIGNER_NOT_HELD")
    assert refused(kyc_write(chain, chain.platform, signer=chain.agent.account), "SIGNER_NOT_HELD")
    assert chain.registry.view("proposalCount") == proposals


def test_node_signing_with_its_own_key_in_a_new_account_object(chain):
    same_key = Account(chain.agent.account.private_key)
    assert same_key == chain.agent.account
    assert kyc_write(chain, chain.agent, signer=same_key).ok


# --------------------------------------------------- store, nonces and seals


def test_every_reason_is_recorded_in_order_and_the_chain_verifies(chain, tmp_path):
    c = chain.consortium
    stranger = c.add_node("STRANGER", "Stranger", Role.KYC_AGENT, founding=False)
    rogue = c.add_node("ROGUE", "Rogue", Role.KYC_AGENT, founding=False, ca=ConsortiumCA(5, "Rogue", T0 - DAY))
    expiring = admitted_node(chain, "EXPIRING", cert_days=1)
    suspended = admitted_node(chain, "SUSPENDED")
    revoked = admitted_node(chain, "REVOKED")
    lost = admitted_node(chain, "LOST")
    govern(chain, A.SUSPEND, suspended.address)
    govern(chain, A.REVOKE, revoked.address)
    c.ca.revoke(lost.certificate, c.time)
    c.advance(2 * DAY)

    tickets = [
        kyc_write(chain, rogue),
        kyc_write(chain, expiring),
        kyc_write(chain, lost),
        kyc_write(chain, stranger),
        kyc_write(chain, suspended),
        kyc_write(chain, revoked),
        kyc_write(chain, chain.manager),
        kyc_write(chain, chain.agent, signer=c.client_account("nobody")),
    ]
    expected = ["CERT_UNTRUSTED", "CERT_EXPIRED", "CERT_REVOKED", "NOT_MEMBER", "MEMBER_SUSPENDED",
                "MEMBER_REVOKED", "ROLE_MISSING", "SIGNER_NOT_HELD"]
    assert [t.reason for t in tickets] == expected
    assert all(t.status == "refused" for t in tickets)
    assert c.store.query("SELECT reason FROM refusals ORDER BY seq") == [(r,) for r in expected]
    assert [row[0] for row in refusal_rows(chain)] == list(range(1, 9))

    result = verify_chain(tmp_path / "test_chain")
    assert result.verified, result.problems
    assert result.refusals == 8


def test_refusals_wait_for_the_next_commit(chain):
    before = chain.consortium.head.number
    t = chain.manager.send(chain.identities.call("registerIdentity", b"z" * 32, b"\1" * 32, PERSON, 0))
    assert refused(t, "ROLE_MISSING")
    assert t.block_number is None
    assert chain.consortium.store.query("SELECT COUNT(*) FROM refusals") == [(0,)]
    block = chain.consortium.commit()  # a block with no transactions, only the refusal
    assert block is not None and block.number == before + 1 and block.outcomes == ()
    assert chain.consortium.store.query("SELECT block_number, reason FROM refusals") == [(before + 1, "ROLE_MISSING")]


def test_refused_call_consumes_no_nonce(chain):
    c = chain.consortium
    assert refused(kyc_write(chain, chain.manager), "ROLE_MISSING")  # signed by the manager's own key
    t = chain.send(chain.manager, chain.shares, "createFund", 0, chain.custodian.address, T0)
    assert t.ok, t.reason
    assert c.store.query("SELECT nonce FROM transactions WHERE hash = ?", (t.tx_hash,)) == [(0,)]

    assert kyc_write(chain, chain.agent).ok  # nonce 0
    assert refused(chain.send(chain.agent, chain.cash, "mint", chain.agent.address, 1), "ROLE_MISSING")
    assert refused(kyc_write(chain, chain.agent, signer=c.client_account("nobody")), "SIGNER_NOT_HELD")
    t = kyc_write(chain, chain.agent)
    assert t.ok
    assert c.store.query("SELECT nonce FROM transactions WHERE hash = ?", (t.tx_hash,)) == [(1,)]


def test_refusal_in_the_same_block_as_transactions(chain, tmp_path):
    c = chain.consortium
    ok = chain.agent.send(chain.identities.call("registerIdentity", b"a" * 32, b"\1" * 32, PERSON, 0))
    no = chain.manager.send(chain.identities.call("registerIdentity", b"b" * 32, b"\1" * 32, PERSON, 0))
    ok2 = chain.agent.send(chain.identities.call("registerIdentity", b"c" * 32, b"\1" * 32, PERSON, 0))
    block = c.commit()
    assert ok.ok and ok2.ok and refused(no, "ROLE_MISSING")
    assert len(block.outcomes) == 2
    assert c.store.query("SELECT block_number FROM refusals") == [(block.number,)]
    assert verify_chain(tmp_path / "test_chain").verified


def test_seals_cover_the_refusal_digest(chain):
    c = chain.consortium
    refused_ticket = kyc_write(chain, chain.manager)
    assert refused(refused_ticket, "ROLE_MISSING")
    number = c.head.number
    (digest,), = c.store.query("SELECT digest FROM refusals WHERE block_number = ?", (number,))
    (block_hash, recorded), = c.store.query("SELECT hash, refusals_digest FROM blocks WHERE number = ?", (number,))
    assert recorded == digest
    validators = c.membership.validators()
    seals = c.store.seals(number)
    assert {s.validator for s in seals} == set(validators)
    genesis, rows = genesis_id(c.store.meta()), c.store.block_rows(number).records_digest()
    assert check_seals(seal_message(genesis, block_hash, digest, rows), seals, validators) is None
    assert check_seals(seal_message(genesis, block_hash, b"\0" * 32, rows), seals, validators) is not None


def test_tampering_with_a_stored_refusal_breaks_verification(chain, tmp_path):
    kyc_write(chain, chain.manager)  # ROLE_MISSING
    kyc_write(chain, chain.agent)  # a later block, so the digest carries on
    copy_dir = tmp_path / "copy" / "test_chain"
    shutil.copytree(tmp_path / "test_chain", copy_dir, ignore=shutil.ignore_patterns("ledger.sqlite*"))
    source = sqlite3.connect(tmp_path / "test_chain" / LEDGER_FILE)
    target = sqlite3.connect(copy_dir / LEDGER_FILE)
    source.backup(target)
    source.close()
    assert verify_chain(copy_dir).verified
    target.execute("DROP TRIGGER refusals_no_update")
    target.execute("UPDATE refusals SET reason = 'NOT_MEMBER'")
    target.commit()
    target.close()
    result = verify_chain(copy_dir)
    assert not result.verified
    assert "differs from what the refusal digest covers" in result.problems[0]


# ------------------------------------------------------------- the registry's map, mirrored


def test_the_gateway_follows_the_map_from_the_block_after_governance(chain):
    """A SetFunctionRole executed in block n is in force at the gateway from block n + 1, not within n."""
    ids, reg = chain.identities, chain.registry
    sel = ids.abi.functions["registerIdentity"].selector
    t = chain.send(chain.platform, reg, "propose", A.SET_FUNCTION_ROLE, ids.address, sel.ljust(32, b"\0"),
                   int(Role.REGULATOR | Role.KYC_AGENT))
    pid = t.event("ProposalCreated")["id"]
    assert chain.send(chain.regulator, reg, "vote", pid).ok
    execute = chain.custodian.send(reg.call("execute", pid))
    same_block = kyc_write(chain, chain.agent)  # queued after the execution: the gateway's map is the old one
    # ... so the gateway admitted it, and the contract, asking the registry as executed, reverted it.
    assert execute.ok and same_block.status == "reverted" and same_block.reason == "MissingRole"
    assert refused(kyc_write(chain, chain.agent), "ROLE_MISSING")  # the agent lacks REGULATOR now
    assert chain.consortium.membership.functions.role_of(ids.address, sel) == Role.REGULATOR | Role.KYC_AGENT


def test_the_audit_refuses_a_block_whose_submission_the_map_forbade(chain, tmp_path, monkeypatch):
    """A gateway that lets through what the map at that height forbids (here: admits everything) seals
    blocks the audit names: the check is re-made from the sealed map, not taken from the gateway."""
    from ledger.audit.reexecute import audit_ledger
    from ledger.chain.gateway import ADMITTED

    assert kyc_write(chain, chain.agent).ok
    clean = audit_ledger(tmp_path / "test_chain" / LEDGER_FILE, "test_chain")
    assert clean.verified, clean.problems
    monkeypatch.setattr(chain.consortium.gateway, "admit", lambda *args: ADMITTED)
    t = chain.send(chain.manager, chain.registry, "hasRole", chain.manager.address, 0)  # closed: never mapped
    assert t.ok  # executed: the contract itself has nothing against a view sent as a transaction
    bad = audit_ledger(tmp_path / "test_chain" / LEDGER_FILE, "test_chain")
    assert bad.first_bad_block == t.block_number
    assert "MANAGER could not submit it" in bad.problems[0] and "ROLE_MISSING" in bad.problems[0]
    assert "PermissionRegistry.hasRole is closed" in bad.problems[0]
