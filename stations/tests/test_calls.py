"""CSMS-initiated Calls end to end: partner API -> node -> simulated station -> result persisted."""

import asyncio

import pytest

from csms.testing import CallErrorReceived, connect_station, db, eventually, results
from csms.ocpp.models import Call
from stations.models import ChargeStation, ConfigurationKey, Connector, DataTransferRecord
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

NOW = "2026-11-25T10:00:00Z"


async def call_api(api, station_id, action, payload, wait=10):
    response = await db(api.post)(f"/api/v1/stations/{station_id}/calls/?wait={wait}",
                                  json={"action": action, "payload": payload})
    return response


async def completed_call(api, station_id, action, payload):
    response = await call_api(api, station_id, action, payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed", body
    return body


@pytest.fixture
def station(make_station):
    return make_station()


async def test_reset_is_sent_and_its_status_recorded(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        body = await completed_call(api, station.id, "Reset", {"type": "Hard"})
        assert cp.received == [("Reset", {"type": "Hard"})]
    assert body["response"] == {"status": "Accepted"}
    assert body["action"] == "Reset" and body["payload"] == {"type": "Hard"}
    assert body["station"] == station.id and body["error"] is None
    assert body["created_at"] and body["completed_at"]
    fetched = (await db(api.get)(f"/api/v1/calls/{body['id']}/")).json()
    assert fetched["status"] == "completed" and fetched["response"] == {"status": "Accepted"}


@pytest.mark.parametrize(
    "action,payload,answer",
    [
        ("UnlockConnector", {"connectorId": 1}, {"status": "UnlockFailed"}),
        ("ClearCache", {}, {"status": "Rejected"}),
        ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "Accepted"}),
        ("RemoteStopTransaction", {"transactionId": 42}, {"status": "Rejected"}),
    ],
)
async def test_status_of_simple_actions_is_recorded(node, api, station, action, payload, answer):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers[action] = answer
        body = await completed_call(api, station.id, action, payload)
        assert cp.received == [(action, payload)]
    assert body["response"] == answer
    call = await db(Call.objects.get)(pk=body["id"])
    assert call.response == answer and call.source == "api"


async def test_get_configuration_stores_keys_and_unknown_keys(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetConfiguration"] = {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ],
            "unknownKey": ["Bogus"],
        }
        await completed_call(api, station.id, "GetConfiguration", {"key": ["HeartbeatInterval", "NumberOfConnectors", "Bogus"]})
    keys = {k["key"]: k for k in (await db(api.get)(f"/api/v1/stations/{station.id}/configuration/")).json()}
    assert keys["HeartbeatInterval"]["value"] == "300" and keys["HeartbeatInterval"]["readonly"] is False
    assert keys["NumberOfConnectors"]["readonly"] is True
    assert keys["Bogus"]["known"] is False and keys["Bogus"]["value"] is None
    assert set(keys["HeartbeatInterval"]) >= {"key", "value", "readonly", "updated_at"}


async def test_full_get_configuration_drops_keys_the_station_no_longer_has(node, api, station):
    await db(ConfigurationKey.objects.create)(station=station, key="Gone", value="1")
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetConfiguration"] = {"configurationKey": [{"key": "A", "readonly": False, "value": "1"}]}
        await completed_call(api, station.id, "GetConfiguration", {})
    keys = await db(lambda: sorted(ConfigurationKey.objects.filter(station=station).values_list("key", flat=True)))()
    assert keys == ["A"]


@pytest.mark.parametrize(
    "answer,stored,reset_required",
    [("Accepted", "60", False), ("RebootRequired", "60", True), ("Rejected", "300", False), ("NotSupported", "300", False)],
)
async def test_change_configuration_outcomes(node, api, station, answer, stored, reset_required):
    await db(ConfigurationKey.objects.create)(station=station, key="HeartbeatInterval", value="300")
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["ChangeConfiguration"] = {"status": answer}
        body = await completed_call(api, station.id, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})
    assert body["response"]["status"] == answer
    key = await db(ConfigurationKey.objects.get)(station=station, key="HeartbeatInterval")
    assert key.value == stored
    await db(station.refresh_from_db)()
    assert station.reset_required is reset_required


