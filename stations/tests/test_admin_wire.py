"""Admin actions end to end: an operator's browser (over HTTP) → the node → a simulated station."""

from __future__ import annotations

import asyncio
import html
import re

import pytest

from csms.testing import connect_station, db, eventually
from csms.ocpp.models import Call, CallStatus
from stations.models import ChargeStation, ConfigurationKey
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

STATIONS = "/admin/stations/chargestation/"


async def send_action(session, changelist, action, selected, **fields):
    return await asyncio.to_thread(session.action, changelist, action, selected, **fields)


def finished_call(station_id: str, action: str):
    return lambda: Call.objects.filter(station_id=station_id, action=action, status__in=Call.FINISHED).first()


def received(cp, action: str) -> list[dict]:
    return [payload for name, payload in cp.received if name == action]


def assert_reported(response, call: Call) -> None:
    """The operator landed on the call, told what was sent with a link to it."""
    successes = [text for level, text in page_messages(response.text) if level == "success"]
    assert any(f"{call.action} sent (1)" in text and f"#{call.pk}" in text for text in successes), successes
    assert f'href="/admin/ocpp/call/{call.pk}/change/"' in response.text
    assert response.url.endswith(f"/admin/ocpp/call/{call.pk}/change/")


async def test_reset_hard_from_the_station_list(node, make_station, admin_session):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        response = await send_action(admin_session, STATIONS, "reset", [station.id], type="Hard")
        assert await cp.wait_for_call("Reset") == {"type": "Hard"}
        call = await eventually(finished_call(station.id, "Reset"))
    assert received(cp, "Reset") == [{"type": "Hard"}]
    assert call.status == CallStatus.COMPLETED and call.response == {"status": "Accepted"}
    assert call.payload == {"type": "Hard"} and call.source == "admin" and call.requested_by_id == admin_session.user.pk
    assert_reported(response, call)
    # Once answered, the call's page shows the answer and no longer says it waits.
    page = (await asyncio.to_thread(admin_session.get, f"/admin/ocpp/call/{call.pk}/change/")).text
    assert "completed" in page and "Accepted" in page and 'id="call-waiting-note"' not in page


async def test_change_configuration_updates_the_stored_value(node, make_station, admin_session):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["ChangeConfiguration"] = {"status": "RebootRequired"}
        response = await send_action(admin_session, STATIONS, "change_configuration", [station.id],
                                     key="MeterValueSampleInterval", value="60")
        call = await eventually(finished_call(station.id, "ChangeConfiguration"))
    assert received(cp, "ChangeConfiguration") == [{"key": "MeterValueSampleInterval", "value": "60"}]
    assert call.status == CallStatus.COMPLETED and call.response == {"status": "RebootRequired"}
    assert_reported(response, call)
    key = await db(ConfigurationKey.objects.get)(station_id=station.id, key="MeterValueSampleInterval")
    assert key.value == "60"
    # The station's page says a reset is needed.
    page = (await asyncio.to_thread(admin_session.get, f"{STATIONS}{station.id}/change/")).text
    assert 'id="reset-required"' in page and "MeterValueSampleInterval" in page


async def test_remote_start_transaction(node, make_station, make_id_tag, admin_session):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        response = await send_action(admin_session, STATIONS, "remote_start_transaction", [station.id],
                                     id_tag=tag.id_tag, connector_id="2")
        assert await cp.wait_for_call("RemoteStartTransaction") == {"idTag": tag.id_tag, "connectorId": 2}
        call = await eventually(finished_call(station.id, "RemoteStartTransaction"))
        assert_reported(response, call)
        # The transaction that follows is linked to the request, and the call's page says so.
        started = await cp.send("StartTransaction", {"connectorId": 2, "idTag": tag.id_tag, "meterStart": 0,
                                                     "timestamp": "2025-01-01T10:00:00Z"})
        page = (await asyncio.to_thread(admin_session.get, f"/admin/ocpp/call/{call.pk}/change/")).text
        assert f"transaction #{started['transactionId']}" in page
        # The tag is now in a transaction: the form says so and sends nothing until told to.
        warned = await send_action(admin_session, STATIONS, "remote_start_transaction", [station.id],
                                   id_tag=tag.id_tag, connector_id="")
        assert "is already in a transaction" in html.unescape(warned.text) and 'name="send_anyway"' in warned.text
        assert len(received(cp, "RemoteStartTransaction")) == 1
        # Without a connector the station chooses: connectorId is left out, not sent empty.
        await send_action(admin_session, STATIONS, "remote_start_transaction", [station.id], id_tag=tag.id_tag,
                          connector_id="", send_anyway="on")
        assert await cp.wait_for_call("RemoteStartTransaction", count=2) == {"idTag": tag.id_tag}
    assert call.status == CallStatus.COMPLETED and call.response == {"status": "Accepted"}


async def test_trigger_message(node, make_station, admin_session):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        response = await send_action(admin_session, STATIONS, "trigger_message", [station.id],
                                     requested_message="StatusNotification", connector_id="1")
        assert await cp.wait_for_call("TriggerMessage") == {"requestedMessage": "StatusNotification", "connectorId": 1}
        call = await eventually(finished_call(station.id, "TriggerMessage"))
    assert received(cp, "TriggerMessage") == [{"requestedMessage": "StatusNotification", "connectorId": 1}]
    assert call.status == CallStatus.COMPLETED and call.response == {"status": "Accepted"}
    assert_reported(response, call)


