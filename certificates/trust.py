"""What security profile 3 trusts: the Security Whitepaper's checks of a station's TLS client
certificate, completed by the node after the TLS terminator verified the handshake
(docs/adr/0121-tls-terminator.md).

The terminator proved the station holds the key and that the chain reaches the CA it was given; the
node checks again, against the CSMS's own CA (the configured one, else the embedded one), that the
certificate was issued by it, is valid now, and names this station (CN = chargeBoxId, A00.FR.405)
and the CPO (O = CpoName, A00.FR.404), so that a terminator configured with a broader trust store
cannot admit a certificate made for another purpose.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.utils import timezone

from . import pki, selectors, signers

_cache: dict[Path, tuple[float, list[x509.Certificate]]] = {}


def trusted_cas() -> list[x509.Certificate]:
    """The CA certificates stations' certificates must be issued by; re-read when the file changes."""
    path = signers.trusted_ca_file()
    if path is None:
        return []
    try:
        stamp = path.stat().st_mtime
        cached = _cache.get(path)
        if cached is None or cached[0] != stamp:
            _cache[path] = (stamp, pki.load_certificates(path.read_text()))
        return _cache[path][1]
    except (OSError, pki.PKIError):
        return []


def client_certificate_from_header(value: str) -> str:
    """The PEM the terminator passed (nginx's $ssl_client_escaped_cert is URL-encoded)."""
    return unquote(value) if "%" in value else value


def client_certificate_problems(*, certificate_pem: str, station_id: str) -> list[str]:
    """Why this client certificate does not admit `station_id` (empty: it does)."""
    try:
        certificate = pki.load_certificate(client_certificate_from_header(certificate_pem))
    except pki.PKIError as exc:
        return [f"the client certificate cannot be read: {exc}"]
    problems = []
    now = timezone.now()
    if pki.not_after(certificate) <= now:
        problems.append(f"the client certificate expired on {pki.not_after(certificate):%Y-%m-%d %H:%M} UTC")
    elif pki.not_before(certificate) > now:
        problems.append(f"the client certificate is valid only from {pki.not_before(certificate):%Y-%m-%d %H:%M} UTC")
    common_names = pki.name_values(certificate.subject, NameOID.COMMON_NAME)
    if common_names != [station_id]:
        problems.append(f"the client certificate's CN is {', '.join(common_names) or 'missing'}, not {station_id!r}")
    organizations = pki.name_values(certificate.subject, NameOID.ORGANIZATION_NAME)
    if len(organizations) != 1:
        problems.append(f"the client certificate must have exactly one O (the CPO name), it has {len(organizations)}")
    else:
        for source, expected in selectors.expected_organizations(station_id):
            if organizations[0] != expected:
                problems.append(f"the client certificate's O is {organizations[0]!r}, {source} is {expected!r}")
    cas = trusted_cas()
    if not cas:
        problems.append("no CA is configured to trust client certificates (CSMS_CA_CERT_FILE or the embedded CA)")
    elif not any(pki.issued_by(certificate, ca) for ca in cas):
        problems.append(f"the client certificate is not issued by the CSMS's CA (issuer {certificate.issuer.rfc4514_string()})")
    return problems
