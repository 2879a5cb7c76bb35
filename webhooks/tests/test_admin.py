"""Webhooks in the admin, over HTTP: an endpoint's secret shown once, bad URLs refused, deliveries
with their attempts, redelivery."""

import pytest

from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)


def test_endpoint_added_in_admin_shows_its_secret_once_and_refuses_bad_urls(admin_session, receiver):
    from webhooks.models import WebhookEndpoint

    bad = admin_session.post("/admin/webhooks/webhookendpoint/add/", {
        "url": "http://user:pw@127.0.0.1/x", "events": ["alert.raised"], "description": "", "active": "on"})
    assert bad.status_code == 200 and "no credentials in the URL" in bad.text and not WebhookEndpoint.objects.exists()

    added = admin_session.post("/admin/webhooks/webhookendpoint/add/", {
        "url": receiver.url, "events": ["alert.raised", "station.connected"], "description": "ops", "active": "on"})
    assert added.status_code == 200, added.text[:300]
    endpoint = WebhookEndpoint.objects.get()
    shown = [text for level, text in page_messages(added.text) if level == "warning"]
    assert shown == [f"The endpoint's secret, shown this once: {endpoint.secret}"]
    assert endpoint.secret not in admin_session.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").text


def test_deliveries_are_listed_with_attempts_and_can_be_redelivered(admin_session, receiver):
    from alerts.services import alert_raise
    from webhooks import services
    from webhooks.models import WebhookDelivery
    from webhooks.subscriptions import subscriptions

    services.endpoint_create(url=receiver.url, events=["alert.raised"], partner=None)
    subscriptions.invalidate()
    alert_raise(kind="test", message="look at me")
    services.deliveries_send_due()
    delivery = WebhookDelivery.objects.get()
    page = admin_session.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and "look at me" in page.text and "<td>200</td>" in page.text
    response = admin_session.action("/admin/webhooks/webhookdelivery/", "redeliver", [delivery.pk])
    assert any("Queued 1 redelivery" in text for _, text in page_messages(response.text))
    again = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert again.redelivery_of_id == delivery.pk and again.payload == delivery.payload
