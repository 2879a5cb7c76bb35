"""Station-initiated Core messages about the station itself, persisted: BootNotification, Heartbeat,
StatusNotification and DataTransfer (OCPP 1.6 sections 4.2, 4.6, 4.9, 4.3)."""

from datetime import datetime, timedelta, timezone

import pytest

from csms.ocpp.schemas import parse_datetime
from csms.testing import Node, connect_station, db

pytestmark = pytest.mark.django_db(transaction=True)

FULL_BOOT = {
    "chargePointVendor": "ACME Charging",
    "chargePointModel": "WallBox-22",
    "chargePointSerialNumber": "CPSN-0001",
    "chargeBoxSerialNumber": "CBSN-0002",
    "firmwareVersion": "1.2.3-rc4",
    "iccid": "89310410106543789301",
    "imsi": "310150123456789",
    "meterType": "ABB B23",
    "meterSerialNumber": "MSN-0003",
}


@pytest.fixture(scope="module")
def interval_node(test_database_url):
    started = Node(test_database_url, env={"CSMS_HEARTBEAT_INTERVAL": "77"}).start()
    yield started
    started.stop()


def station_row(station_id):
    from stations.models import ChargeStation

    return ChargeStation.objects.get(pk=station_id)


def assert_recent(text: str) -> None:
    moment = parse_datetime(text)
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - moment) < timedelta(seconds=30)


# --- BootNotification -----------------------------------------------------------------------------------


async def test_boot_stores_every_field_and_answers_the_configured_interval(interval_node, make_station):
    station = await db(make_station)()
    async with connect_station(interval_node, station.id) as cp:
        answer = await cp.send("BootNotification", FULL_BOOT)
    assert answer["status"] == "Accepted"
    assert answer["interval"] == 77
    assert_recent(answer["currentTime"])
    row = await db(station_row)(station.id)
    assert (row.vendor, row.model, row.serial_number, row.charge_box_serial_number, row.firmware_version,
            row.iccid, row.imsi, row.meter_type, row.meter_serial_number) == tuple(FULL_BOOT.values())
    assert row.last_boot_at is not None


async def test_boot_interval_defaults_to_300_and_a_later_boot_replaces_the_fields(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id) as cp:
        await cp.send("BootNotification", FULL_BOOT)
        first = (await db(station_row)(station.id)).last_boot_at
        answer = await cp.send("BootNotification", {"chargePointVendor": "ACME Charging",
                                                    "chargePointModel": "WallBox-22", "firmwareVersion": "2.0"})
    assert answer["interval"] == 300 and answer["status"] == "Accepted"
    row = await db(station_row)(station.id)
    assert row.firmware_version == "2.0"
    assert row.serial_number == "" and row.iccid == "" and row.meter_serial_number == ""
    assert row.last_boot_at > first


async def test_boot_fields_show_in_the_api(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id) as cp:
        await cp.send("BootNotification", FULL_BOOT)
    body = (await db(api.get)(f"/api/v1/stations/{station.id}/")).json()
    assert (body["vendor"], body["model"], body["serial_number"], body["firmware_version"]) == (
        "ACME Charging", "WallBox-22", "CPSN-0001", "1.2.3-rc4")


@pytest.mark.parametrize("registration", ["Pending", "Rejected"])
async def test_boot_answers_the_registration_status(node, make_station, registration):
    station = await db(make_station)(registration_status=registration)
    async with connect_station(node, station.id) as cp:
        answer = await cp.send("BootNotification", FULL_BOOT)
    assert answer["status"] == registration
    assert isinstance(answer["interval"], int)
    # What the station reported is kept even when it is not accepted.
    assert (await db(station_row)(station.id)).vendor == "ACME Charging"


# --- Heartbeat -------------------------------------------------------------------------------------------------


async def test_heartbeat_answers_the_time_and_stores_it(node, api, make_station):
    station = await db(make_station)()
    assert (await db(station_row)(station.id)).last_heartbeat is None
    async with connect_station(node, station.id, boot=True) as cp:
        answer = await cp.send("Heartbeat", {})
    assert set(answer) == {"currentTime"}
    assert_recent(answer["currentTime"])
    row = await db(station_row)(station.id)
    assert row.last_heartbeat is not None
    assert abs(row.last_heartbeat - parse_datetime(answer["currentTime"])) < timedelta(seconds=5)
    body = (await db(api.get)(f"/api/v1/stations/{station.id}/")).json()
    assert parse_datetime(body["last_heartbeat"].replace("Z", "+00:00")) == row.last_heartbeat


