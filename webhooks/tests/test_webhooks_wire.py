"""Webhooks end to end: endpoints registered through the API of a real node, events from a real
station over a real socket, deliveries received by a real HTTP server and their signatures checked."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from csms.testing import Api, connect_station, db, results

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTION_EVENTS = ["station.connected", "connector.status", "transaction.started", "transaction.stopped",
                      "call.completed", "station.disconnected"]


def register(api, url, events, **extra):
    response = api.post("/api/v1/webhooks/", json={"url": url, "events": events, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def test_station_events_arrive_signed_at_a_real_receiver(node, api, receiver, make_station, make_id_tag):
    station = await db(make_station)()
    tag = (await db(make_id_tag)()).id_tag
    await db(api.post)("/api/v1/tariffs/", json={"name": "kWh", "currency": "EUR", "is_default": True, "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1}]}]})
    endpoint = await db(register)(api, receiver.url, TRANSACTION_EVENTS)
    secret = endpoint["secret"]
    assert len(secret) >= 32
    shown = (await db(api.get)(f"/api/v1/webhooks/{endpoint['id']}/")).json()
    assert "secret" not in shown  # shown once, when created

    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"})
        tx = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": tag, "meterStart": 0,
                                                 "timestamp": "2024-05-01T10:00:00Z"}))["transactionId"]
        await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 20000, "timestamp": "2024-05-01T11:00:00Z"})
        await asyncio.to_thread(api.call, station.id, "Reset", {"type": "Soft"})
    await asyncio.to_thread(receiver.wait_for, lambda r: len(r.events("station.disconnected")) == 1)

    assert [r.event for r in receiver.received if r.event != "station.disconnected"][:1] == ["station.connected"]
    for received in receiver.received:
        assert received.signed_with(secret), received.headers
        assert received.headers["Content-Type"] == "application/json"
        body = received.json
        assert body["event"] == received.event and body["id"] == received.headers["X-CSMS-Delivery"]
        sent_at = datetime.fromisoformat(body["timestamp"])
        assert abs(datetime.now(timezone.utc) - sent_at) < timedelta(minutes=1)  # what lets receivers refuse replays
        assert body["data"]["station"] == station.id
    assert len({r.headers["X-CSMS-Delivery"] for r in receiver.received}) == len(receiver.received)
    assert not receiver.received[0].signed_with("not-the-secret-at-all")

    status = receiver.events("connector.status")[0].json["data"]
    assert (status["connector_id"], status["status"]) == (1, "Preparing")
    stopped = receiver.events("transaction.stopped")[0].json["data"]
    # 20 kWh x 0.25 = 5.00; +10 % = 5.50, final as priced at StopTransaction
    assert (stopped["transaction_id"], stopped["energy_wh"], stopped["cost"], stopped["cost_excl_vat"],
            stopped["currency"], stopped["cost_final"], stopped["duration_s"]) == (tx, 20000, 5.5, 5, "EUR", True, 3600)
    call = receiver.events("call.completed")[0].json["data"]
    assert (call["action"], call["status"], call["response"]) == ("Reset", "completed", {"status": "Accepted"})

    deliveries = await delivered(api, endpoint["id"], len(receiver.received))
    assert {d["event"] for d in deliveries} >= set(TRANSACTION_EVENTS)
    assert all(d["attempt_log"][0]["status_code"] == 200 and d["attempt_log"][0]["succeeded"] for d in deliveries)


async def delivered(api, endpoint_id, count, timeout=10):
    """The endpoint's deliveries once `count` of them are recorded delivered (the receiver may have
    a delivery before the CSMS has written down its answer)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        deliveries = results(await db(api.get)(f"/api/v1/webhooks/{endpoint_id}/deliveries/"))
        if sum(d["status"] == "delivered" for d in deliveries) >= count:
            return deliveries
        assert asyncio.get_running_loop().time() < deadline, deliveries
        await asyncio.sleep(0.2)


