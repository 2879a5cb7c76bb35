"""The CA certificates each station holds (M03-M05): installing and deleting them, and the mirror
kept by the station's answers (docs/adr/0064-installed-certificate-mirror.md)."""

from __future__ import annotations

from django.utils import timezone

from csms.errors import DomainError
from csms.ocpp.calls import call_enqueue
from csms.ocpp.models import Call
from stations.models import ChargeStation

from .. import pki, selectors
from ..models import CertificateInventory, InstalledCertificate
from .signing import CertificateRefused


def certificate_install(*, station: ChargeStation, certificate_type: str, certificate: str, requested_by=None,
                        source: str = "api") -> Call:
    reason = selectors.install_refusal(station_id=station.pk, certificate_type=certificate_type, certificate=certificate)
    if reason:
        raise CertificateRefused(reason)
    pem = pki.to_pem(pki.load_certificate(certificate))
    return call_enqueue(station=station, action="InstallCertificate",
                        payload={"certificateType": certificate_type, "certificate": pem},
                        requested_by=requested_by, source=source)


def certificate_delete(*, station: ChargeStation, hash_data: dict, force: bool = False, requested_by=None,
                       source: str = "api") -> Call:
    reason = selectors.delete_refusal(station_id=station.pk, target=pki.HashData.from_ocpp(hash_data), force=force)
    if reason:
        raise CertificateRefused(reason)
    return call_enqueue(station=station, action="DeleteCertificate", payload={"certificateHashData": hash_data},
                        requested_by=requested_by, source=source)


def installed_certificates_refresh(*, station: ChargeStation | str, certificate_type: str, requested_by=None,
                                   source: str = "api") -> Call:
    return call_enqueue(station=station, action="GetInstalledCertificateIds",
                        payload={"certificateType": certificate_type}, requested_by=requested_by, source=source)


def certificate_install_answered(*, call: Call, status: str) -> None:
    """InstallCertificate Accepted: the certificate joins the mirror (ADR 0064)."""
    if status != "Accepted":
        return
    certificate_type = call.payload["certificateType"]
    try:
        certificate = pki.load_certificate(call.payload["certificate"])
    except pki.PKIError:  # sent by hand through the calls API: only the station can say what it holds now
        _refresh_quietly(call.station_id, certificate_type)
        return
    issuer = pki.find_issuer(certificate, selectors.known_certificates(call.station_id))
    data = pki.hash_data(certificate, issuer)
    entry = next(iter(selectors.matching_entries(call.station_id, data, certificate_type)), None) or InstalledCertificate(
        station_id=call.station_id, certificate_type=certificate_type)
    if entry.pk is None:
        _take_reported(entry, data)  # an entry the station reported keeps the station's own hash data
    _fill_entry(entry, certificate, source="installed")
    entry.install_call = call
    entry.save()
    if issuer is None:
        # The issuer key hash needs the issuer: the station's own list completes the entry.
        _refresh_quietly(call.station_id, certificate_type)


def certificate_delete_answered(*, call: Call, status: str) -> None:
    """Accepted, and NotFound too: either way the station does not hold it, nor may the mirror."""
    if status not in ("Accepted", "NotFound"):
        return
    target = pki.HashData.from_ocpp(call.payload["certificateHashData"])
    for entry in selectors.matching_entries(call.station_id, target):
        entry.delete()


def installed_certificates_reported(*, call: Call, status: str, reported: list[pki.HashData]) -> None:
    """GetInstalledCertificateIds is the whole truth for its certificate type (ADR 0064)."""
    certificate_type = call.payload["certificateType"]
    # Entries whose PEM is known match first, so that the PEM survives a station's other hash algorithm.
    existing = sorted(selectors.installed_certificates(call.station_id, certificate_type), key=lambda e: not e.certificate)
    if status == "NotFound":
        InstalledCertificate.objects.filter(pk__in=[entry.pk for entry in existing]).delete()
    elif reported:
        issuers = selectors.known_certificates(call.station_id)
        kept = set()
        for target in reported:
            entry = next((e for e in existing if e.pk not in kept and _names(e, target, issuers)), None)
            entry = entry or InstalledCertificate(station_id=call.station_id, certificate_type=certificate_type,
                                                  source="reported")
            _take_reported(entry, target)
            entry.save()
            kept.add(entry.pk)
        InstalledCertificate.objects.filter(pk__in=[e.pk for e in existing if e.pk not in kept]).delete()
    _inventory(call.station_id, certificate_type, last_status=status, reported_at=timezone.now(),
               uncertain=False, note="")


def certificate_call_failed(*, call: Call) -> None:
    """An Install/Delete/GetInstalled call without an answer: the mirror may be wrong until re-read."""
    if call.action == "DeleteCertificate":
        target = pki.HashData.from_ocpp(call.payload["certificateHashData"])
        types = {entry.certificate_type for entry in selectors.matching_entries(call.station_id, target)}
    else:
        types = {call.payload["certificateType"]}
    note = f"{call.action} #{call.pk} ended {call.status} ({call.error_code}): refresh to be sure"
    for certificate_type in types:
        _inventory(call.station_id, certificate_type, uncertain=True, note=note[:300])


def _names(entry: InstalledCertificate, target: pki.HashData, issuers: list) -> bool:
    data = selectors.entry_hash_data(entry, target.hash_algorithm, issuers)
    return data is not None and data.same_certificate(target)


def _take_reported(entry: InstalledCertificate, target: pki.HashData) -> None:
    """The station's own hash data wins: it is what DeleteCertificate must send back (M04.FR.07)."""
    entry.hash_algorithm = target.hash_algorithm
    entry.issuer_name_hash = target.issuer_name_hash
    entry.issuer_key_hash = target.issuer_key_hash
    entry.serial_number = target.serial_number
    entry.updated_at = timezone.now()


def _fill_entry(entry: InstalledCertificate, certificate, *, source: str) -> None:
    entry.updated_at = timezone.now()
    entry.certificate = pki.to_pem(certificate)
    entry.subject = certificate.subject.rfc4514_string()[:500]
    entry.not_after = pki.not_after(certificate)
    entry.source = source


def _inventory(station_id: str, certificate_type: str, **fields) -> None:
    CertificateInventory.objects.update_or_create(station_id=station_id, certificate_type=certificate_type,
                                                  defaults={**fields, "updated_at": timezone.now()})


def _refresh_quietly(station_id: str, certificate_type: str) -> None:
    try:
        installed_certificates_refresh(station=station_id, certificate_type=certificate_type, source="system")
    except DomainError as exc:
        _inventory(station_id, certificate_type, uncertain=True, note=f"could not re-read the list: {exc.message}"[:300])
