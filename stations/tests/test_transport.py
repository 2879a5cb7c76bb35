"""OCPP-J framing over a real socket: every CallError of CONTRACT.md's table, the connection surviving
each bad frame, retried Calls answered from store, and the message log."""

import asyncio
import json
import uuid

import pytest
from django.db import connection
from ocpp.messages import CallError as OcppCallError
from ocpp.messages import CallResult as OcppCallResult

from csms.testing import connect_station, db, eventually

pytestmark = pytest.mark.django_db(transaction=True)

STATUS_OK = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
START = {"connectorId": 1, "idTag": "TAG-IDEM", "meterStart": 100, "timestamp": "2024-05-01T10:00:00Z"}
SAMPLE = {"timestamp": "2024-05-01T10:05:00Z", "sampledValue": [{"value": "150"}]}


async def error_of(cp, text: str, message_id: str) -> tuple[str, str, dict]:
    reply = await cp.send_frame(text, message_id)
    assert isinstance(reply, OcppCallError), f"expected a CallError for {text!r}, got {reply!r}"
    assert reply.unique_id == message_id
    return reply.error_code, reply.error_description, reply.error_details


def call(message_id: str, action: str, payload) -> str:
    return json.dumps([2, message_id, action, payload])


async def assert_still_served(cp) -> None:
    reply = await cp.send_frame(call("alive-" + uuid.uuid4().hex[:8], "Heartbeat", {}))
    assert isinstance(reply, OcppCallResult) and "currentTime" in reply.payload


# --- frames that are not OCPP-J ---------------------------------------------------------------------

UNREADABLE = [
    # (frame, the message id the CallError carries)
    ("this is not json", "-1"),
    ('[2, "open-array", "Heartbeat", {}', "-1"),
    ('{"messageTypeId": 2}', "-1"),
    ('"just a string"', "-1"),
    ("[]", "-1"),
    ('[2, "too-short"]', "too-short"),
    ('[2, "too-long", "Heartbeat", {}, {}]', "too-long"),
    ('[5, "bad-type", "Heartbeat", {}]', "bad-type"),
    ('["2", "type-as-text", "Heartbeat", {}]', "type-as-text"),
    ('[2, "payload-array", "Heartbeat", []]', "payload-array"),
    ('[2, "payload-text", "Heartbeat", "hello"]', "payload-text"),
    ('[2, "action-number", 42, {}]', "action-number"),
    ('[2, 12345, "Heartbeat", {}]', "12345"),
    (json.dumps([2, "x" * 37, "Heartbeat", {}]), "x" * 37),
]


