from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.hooks import alert_raised
from alerts.models import Alert
from alerts.selectors import alerts_open
from alerts.watch import stations_watch
from stations.models import ChargeStation, Connector

pytestmark = pytest.mark.django_db


def test_an_open_alert_is_counted_not_repeated_and_a_resolved_one_can_come_back():
    seen = []
    alert_raised.connect(seen.append)
    try:
        first = services.alert_raise(kind="firmware_failed", message="update #1 failed", key="fw:1")
        again = services.alert_raise(kind="firmware_failed", message="update #1 failed again", key="fw:1")
        assert again.pk == first.pk and again.occurrences == 2 and again.message == "update #1 failed again"
        assert len(seen) == 1 and seen[0].alert_id == first.pk
        assert services.alert_resolve(key="fw:1") == 1
        third = services.alert_raise(kind="firmware_failed", message="failed once more", key="fw:1")
        assert third.pk != first.pk and len(seen) == 2
    finally:
        alert_raised.disconnect(seen.append)


def test_stations_offline_or_faulted_too_long_raise_alerts_that_resolve_when_they_recover(settings):
    settings.CSMS_ALERT_OFFLINE_MINUTES = 15
    settings.CSMS_ALERT_FAULTED_MINUTES = 5
    long_ago = timezone.now() - timedelta(minutes=20)
    gone = ChargeStation.objects.create(id="CP-GONE", online=False, disconnected_at=long_ago)
    ChargeStation.objects.create(id="CP-BRIEF", online=False, disconnected_at=timezone.now())
    ChargeStation.objects.create(id="CP-NEW")  # never connected: nothing to alert about
    faulty = ChargeStation.objects.create(id="CP-FAULT", online=True)
    Connector.objects.create(station=faulty, connector_id=2, status="Faulted", error_code="GroundFailure",
                             updated_at=long_ago)
    stations_watch()
    assert sorted(alerts_open().values_list("kind", "station_id")) == [
        ("connector_faulted", "CP-FAULT"), ("station_offline", "CP-GONE")]
    stations_watch()  # still the same two conditions: counted, not repeated
    assert Alert.objects.count() == 2

    ChargeStation.objects.filter(pk=gone.pk).update(online=True)
    Connector.objects.filter(station=faulty).update(status="Available")
    stations_watch()
    assert not alerts_open().exists()
    assert Alert.objects.filter(resolved_at__isnull=False).count() == 2


def test_an_operator_acknowledges_alerts_in_admin(admin_client):
    alert = services.alert_raise(kind="security_event", severity="critical", message="InvalidFirmwareSignature")
    changelist = reverse("admin:alerts_alert_changelist")
    page = admin_client.get(changelist + "?state=open").content.decode()
    assert "InvalidFirmwareSignature" in page and "critical" in page
    admin_client.post(changelist, {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and alert.acknowledged_by.username == "admin"
    assert not alerts_open().exists()
