"""The consortium's certificate authority: X.509 certificates binding each node's
secp256k1 key to its organisation, and a revocation list.

Two halves: the issuing CA (ConsortiumCA), whose key only the run operator holds (derived from
the seed and the operator secret), and the public verifier (CAVerifier), built from the CA
certificate and the signed revocation list alone, which is all a gateway, a member or an auditor
needs. The CA signs with Ed25519, whose signatures are deterministic, so the same seed and
operator secret give the same certificates byte for byte."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from ledger.errors import LedgerError
from ledger.trust.keys import public_key_address
from ledger.trust.secrets import KeyDeriver, as_deriver


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


def certificate_address(certificate: x509.Certificate) -> bytes:
    """The EVM address of the secp256k1 key a node certificate binds (no private key needed)."""
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256K1):
        raise LedgerError(f"certificate serial {certificate.serial_number} does not bind a secp256k1 key")
    return public_key_address(key.public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint))


@dataclass(frozen=True)
class CertStatus:
    ok: bool
    reason: str | None = None  # CERT_UNTRUSTED, CERT_NOT_YET_VALID, CERT_EXPIRED, CERT_REVOKED


class ConsortiumCA:
    """Issues node certificates and keeps the revocation list: the run operator's, with the CA key.
    `keys` is the run's KeyDeriver (a bare seed: with this machine's operator secret)."""

    def __init__(self, keys: KeyDeriver | int, name: str, not_before: int, lifetime_days: int = 3650) -> None:
        self.name = name
        self._key = as_deriver(keys).ed25519(f"ca/{name}")
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
        return _check(self.certificate, self.is_revoked, certificate, at)


class CAVerifier:
    """The public half of a consortium CA: checks node certificates against the CA certificate and
    its signed revocation list, holding no private key. What a gateway of a reopened chain, a member
    or an auditor uses."""

    def __init__(self, certificate: x509.Certificate, crl: x509.CertificateRevocationList) -> None:
        name = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        self.name = str(name[0].value) if name else certificate.subject.rfc4514_string()
        self.certificate = certificate
        public = certificate.public_key()
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise LedgerError(f"the CA certificate of {self.name} does not carry an Ed25519 key")
        try:
            public.verify(certificate.signature, certificate.tbs_certificate_bytes)
        except InvalidSignature:
            raise LedgerError(f"the CA certificate of {self.name} is not self-signed by its key") from None
        if crl.issuer != certificate.subject or not crl.is_signature_valid(public):
            raise LedgerError(f"the revocation list of {self.name} is not signed by its CA")
        self._revoked = {r.serial_number: int(r.revocation_date_utc.timestamp()) for r in crl}

    @classmethod
    def from_pem(cls, certificate_pem: bytes, crl_pem: bytes) -> "CAVerifier":
        try:
            return cls(x509.load_pem_x509_certificate(certificate_pem), x509.load_pem_x509_crl(crl_pem))
        except ValueError as exc:
            raise LedgerError(f"unreadable CA certificate or revocation list: {exc}") from None

    def issue(self, *args, **kwargs) -> x509.Certificate:
        raise LedgerError(f"only the run operator's CA issues certificates of {self.name}")

    def is_revoked(self, certificate: x509.Certificate, at: int) -> bool:
        revoked_at = self._revoked.get(certificate.serial_number)
        return revoked_at is not None and revoked_at <= at

    def check(self, certificate: x509.Certificate, at: int) -> CertStatus:
        """Is `certificate` signed by this CA, in its validity window at `at`, and not revoked?"""
        return _check(self.certificate, self.is_revoked, certificate, at)


@functools.lru_cache(maxsize=4096)  # the gateway asks it of every transaction: a certificate's bytes never change
def issued_by(ca_certificate: x509.Certificate, certificate: x509.Certificate) -> bool:
    """Whether the CA of `ca_certificate` issued and signed `certificate` (whatever its validity window or
    revocation). Certificates compare and hash by their whole DER encoding, signature included."""
    if certificate.issuer != ca_certificate.subject:
        return False
    if certificate.signature_algorithm_oid != x509.SignatureAlgorithmOID.ED25519:  # outside what is signed
        return False
    try:
        ca_certificate.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes)
    except (InvalidSignature, TypeError):
        return False
    return True


def _check(ca_certificate: x509.Certificate, is_revoked, certificate: x509.Certificate, at: int) -> CertStatus:
    if not issued_by(ca_certificate, certificate):
        return CertStatus(False, "CERT_UNTRUSTED")
    moment = _utc(at)
    if moment < certificate.not_valid_before_utc:
        return CertStatus(False, "CERT_NOT_YET_VALID")
    if moment > certificate.not_valid_after_utc:
        return CertStatus(False, "CERT_EXPIRED")
    if is_revoked(certificate, at):
        return CertStatus(False, "CERT_REVOKED")
    return CertStatus(True)


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_binds(certificate: x509.Certificate, address: bytes) -> bool:
    """True when the certificate binds the key of the account at `address`."""
    try:
        return certificate_address(certificate) == address
    except LedgerError:
        return False
