"""Who turns a station's CSR into a certificate (docs/adr/0061-pluggable-signer.md).

A signer is any object with a `name` and `sign(*, csr, station_id) -> str | None`: the PEM chain
(the station's certificate first, then the sub-CA certificates it needs), or None when the request
was handed to a CA that answers later (the chain then arrives through
`services.certificate_request_upload`). It raises SigningError when the CA refuses or cannot be
reached.

Which signer, and the file CA's files and options, are settings (csms/settings.py: CSMS_CERT_SIGNER,
CSMS_CA_CERT_FILE, CSMS_CA_KEY_FILE, CSMS_CA_KEY_PASSWORD, CSMS_CERT_VALIDITY_DAYS,
CSMS_CA_RSA_PADDING). The CA files are read when a request is signed, so that a rotated CA file is
picked up without a restart.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from . import embedded, pki

DEFAULT_VALIDITY_DAYS = 365
# Tolerates a station clock slightly behind ours: it switches to the certificate once valid (A02.FR.08).
BACKDATE = timedelta(minutes=5)


class SigningError(Exception):
    """The CA did not issue a certificate; the message is shown to the operator."""


class Signer(Protocol):
    name: str

    def sign(self, *, csr: x509.CertificateSigningRequest, station_id: str) -> str | None: ...


def configured_signer() -> Signer | None:
    """The signer in force: CSMS_CERT_SIGNER, else the CA files CSMS_CA_CERT_FILE/CSMS_CA_KEY_FILE,
    else the embedded CA when `manage.py ensure_ca` made one (docs/adr/0120-embedded-ca.md), else
    None (an operator uploads signed chains)."""
    if settings.CSMS_CERT_SIGNER:
        return import_string(settings.CSMS_CERT_SIGNER)()
    if settings.CSMS_CA_CERT_FILE and settings.CSMS_CA_KEY_FILE:
        return FileCASigner.from_settings()
    embedded_ca = embedded.paths()
    if embedded_ca.exists():
        return FileCASigner(cert_file=str(embedded_ca.ca_cert), key_file=str(embedded_ca.ca_key),
                            validity_days=settings.CSMS_CERT_VALIDITY_DAYS, rsa_padding=settings.CSMS_CA_RSA_PADDING)
    return None


def trusted_ca_file() -> Path | None:
    """The CA certificate file whose CA issues stations' certificates (what profile 3 trusts): the
    configured CA's, else the embedded CA's; None when there is neither (a custom signer's CA is
    named by CSMS_CA_CERT_FILE alone)."""
    if settings.CSMS_CA_CERT_FILE:
        return Path(settings.CSMS_CA_CERT_FILE)
    embedded_ca = embedded.paths()
    return embedded_ca.ca_cert if embedded_ca.exists() else None


class FileCASigner:
    """A CA whose certificate (optionally followed by its own issuers) and private key are PEM files.

    The Whitepaper (A02.FR.04) wants a dedicated CA, which the CPO may run: these files are that
    CA's issuing certificate and key, mounted read-only into the nodes and workers that sign.
    """

    def __init__(self, *, cert_file: str, key_file: str, key_password: str | None = None,
                 validity_days: int = DEFAULT_VALIDITY_DAYS, rsa_padding: str = "pss"):
        self.cert_file = cert_file
        self.key_file = key_file
        self.key_password = key_password
        self.validity = timedelta(days=validity_days)
        self.rsa_padding = rsa_padding

    @classmethod
    def from_settings(cls) -> FileCASigner:
        return cls(
            cert_file=settings.CSMS_CA_CERT_FILE,
            key_file=settings.CSMS_CA_KEY_FILE,
            key_password=settings.CSMS_CA_KEY_PASSWORD or None,
            validity_days=settings.CSMS_CERT_VALIDITY_DAYS,
            rsa_padding=settings.CSMS_CA_RSA_PADDING,
        )

    @property
    def name(self) -> str:
        try:
            return f"file CA {self._load()[0][0].subject.rfc4514_string()}"
        except SigningError:
            return f"file CA {self.cert_file}"

    def _load(self):
        try:
            certificates = pki.load_certificates(Path(self.cert_file).read_text())
            key_bytes = Path(self.key_file).read_bytes()
            password = self.key_password.encode() if self.key_password else None
            key = serialization.load_pem_private_key(key_bytes, password=password)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningError(f"the CA files cannot be read: {exc}") from None
        issuer = certificates[0]
        if pki.public_key_fingerprint(key.public_key()) != pki.public_key_fingerprint(issuer.public_key()):
            raise SigningError("the CA key does not belong to the first certificate of the CA certificate file")
        if pki.is_ca(issuer) is False:
            raise SigningError("the CA certificate is not a CA (basicConstraints CA:FALSE)")
        return certificates, key

    def sign(self, *, csr: x509.CertificateSigningRequest, station_id: str) -> str:
        certificates, key = self._load()
        issuer = certificates[0]
        now = timezone.now()
        if pki.not_after(issuer) <= now:
            raise SigningError(f"the CA certificate expired on {pki.not_after(issuer):%Y-%m-%d}")
        leaf = self._build(csr, issuer, now).sign(key, _digest(key), **_padding(key, self.rsa_padding))
        # The station holds the root (CentralSystemRootCertificate); it needs the sub-CAs between.
        sub_cas = [cert for cert in certificates if not pki.is_self_signed(cert)]
        return "".join(pki.to_pem(cert) for cert in [leaf, *sub_cas])

    def _build(self, csr, issuer: x509.Certificate, now) -> x509.CertificateBuilder:
        public_key = csr.public_key()
        # Only the attributes the CSMS verified are certified: O (the CPO) and CN (the station).
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, pki.first_value(csr.subject, NameOID.ORGANIZATION_NAME)),
            x509.NameAttribute(NameOID.COMMON_NAME, pki.first_value(csr.subject, NameOID.COMMON_NAME)),
        ])
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(min(now + self.validity, pki.not_after(issuer)))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(public_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)
        )


def _key_usage(public_key) -> x509.KeyUsage:
    """A TLS client key signs handshakes; an RSA key may also carry a key exchange (TLS_RSA suites,
    A00.FR.421/422), an EC key a static ECDH agreement."""
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    is_ec = isinstance(public_key, ec.EllipticCurvePublicKey)
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=is_rsa, data_encipherment=False,
        key_agreement=is_ec, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
    )


def _digest(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384() if key.curve.key_size <= 384 else hashes.SHA512()
    return hashes.SHA256()


def _padding(key, choice: str) -> dict:
    # A00.FR.505: a CA SHOULD sign with RSA-PSS (or ECDSA); PKCS#1 v1.5 stays available for stations
    # whose TLS stacks cannot verify PSS.
    if isinstance(key, rsa.RSAPrivateKey) and choice != "pkcs1v15":
        return {"rsa_padding": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)}
    return {}