# --- StatusNotification --------------------------------------------------------------------------------------------


async def test_status_per_connector_including_zero_with_every_field(node, api, make_station):
    from stations.models import Connector

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert await cp.send("StatusNotification", {"connectorId": 0, "errorCode": "NoError",
                                                    "status": "Available"}) == {}
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                                             "timestamp": "2024-05-01T10:00:00Z"})
        await cp.send("StatusNotification", {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted",
                                             "info": "RCD tripped", "vendorId": "com.acme",
                                             "vendorErrorCode": "E-42", "timestamp": "2024-05-01T10:01:00.5+02:00"})
    connectors = {c.connector_id: c for c in await db(lambda: list(Connector.objects.filter(station=station)))()}
    assert set(connectors) == {0, 1, 2}
    assert connectors[0].status == "Available" and connectors[0].status_timestamp is None
    faulted = connectors[2]
    assert (faulted.status, faulted.error_code, faulted.info, faulted.vendor_id, faulted.vendor_error_code) == (
        "Faulted", "GroundFailure", "RCD tripped", "com.acme", "E-42")
    assert faulted.status_timestamp == datetime(2024, 5, 1, 8, 1, 0, 500000, tzinfo=timezone.utc)

    body = (await db(api.get)(f"/api/v1/stations/{station.id}/")).json()
    by_id = {c["connector_id"]: c for c in body["connectors"]}
    assert set(by_id) == {0, 1, 2}
    assert (by_id[2]["status"], by_id[2]["error_code"], by_id[2]["info"]) == ("Faulted", "GroundFailure", "RCD tripped")
    assert by_id[1]["updated_at"]


async def test_status_history_is_kept_and_the_newest_station_time_wins(node, make_station):
    from stations.models import Connector, StatusNotificationRecord

    station = await db(make_station)()
    sequence = [
        ("Available", "2024-05-01T10:00:00Z"),
        ("Preparing", "2024-05-01T10:01:00Z"),
        ("Charging", "2024-05-01T10:02:00Z"),
        # queued while offline, delivered late: history, not the current state
        ("SuspendedEV", "2024-05-01T09:59:00Z"),
    ]
    async with connect_station(node, station.id, boot=True) as cp:
        for status, timestamp in sequence:
            await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status,
                                                 "timestamp": timestamp})
    history = await db(lambda: list(StatusNotificationRecord.objects.filter(station=station)
                                     .order_by("received_at", "id").values_list("status", flat=True)))()
    assert history == [status for status, _ in sequence]
    connector = await db(Connector.objects.get)(station=station, connector_id=1)
    assert connector.status == "Charging"


async def test_status_without_timestamp_always_becomes_current(node, make_station):
    from stations.models import Connector

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                             "timestamp": "2030-01-01T00:00:00Z"})
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Finishing"})
    connector = await db(Connector.objects.get)(station=station, connector_id=1)
    assert connector.status == "Finishing"


# --- DataTransfer ----------------------------------------------------------------------------------------------------


async def test_data_transfer_vendors_answers_and_records(node, make_station):
    from stations.models import DataTransferRecord

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert await cp.send("DataTransfer", {"vendorId": "com.unknown", "messageId": "X", "data": "d"}) == {
            "status": "UnknownVendorId"}
        assert await cp.send("DataTransfer", {"vendorId": "org.csms", "messageId": "Ping", "data": "hello"}) == {
            "status": "Accepted", "data": "hello"}
        assert await cp.send("DataTransfer", {"vendorId": "org.csms", "messageId": "Nope"}) == {
            "status": "UnknownMessageId"}
        assert await cp.send("DataTransfer", {"vendorId": "org.csms", "messageId": "Ping"}) == {"status": "Accepted"}
    records = await db(lambda: list(DataTransferRecord.objects.filter(station=station).order_by("created_at", "id")
                                    .values_list("direction", "vendor_id", "message_id", "data", "status",
                                                 "response_data")))()
    assert records == [
        ("in", "com.unknown", "X", "d", "UnknownVendorId", None),
        ("in", "org.csms", "Ping", "hello", "Accepted", "hello"),
        ("in", "org.csms", "Nope", None, "UnknownMessageId", None),
        ("in", "org.csms", "Ping", None, "Accepted", None),
    ]

