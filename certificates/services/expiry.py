"""Watching certificates expire: each station's and the CSMS's own (docs/adr/0123-certificate-expiry-watch.md).

A station's certificate is the chain of its newest `installed` request. Within CSMS_CERT_RENEW_DAYS of
its end the station is asked to renew (A02: ExtendedTriggerMessage SignChargePointCertificate), once;
while that renewal is on its way nothing more is sent; when it fails (the station refuses or ignores
the trigger, its CSR is rejected, signing or delivery fails, it rejects the certificate, or no CSR comes
within a day) an alert is raised and the station is asked again a day later. A station that is offline
is asked when it is next online at the job's hour. The CSMS's own certificates (the CA that issues
stations' certificates, the terminator's server certificates) raise an alert before they expire: they
are renewed by whoever runs the PKI (`manage.py ensure_ca` for the embedded one, then reload nginx).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import Severity
from alerts.services import alert_raise, alert_resolve
from csms.errors import DomainError
from stations.models import ChargeStation

from .. import embedded, pki, signers
from ..models import CertificateRequest, RequestStatus
from .signing import signing_trigger_send

logger = logging.getLogger(__name__)

# Where a renewal stands after the installed certificate: on its way, or failed.
RENEWAL_UNDER_WAY = (RequestStatus.AWAITING_CSR, RequestStatus.PENDING, RequestStatus.SIGNED, RequestStatus.SENT)
RENEWAL_FAILED = (RequestStatus.TRIGGER_REJECTED, RequestStatus.TRIGGER_FAILED, RequestStatus.REJECTED,
                  RequestStatus.SIGNING_FAILED, RequestStatus.STATION_REJECTED, RequestStatus.UNDELIVERED)
# A renewal that failed is tried again after this; an accepted trigger whose CSR never came, too.
RETRY_AFTER = timedelta(days=1)


@dataclass
class ExpiryReport:
    renewals_asked: list[str] = field(default_factory=list)
    renewals_failed: list[str] = field(default_factory=list)
    csms_expiring: list[str] = field(default_factory=list)


def certificates_expiry_watch() -> ExpiryReport:
    report = ExpiryReport()
    now = timezone.now()
    horizon = now + timedelta(days=settings.CSMS_CERT_RENEW_DAYS)
    for current in _newest_installed():
        key = f"certificate_renewal:{current.station_id}"
        if current.certificate_not_after > horizon:
            alert_resolve(key=key)
            continue
        _station_renewal(current, now=now, key=key, report=report)
    _csms_certificates(now=now, horizon=horizon, report=report)
    return report


def _newest_installed() -> list[CertificateRequest]:
    """Each station's current certificate: its newest installed request (a few rows per station)."""
    seen, rows = set(), []
    for request in (CertificateRequest.objects.filter(status=RequestStatus.INSTALLED, certificate_not_after__isnull=False)
                    .order_by("station_id", "-answered_at", "-id")):
        if request.station_id not in seen:
            seen.add(request.station_id)
            rows.append(request)
    return rows


def _station_renewal(current: CertificateRequest, *, now, key: str, report: ExpiryReport) -> None:
    station_id = current.station_id
    latest = (CertificateRequest.objects.filter(station_id=station_id, created_at__gt=current.created_at)
              .exclude(status__in=[RequestStatus.SUPERSEDED, RequestStatus.CANCELLED])
              .order_by("-created_at", "-id").first())
    ends = f"{current.certificate_not_after:%Y-%m-%d %H:%M} UTC"
    expired = current.certificate_not_after <= now
    if latest is not None and latest.status in RENEWAL_UNDER_WAY:
        if not (latest.status == RequestStatus.AWAITING_CSR and latest.created_at < now - RETRY_AFTER):
            return  # on its way
        failure, failed_at = "the station accepted the renewal trigger but sent no CSR within a day", latest.created_at
    elif latest is not None and latest.status in RENEWAL_FAILED:
        failure = f"renewal request #{latest.pk} is {latest.get_status_display()}: {latest.detail}"
        failed_at = latest.updated_at
    else:
        failure, failed_at = "", None
    if failure:
        _renewal_alert(station_id, key, ends, expired, failure)
        report.renewals_failed.append(station_id)
        if failed_at > now - RETRY_AFTER:
            return  # asked again a day after it failed
    if not ChargeStation.objects.filter(pk=station_id, online=True).exists():
        return  # asked at the first run it is online
    try:
        with transaction.atomic():
            signing_trigger_send(station=station_id, source="system")
    except DomainError as exc:
        _renewal_alert(station_id, key, ends, expired, f"the renewal could not be asked for: {exc.message}")
        report.renewals_failed.append(station_id)
        return
    logger.info("asked %s to renew its certificate (ends %s)", station_id, ends)
    report.renewals_asked.append(station_id)


def _renewal_alert(station_id: str, key: str, ends: str, expired: bool, reason: str) -> None:
    state = "expired on" if expired else "expires on"
    alert_raise(kind="certificate_renewal", severity=Severity.CRITICAL if expired else Severity.WARNING,
                station_id=station_id, key=key,
                message=f"{station_id}'s certificate {state} {ends} and its renewal failed: {reason}")


def csms_certificate_files() -> list[Path]:
    """The CSMS's own certificates: the CA that issues stations' certificates and the terminator's."""
    files = [Path(name) for name in settings.CSMS_SERVER_CERT_FILES]
    if not files:
        embedded_ca = embedded.paths()
        files = [embedded_ca.server_cert(kind) for kind in embedded.SERVER_KINDS if embedded_ca.server_cert(kind).is_file()]
    ca_file = signers.trusted_ca_file()
    return [*([ca_file] if ca_file else []), *files]


def _csms_certificates(*, now, horizon, report: ExpiryReport) -> None:
    for path in csms_certificate_files():
        key = f"csms_certificate:{path}"
        try:
            certificate = pki.load_certificates(path.read_text())[0]
        except (OSError, pki.PKIError) as exc:
            alert_raise(kind="csms_certificate", severity=Severity.CRITICAL, key=key,
                        message=f"the CSMS certificate {path} cannot be read: {exc}")
            report.csms_expiring.append(str(path))
            continue
        ends = pki.not_after(certificate)
        if ends > horizon:
            alert_resolve(key=key)
            continue
        state = "expired on" if ends <= now else "expires on"
        alert_raise(kind="csms_certificate", severity=Severity.CRITICAL if ends <= now else Severity.WARNING, key=key,
                    message=f"the CSMS certificate {path} ({certificate.subject.rfc4514_string()}) {state} "
                            f"{ends:%Y-%m-%d %H:%M} UTC: renew it (the embedded one: manage.py ensure_ca, then reload "
                            "the TLS terminator)")
        report.csms_expiring.append(str(path))