async def test_redelivery_sends_the_event_again_as_a_new_delivery(node, api, receiver, make_station):
    station = await db(make_station)()
    endpoint = await db(register)(api, receiver.url, ["station.connected"])
    async with connect_station(node, station.id, boot=True):
        await asyncio.to_thread(receiver.wait_for, lambda r: len(r.received) == 1)
    first = receiver.received[0]
    delivery = (await delivered(api, endpoint["id"], 1))[0]
    again = await db(api.post)(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver/")
    assert again.status_code == 202, again.text
    assert again.json()["redelivery_of"] == delivery["id"]
    await asyncio.to_thread(receiver.wait_for, lambda r: len(r.received) == 2)
    second = receiver.received[1]
    assert second.json["data"] == first.json["data"] and second.event == "station.connected"
    assert second.headers["X-CSMS-Delivery"] != first.headers["X-CSMS-Delivery"]
    assert second.signed_with(endpoint["secret"])
    missing = await db(api.post)(f"/api/v1/webhooks/{endpoint['id']}/deliveries/999999/redeliver/")
    assert missing.status_code == 404 and "detail" in missing.json()


async def test_a_partner_receives_only_events_about_its_own_stations(node, api, make_station):
    from partners.models import Partner
    from partners.services import partner_user_create

    from .conftest import Receiver

    receivers = {name: Receiver() for name in ("a", "b", "staff")}
    try:
        tokens = {}
        for name in ("a", "b"):
            _, token = await db(partner_user_create)(partner_name=f"P-{name}", username=f"hook-user-{name}")
            tokens[name] = Api(node.http, token.key)
        station_a = await db(make_station)(partner=await db(Partner.objects.get)(name="P-a"))
        station_b = await db(make_station)(partner=await db(Partner.objects.get)(name="P-b"))
        endpoints = {name: await db(register)(tokens[name], receivers[name].url, ["station.connected"])
                     for name in ("a", "b")}
        await db(register)(api, receivers["staff"].url, ["station.connected"])

        for station in (station_a, station_b):
            async with connect_station(node, station.id, boot=True):
                pass
        await asyncio.to_thread(receivers["staff"].wait_for, lambda r: len(r.received) == 2)
        await asyncio.to_thread(receivers["a"].wait_for, lambda r: len(r.received) >= 1)
        await asyncio.to_thread(receivers["b"].wait_for, lambda r: len(r.received) >= 1)
        await asyncio.sleep(1)  # anything misrouted would have arrived by now
        assert [r.json["data"]["station"] for r in receivers["a"].received] == [station_a.id]
        assert [r.json["data"]["station"] for r in receivers["b"].received] == [station_b.id]
        assert sorted(r.json["data"]["station"] for r in receivers["staff"].received) == sorted(
            [station_a.id, station_b.id])

        # Each partner sees and manages only its own endpoints.
        assert [e["id"] for e in results(await db(tokens["a"].get)("/api/v1/webhooks/"))] == [endpoints["a"]["id"]]
        foreign = endpoints["b"]["id"]
        assert (await db(tokens["a"].get)(f"/api/v1/webhooks/{foreign}/deliveries/")).status_code == 404
        assert (await db(tokens["a"].patch)(f"/api/v1/webhooks/{foreign}/", json={"active": False})).status_code == 404
    finally:
        for started in receivers.values():
            started.close()


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "http://user:secret@127.0.0.1/hook",
                                 "https://:pw@127.0.0.1/", "javascript:alert(1)", "http:///nohost"])
def test_delivery_urls_are_validated(api, url):
    response = api.post("/api/v1/webhooks/", json={"url": url, "events": ["station.connected"]})
    assert response.status_code == 400 and "url" in response.text
    assert results(api.get("/api/v1/webhooks/")) == []


def test_events_and_secret_are_validated_and_a_given_secret_is_kept(api, receiver):
    assert api.post("/api/v1/webhooks/", json={"url": receiver.url, "events": ["no.such"]}).status_code == 400
    assert api.post("/api/v1/webhooks/", json={"url": receiver.url, "events": []}).status_code == 400
    assert api.post("/api/v1/webhooks/", json={"url": receiver.url, "events": ["alert.raised"],
                                               "secret": "short"}).status_code == 400
    endpoint = register(api, receiver.url, ["alert.raised"], secret="a-secret-of-our-own-choosing")
    assert endpoint["secret"] == "a-secret-of-our-own-choosing"


def test_users_outside_staff_and_partners_register_nothing(node, django_user_model):
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user(username="nobody-hooks")
    outsider = Api(node.http, Token.objects.create(user=user).key)
    response = outsider.post("/api/v1/webhooks/", json={"url": "http://127.0.0.1:9/", "events": ["alert.raised"]})
    assert response.status_code == 403 and "detail" in response.json()


async def test_ping_reaches_the_receiver(node, api, receiver):
    endpoint = await db(register)(api, receiver.url, ["alert.raised"])
    response = await db(api.post)(f"/api/v1/webhooks/{endpoint['id']}/ping/")
    assert response.status_code == 202
    await asyncio.to_thread(receiver.wait_for, lambda r: len(r.received) == 1)
    assert receiver.received[0].event == "ping" and receiver.received[0].signed_with(endpoint["secret"])
