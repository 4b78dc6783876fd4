"""A consortium node: an institution with its EVM key, its X.509 certificate and
the client accounts (investor wallets) whose keys it holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509

from ledger.chain.calls import Call, Ticket
from ledger.chain.roles import Role
from ledger.tooling.abi import bytes32
from ledger.trust.keys import Account, PublicAccount


class Network(Protocol):
    """What a node needs of the network it is connected to: where it submits and deploys, and where
    the keys it takes custody of are kept. The consortium provides it; a node knows nothing more of it."""

    def submit(self, node: "Node", call: Call, *, signer: Account | PublicAccount | None = None,
               label: str | None = None) -> Ticket: ...

    def deploy(self, node: "Node", name: str, *args: Any, label: str | None = None) -> Ticket: ...

    def keep_client(self, node: "Node", account: Account) -> None: ...


def org_id(code: str) -> bytes:
    """The bytes32 organisation id used on chain: the organisation's short code, padded."""
    return bytes32(code)


@dataclass(eq=False)
class Node:
    name: str  # short code, also the organisation id on chain
    organisation: str  # display name
    roles: Role  # the roles it was founded or admitted with; the chain holds the truth
    account: Account | PublicAccount  # PublicAccount: its keystore was not opened here
    certificate: x509.Certificate
    network: Network = field(repr=False)
    clients: dict[bytes, Account] = field(default_factory=dict, repr=False)

    @property
    def address(self) -> bytes:
        return self.account.address

    @property
    def org_id(self) -> bytes:
        return org_id(self.name)

    def hold(self, account: Account) -> Account:
        """Takes custody of a client account's key, so this node can submit for it; the run operator
        writes it into this node's keystore at once."""
        self.clients[account.address] = account
        self.network.keep_client(self, account)
        return account

    def send(self, call: "Call", *, signer: Account | PublicAccount | None = None,
             label: str | None = None) -> "Ticket":
        """Submits `call` through the gateway, signed by this node or by a client it holds (a signer
        known by its address only is refused SIGNER_NOT_HELD unless this node holds it)."""
        return self.network.submit(self, call, signer=signer, label=label)

    def deploy(self, contract: str, *args: Any, label: str | None = None) -> "Ticket":
        return self.network.deploy(self, contract, *args, label=label)
