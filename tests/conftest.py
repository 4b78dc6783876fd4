"""Shared fixtures: a small consortium on a fresh chain with the four contracts deployed."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The operator secret is pinned for the whole suite, subprocesses included (they inherit the
# environment): fixed bytes in a file of this session, never the developer's own secret. Keystores
# are written with a cheap scrypt cost, and no passphrase comes from the developer's shell.
TEST_OPERATOR_SECRET = bytes(range(101, 133))


def _pin_operator_secret() -> None:
    directory = tempfile.mkdtemp(prefix="pilotledger-tests-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / "operator.secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(TEST_OPERATOR_SECRET)
    os.environ["PILOTLEDGER_OPERATOR_SECRET"] = str(path)
    os.environ["PILOTLEDGER_KEYSTORE_SCRYPT_N"] = "1024"
    for name in [n for n in os.environ if n.startswith("PILOTLEDGER_PASSPHRASE")]:
        del os.environ[name]


_pin_operator_secret()

from ledger.chain.run import open_chain  # noqa: E402
from ledger.present import i18n  # noqa: E402
from ledger.chain.consortium import Consortium, Contract, Ticket  # noqa: E402
from ledger.chain.node import Node  # noqa: E402
from ledger.chain.access import adopt_declared_roles
from ledger.chain.roles import Role  # noqa: E402
from scenarios.compliance import COMPLIANCE, FUND_RULES, deploy_compliance, register_rules  # noqa: E402

T0 = 1641916800
DAY = 86400
MIN = 1_000_000
UNLIMITED = 2**256 - 1
PERSON, INSTITUTION, PRODUCT, VEHICLE = 1, 2, 3, 4
CONTRACTUAL, JOINT_STOCK, PARTNERSHIP, LLC = 0, 1, 2, 3


@dataclass
class Chain:
    """A deployed test chain and shortcuts to drive it one block per call."""

    consortium: Consortium
    platform: Node
    regulator: Node
    custodian: Node
    manager: Node
    agent: Node
    registry: Contract
    identities: Contract
    cash: Contract
    shares: Contract

    def send(self, node: Node, contract: Contract, function: str, *args, signer=None) -> Ticket:
        """Submits one call and commits it in its own block."""
        ticket = node.send(contract.call(function, *args), signer=signer)
        self.consortium.commit()
        return ticket

    def investor(self, label: str, kind: int = PERSON, qualified: bool = True, cash: int = 100 * MIN):
        """A registered investor with one funded account that has approved the shares contract."""
        account = self.agent.hold(self.consortium.client_account(label))
        identity = label.encode().ljust(32, b"\0")
        until = T0 + 3650 * DAY if qualified else 0
        for t in (
            self.send(self.agent, self.identities, "registerIdentity", identity, b"\x11" * 32, kind, until),
            self.send(self.agent, self.identities, "linkAccount", account.address, identity),
            self.send(self.custodian, self.cash, "mint", account.address, cash),
            self.send(self.agent, self.cash, "approve", self.shares.address, UNLIMITED, signer=account),
        ):
            assert t.ok, (t.function, t.reason, t.detail)
        return identity, account

    def fund(self, form: int = CONTRACTUAL, lockup_end: int = T0) -> int:
        t = self.send(self.manager, self.shares, "createFund", form, self.custodian.address, lockup_end)
        assert t.ok, t.reason
        return t.event("FundCreated")["fundId"]


def reverted(ticket: Ticket, reason: str) -> bool:
    return ticket.status == "reverted" and ticket.reason == reason


def build_chain(run_dir: Path, seed: int = 1) -> Chain:
    c = open_chain(run_dir, "test_chain", seed, 31337, T0)
    platform = c.add_node("PLATFORM", "Platform", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR | Role.KYC_AGENT)
    regulator = c.add_node("REGULATOR", "Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
    custodian = c.add_node("CUSTODIAN", "Custodian", Role.ADMIN | Role.CUSTODIAN | Role.CASH_ISSUER | Role.VALIDATOR)
    manager = c.add_node("MANAGER", "Manager", Role.FUND_MANAGER | Role.VALIDATOR)
    agent = c.add_node("AGENT", "Agent", Role.INVESTOR_AGENT | Role.KYC_AGENT)
    c.store.write_meta(c.genesis_meta())
    registry = platform.deploy("PermissionRegistry", *c.founding_members()).contract_address
    identities = platform.deploy("IdentityRegistry", registry).contract_address
    cash = platform.deploy("SettlementCash", registry, identities).contract_address
    compliance = deploy_compliance(platform, registry, identities, FUND_RULES)
    platform.deploy("PrivateFundShares", registry, identities, cash, compliance, [200, 200, 50, 50], MIN)
    block = c.commit()
    assert all(o.success for o in block.outcomes)
    adopt_declared_roles(c, "IdentityRegistry", "SettlementCash", "PrivateFundShares", COMPLIANCE, *FUND_RULES)
    register_rules(c, "PrivateFundShares", 4, FUND_RULES)
    return Chain(c, platform, regulator, custodian, manager, agent, c.contract("PermissionRegistry"),
                 c.contract("IdentityRegistry"), c.contract("SettlementCash"), c.contract("PrivateFundShares"))


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    built = build_chain(tmp_path)
    yield built
    built.consortium.store.close()


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """Every test starts in English, whatever PILOTLEDGER_LANG says or a test before it chose."""
    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    i18n.set_language(None)
    yield
    i18n.set_language(None)
