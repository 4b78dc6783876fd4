"""SettlementCash: minting by the cash issuer, transfers, allowances, real-name wallets."""

from conftest import UNLIMITED, reverted
from ledger.chain.roles import GovernanceAction as A

NO_ORG = b"\0" * 32


def hx(address: bytes) -> str:
    return "0x" + address.hex()


def wallet(chain, label, cash=0):
    """An identified, agent-held account with `cash` minted to it."""
    _, account = chain.investor(label, cash=cash)
    return account


def balance(chain, account) -> int:
    address = account if isinstance(account, bytes) else account.address
    return chain.cash.view("balanceOf", address)


def test_token_metadata(chain):
    assert chain.cash.view("name") == "Settlement digital yuan"
    assert chain.cash.view("symbol") == "dCNY"
    assert chain.cash.view("decimals") == 0
    assert chain.cash.view("totalSupply") == 0


def test_mint_by_cash_issuer(chain):
    alice = wallet(chain, "alice")
    t = chain.send(chain.custodian, chain.cash, "mint", alice.address, 500)
    assert t.ok
    assert t.event("Transfer") == {"from": hx(b"\0" * 20), "to": hx(alice.address), "value": 500}
    assert balance(chain, alice) == 500
    assert chain.cash.view("totalSupply") == 500


def test_mint_to_a_member_wallet(chain):
    assert chain.send(chain.custodian, chain.cash, "mint", chain.manager.address, 7).ok
    assert balance(chain, chain.manager.address) == 7


def test_mint_refused_for_non_issuers(chain):
    alice = wallet(chain, "alice")
    for node in (chain.platform, chain.regulator, chain.manager, chain.agent):
        t = chain.send(node, chain.cash, "mint", alice.address, 1)
        assert t.status == "refused" and t.reason == "ROLE_MISSING", node.name
    assert chain.cash.view("totalSupply") == 0


def test_mint_to_unknown_wallet(chain):
    stranger = chain.consortium.client_account("stranger").address
    t = chain.send(chain.custodian, chain.cash, "mint", stranger, 5)
    assert reverted(t, "UnknownWallet") and t.detail == {"account": hx(stranger)}
    assert chain.cash.view("totalSupply") == 0


def test_transfer(chain):
    alice, bob = wallet(chain, "alice", 100), wallet(chain, "bob")
    t = chain.send(chain.agent, chain.cash, "transfer", bob.address, 30, signer=alice)
    assert t.ok
    assert t.event("Transfer") == {"from": hx(alice.address), "to": hx(bob.address), "value": 30}
    assert (balance(chain, alice), balance(chain, bob)) == (70, 30)
    assert chain.cash.view("totalSupply") == 100


def test_transfer_to_a_member_and_not_to_a_suspended_one(chain):
    alice = wallet(chain, "alice", 100)
    assert chain.send(chain.agent, chain.cash, "transfer", chain.custodian.address, 10, signer=alice).ok
    assert balance(chain, chain.custodian.address) == 10
    pid = chain.send(chain.platform, chain.registry, "propose", A.SUSPEND, chain.manager.address, NO_ORG, 0)
    pid = pid.event("ProposalCreated")["id"]
    chain.send(chain.regulator, chain.registry, "vote", pid)
    assert chain.send(chain.platform, chain.registry, "execute", pid).ok
    t = chain.send(chain.agent, chain.cash, "transfer", chain.manager.address, 10, signer=alice)
    assert reverted(t, "UnknownWallet") and t.detail == {"account": hx(chain.manager.address)}


def test_transfer_to_unknown_wallet(chain):
    alice = wallet(chain, "alice", 100)
    stranger = chain.consortium.client_account("stranger").address
    t = chain.send(chain.agent, chain.cash, "transfer", stranger, 1, signer=alice)
    assert reverted(t, "UnknownWallet") and t.detail == {"account": hx(stranger)}
    assert balance(chain, alice) == 100


