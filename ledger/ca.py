"""The consortium's certificate authority: X.509 certificates binding each node's
secp256k1 key to its organisation, and a revocation list.

The CA signs with Ed25519, whose signatures are deterministic, so the same seed
gives the same certificates byte for byte."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from .errors import LedgerError
from .keys import derive_private_key


def _utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def node_public_key(private_key: bytes) -> ec.EllipticCurvePublicKey:
    return ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1()).public_key()


@dataclass(frozen=True)
class CertStatus:
    ok: bool
    reason: str | None = None  # CERT_UNTRUSTED, CERT_NOT_YET_VALID, CERT_EXPIRED, CERT_REVOKED


class ConsortiumCA:
    """Issues node certificates and keeps the revocation list."""

    def __init__(self, seed: int, name: str, not_before: int, lifetime_days: int = 3650) -> None:
        self.name = name
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(derive_private_key(seed, f"ca/{name}"))
        self._serial = 0
        self._not_before = not_before
        self._revoked: dict[int, int] = {}  # serial -> revocation time
        subject = _name(f"{name} Root CA", name)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(self._next_serial())
            .not_valid_before(_utc(not_before))
            .not_valid_after(_utc(not_before + lifetime_days * 86400))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, None)
        )

    @classmethod
    def restore(cls, seed: int, certificate: x509.Certificate, crl: x509.CertificateRevocationList,
                issued: list[x509.Certificate]) -> "ConsortiumCA":
        """The CA that wrote `certificate`, `crl` and the `issued` node certificates, back from the
        run's seed: the same key, the same revocations, its serials continuing after the last issued."""
        name = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        not_before = int(certificate.not_valid_before_utc.timestamp())
        lifetime = (int(certificate.not_valid_after_utc.timestamp()) - not_before) // 86400
        ca = cls(seed, str(name), not_before, lifetime)
        if ca.certificate != certificate or not crl.is_signature_valid(ca._key.public_key()):
            raise LedgerError(f"the CA certificate or revocation list of {name} was not made from this seed")
        ca._revoked = {r.serial_number: int(r.revocation_date_utc.timestamp()) for r in crl}
        ca._serial = max([ca._serial] + [c.serial_number for c in issued if c.issuer == certificate.subject])
        return ca

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def issue(self, node_name: str, organisation: str, private_key: bytes, not_before: int, not_after: int) -> x509.Certificate:
        """A certificate for the node whose secp256k1 key is `private_key`."""
        return (
            x509.CertificateBuilder()
            .subject_name(_name(node_name, organisation))
            .issuer_name(self.certificate.subject)
            .public_key(node_public_key(private_key))
            .serial_number(self._next_serial())
            .not_valid_before(_utc(not_before))
            .not_valid_after(_utc(not_after))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, None)
        )

    def revoke(self, certificate: x509.Certificate, at: int) -> None:
        self._revoked.setdefault(certificate.serial_number, at)

    def is_revoked(self, certificate: x509.Certificate, at: int) -> bool:
        revoked_at = self._revoked.get(certificate.serial_number)
        return revoked_at is not None and revoked_at <= at

    def crl(self, at: int) -> x509.CertificateRevocationList:
        """The signed revocation list as of `at`."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(_utc(at))
            .next_update(_utc(at + 86400))
        )
        for serial, revoked_at in sorted(self._revoked.items()):
            if revoked_at <= at:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(_utc(revoked_at)).build()
                )
        return builder.sign(self._key, None)

    def check(self, certificate: x509.Certificate, at: int) -> CertStatus:
        """Is `certificate` one of ours, in its validity window at `at`, and not revoked?"""
        if certificate.issuer != self.certificate.subject:
            return CertStatus(False, "CERT_UNTRUSTED")
        try:
            self._key.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes)
        except InvalidSignature:
            return CertStatus(False, "CERT_UNTRUSTED")
        moment = _utc(at)
        if moment < certificate.not_valid_before_utc:
            return CertStatus(False, "CERT_NOT_YET_VALID")
        if moment > certificate.not_valid_after_utc:
            return CertStatus(False, "CERT_EXPIRED")
        if self.is_revoked(certificate, at):
            return CertStatus(False, "CERT_REVOKED")
        return CertStatus(True)


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_binds(certificate: x509.Certificate, private_key: bytes) -> bool:
    """True when the certificate's public key is the node key's."""
    return certificate.public_key() == node_public_key(private_key)
