"""The embedded CA: what `make run` (and docker-compose's first start) makes when no CA is configured,
so that station certificates (SignCertificate) and TLS (`make tls`) work out of the box
(docs/adr/0120-embedded-ca.md).

One directory, `CSMS_EMBEDDED_CA_DIR` (default `.csms-ca/` beside manage.py, ignored by git), holds:
- `ca.pem`, `ca-key.pem`: a self-signed EC P-256 CA (the key 0600), which signs stations' CSRs and
  the CSMS's own server certificates, and which the TLS terminator trusts for client certificates;
- `server-ecdsa.pem`/`-key.pem` and `server-rsa.pem`/`-key.pem`: the CSMS's server certificates for
  the terminator, one per key type so that every cipher suite of A00.FR.317/421 can be offered.
Nothing here is in the database: a database dump never carries the CA key.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from . import pki

CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=397)  # what browsers and TLS libraries accept for a server certificate
BACKDATE = timedelta(minutes=5)
SERVER_KINDS = ("ecdsa", "rsa")


@dataclass(frozen=True)
class Paths:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    def server_cert(self, kind: str) -> Path:
        return self.directory / f"server-{kind}.pem"

    def server_key(self, kind: str) -> Path:
        return self.directory / f"server-{kind}-key.pem"

    def exists(self) -> bool:
        return self.ca_cert.is_file() and self.ca_key.is_file()


def paths() -> Paths:
    return Paths(Path(settings.CSMS_EMBEDDED_CA_DIR))


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # O_CREAT's mode does not apply to a file that already existed


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings.CSMS_CPO_NAME)] if settings.CSMS_CPO_NAME else []
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ca_create(target: Paths) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = _name("CSMS embedded CA")
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(target.ca_key, _key_pem(key), 0o600)
    _write(target.ca_cert, pki.to_pem(certificate).encode(), 0o644)
    return certificate


def server_certificate_issue(target: Paths, *, kind: str, hostnames: list[str]) -> x509.Certificate:
    """A server certificate for the terminator, CN = the first host name (A00.FR.412: the FQDN)."""
    ca = pki.load_certificates(target.ca_cert.read_text())[0]
    ca_key = serialization.load_pem_private_key(target.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ecdsa" else rsa.generate_private_key(65537, 2048)
    names = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(_name(hostnames[0])).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(min(now + SERVER_VALIDITY, pki.not_after(ca)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=kind == "rsa",
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(target.server_key(kind), _key_pem(key), 0o600)
    _write(target.server_cert(kind), pki.to_pem(certificate).encode(), 0o644)
    return certificate


def ca_ensure(*, hostnames: list[str], renew_within: timedelta = timedelta(days=30)) -> list[str]:
    """Create the embedded CA when missing, and server certificates for `hostnames` when missing,
    for other names, or expiring within `renew_within`. Returns what was made, for the operator."""
    target = paths()
    made = []
    if not target.exists():
        ca_create(target)
        made.append(f"CA {target.ca_cert}")
    for kind in SERVER_KINDS:
        if _server_certificate_current(target, kind, hostnames, renew_within):
            continue
        server_certificate_issue(target, kind=kind, hostnames=hostnames)
        made.append(f"server certificate ({kind}) {target.server_cert(kind)} for {', '.join(hostnames)}")
    return made


def _server_certificate_current(target: Paths, kind: str, hostnames: list[str], renew_within: timedelta) -> bool:
    try:
        certificate = pki.load_certificate(target.server_cert(kind).read_text())
        ca = pki.load_certificates(target.ca_cert.read_text())[0]
    except (OSError, pki.PKIError):
        return False
    if not target.server_key(kind).is_file() or not pki.issued_by(certificate, ca):
        return False
    if pki.not_after(certificate) - datetime.now(UTC) < renew_within:
        return False
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(value) for value in names.get_values_for_type(x509.DNSName)}
    present |= {str(value) for value in names.get_values_for_type(x509.IPAddress)}
    return set(hostnames) <= present
