"""The console socket: who may watch what, and what reaches a page (csms/admin/live.py)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.db import transaction

from csms.admin import live
from csms.admin.live import ConsoleConsumer, Publisher, group_name, subscriptions_check
from csms.testing import connect_station, db

pytestmark = pytest.mark.django_db(transaction=True)


def make_user(django_user_model, *permissions: str, staff: bool = True):
    user = django_user_model.objects.create_user(username=f"op-{uuid.uuid4().hex[:8]}", password="x" * 12,
                                                 is_staff=staff)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


STATION = {"concern": "station", "key": "CP-LIVE"}
FLEET = {"concern": "fleet"}
TRANSACTION = {"concern": "transaction", "key": "12"}
CALL = {"concern": "call", "key": "7"}


def test_without_view_permission_on_stations_nothing_about_stations_is_allowed(django_user_model):
    user = make_user(django_user_model, "transactions.view_transaction")
    allowed, denied = subscriptions_check(user, [STATION, FLEET, TRANSACTION, CALL])
    assert allowed == [("transaction", "12")]
    assert [(item["concern"], item["reason"]) for item in denied] == [
        ("station", "permission denied"), ("fleet", "permission denied"), ("call", "permission denied")]


def test_each_concern_needs_its_own_view_permission(django_user_model):
    user = make_user(django_user_model, "stations.view_chargestation", "ocpp.view_call")
    allowed, _ = subscriptions_check(user, [STATION, FLEET, TRANSACTION, CALL])
    assert allowed == [("station", "CP-LIVE"), ("fleet", None), ("call", "7")]
    superuser = django_user_model.objects.create_superuser(username=f"su-{uuid.uuid4().hex[:8]}", password="x" * 12)
    assert len(subscriptions_check(superuser, [STATION, FLEET, TRANSACTION, CALL])[0]) == 4


def test_a_user_who_may_not_use_the_admin_gets_nothing(django_user_model):
    not_staff = make_user(django_user_model, "stations.view_chargestation", staff=False)
    assert subscriptions_check(not_staff, [STATION, FLEET])[0] == []
    inactive = make_user(django_user_model, "stations.view_chargestation")
    inactive.is_active = False
    assert subscriptions_check(inactive, [STATION])[0] == []


def test_unknown_concerns_and_bad_keys_are_refused(django_user_model):
    superuser = django_user_model.objects.create_superuser(username=f"su-{uuid.uuid4().hex[:8]}", password="x" * 12)
    allowed, denied = subscriptions_check(superuser, [{"concern": "secrets"}, {"concern": "station"},
                                                     {"concern": "fleet", "key": "x"}, "junk"])
    assert allowed == []
    assert [item["reason"] for item in denied] == ["unknown concern", "bad key", "bad key", "unknown concern"]


async def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/console/")
    communicator.scope["user"] = user
    return communicator


async def test_the_socket_sends_a_user_without_view_permission_nothing(django_user_model):
    """Both users ask for the same station; only the one allowed to view stations hears of it."""
    viewer = await db(make_user)(django_user_model, "stations.view_chargestation")
    outsider = await db(make_user)(django_user_model, "transactions.view_transaction")
    station_id = f"CP-{uuid.uuid4().hex[:6]}"
    sockets = {}
    for name, user in (("viewer", viewer), ("outsider", outsider)):
        communicator = await _communicator(user)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"subscribe": [{"concern": "station", "key": station_id}, {"concern": "fleet"}]})
        sockets[name] = (communicator, await communicator.receive_json_from(timeout=5))
    assert len(sockets["viewer"][1]["subscribed"]) == 2 and sockets["viewer"][1]["denied"] == []
    assert sockets["outsider"][1]["subscribed"] == []
    assert {item["reason"] for item in sockets["outsider"][1]["denied"]} == {"permission denied"}

    layer = get_channel_layer()
    for group in (group_name("station", station_id), group_name("fleet")):
        await layer.group_send(group, {"type": "console.changed", "concern": "station", "key": station_id})
    assert await sockets["viewer"][0].receive_json_from(timeout=5) == {"concern": "station", "key": station_id}
    assert await sockets["outsider"][0].receive_nothing(timeout=1)
    for communicator, _ in sockets.values():
        await communicator.disconnect()


async def test_the_socket_is_closed_to_anyone_without_a_staff_session(django_user_model):
    from django.contrib.auth.models import AnonymousUser

    for user in (AnonymousUser(), await db(make_user)(django_user_model, "stations.view_chargestation", staff=False)):
        communicator = await _communicator(user)
        connected, code = await communicator.connect()
        assert not connected and code == 4403


async def test_the_publisher_sends_one_message_per_watched_thing_after_commit():
    published = []

    class Layer:
        async def group_send(self, group, message):
            published.append((group, message["concern"], message["key"]))

    registry = live.MemoryWatches()
    await registry.add("browser-1", {group_name("station", "CP-W"), group_name("fleet")})
    publisher = Publisher(Layer(), registry)
    pid = live._publisher_pid
    live._publisher_pid = __import__("os").getpid()
    try:
        def write():
            with transaction.atomic():
                for _ in range(50):  # fifty reports from one station: one message
                    live.changed(("station", "CP-W"), ("fleet", None))
                live.changed(("station", "CP-UNWATCHED"))
                assert live._pending == set()  # nothing before the commit
        await db(write)()
        assert await publisher.publish_once() == 2
        assert sorted(published) == [("console.fleet", "fleet", None), ("console.station.CP-W", "station", "CP-W")]
        # The fleet at most once a second: a change right after waits for the next round.
        await db(lambda: live.changed(("fleet", None)))()
        assert await publisher.publish_once() == 0 and ("fleet", None) in live._pending
    finally:
        live._publisher_pid = pid
        live._pending.clear()


def test_group_names_stay_valid_for_any_charge_box_id():
    layer = get_channel_layer()
    for key in ("CP-1", "a b/c?é", "x" * 128):
        layer.require_valid_group_name(group_name("station", key))
    assert group_name("station", "a b") != group_name("station", "a_b")


async def test_a_page_on_a_node_hears_of_a_station_going_offline(node, make_station, admin_session):
    """Over the node's own socket, with the admin session cookie: the station's disconnect reaches
    the page within a second."""
    station = await db(make_station)()
    headers = {"Cookie": f"sessionid={admin_session.http.cookies['sessionid']}", "Origin": node.http}
    async with websockets.connect(f"{node.ws}/ws/console/", additional_headers=headers) as browser:
        await browser.send(json.dumps({"subscribe": [{"concern": "station", "key": station.id}]}))
        assert json.loads(await browser.recv())["subscribed"] == [{"concern": "station", "key": station.id}]
        async with connect_station(node, station.id, boot=True):
            assert json.loads(await asyncio.wait_for(browser.recv(), 5)) == {"concern": "station", "key": station.id}
        loop = asyncio.get_running_loop()
        gone = loop.time()
        assert json.loads(await asyncio.wait_for(browser.recv(), 5)) == {"concern": "station", "key": station.id}
        assert loop.time() - gone < 1.5


async def test_the_node_refuses_a_console_socket_without_session_or_from_another_site(node, admin_session):
    session = {"Cookie": f"sessionid={admin_session.http.cookies['sessionid']}"}
    # Another site's page, even with the operator's cookie: refused at the handshake (no cross-site
    # WebSocket hijacking).
    with pytest.raises(websockets.InvalidStatus) as foreign:
        async with websockets.connect(f"{node.ws}/ws/console/", additional_headers={**session, "Origin": "http://evil.example"}):
            pass
    assert foreign.value.response.status_code == 403
    # No session: closed before it is accepted, which Daphne answers 403.
    with pytest.raises(websockets.InvalidStatus) as anonymous:
        async with websockets.connect(f"{node.ws}/ws/console/", additional_headers={"Origin": node.http}):
            pass
    assert anonymous.value.response.status_code == 403


async def test_a_call_page_hears_of_the_transaction_its_remote_start_led_to(node, api, make_station, make_id_tag,
                                                                           admin_session):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    headers = {"Cookie": f"sessionid={admin_session.http.cookies['sessionid']}", "Origin": node.http}
    async with connect_station(node, station.id, boot=True) as cp:
        call = await asyncio.to_thread(api.call, station.id, "RemoteStartTransaction", {"idTag": tag.id_tag, "connectorId": 1})
        async with websockets.connect(f"{node.ws}/ws/console/", additional_headers=headers) as browser:
            await browser.send(json.dumps({"subscribe": [{"concern": "call", "key": str(call["id"])}]}))
            assert json.loads(await browser.recv())["denied"] == []
            await cp.send("StartTransaction", {"connectorId": 1, "idTag": tag.id_tag, "meterStart": 0,
                                               "timestamp": "2025-01-01T10:00:00Z"})
            assert json.loads(await asyncio.wait_for(browser.recv(), 5)) == {"concern": "call", "key": str(call["id"])}
    page = (await asyncio.to_thread(admin_session.get, f"/admin/ocpp/call/{call['id']}/change/")).text
    assert "transaction #" in page and "no transaction started yet" not in page
