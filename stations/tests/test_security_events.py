"""SecurityEventNotification: stored with `critical` from the Security Whitepaper's table (section 8),
critical ones raise an alert, the API and admin filter by it."""

from __future__ import annotations

import pytest

from csms.testing import connect_station, db

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = [
    ("StartupOfTheDevice", True),
    ("TamperDetectionActivated", True),
    ("InvalidMessages", False),
    ("FailedToAuthenticationAtCentralSystem", False),
    ("AcmeDoorOpened", False),  # a vendor's own: not critical
]


async def test_events_are_stored_with_their_criticality_and_critical_ones_raise_alerts(node, api, make_station):
    from alerts.models import Alert
    from stations.models import SecurityEvent

    station = await db(make_station)()
    async with connect_station(node, station.pk, boot=True) as cp:
        for event_type, _ in EVENTS:
            assert await cp.send("SecurityEventNotification", {
                "type": event_type, "timestamp": "2026-01-02T03:04:05Z", "techInfo": f"about {event_type}"}) == {}
        # The same critical type again counts on the open alert.
        await cp.send("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "2026-01-02T04:00:00Z"})

    stored = await db(lambda: dict(SecurityEvent.objects.filter(station=station).values_list("type", "critical")))()
    assert stored == dict(EVENTS)

    body = api.get(f"/api/v1/stations/{station.pk}/security-events/").json()
    assert len(body) == 6 and {"type", "timestamp", "tech_info", "critical"} <= set(body[0])
    critical = api.get(f"/api/v1/stations/{station.pk}/security-events/?critical=true").json()
    assert sorted({e["type"] for e in critical}) == ["StartupOfTheDevice", "TamperDetectionActivated"]
    assert all(e["critical"] for e in critical) and len(critical) == 3
    others = api.get(f"/api/v1/stations/{station.pk}/security-events/?critical=false").json()
    assert {e["type"] for e in others} == {"InvalidMessages", "FailedToAuthenticationAtCentralSystem", "AcmeDoorOpened"}
    assert api.get(f"/api/v1/stations/{station.pk}/security-events/?critical=maybe").status_code == 400

    alerts = await db(lambda: list(Alert.objects.filter(station=station).values_list("kind", "severity", "occurrences", "message")))()
    assert sorted((kind, severity, count) for kind, severity, count, _ in alerts) == [
        ("security_event", "critical", 1), ("security_event", "critical", 2)]
    assert any("TamperDetectionActivated" in message and "about TamperDetectionActivated" in message
               for *_, message in alerts)


def test_the_hook_carries_the_stored_flag(make_station):
    from django.utils import timezone

    from stations.hooks import security_event_recorded
    from stations.services import security_event_record

    station = make_station()
    heard = []
    security_event_recorded.connect(heard.append, database=False)
    try:
        security_event_record(station_id=station.pk, event_type="MemoryExhaustion", timestamp=timezone.now())
        security_event_record(station_id=station.pk, event_type="InvalidTLSVersion", timestamp=timezone.now())
    finally:
        security_event_recorded.disconnect(heard.append)
    assert [(e.type, e.critical) for e in heard] == [("MemoryExhaustion", True), ("InvalidTLSVersion", False)]


def test_admin_filters_by_criticality(client, django_user_model, make_station):
    from django.utils import timezone

    from stations.services import security_event_record

    station = make_station()
    security_event_record(station_id=station.pk, event_type="ResetOrReboot", timestamp=timezone.now())
    security_event_record(station_id=station.pk, event_type="InvalidMessages", timestamp=timezone.now())
    client.force_login(django_user_model.objects.create_superuser(username="sec-admin", password="x" * 20))
    for value, expected in (("1", ["ResetOrReboot"]), ("0", ["InvalidMessages"])):
        response = client.get(f"/admin/stations/securityevent/?critical__exact={value}")
        assert response.status_code == 200
        assert [event.type for event in response.context["cl"].result_list] == expected
