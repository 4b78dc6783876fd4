"""The permissioned gateway: every submission passes here before execution.

A refused submission is never dropped: it becomes a Refusal with a reason code,
stored with the next block and covered by that block's seals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography import x509

from ledger.trust.ca import CertStatus, certificate_binds
from ledger.chain.membership import Membership
from ledger.chain.node import Node
from ledger.chain.policy import required_role
from ledger.chain.roles import MemberStatus

# Reason codes, in the order the gateway checks them.
CERT_UNTRUSTED = "CERT_UNTRUSTED"
CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
CERT_EXPIRED = "CERT_EXPIRED"
CERT_REVOKED = "CERT_REVOKED"
CERT_KEY_MISMATCH = "CERT_KEY_MISMATCH"
NOT_MEMBER = "NOT_MEMBER"
MEMBER_SUSPENDED = "MEMBER_SUSPENDED"
MEMBER_REVOKED = "MEMBER_REVOKED"
ROLE_MISSING = "ROLE_MISSING"
SIGNER_NOT_HELD = "SIGNER_NOT_HELD"

REASONS = (
    CERT_UNTRUSTED,
    CERT_NOT_YET_VALID,
    CERT_EXPIRED,
    CERT_REVOKED,
    CERT_KEY_MISMATCH,
    NOT_MEMBER,
    MEMBER_SUSPENDED,
    MEMBER_REVOKED,
    ROLE_MISSING,
    SIGNER_NOT_HELD,
)

_STATUS_REASON = {
    MemberStatus.NONE: NOT_MEMBER,
    MemberStatus.SUSPENDED: MEMBER_SUSPENDED,
    MemberStatus.REVOKED: MEMBER_REVOKED,
}


@dataclass(frozen=True)
class Admission:
    reason: str | None
    detail: str = ""

    @property
    def admitted(self) -> bool:
        return self.reason is None


ADMITTED = Admission(None)


class CertificateChecker(Protocol):
    """What the gateway needs of a CA: the issuing ConsortiumCA, or the public CAVerifier."""

    def check(self, certificate: x509.Certificate, at: int) -> CertStatus: ...


class Gateway:
    def __init__(self, ca: CertificateChecker, membership: Membership) -> None:
        self._ca = ca
        self._membership = membership
        self._key_bound: dict[tuple[int, bytes], bool] = {}  # (certificate serial, node address) -> binds

    def admit(self, node: Node, contract: str, function: str, signer: bytes, at: int) -> Admission:
        """Checks certificate, membership, role and key custody at chain time `at`. `signer` is the
        address that would sign: the node's own or a client's it holds. Nothing is signed before
        admission, so a refused signer's key need not be here at all."""
        cert = self._ca.check(node.certificate, at)
        if not cert.ok:
            return Admission(cert.reason, f"certificate serial {node.certificate.serial_number}")
        bound = (node.certificate.serial_number, node.address)
        if bound not in self._key_bound:
            self._key_bound[bound] = certificate_binds(node.certificate, node.address)
        if not self._key_bound[bound]:
            return Admission(CERT_KEY_MISMATCH, "certificate is not for this node's key")

        member = self._membership.get(node.address)
        status = member.status if member else MemberStatus.NONE
        if status != MemberStatus.ACTIVE:
            return Admission(_STATUS_REASON[status], f"{node.name} is {status.name.lower()}")
        needed = required_role(contract, function)
        if member.roles & needed != needed:
            return Admission(ROLE_MISSING, f"{contract}.{function} needs {needed.name}")

        if signer != node.address and signer not in node.clients:
            return Admission(SIGNER_NOT_HELD, f"{node.name} does not hold 0x{signer.hex()}")
        return ADMITTED