async def test_change_availability_of_two_stations(node, make_station, admin_session):
    one, two = await db(make_station)(), await db(make_station)()
    async with connect_station(node, one.id, boot=True) as cp1, connect_station(node, two.id, boot=True) as cp2:
        cp2.answers["ChangeAvailability"] = {"status": "Scheduled"}
        response = await send_action(admin_session, STATIONS, "change_availability", [one.id, two.id],
                                     connector_id="0", type="Inoperative")
        for cp in (cp1, cp2):
            assert await cp.wait_for_call("ChangeAvailability") == {"connectorId": 0, "type": "Inoperative"}
        first = await eventually(finished_call(one.id, "ChangeAvailability"))
        second = await eventually(finished_call(two.id, "ChangeAvailability"))
    assert first.response == {"status": "Accepted"} and second.response == {"status": "Scheduled"}
    # Several calls: the operator lands on the list of exactly those calls, with a link to each.
    assert re.search(rf"/admin/ocpp/call/\?id__in=({first.pk},{second.pk}|{second.pk},{first.pk})$", response.url)
    for call in (first, second):
        assert f'href="/admin/ocpp/call/{call.pk}/change/"' in response.text


async def test_offline_station_gets_an_error_message_and_no_call(node, make_station, admin_session):
    online, offline = await db(make_station)(), await db(make_station)()
    async with connect_station(node, online.id, boot=True) as cp:
        response = await send_action(admin_session, STATIONS, "reset", [online.id, offline.id], type="Soft")
        await cp.wait_for_call("Reset")
        await eventually(finished_call(online.id, "Reset"))
    errors = [text for level, text in page_messages(response.text) if level == "error"]
    assert errors == [f"Reset not sent to {offline.id}: station {offline.id} is not connected"]
    assert not await db(Call.objects.filter(station_id=offline.id).exists)()
    # Only the offline station selected: nothing sent, back on the list with the error.
    response = await send_action(admin_session, STATIONS, "reset", [offline.id], type="Soft")
    assert response.status_code == 200 and response.url.endswith(STATIONS)
    assert ("error", f"Reset not sent to {offline.id}: station {offline.id} is not connected") in page_messages(response.text)


async def test_station_call_error_is_shown(node, make_station, admin_session):
    from csms.testing import CallErrorReceived

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["UnlockConnector"] = CallErrorReceived("NotSupported", "no lock on this one", {})
        await send_action(admin_session, STATIONS, "unlock_connector", [station.id], connector_id="1")
        assert await cp.wait_for_call("UnlockConnector") == {"connectorId": 1}
        call = await eventually(finished_call(station.id, "UnlockConnector"))
    assert call.status == CallStatus.ERROR and call.error_code == "NotSupported"
    page = (await asyncio.to_thread(admin_session.get, f"/admin/ocpp/call/?station={station.id}")).text
    assert "NotSupported" in page and "no lock on this one" in page


async def test_get_configuration_and_data_transfer(node, make_station, admin_session):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetConfiguration"] = {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
                                          "unknownKey": ["Nope"]}
        cp.answers["DataTransfer"] = {"status": "Accepted", "data": "pong"}
        await send_action(admin_session, STATIONS, "get_configuration", [station.id], keys="HeartbeatInterval, Nope")
        assert await cp.wait_for_call("GetConfiguration") == {"key": ["HeartbeatInterval", "Nope"]}
        await send_action(admin_session, STATIONS, "data_transfer", [station.id], vendor_id="com.acme", message_id="ping",
                          data="hello")
        assert await cp.wait_for_call("DataTransfer") == {"vendorId": "com.acme", "messageId": "ping", "data": "hello"}
        await send_action(admin_session, STATIONS, "clear_cache", [station.id], apply=False)
        assert await cp.wait_for_call("ClearCache") == {}
        data_transfer = await eventually(finished_call(station.id, "DataTransfer"))
        await eventually(finished_call(station.id, "ClearCache"))
    assert data_transfer.response == {"status": "Accepted", "data": "pong"}
    keys = await db(lambda: {k.key: (k.value, k.known) for k in ConfigurationKey.objects.filter(station_id=station.id)})()
    assert keys == {"HeartbeatInterval": ("300", True), "Nope": (None, False)}
    page = (await asyncio.to_thread(admin_session.get, f"{STATIONS}{station.id}/change/")).text
    panel = page.split('id="panel-configuration"')[1].split('id="panel-transactions"')[0]
    assert "HeartbeatInterval" in panel and "unknown to the station" in panel


async def test_action_from_the_station_page(node, make_station, admin_session):
    station = await db(make_station)()
    url = f"{STATIONS}{station.id}/send/clear_cache/"
    async with connect_station(node, station.id, boot=True) as cp:
        page = (await asyncio.to_thread(admin_session.get, url)).text
        assert "Send ClearCache" in page and not cp.received  # a GET only asks for confirmation
        response = await asyncio.to_thread(admin_session.post, url, {"apply": "1"})
        assert await cp.wait_for_call("ClearCache") == {}
        call = await eventually(finished_call(station.id, "ClearCache"))
    assert_reported(response, call)


async def test_accepting_a_pending_station_makes_it_boot_into_accepted(node, make_station, admin_session):
    station = await db(make_station)(registration_status="Pending")
    async with connect_station(node, station.id) as cp:
        assert (await cp.boot())["status"] == "Pending"

        response = await send_action(admin_session, STATIONS, "accept_registration", [station.id], apply=False)
        assert await cp.wait_for_call("TriggerMessage") == {"requestedMessage": "BootNotification"}
        await eventually(finished_call(station.id, "TriggerMessage"))
        # The station does what it was asked, and boots into Accepted.
        assert (await cp.boot())["status"] == "Accepted"
        assert "currentTime" in await cp.send("Heartbeat", {})
    messages = page_messages(response.text)
    assert ("success", f"Accepted: {station.id}.") in messages
    assert any(level == "success" and "TriggerMessage" in text for level, text in messages)
    station_row = await db(ChargeStation.objects.get)(pk=station.id)
    assert station_row.registration_status == "Accepted"