async def test_unreadable_frames_get_formation_violation_and_the_connection_stays(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        for frame, message_id in UNREADABLE:
            code, _, details = await error_of(cp, frame, message_id)
            assert code == "FormationViolation", frame
            assert isinstance(details, dict)
            await assert_still_served(cp)


async def test_unsolicited_call_result_and_call_error_are_ignored(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp._connection.send(json.dumps([3, "nobody-asked", {}]))
        await cp._connection.send(json.dumps([4, "nobody-asked-2", "GenericError", "", {}]))
        await assert_still_served(cp)
        assert cp._response_queue.qsize() == 0


# --- schema violations ----------------------------------------------------------------------------------

SCHEMA_CASES = [
    # extra properties, top level and nested
    ("Heartbeat", {"unexpected": 1}, "FormationViolation"),
    ("StatusNotification", {**STATUS_OK, "extra": "x"}, "FormationViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{**SAMPLE, "extra": 1}]}, "FormationViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": SAMPLE["timestamp"],
                                                       "sampledValue": [{"value": "1", "extra": 1}]}]},
     "FormationViolation"),
    # required properties missing, too few items
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError"}, "OccurenceConstraintViolation"),
    ("BootNotification", {"chargePointVendor": "V"}, "OccurenceConstraintViolation"),
    ("Authorize", {}, "OccurenceConstraintViolation"),
    ("StartTransaction", {k: v for k, v in START.items() if k != "meterStart"}, "OccurenceConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": SAMPLE["timestamp"], "sampledValue": []}]},
     "OccurenceConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": SAMPLE["timestamp"],
                                                       "sampledValue": [{"unit": "Wh"}]}]},
     "OccurenceConstraintViolation"),
    # wrong JSON types
    ("StatusNotification", {**STATUS_OK, "connectorId": "1"}, "TypeConstraintViolation"),
    ("StartTransaction", {**START, "meterStart": 1.5}, "TypeConstraintViolation"),
    ("StartTransaction", {**START, "idTag": 12345}, "TypeConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": "lots"}, "TypeConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": SAMPLE["timestamp"],
                                                       "sampledValue": [{"value": 150}]}]},
     "TypeConstraintViolation"),
    ("DataTransfer", {"vendorId": None}, "TypeConstraintViolation"),
    # enum, length and format
    ("StatusNotification", {**STATUS_OK, "status": "Broken"}, "PropertyConstraintViolation"),
    ("StatusNotification", {**STATUS_OK, "errorCode": "noerror"}, "PropertyConstraintViolation"),
    ("StatusNotification", {**STATUS_OK, "info": "i" * 51}, "PropertyConstraintViolation"),
    ("Authorize", {"idTag": "T" * 21}, "PropertyConstraintViolation"),
    ("BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": "M"}, "PropertyConstraintViolation"),
    ("StopTransaction", {"transactionId": 1, "meterStop": 1, "timestamp": "2024-05-01T10:00:00Z",
                         "reason": "Bored"}, "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": SAMPLE["timestamp"],
                                                       "sampledValue": [{"value": "1", "unit": "Kelvin"}]}]},
     "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "timestamp": "yesterday"}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "timestamp": "2024-13-01T10:00:00Z"}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "timestamp": "2024-02-30T10:00:00Z"}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "timestamp": "2024-05-01 10:00"}, "PropertyConstraintViolation"),
    ("StatusNotification", {**STATUS_OK, "timestamp": "2024-05-01T25:00:00Z"}, "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "", "sampledValue": [{"value": "1"}]}]},
     "PropertyConstraintViolation"),
    # a value outside its range (connectorId is never negative)
    ("StatusNotification", {**STATUS_OK, "connectorId": -1}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "connectorId": -1}, "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": -1, "meterValue": [SAMPLE]}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "connectorId": 0}, "PropertyConstraintViolation"),
    # integers past what any database column holds
    ("StatusNotification", {**STATUS_OK, "connectorId": 2**63}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "meterStart": 2**63}, "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "transactionId": 2**63, "meterValue": [SAMPLE]}, "PropertyConstraintViolation"),
]


async def test_schema_violations_get_the_ocpp_j_error_codes(node, make_station):
    from stations.models import StatusNotificationRecord
    from transactions.models import MeterValue, Transaction

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        for index, (action, payload, expected) in enumerate(SCHEMA_CASES):
            message_id = f"schema-{index}"
            code, description, _ = await error_of(cp, call(message_id, action, payload), message_id)
            assert (action, payload, code) == (action, payload, expected), description
        await assert_still_served(cp)
    # Nothing of a refused Call was stored.
    assert await db(StatusNotificationRecord.objects.count)() == 0
    assert await db(Transaction.objects.count)() == 0
    assert await db(MeterValue.objects.count)() == 0


async def test_well_formed_variants_are_accepted(node, make_station):
    """The other side of the table: what OCPP-J allows is not refused."""
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        for timestamp in ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123Z", "2024-05-01T12:00:00+02:00",
                          "2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00"]:
            assert await cp.send("StatusNotification", {**STATUS_OK, "timestamp": timestamp}) == {}
        reply = await cp.send_frame(json.dumps([2, "null-payload", "Heartbeat", None]), "null-payload")
        assert isinstance(reply, OcppCallResult)
        assert "currentTime" in await cp.send("Heartbeat", {}, message_id="i" * 36)


# --- actions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["FooBar", "heartbeat", "GetVariables", "TransactionEvent", ""])
async def test_unknown_action_is_not_implemented(node, make_station, action):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        code, _, _ = await error_of(cp, call("unknown-action", action, {}), "unknown-action")
        assert code == "NotImplemented"
        await assert_still_served(cp)


