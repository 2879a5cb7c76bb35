"""Test PKI: CAs, CSRs and certificates made with `cryptography`, as a CPO's CA and a station would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

CPO = "Test CPO"


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(common_name: str, organization: str | None = CPO) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "Test Root CA", *, key=None, issuer: x509.Certificate | None = None, issuer_key=None,
            days: int = 3650, not_before: datetime | None = None, serial: int | None = None):
    """A CA certificate: self-signed, or issued by `issuer` with `issuer_key`. Returns (certificate, key)."""
    key = key or ec_key()
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    subject = name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(issuer_key or key, hashes.SHA256()), key


def make_leaf(subject: x509.Name, public_key, issuer: x509.Certificate, issuer_key, days: int = 30,
              ca: bool = False) -> x509.Certificate:
    start = datetime.now(UTC) - timedelta(minutes=1)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def make_csr(common_name: str, organization: str | None = CPO, *, key=None):
    """A station's CSR. Returns (PEM, private key)."""
    key = key or ec_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name(common_name, organization)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_ca_files(directory: Path, certificates: list[x509.Certificate], key) -> tuple[str, str]:
    cert_file, key_file = directory / "ca.pem", directory / "ca.key"
    cert_file.write_text(pem(*certificates))
    key_file.write_bytes(key_pem(key))
    key_file.chmod(0o600)
    return str(cert_file), str(key_file)


def public_der(key_or_certificate) -> bytes:
    public_key = key_or_certificate.public_key()
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
