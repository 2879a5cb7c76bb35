"""Sending, retrying and giving up, against a real HTTP server; transaction.updated; and what a hook
costs when nobody subscribes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert
from alerts.services import alert_raise
from stations.hooks import ConnectorStatusChanged
from stations.models import ChargeStation, Connector
from webhooks import receivers, services
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.subscriptions import subscriptions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_subscriptions():
    subscriptions.invalidate()
    yield
    subscriptions.invalidate()


def endpoint_for(receiver, events, **fields):
    endpoint, _ = services.endpoint_create(url=receiver.url, events=events, partner=None, **fields)
    subscriptions.invalidate()
    return endpoint


def queue_alert(station_id=None):
    with transaction.atomic():
        return alert_raise(kind="test", message="something to see", station_id=station_id)


def make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_failing_endpoint_is_retried_with_growing_delays_then_delivered(receiver, settings):
    settings.CSMS_WEBHOOK_RETRY_SECONDS = 15
    endpoint = endpoint_for(receiver, ["alert.raised"])
    receiver.answers = [500, 503]
    queue_alert()
    delivery = WebhookDelivery.objects.get()

    before = timezone.now()
    assert services.deliveries_send_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    first_delay = delivery.next_attempt_at - before
    assert timedelta(seconds=14) <= first_delay <= timedelta(seconds=30)  # the first retry within 30 s
    assert services.deliveries_send_due() == 0  # not due yet

    make_due(delivery)
    before = timezone.now()
    assert services.deliveries_send_due() == 1
    delivery.refresh_from_db()
    assert delivery.last_status_code == 503
    assert delivery.next_attempt_at - before >= timedelta(seconds=29)  # growing: 15 s, then 30 s

    make_due(delivery)
    assert services.deliveries_send_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.DELIVERED, 3, None)
    attempts = list(delivery.attempt_log.all())
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 503, False),
                                                                         (3, 200, True)]
    assert attempts[0].error == "HTTP 500" and attempts[0].response_excerpt.startswith("receiver says no")
    assert len(attempts[0].response_excerpt) <= 500 and all(a.latency_ms >= 0 for a in attempts)
    assert len(receiver.received) == 3 and {r.json["attempt"] for r in receiver.received} == {1, 2, 3}
    assert len({r.headers["X-CSMS-Delivery"] for r in receiver.received}) == 1  # one delivery, retried
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # the success cleared it


def test_retry_delays_double_up_to_an_hour(settings):
    settings.CSMS_WEBHOOK_RETRY_SECONDS = 15
    delays = [services.retry_delay(n).total_seconds() for n in range(1, 12)]
    assert delays[:5] == [15, 30, 60, 120, 240] and delays[-1] == 3600 and delays == sorted(delays)


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(receiver, settings):
    settings.CSMS_WEBHOOK_TIMEOUT = 0.5
    endpoint_for(receiver, ["alert.raised"])
    receiver.delay = 1.5
    queue_alert()
    assert services.deliveries_send_due() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "timed out" in delivery.last_error
    assert delivery.attempt_log.get().status_code is None


def test_after_24_hours_the_delivery_is_given_up_and_the_endpoint_disabled_with_an_alert(receiver):
    endpoint = endpoint_for(receiver, ["alert.raised"])
    receiver.answers = [500] * 5
    queue_alert()
    delivery = WebhookDelivery.objects.get()
    day_ago = timezone.now() - timedelta(hours=24, minutes=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=day_ago)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=day_ago)

    assert services.deliveries_send_due() == 1
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.FAILED, None)
    assert not endpoint.active and endpoint.disabled_at is not None and "failing since" in endpoint.disabled_reason
    alert = Alert.objects.get(kind="webhook_disabled")
    assert f"#{endpoint.pk}" in alert.message and alert.resolved_at is None

    # Nothing more is queued or sent for it until it is enabled again, which resolves the alert.
    queue_alert(station_id=None)
    assert services.deliveries_send_due() == 0
    services.endpoint_update(endpoint=endpoint, active=True)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.disabled_reason == ""
    assert Alert.objects.get(kind="webhook_disabled").resolved_at is not None


def test_nothing_is_queued_and_nothing_queried_when_nobody_subscribes(receiver):
    station = ChargeStation.objects.create(id="CP-QUIET")
    connector = Connector.objects.create(station=station, connector_id=1, status="Charging")
    event = ConnectorStatusChanged(connector, "Available", "Charging")
    subscriptions.refresh()
    with CaptureQueriesContext(connection) as captured:
        receivers.on_connector_status(event)
    assert captured.captured_queries == []
    endpoint_for(receiver, ["connector.status"])
    subscriptions.refresh()
    receivers.on_connector_status(event)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.payload["status"], delivery.payload["previous_status"]) == (
        "connector.status", "Charging", "Available")


def test_transaction_updates_at_most_once_a_minute_and_only_when_something_changed(receiver):
    from tariffs.services import tariff_create
    from transactions.models import Transaction

    tariff_create(name="kWh", currency="EUR", is_default=True,
                  elements=[{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}])
    station = ChargeStation.objects.create(id="CP-UPDATES")
    from transactions.services import transaction_start

    tx, _ = transaction_start(station_id=station.id, connector_id=1, id_tag="ANY", meter_start=1000,
                              timestamp=timezone.now() - timedelta(minutes=5))
    assert services.transaction_updates_publish() == 0  # nobody subscribes
    endpoint_for(receiver, ["transaction.updated"])
    now = timezone.now()
    assert services.transaction_updates_publish(now=now) == 0  # no energy yet: nothing to say
    Transaction.objects.filter(pk=tx.pk).update(meter_last=Decimal(6000), meter_last_at=now)
    assert services.transaction_updates_publish(now=now) == 1
    update = WebhookDelivery.objects.get(event="transaction.updated")
    # 5 kWh so far x 0.30 = 1.50
    assert (update.payload["energy_wh"], update.payload["cost"], update.payload["cost_final"]) == (5000, 1.5, False)
    Transaction.objects.filter(pk=tx.pk).update(meter_last=Decimal(7000))
    assert services.transaction_updates_publish(now=now + timedelta(seconds=30)) == 0  # within the minute
    assert services.transaction_updates_publish(now=now + timedelta(seconds=61)) == 1
    assert services.transaction_updates_publish(now=now + timedelta(seconds=200)) == 0  # nothing changed since
    assert WebhookDelivery.objects.filter(event="transaction.updated").count() == 2


def test_security_firmware_and_alert_events_are_queued(receiver):
    from firmware.hooks import FirmwareStatusReported, firmware_status_reported
    from stations.services import security_event_record

    endpoint_for(receiver, ["security.event", "firmware.status", "alert.raised"])
    ChargeStation.objects.create(id="CP-SEC")
    with transaction.atomic():
        security_event_record(station_id="CP-SEC", event_type="InvalidFirmwareSignature", timestamp=timezone.now(),
                              tech_info="bad signature")
        firmware_status_reported.emit(FirmwareStatusReported("CP-SEC", "Installed", 7, True))
        queue_alert(station_id="CP-SEC")
    payloads = {d.event: d.payload for d in WebhookDelivery.objects.all()}
    assert payloads["security.event"]["type"] == "InvalidFirmwareSignature"
    assert payloads["firmware.status"] == {"station": "CP-SEC", "status": "Installed", "request_id": 7,
                                           "signed": True}
    assert payloads["alert.raised"]["station"] == "CP-SEC"


def test_a_failed_write_of_the_queue_never_fails_the_emitter(receiver, monkeypatch):
    endpoint_for(receiver, ["alert.raised"])

    def broken(**kwargs):
        raise RuntimeError("queue unavailable")

    monkeypatch.setattr(services, "event_publish", broken)
    alert = queue_alert()
    assert Alert.objects.filter(pk=alert.pk).exists() and not WebhookDelivery.objects.exists()
