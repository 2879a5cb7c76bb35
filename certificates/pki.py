"""X.509 plumbing on the `cryptography` package: reading CSRs and certificates, describing keys, and
the certificate hash data (RFC 6960 CertID) that OCPP uses to name an installed certificate.

Nothing here touches the database: services decide what the facts mean.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

CSR_PEM = re.compile(r"-----BEGIN (NEW )?CERTIFICATE REQUEST-----")
CERT_PEM = re.compile(r"-----BEGIN CERTIFICATE-----")

HASH_ALGORITHMS = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}

# Security Whitepaper A00.FR.501-503: at least 112-bit symmetric-equivalent strength.
MIN_RSA_DSA_BITS = 2048
MIN_EC_BITS = 224


class PKIError(ValueError):
    """Text that is not the certificate material it claims to be; the message says why."""


# --- Keys -------------------------------------------------------------------------------------------


def key_type(public_key) -> str:
    """A human description: "RSA 2048", "EC secp256r1", "Ed25519"."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"DSA {public_key.key_size}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(public_key).__name__


def key_weakness(public_key) -> str | None:
    """Why a key is too weak for OCPP (A00.FR.502/503), or None."""
    if isinstance(public_key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and public_key.key_size < MIN_RSA_DSA_BITS:
        return f"{key_type(public_key)} key is shorter than {MIN_RSA_DSA_BITS} bits"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.key_size < MIN_EC_BITS:
        return f"{key_type(public_key)} key is shorter than {MIN_EC_BITS} bits"
    return None


def public_key_fingerprint(public_key) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo: ties a certificate to the CSR it answers."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


# --- Names ------------------------------------------------------------------------------------------


def name_values(name: x509.Name, oid) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def first_value(name: x509.Name, oid) -> str:
    values = name_values(name, oid)
    return values[0] if values else ""


# --- Certificate signing requests --------------------------------------------------------------------


@dataclass(frozen=True)
class CsrInfo:
    csr: x509.CertificateSigningRequest
    subject: str
    common_names: list[str]
    organizations: list[str]
    key_type: str
    fingerprint: str
    signature_valid: bool
    key_weakness: str | None


def load_csr(pem: str) -> x509.CertificateSigningRequest:
    """Exactly one PEM "CERTIFICATE REQUEST" (RFC 2986), as the Security Whitepaper 5.17 asks."""
    blocks = len(CSR_PEM.findall(pem))
    if blocks != 1:
        raise PKIError("not a PEM certificate signing request" if blocks == 0 else "more than one CSR in the PEM text")
    try:
        return x509.load_pem_x509_csr(pem.strip().encode())
    except ValueError as exc:
        raise PKIError(f"the CSR cannot be parsed: {exc}") from None


def inspect_csr(pem: str) -> CsrInfo:
    csr = load_csr(pem)
    try:
        public_key = csr.public_key()
        signature_valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PKIError(f"the CSR's key or signature algorithm is not supported: {exc}") from None
    return CsrInfo(
        csr=csr,
        subject=csr.subject.rfc4514_string(),
        common_names=name_values(csr.subject, NameOID.COMMON_NAME),
        organizations=name_values(csr.subject, NameOID.ORGANIZATION_NAME),
        key_type=key_type(public_key),
        fingerprint=public_key_fingerprint(public_key),
        signature_valid=signature_valid,
        key_weakness=key_weakness(public_key),
    )


# --- Certificates ---------------------------------------------------------------------------------------


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every PEM certificate in the text, in order; at least one."""
    if not CERT_PEM.search(pem):
        raise PKIError("no PEM certificate found")
    try:
        return x509.load_pem_x509_certificates(pem.strip().encode())
    except ValueError as exc:
        raise PKIError(f"the certificate cannot be parsed: {exc}") from None


def load_certificate(pem: str) -> x509.Certificate:
    certificates = load_certificates(pem)
    if len(certificates) != 1:
        raise PKIError(f"expected one certificate, found {len(certificates)}")
    return certificates[0]


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject and issued_by(certificate, certificate)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The certificate's name and signature chain to `issuer`."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def is_ca(certificate: x509.Certificate) -> bool | None:
    """True/False from basicConstraints; None when the certificate has no such extension (X.509 v1)."""
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return None


def not_after(certificate: x509.Certificate) -> datetime:
    return certificate.not_valid_after_utc


def not_before(certificate: x509.Certificate) -> datetime:
    return certificate.not_valid_before_utc


def serial_hex(serial: int) -> str:
    """OCPP's serialNumber: upper-case hexadecimal without leading zeroes (Whitepaper 6.1)."""
    return format(serial, "X")


# --- Certificate hash data (OCPP CertificateHashDataType) -------------------------------------------------


@dataclass(frozen=True)
class HashData:
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def as_ocpp(self) -> dict:
        return {"hashAlgorithm": self.hash_algorithm, "issuerNameHash": self.issuer_name_hash,
                "issuerKeyHash": self.issuer_key_hash, "serialNumber": self.serial_number}

    @classmethod
    def from_ocpp(cls, data: dict) -> HashData:
        return cls(data["hashAlgorithm"], data["issuerNameHash"], data["issuerKeyHash"], data["serialNumber"])

    def key(self) -> tuple[str, str, str, str]:
        """What identifies a certificate: the fields are case-insensitive hex (CiString), the serial
        number without leading zeroes; an unknown (empty) issuer key hash matches any."""
        serial = self.serial_number.strip().upper().lstrip("0") or "0"
        return (self.hash_algorithm.upper(), self.issuer_name_hash.strip().lower(),
                self.issuer_key_hash.strip().lower(), serial)

    def same_certificate(self, other: HashData) -> bool:
        mine, theirs = self.key(), other.key()
        if mine[0] != theirs[0] or mine[1] != theirs[1] or mine[3] != theirs[3]:
            return False
        return not mine[2] or not theirs[2] or mine[2] == theirs[2]


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None, algorithm: str = "SHA256") -> HashData:
    """RFC 6960 CertID of `certificate`, computed by cryptography's OCSP builder (issuer name hash
    over the DER issuer name, issuer key hash over the issuer's public key bits). Without the issuer
    certificate the key hash cannot be known and is left empty."""
    if issuer is None:
        name_hash = hashlib.new(algorithm.lower(), certificate.issuer.public_bytes()).hexdigest()
        return HashData(algorithm, name_hash, "", serial_hex(certificate.serial_number))
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, HASH_ALGORITHMS[algorithm]()).build()
    return HashData(algorithm, request.issuer_name_hash.hex(), request.issuer_key_hash.hex(),
                    serial_hex(request.serial_number))


def find_issuer(certificate: x509.Certificate, candidates: list[x509.Certificate]) -> x509.Certificate | None:
    if is_self_signed(certificate):
        return certificate
    return next((candidate for candidate in candidates if issued_by(certificate, candidate)), None)