@pytest.mark.parametrize("action,payload", [
    ("Reset", {"type": "Soft"}),
    ("RemoteStartTransaction", {"idTag": "TAG1"}),
    ("GetConfiguration", {}),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ("CertificateSigned", {"certificateChain": "x"}),
])
async def test_action_of_the_other_direction_is_not_supported(node, make_station, action, payload):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        code, _, _ = await error_of(cp, call("wrong-direction", action, payload), "wrong-direction")
        assert code == "NotSupported"
        await assert_still_served(cp)


# --- a handler that fails ------------------------------------------------------------------------------------

FAILING_VENDOR = "test.fail"


def install_failing_trigger() -> None:
    """Make inserting a DataTransfer of FAILING_VENDOR fail in the database, whichever process writes it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER csms_test_fail BEFORE INSERT ON stations_datatransferrecord "
                f"WHEN NEW.vendor_id = '{FAILING_VENDOR}' BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
            )
        else:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION csms_test_fail() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'forced failure'; END; $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER csms_test_fail BEFORE INSERT ON stations_datatransferrecord FOR EACH ROW "
                f"WHEN (NEW.vendor_id = '{FAILING_VENDOR}') EXECUTE FUNCTION csms_test_fail()"
            )


def drop_failing_trigger() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS csms_test_fail")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS csms_test_fail ON stations_datatransferrecord")
            cursor.execute("DROP FUNCTION IF EXISTS csms_test_fail()")


async def test_failing_handler_gets_internal_error_and_the_connection_stays(node, make_station):
    from stations.models import DataTransferRecord

    station = await db(make_station)()
    payload = {"vendorId": FAILING_VENDOR, "messageId": "Boom", "data": "x"}
    await db(install_failing_trigger)()
    try:
        async with connect_station(node, station.id, boot=True) as cp:
            code, _, details = await error_of(cp, call("fails-1", "DataTransfer", payload), "fails-1")
            assert code == "InternalError"
            assert details == {}
            await assert_still_served(cp)
            await db(drop_failing_trigger)()
            # The failed Call was not remembered as answered: its retry is processed.
            assert await cp.send("DataTransfer", payload, message_id="fails-1") == {"status": "UnknownVendorId"}
    finally:
        await db(drop_failing_trigger)()
    assert await db(DataTransferRecord.objects.filter(station=station, vendor_id=FAILING_VENDOR).count)() == 1


# --- isolation ---------------------------------------------------------------------------------------------


async def test_bad_frames_do_not_touch_another_station(node, make_station):
    noisy, quiet = await db(make_station)(), await db(make_station)()
    async with connect_station(node, noisy.id, boot=True) as bad, connect_station(node, quiet.id, boot=True) as good:
        async def flood():
            for index, (frame, message_id) in enumerate(UNREADABLE * 3):
                await bad.send_frame(frame, message_id)

        async def work():
            for _ in range(20):
                assert "currentTime" in await good.send("Heartbeat", {})

        await asyncio.wait_for(asyncio.gather(flood(), work()), 30)
        await assert_still_served(bad)
        await assert_still_served(good)


# --- retried Calls ------------------------------------------------------------------------------------------


async def test_retried_transaction_messages_are_answered_from_store_and_stored_once(node, make_station):
    from transactions.models import MeterValue, Transaction

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        start = await cp.send("StartTransaction", START, message_id="start-1")
        assert await cp.send("StartTransaction", START, message_id="start-1") == start
        meter = {"connectorId": 1, "transactionId": start["transactionId"], "meterValue": [SAMPLE]}
        await cp.send("MeterValues", meter, message_id="mv-1")
        await cp.send("MeterValues", meter, message_id="mv-1")
    # Across a reconnect: still answered from store (the station's queue replays them).
    async with connect_station(node, station.id) as cp:
        assert await cp.send("StartTransaction", START, message_id="start-1") == start
        await cp.send("MeterValues", meter, message_id="mv-1")
        stop = {"transactionId": start["transactionId"], "meterStop": 200, "timestamp": "2024-05-01T11:00:00Z"}
        first_stop = await cp.send("StopTransaction", stop, message_id="stop-1")
        assert await cp.send("StopTransaction", stop, message_id="stop-1") == first_stop
    assert await db(Transaction.objects.filter(station=station).count)() == 1
    assert await db(MeterValue.objects.filter(station=station, source="MeterValues").count)() == 1
    tx = await db(Transaction.objects.get)(station=station)
    assert tx.meter_stop == 200


async def test_other_actions_are_processed_afresh_whatever_their_message_id(node, make_station):
    """Stations that restart their messageId counter on each connection (real firmware does) repeat
    ids with new meaning: a Heartbeat, a boot or a status must never be answered from memory."""
    from stations.models import ChargeStation, Connector, DataTransferRecord, StatusNotificationRecord

    station = await db(make_station)()
    async with connect_station(node, station.id) as cp:
        await cp.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}, message_id="1")
        first = await cp.send("Heartbeat", {}, message_id="2")
        await cp.send("StatusNotification", STATUS_OK, message_id="3")
        await cp.send("StatusNotification", {**STATUS_OK, "status": "Preparing"}, message_id="4")
        transfer = {"vendorId": "org.csms", "messageId": "Ping", "data": "hello"}
        await cp.send("DataTransfer", transfer, message_id="5")
        await cp.send("DataTransfer", transfer, message_id="5")
    first_boot = await db(lambda: ChargeStation.objects.get(pk=station.id).last_boot_at)()
    await db(lambda: ChargeStation.objects.filter(pk=station.id).update(reset_required=True))()
    await asyncio.sleep(0.01)
    async with connect_station(node, station.id) as cp:  # the counter starts again at 1
        await cp.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}, message_id="1")
        again = await cp.send("Heartbeat", {}, message_id="2")
        await cp.send("StatusNotification", STATUS_OK, message_id="3")
    assert again["currentTime"] > first["currentTime"]  # a fresh clock, not the stored one
    row = await db(ChargeStation.objects.get)(pk=station.id)
    assert row.last_boot_at > first_boot and row.reset_required is False  # the boot was recorded
    connector = await db(Connector.objects.get)(station=station, connector_id=1)
    assert connector.status == "Available"  # the repeated Available after Preparing was applied
    assert await db(StatusNotificationRecord.objects.filter(station=station).count)() == 3
    assert await db(DataTransferRecord.objects.filter(station=station).count)() == 2


async def test_same_message_id_with_another_payload_is_processed_anew(node, make_station):
    from stations.models import Connector, StatusNotificationRecord

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("StatusNotification", STATUS_OK, message_id="reused")
        await cp.send("StatusNotification", {**STATUS_OK, "status": "Preparing"}, message_id="reused")
        # Same id and payload but another action: processed too.
        await cp.send("Heartbeat", {}, message_id="reused-2")
        start = await cp.send("StartTransaction", START, message_id="reused-2")
        assert start["transactionId"] > 0
    assert await db(StatusNotificationRecord.objects.filter(station=station).count)() == 2
    connector = await db(Connector.objects.get)(station=station, connector_id=1)
    assert connector.status == "Preparing"


async def test_same_message_id_from_another_station_is_its_own(node, make_station):
    from transactions.models import Transaction

    one, two = await db(make_station)(), await db(make_station)()
    async with connect_station(node, one.id, boot=True) as a, connect_station(node, two.id, boot=True) as b:
        first = await a.send("StartTransaction", START, message_id="shared-id")
        second = await b.send("StartTransaction", START, message_id="shared-id")
    assert first["transactionId"] != second["transactionId"]
    assert await db(Transaction.objects.filter(station=one).count)() == 1
    assert await db(Transaction.objects.filter(station=two).count)() == 1


# --- the message log ------------------------------------------------------------------------------------------


async def test_every_frame_in_and_out_is_logged_with_its_direction(node, api, make_station):
    from csms.ocpp.models import MessageLog

    station = await db(make_station)()
    async with connect_station(node, station.id) as cp:
        await cp.send("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}, message_id="log-boot")
        await cp.send_frame("garbage", "-1")
        await db(api.call)(station.id, "ClearCache", {})

    def rows():
        found = list(MessageLog.objects.filter(station_id=station.id).order_by("created_at", "id")
                     .values_list("direction", "message_type", "message_id", "action", "frame"))
        return found if len(found) >= 6 else None

    logged = await eventually(rows)
    by_id = {(direction, message_id): (message_type, action, frame)
             for direction, message_type, message_id, action, frame in logged}
    assert by_id[("in", "log-boot")][:2] == (2, "BootNotification")
    assert json.loads(by_id[("in", "log-boot")][2])[3] == {"chargePointVendor": "V", "chargePointModel": "M"}
    out_type, _, out_frame = by_id[("out", "log-boot")]
    assert out_type == 3 and json.loads(out_frame)[2]["status"] == "Accepted"
    assert by_id[("in", "")][2] == "garbage"
    assert by_id[("out", "-1")][0] == 4 and json.loads(by_id[("out", "-1")][2])[2] == "FormationViolation"
    clear_cache = [row for row in logged if row[3] == "ClearCache"]
    assert [(row[0], row[1]) for row in clear_cache] == [("out", 2)]
    answer = [row for row in logged if row[0] == "in" and row[2] == clear_cache[0][2]]
    assert answer and answer[0][1] == 3
    assert [row[0] for row in logged].count("in") == 3
    assert [row[0] for row in logged].count("out") == 3


async def test_last_seen_and_node_are_stored(node, make_station):
    from stations.models import ChargeStation

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("Heartbeat", {})
        row = await eventually(lambda: ChargeStation.objects.filter(pk=station.id, last_seen__isnull=False).first())
        assert row.online is True and row.node == node.name and row.connected_at is not None
        assert row.subprotocol == "ocpp1.6"
    row = await eventually(lambda: ChargeStation.objects.filter(pk=station.id, online=False).first())
    assert row.disconnected_at is not None and row.channel_name == ""


async def test_a_repeat_after_the_24_hour_window_is_processed_anew(node, make_station):
    from datetime import timedelta

    from django.utils import timezone

    from csms.ocpp.models import ProcessedCall
    from transactions.models import MeterValue

    station = await db(make_station)()
    meter = {"connectorId": 1, "meterValue": [SAMPLE]}
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("MeterValues", meter, message_id="old-1")
        await db(lambda: ProcessedCall.objects.filter(station=station, message_id="old-1")
                 .update(created_at=timezone.now() - timedelta(hours=25)))()
        await cp.send("MeterValues", meter, message_id="old-1")
        await cp.send("MeterValues", meter, message_id="old-1")
    assert await db(MeterValue.objects.filter(station=station).count)() == 2


def test_message_log_and_answers_are_pruned_after_their_retention(make_station, settings):
    from datetime import timedelta

    from django.utils import timezone

    from csms.ocpp.models import MessageLog, ProcessedCall
    from csms.ocpp.tasks import prune_message_log, prune_processed_calls

    station = make_station()
    now = timezone.now()
    for days in (45, 31, 29, 0):
        MessageLog.objects.create(station=station, direction="in", frame=f"{days}",
                                  created_at=now - timedelta(days=days))
    # (Rows of other tests' stations may still arrive from a node's buffer: look at this station's.)
    logged = MessageLog.objects.filter(station=station)
    assert prune_message_log() == 2
    assert sorted(logged.values_list("frame", flat=True)) == ["0", "29"]
    settings.CSMS_MESSAGE_LOG_RETENTION_DAYS = 7
    assert prune_message_log() == 1
    assert list(logged.values_list("frame", flat=True)) == ["0"]

    for hours, message_id in ((25, "stale"), (23, "fresh")):
        ProcessedCall.objects.create(station=station, message_id=message_id, action="Heartbeat", payload_digest="x",
                                     response={}, created_at=now - timedelta(hours=hours))
    assert prune_processed_calls() == 1
    assert list(ProcessedCall.objects.values_list("message_id", flat=True)) == ["fresh"]