async def test_reboot_flag_is_cleared_by_the_next_boot(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["ChangeConfiguration"] = {"status": "RebootRequired"}
        await completed_call(api, station.id, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "10"})
        assert (await db(ChargeStation.objects.get)(pk=station.id)).reset_required
        await cp.boot()
    assert not (await db(ChargeStation.objects.get)(pk=station.id)).reset_required


async def test_change_availability_scheduled_is_followed_until_reported(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": NOW})
        cp.answers["ChangeAvailability"] = {"status": "Scheduled"}
        await completed_call(api, station.id, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
        connector = await db(Connector.objects.get)(station=station, connector_id=1)
        assert (connector.availability, connector.availability_status) == ("Inoperative", "Scheduled")
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Unavailable",
                                             "timestamp": "2026-11-25T10:30:00Z"})
    connector = await db(Connector.objects.get)(station=station, connector_id=1)
    assert (connector.availability, connector.availability_status) == ("Inoperative", "Accepted")


async def test_change_availability_of_connector_zero_covers_every_connector(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        for connector_id in (1, 2):
            await cp.send("StatusNotification", {"connectorId": connector_id, "errorCode": "NoError", "status": "Available"})
        await completed_call(api, station.id, "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    rows = await db(lambda: list(Connector.objects.filter(station=station).values_list("connector_id", "availability", "availability_status")))()
    assert sorted(rows) == [(0, "Inoperative", "Accepted"), (1, "Inoperative", "Accepted"), (2, "Inoperative", "Accepted")]


async def test_remote_start_is_linked_to_the_transaction_that_follows(node, api, station, make_id_tag):
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        body = await completed_call(api, station.id, "RemoteStartTransaction", {"idTag": tag.id_tag, "connectorId": 1})
        started = await cp.send("StartTransaction", {"connectorId": 1, "idTag": tag.id_tag, "meterStart": 0, "timestamp": NOW})
    tx = await db(Transaction.objects.get)(pk=started["transactionId"])
    assert tx.remote_start_call_id == body["id"]
    detail = (await db(api.get)(f"/api/v1/transactions/{tx.pk}/")).json()
    assert detail["remote_start_call"] == body["id"]


async def test_remote_start_is_not_linked_to_another_tag_or_connector(node, api, station, make_id_tag):
    tag, other = await db(make_id_tag)(), await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        await completed_call(api, station.id, "RemoteStartTransaction", {"idTag": tag.id_tag, "connectorId": 1})
        first = await cp.send("StartTransaction", {"connectorId": 1, "idTag": other.id_tag, "meterStart": 0, "timestamp": NOW})
        second = await cp.send("StartTransaction", {"connectorId": 2, "idTag": tag.id_tag, "meterStart": 0, "timestamp": NOW})
    for started in (first, second):
        assert (await db(Transaction.objects.get)(pk=started["transactionId"])).remote_start_call_id is None


async def test_data_transfer_to_the_station_is_stored(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["DataTransfer"] = {"status": "Accepted", "data": "pong"}
        await completed_call(api, station.id, "DataTransfer", {"vendorId": "com.acme", "messageId": "ping", "data": "x"})
    record = await db(DataTransferRecord.objects.get)(station=station, direction="out")
    assert (record.vendor_id, record.message_id, record.data, record.status, record.response_data) == (
        "com.acme", "ping", "x", "Accepted", "pong")


async def test_station_call_error_is_recorded_with_code_and_text(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["Reset"] = CallErrorReceived("NotSupported", "no resets here", {"why": "test"})
        response = await call_api(api, station.id, "Reset", {"type": "Soft"})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "error"
    assert body["error"] == {"code": "NotSupported", "description": "no resets here", "details": {"why": "test"}}


async def test_unanswered_call_times_out(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["ClearCache"] = None  # the station stays silent
        response = await call_api(api, station.id, "ClearCache", {}, wait=1)
        assert response.status_code == 202 and response.json()["status"] in ("pending", "sent")
        call_id = response.json()["id"]
        call = await eventually(lambda: Call.objects.filter(pk=call_id, status="timeout").first(), timeout=15)
    assert call.error_code == "Timeout"


async def test_answer_violating_the_schema_is_an_error(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["Reset"] = {"status": "Maybe"}
        response = await call_api(api, station.id, "Reset", {"type": "Soft"})
    body = response.json()
    assert body["status"] == "error" and body["error"]["code"] == "PropertyConstraintViolation"


async def test_offline_station_is_refused_at_once(node, api, station):
    response = await call_api(api, station.id, "Reset", {"type": "Soft"})
    assert response.status_code == 409
    assert "not connected" in response.json()["detail"]
    assert not await db(Call.objects.exists)()


@pytest.mark.parametrize(
    "action,payload,reason",
    [
        ("Rset", {"type": "Soft"}, "not an OCPP 1.6 action"),
        ("Heartbeat", {}, "sent by charge stations"),
        ("Reset", {"type": "Medium"}, "schema"),
        ("Reset", {}, "schema"),
        ("ChangeConfiguration", {"key": "A", "value": 5}, "schema"),
    ],
)
async def test_bad_call_requests_are_refused_with_a_reason(node, api, station, action, payload, reason):
    async with connect_station(node, station.id, boot=True) as cp:
        response = await call_api(api, station.id, action, payload)
        assert cp.received == []
    assert response.status_code == 400
    assert reason in response.json()["detail"]


async def test_calls_go_out_one_at_a_time_in_order(node, api, station):
    outstanding = 0
    overlap = []

    async def slow_answer(payload):
        nonlocal outstanding
        outstanding += 1
        overlap.append(outstanding)
        await asyncio.sleep(0.3)
        outstanding -= 1
        return {"status": "Accepted"}

    async with connect_station(node, station.id, boot=True) as cp:
        cp.answer_in_background = True  # a second Call sent too early would be seen meanwhile
        cp.answers["ChangeConfiguration"] = slow_answer
        ids = []
        for n in range(3):
            response = await db(api.post)(f"/api/v1/stations/{station.id}/calls/",
                                          json={"action": "ChangeConfiguration", "payload": {"key": f"K{n}", "value": "1"}})
            assert response.status_code == 202 and response.json()["status"] == "pending"
            ids.append(response.json()["id"])
        await eventually(lambda: Call.objects.filter(pk__in=ids, status="completed").count() == 3, timeout=15)
    assert [payload["key"] for action, payload in cp.received] == ["K0", "K1", "K2"]
    assert max(overlap) == 1


async def test_station_call_and_csms_call_in_flight_at_once(node, api, station):
    release = asyncio.Event()

    async def answer_after_release(payload):
        await release.wait()
        return {"status": "Accepted"}

    async with connect_station(node, station.id, boot=True) as cp:
        cp.answer_in_background = True
        cp.answers["Reset"] = answer_after_release
        post = asyncio.create_task(call_api(api, station.id, "Reset", {"type": "Soft"}, wait=10))
        await cp.wait_for_call("Reset")
        # With the CSMS's Reset outstanding, the station's own Call is answered all the same.
        heartbeat = await cp.send("Heartbeat", {})
        assert "currentTime" in heartbeat
        release.set()
        response = await post
    assert response.json()["status"] == "completed"


async def test_disconnect_fails_the_call_in_flight(node, api, station):
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["Reset"] = None
        response = await call_api(api, station.id, "Reset", {"type": "Soft"}, wait=0.5)
        call_id = response.json()["id"]
        await cp.wait_for_call("Reset")
    call = await eventually(lambda: Call.objects.filter(pk=call_id, status="error").first())
    assert call.error_code == "Disconnected"


async def test_wait_is_capped_and_validated(node, api, station):
    async with connect_station(node, station.id, boot=True):
        response = await db(api.post)(f"/api/v1/stations/{station.id}/calls/?wait=abc",
                                      json={"action": "ClearCache", "payload": {}})
        assert response.status_code == 400 and "wait" in response.json()["detail"]


async def test_calls_list_filters(node, api, station, make_station):
    other = await db(make_station)()
    async with connect_station(node, station.id, boot=True), connect_station(node, other.id, boot=True):
        await completed_call(api, station.id, "ClearCache", {})
        await completed_call(api, station.id, "Reset", {"type": "Soft"})
        await completed_call(api, other.id, "ClearCache", {})
    by_station = results(await db(api.get)(f"/api/v1/calls/?station={station.id}"))
    assert sorted(c["action"] for c in by_station) == ["ClearCache", "Reset"]
    by_action = results(await db(api.get)("/api/v1/calls/?action=ClearCache"))
    assert sorted(c["station"] for c in by_action) == sorted([station.id, other.id])
    by_status = results(await db(api.get)("/api/v1/calls/?status=pending"))
    assert by_status == []


async def test_accepted_authorization_key_becomes_the_password_and_is_never_kept(node, api, make_station):
    import base64

    from websockets.exceptions import InvalidStatus

    from csms.ocpp.models import MessageLog

    old, new = "old-password-0123456789", "00112233445566778899aabbccddeeff00112233"
    station = await db(make_station)(security_profile=1, password=old)

    def basic(password):
        return {"Authorization": "Basic " + base64.b64encode(f"{station.id}:{password}".encode()).decode()}

    async with connect_station(node, station.id, boot=True, headers=basic(old)):
        body = await completed_call(api, station.id, "ChangeConfiguration", {"key": "AuthorizationKey", "value": new})
    assert body["payload"]["value"] == "********"
    with pytest.raises(InvalidStatus) as refused:
        async with connect_station(node, station.id, headers=basic(old)):
            pass
    assert refused.value.response.status_code == 401
    async with connect_station(node, station.id, headers=basic(new)) as cp:
        assert "currentTime" in await cp.send("Heartbeat", {})
    frames = await eventually(lambda: list(MessageLog.objects.filter(station_id=station.id, action="ChangeConfiguration")
                                           .values_list("frame", flat=True)))
    assert all(new not in frame for frame in frames)
    assert not await db(ConfigurationKey.objects.filter(station=station, key="AuthorizationKey").exists)()


async def test_rejected_authorization_key_keeps_the_old_password(node, api, make_station):
    import base64

    station = await db(make_station)(security_profile=1, password="old-password-0123456789")
    headers = {"Authorization": "Basic " + base64.b64encode(f"{station.id}:old-password-0123456789".encode()).decode()}
    async with connect_station(node, station.id, boot=True, headers=headers) as cp:
        cp.answers["ChangeConfiguration"] = {"status": "Rejected"}
        body = await completed_call(api, station.id, "ChangeConfiguration", {"key": "AuthorizationKey", "value": "ab" * 20})
        assert body["payload"]["value"] == "********"
    async with connect_station(node, station.id, headers=headers) as cp:
        assert "currentTime" in await cp.send("Heartbeat", {})


async def test_accepted_security_profile_change_is_expected_on_reconnect(node, api, make_station):
    station = await db(make_station)(password="a-password-for-basic-auth")
    async with connect_station(node, station.id, boot=True):
        await completed_call(api, station.id, "ChangeConfiguration", {"key": "SecurityProfile", "value": "1"})
    assert (await db(ChargeStation.objects.get)(pk=station.id)).security_profile == 1