def test_insufficient_balance(chain):
    alice, bob = wallet(chain, "alice", 100), wallet(chain, "bob")
    t = chain.send(chain.agent, chain.cash, "transfer", bob.address, 101, signer=alice)
    assert reverted(t, "InsufficientBalance")
    assert t.detail == {"account": hx(alice.address), "balance": 100, "needed": 101}
    assert (balance(chain, alice), balance(chain, bob)) == (100, 0)
    assert chain.send(chain.agent, chain.cash, "transfer", bob.address, 100, signer=alice).ok  # exactly all of it
    assert (balance(chain, alice), balance(chain, bob)) == (0, 100)


def test_approve_and_transfer_from(chain):
    alice, bob, carol = wallet(chain, "alice", 100), wallet(chain, "bob"), wallet(chain, "carol")
    t = chain.send(chain.agent, chain.cash, "approve", bob.address, 30, signer=alice)
    assert t.event("Approval") == {"owner": hx(alice.address), "spender": hx(bob.address), "value": 30}
    assert chain.cash.view("allowance", alice.address, bob.address) == 30

    t = chain.send(chain.agent, chain.cash, "transferFrom", alice.address, carol.address, 20, signer=bob)
    assert t.ok
    assert t.event("Transfer") == {"from": hx(alice.address), "to": hx(carol.address), "value": 20}
    assert chain.cash.view("allowance", alice.address, bob.address) == 10
    assert (balance(chain, alice), balance(chain, bob), balance(chain, carol)) == (80, 0, 20)


def test_approve_overwrites_allowance(chain):
    alice, bob = wallet(chain, "alice"), wallet(chain, "bob")
    chain.send(chain.agent, chain.cash, "approve", bob.address, 30, signer=alice)
    assert chain.send(chain.agent, chain.cash, "approve", bob.address, 5, signer=alice).ok
    assert chain.cash.view("allowance", alice.address, bob.address) == 5


def test_insufficient_allowance(chain):
    alice, bob = wallet(chain, "alice", 100), wallet(chain, "bob")
    chain.send(chain.agent, chain.cash, "approve", bob.address, 10, signer=alice)
    t = chain.send(chain.agent, chain.cash, "transferFrom", alice.address, bob.address, 11, signer=bob)
    assert reverted(t, "InsufficientAllowance")
    assert t.detail == {"owner": hx(alice.address), "spender": hx(bob.address), "allowance": 10, "needed": 11}
    assert chain.cash.view("allowance", alice.address, bob.address) == 10
    assert balance(chain, alice) == 100


def test_transfer_from_with_allowance_but_no_balance_keeps_allowance(chain):
    alice, bob = wallet(chain, "alice", 5), wallet(chain, "bob")
    chain.send(chain.agent, chain.cash, "approve", bob.address, 50, signer=alice)
    t = chain.send(chain.agent, chain.cash, "transferFrom", alice.address, bob.address, 6, signer=bob)
    assert reverted(t, "InsufficientBalance") and t.detail["balance"] == 5
    assert chain.cash.view("allowance", alice.address, bob.address) == 50


def test_unlimited_allowance_is_not_decreased(chain):
    alice, bob = wallet(chain, "alice", 100), wallet(chain, "bob")
    chain.send(chain.agent, chain.cash, "approve", bob.address, UNLIMITED, signer=alice)
    for _ in range(2):
        assert chain.send(chain.agent, chain.cash, "transferFrom", alice.address, bob.address, 40, signer=bob).ok
    assert chain.cash.view("allowance", alice.address, bob.address) == UNLIMITED
    assert (balance(chain, alice), balance(chain, bob)) == (20, 80)


def test_transfer_from_to_unknown_wallet(chain):
    alice, bob = wallet(chain, "alice", 100), wallet(chain, "bob")
    chain.send(chain.agent, chain.cash, "approve", bob.address, 50, signer=alice)
    stranger = chain.consortium.client_account("stranger").address
    t = chain.send(chain.agent, chain.cash, "transferFrom", alice.address, stranger, 10, signer=bob)
    assert reverted(t, "UnknownWallet")
    assert chain.cash.view("allowance", alice.address, bob.address) == 50
