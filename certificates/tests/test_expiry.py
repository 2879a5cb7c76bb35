"""The beat job watching certificates expire (docs/adr/0123-certificate-expiry-watch.md): stations are
asked to renew in time (ExtendedTriggerMessage SignChargePointCertificate), a failed renewal and the
CSMS's own certificates expiring raise alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from certificates import embedded
from certificates.models import CertificateRequest
from certificates.services.expiry import certificates_expiry_watch
from certificates.services.signing import signing_trigger_answered
from certificates.tasks import watch_certificate_expiry
from csms.ocpp.models import Call, CallStatus

pytestmark = pytest.mark.django_db


def installed(station, *, ends_in: timedelta) -> CertificateRequest:
    now = timezone.now()
    return CertificateRequest.objects.create(station=station, status="installed", answered_at=now - timedelta(days=300),
                                             certificate_not_before=now - timedelta(days=300),
                                             certificate_not_after=now + ends_in, created_at=now - timedelta(days=300))


def triggers(station) -> list[Call]:
    return list(Call.objects.filter(station=station, action="ExtendedTriggerMessage").order_by("id"))


def test_a_station_is_asked_to_renew_once_and_a_failed_renewal_raises_an_alert(make_station):
    online = make_station(online=True, channel_name="test.nobody-listens")
    fresh = make_station(online=True, channel_name="test.nobody-listens")
    installed(online, ends_in=timedelta(days=10))
    installed(fresh, ends_in=timedelta(days=200))

    assert watch_certificate_expiry() == {"asked": 1, "failed": 0, "csms_expiring": 0}
    [trigger] = triggers(online)
    assert trigger.payload == {"requestedMessage": "SignChargePointCertificate"} and trigger.source == "system"
    assert not triggers(fresh)

    # The station accepts: the renewal is under way, nothing more is sent.
    trigger.status, trigger.response = CallStatus.COMPLETED, {"status": "Accepted"}
    trigger.save()
    signing_trigger_answered(call=trigger, status="Accepted")
    assert certificates_expiry_watch().renewals_asked == [] and len(triggers(online)) == 1

    # It never sends its CSR: after a day that is a failed renewal, and it is asked again.
    CertificateRequest.objects.filter(trigger_call=trigger).update(created_at=timezone.now() - timedelta(days=2))
    report = certificates_expiry_watch()
    assert report.renewals_failed == [online.pk] and report.renewals_asked == [online.pk]
    alert = Alert.objects.get(kind="certificate_renewal", station=online)
    assert alert.severity == "warning" and "sent no CSR" in alert.message

    # The station refuses the next trigger: alerted again (counted), not asked again the same day.
    second = triggers(online)[-1]
    signing_trigger_answered(call=second, status="Rejected")
    report = certificates_expiry_watch()
    assert report.renewals_failed == [online.pk] and report.renewals_asked == []
    alert.refresh_from_db()
    assert alert.occurrences == 2 and "trigger refused by the station" in alert.message


def test_a_renewed_certificate_resolves_the_alert_and_an_offline_station_waits(make_station):
    station = make_station(online=False)
    installed(station, ends_in=timedelta(days=-1))
    assert certificates_expiry_watch().renewals_asked == [] and not triggers(station)
    CertificateRequest.objects.create(station=station, status="trigger_rejected", detail="the station answered Rejected")
    certificates_expiry_watch()
    assert Alert.objects.get(kind="certificate_renewal", station=station).severity == "critical"
    installed(station, ends_in=timedelta(days=365))
    certificates_expiry_watch()
    assert Alert.objects.get(kind="certificate_renewal", station=station).resolved_at is not None


def test_the_csms_own_certificates_expiring_raise_an_alert(settings, tmp_path):
    target = embedded.Paths(tmp_path)
    embedded.ca_create(target)
    embedded.server_certificate_issue(target, kind="ecdsa", hostnames=["csms.example.com"])
    settings.CSMS_EMBEDDED_CA_DIR = str(tmp_path)
    assert certificates_expiry_watch().csms_expiring == []
    settings.CSMS_CERT_RENEW_DAYS = 400  # the server certificate (397 days) is now within the window
    report = certificates_expiry_watch()
    assert report.csms_expiring == [str(target.server_cert("ecdsa"))]
    alert = Alert.objects.get(kind="csms_certificate")
    assert "csms.example.com" in alert.message and "ensure_ca" in alert.message and alert.severity == "warning"
    settings.CSMS_CERT_RENEW_DAYS = 30
    certificates_expiry_watch()
    assert Alert.objects.get(kind="csms_certificate").resolved_at is not None
