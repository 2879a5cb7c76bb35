"""Reads of the certificates app."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from stations.models import SecurityEvent
from stations.selectors import station_config_bool, station_config_int, station_config_value

from . import pki
from .models import (
    CertificateInventory,
    CertificateRequest,
    CertificateUse,
    InstalledCertificate,
)

logger = logging.getLogger(__name__)

# Security events (Whitepaper section 8) about certificates, shown beside them to operators.
CERTIFICATE_EVENTS = ("InvalidChargePointCertificate", "InvalidCentralSystemCertificate",
                      "InvalidFirmwareSigningCertificate", "ReconfigurationOfSecurityParameters")


def installed_certificates(station_id: str, certificate_type: str | None = None) -> QuerySet[InstalledCertificate]:
    rows = InstalledCertificate.objects.filter(station_id=station_id)
    return rows.filter(certificate_type=certificate_type) if certificate_type else rows


def certificate_requests(station_id: str, status: str | None = None) -> QuerySet[CertificateRequest]:
    rows = CertificateRequest.objects.filter(station_id=station_id)
    return rows.filter(status=status) if status else rows


def inventories(station_id: str) -> dict[str, CertificateInventory | None]:
    found = {row.certificate_type: row for row in CertificateInventory.objects.filter(station_id=station_id)}
    return {use: found.get(use) for use in CertificateUse.values}


def certificate_events(station_id: str, limit: int = 20) -> QuerySet[SecurityEvent]:
    return SecurityEvent.objects.filter(station_id=station_id, type__in=CERTIFICATE_EVENTS).order_by("-timestamp")[:limit]


def expected_organizations(station_id: str) -> list[tuple[str, str]]:
    """The CPO names a CSR's O must equal, with where each comes from (ADR 0060): the station's
    CpoName as last read, and the CSMS-wide CSMS_CPO_NAME."""
    expected = []
    station_name = station_config_value(station_id, "CpoName")
    if station_name:
        expected.append(("the station's CpoName", station_name))
    if settings.CSMS_CPO_NAME:
        expected.append(("CSMS_CPO_NAME", settings.CSMS_CPO_NAME))
    return expected


def certificate_signed_max_chain_size(station_id: str) -> int | None:
    return station_config_int(station_id, "CertificateSignedMaxChainSize")


def certificate_store_max_length(station_id: str) -> int | None:
    return station_config_int(station_id, "CertificateStoreMaxLength")


def additional_root_certificate_check(station_id: str) -> bool:
    return bool(station_config_bool(station_id, "AdditionalRootCertificateCheck"))


def known_certificates(station_id: str) -> list:
    """The parsed PEMs the mirror holds for a station (to compute hash data and find issuers)."""
    parsed = []
    for pem in installed_certificates(station_id).exclude(certificate="").values_list("certificate", flat=True):
        try:
            parsed.append(pki.load_certificate(pem))
        except pki.PKIError:
            logger.warning("unreadable certificate in the mirror of %s", station_id)
    return parsed


def entry_hash_data(entry: InstalledCertificate, algorithm: str, issuers: list) -> pki.HashData | None:
    """The entry's hash data under `algorithm`: as stored, or computed from its PEM."""
    if entry.hash_algorithm == algorithm:
        return pki.HashData.from_ocpp(entry.hash_data())
    if not entry.certificate:
        return None
    try:
        certificate = pki.load_certificate(entry.certificate)
    except pki.PKIError:
        return None
    issuer = pki.find_issuer(certificate, issuers)
    if issuer is None:
        return None
    return pki.hash_data(certificate, issuer, algorithm)


def matching_entries(station_id: str, target: pki.HashData, certificate_type: str | None = None) -> list[InstalledCertificate]:
    """Mirror entries naming the same certificate as `target`, whatever hash algorithm they were
    recorded with (the PEM, when known, is hashed again with the target's algorithm)."""
    issuers = known_certificates(station_id)
    matches = []
    for entry in installed_certificates(station_id, certificate_type):
        data = entry_hash_data(entry, target.hash_algorithm, issuers)
        if data is not None and data.same_certificate(target):
            matches.append(entry)
    return matches


def install_refusal(*, station_id: str, certificate_type: str, certificate: str) -> str | None:
    """Why an InstallCertificate would be pointless or harmful, or None (ADR 0065)."""
    try:
        new = pki.load_certificate(certificate)
    except pki.PKIError as exc:
        return str(exc)
    if pki.not_after(new) <= timezone.now():
        return f"the certificate expired on {pki.not_after(new):%Y-%m-%d %H:%M} UTC"
    if pki.is_ca(new) is False:
        return ("not a CA certificate (basicConstraints CA:FALSE): InstallCertificate installs root "
                "certificates; a station's own certificate comes through SignCertificate/CertificateSigned")
    held = installed_certificates(station_id)
    already = any(data == pki.to_pem(new) for data in held.values_list("certificate", flat=True))
    store_max = certificate_store_max_length(station_id)
    if store_max is not None and not already and held.count() >= store_max:
        return (f"the station holds {held.count()} certificates as last read, its CertificateStoreMaxLength is "
                f"{store_max}: delete one first (or refresh the list if it is out of date)")
    if certificate_type == CertificateUse.CENTRAL_SYSTEM_ROOT and additional_root_certificate_check(station_id):
        current = [pki.load_certificate(pem) for pem in held.filter(certificate_type=certificate_type)
                   .exclude(certificate="").values_list("certificate", flat=True)]
        if current and not any(pki.issued_by(new, old) for old in current):
            return ("the station has AdditionalRootCertificateCheck true: a new CentralSystemRootCertificate must "
                    "be signed by the one it replaces (M05.FR.09), and this one is not")
    return None


def delete_refusal(*, station_id: str, target: pki.HashData, force: bool) -> str | None:
    """Deleting every CentralSystemRootCertificate cuts a TLS station off for good (M04 remarks)."""
    if force:
        return None
    roots = list(installed_certificates(station_id, CertificateUse.CENTRAL_SYSTEM_ROOT))
    doomed = matching_entries(station_id, target, CertificateUse.CENTRAL_SYSTEM_ROOT)
    if roots and len(doomed) == len(roots):
        return ("this is the station's last CentralSystemRootCertificate as last read: without it the station "
                "cannot verify the CSMS and will not reconnect over TLS; send with force to delete it anyway")
    return None
