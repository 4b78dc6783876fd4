"""The permissioned gateway: every submission passes here before execution.

Who may submit what is not decided here but by ledger.chain.access.may_submit, from the
registry's function-to-role map as mirrored at the head (the audit asks the same function).
A refused submission is never dropped: it becomes a Refusal with a reason code,
stored with the next block and covered by that block's seals."""

from __future__ import annotations

from typing import Protocol

from cryptography import x509

from ledger.trust.ca import CertStatus, certificate_binds
from ledger.chain.access import (ADMITTED, MEMBER_REVOKED, MEMBER_SUSPENDED, NOT_MEMBER, ROLE_MISSING,
                                 SIGNER_NOT_HELD, Admission, may_submit)
from ledger.chain.calls import Call
from ledger.chain.membership import Membership
from ledger.chain.node import Node

# Reason codes, in the order the gateway checks them: the certificate's, then ledger.chain.access's.
CERT_UNTRUSTED = "CERT_UNTRUSTED"
CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
CERT_EXPIRED = "CERT_EXPIRED"
CERT_REVOKED = "CERT_REVOKED"
CERT_KEY_MISMATCH = "CERT_KEY_MISMATCH"

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
__all__ = ["ADMITTED", "Admission", "Gateway", "REASONS", *REASONS]


class CertificateChecker(Protocol):
    """What the gateway needs of a CA: the issuing ConsortiumCA, or the public CAVerifier."""

    def check(self, certificate: x509.Certificate, at: int) -> CertStatus: ...


class Gateway:
    def __init__(self, ca: CertificateChecker, membership: Membership) -> None:
        self._ca = ca
        self._membership = membership
        self._key_bound: dict[tuple[int, bytes], bool] = {}  # (certificate serial, node address) -> binds

    def admit(self, node: Node, call: Call, signer: bytes, at: int) -> Admission:
        """Checks certificate, membership, the role the registry's map gives the call, and key custody
        at chain time `at`. `signer` is the address that would sign: the node's own or a client's it
        holds. Nothing is signed before admission, so a refused signer's key need not be here at all."""
        cert = self._ca.check(node.certificate, at)
        if not cert.ok:
            return Admission(cert.reason, f"certificate serial {node.certificate.serial_number}")
        bound = (node.certificate.serial_number, node.address)
        if bound not in self._key_bound:
            self._key_bound[bound] = certificate_binds(node.certificate, node.address)
        if not self._key_bound[bound]:
            return Admission(CERT_KEY_MISMATCH, "certificate is not for this node's key")
        admission = may_submit(self._membership, node.name, node.address, f"{call.contract}.{call.function}",
                               call.to, call.data, signer)
        if not admission.admitted:
            return admission
        if signer != node.address and signer not in node.clients:
            return Admission(SIGNER_NOT_HELD, f"{node.name} does not hold 0x{signer.hex()}")
        return ADMITTED
