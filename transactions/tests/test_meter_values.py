"""MeterValues persisted with every field, linked to their transaction, keeping its energy current
(OCPP 1.6 section 4.7, errata 3.14 and the Celsius erratum)."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from csms.testing import connect_station, db, results

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2024-05-01T10:00:00Z"


def start_payload(id_tag, meter_start=1000, connector_id=1):
    return {"connectorId": connector_id, "idTag": id_tag, "meterStart": meter_start, "timestamp": T0}


def rows(**filters):
    from transactions.models import MeterValue

    return list(MeterValue.objects.filter(**filters).order_by("timestamp", "id"))


async def test_every_field_is_stored_and_linked(node, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        tx_id = (await cp.send("StartTransaction", start_payload(tag.id_tag)))["transactionId"]
        assert await cp.send("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [
            {"timestamp": "2024-05-01T10:05:00.5+02:00", "sampledValue": [
                {"value": "230.1", "context": "Sample.Periodic", "format": "Raw", "measurand": "Voltage",
                 "phase": "L1-N", "location": "Outlet", "unit": "V"},
                {"value": "16.0", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                {"value": "1500"},
                {"value": "BASE64SIGNATURE==", "format": "SignedData", "context": "Sample.Clock"},
            ]},
        ]}) == {}
    stored = await db(rows)(station_id=station.id)
    assert len(stored) == 4
    voltage, current, register, signed = stored
    assert all(row.transaction_id == tx_id and row.reported_transaction_id == tx_id for row in stored)
    assert all(row.connector_id == 1 for row in stored)
    assert voltage.timestamp == datetime(2024, 5, 1, 8, 5, 0, 500000, tzinfo=timezone.utc)
    assert (voltage.value, voltage.measurand, voltage.phase, voltage.unit, voltage.context, voltage.location,
            voltage.format) == ("230.1", "Voltage", "L1-N", "V", "Sample.Periodic", "Outlet", "Raw")
    assert voltage.numeric_value == Decimal("230.1")
    assert (current.measurand, current.phase, current.unit) == ("Current.Import", "L2", "A")
    # OCPP's defaults for what the station left out
    assert (register.measurand, register.unit, register.context, register.location, register.format) == (
        "Energy.Active.Import.Register", "Wh", "Sample.Periodic", "Outlet", "Raw")
    assert (signed.format, signed.value, signed.context, signed.numeric_value) == (
        "SignedData", "BASE64SIGNATURE==", "Sample.Clock", None)


async def test_values_without_transaction_and_for_connector_zero(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("MeterValues", {"connectorId": 0, "meterValue": [
            {"timestamp": T0, "sampledValue": [{"value": "99999", "context": "Sample.Clock"}]}]})
        # A transactionId the CSMS does not know is kept as reported, unlinked.
        await cp.send("MeterValues", {"connectorId": 2, "transactionId": 424242, "meterValue": [
            {"timestamp": T0, "sampledValue": [{"value": "5"}]}]})
    zero, unknown = await db(rows)(station_id=station.id)
    assert (zero.connector_id, zero.transaction_id, zero.reported_transaction_id) == (0, None, None)
    assert (unknown.connector_id, unknown.transaction_id, unknown.reported_transaction_id) == (2, None, 424242)


@pytest.mark.parametrize("unit", ["Celsius", "Celcius", "Fahrenheit", "K"])
async def test_both_celsius_spellings_are_accepted(node, make_station, unit):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert await cp.send("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": T0, "sampledValue": [
            {"value": "41.5", "measurand": "Temperature", "unit": unit, "location": "Body"}]}]}) == {}
        assert await cp.send("StopTransaction", {"transactionId": -1, "meterStop": 0, "timestamp": T0,
                                                 "transactionData": [{"timestamp": T0, "sampledValue": [
                                                     {"value": "40", "measurand": "Temperature",
                                                      "unit": unit}]}]}) == {}
    (stored,) = await db(rows)(station_id=station.id)
    assert (stored.unit, stored.measurand, stored.location) == (unit, "Temperature", "Body")


async def test_energy_is_current_while_running_in_wh_and_kwh(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()

    async def energy(tx_id):
        return (await db(api.get)(f"/api/v1/transactions/{tx_id}/")).json()["energy_wh"]

    async with connect_station(node, station.id, boot=True) as cp:
        tx_id = (await cp.send("StartTransaction", start_payload(tag.id_tag, meter_start=1000)))["transactionId"]
        assert await energy(tx_id) == 0

        async def send(timestamp, *samples):
            await cp.send("MeterValues", {"connectorId": 1, "transactionId": tx_id,
                                          "meterValue": [{"timestamp": timestamp, "sampledValue": list(samples)}]})

        await send("2024-05-01T10:05:00Z", {"value": "1500", "unit": "Wh"})
        assert await energy(tx_id) == 500
        await send("2024-05-01T10:10:00Z", {"value": "2.75", "unit": "kWh"},
                   # neither a phase reading nor another measurand is the register
                   {"value": "9999", "phase": "L1"}, {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"})
        assert await energy(tx_id) == 1750
        await send("2024-05-01T10:15:00Z", {"value": "3000"})  # unit absent: Wh
        assert await energy(tx_id) == 2000
        # An old sample delivered late does not roll the meter back.
        await send("2024-05-01T10:01:00Z", {"value": "1100"})
        assert await energy(tx_id) == 2000
        # A fractional register stays exact.
        await send("2024-05-01T10:20:00Z", {"value": "3.5005", "unit": "kWh"})
        assert Decimal(str(await energy(tx_id))) == Decimal("2500.5")

        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 4000, "timestamp": T0})
    # Once stopped, meterStop decides.
    assert await energy(tx_id) == 3000


async def test_meter_values_endpoint_lists_the_transactions_values(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)(max_active_transactions=-1)
    async with connect_station(node, station.id, boot=True) as cp:
        tx_id = (await cp.send("StartTransaction", start_payload(tag.id_tag)))["transactionId"]
        other_id = (await cp.send("StartTransaction", start_payload(tag.id_tag, connector_id=2)))["transactionId"]
        await cp.send("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [
            {"timestamp": "2024-05-01T10:05:00Z", "sampledValue": [{"value": "1200"}, {"value": "55", "measurand": "SoC",
                                                                  "unit": "Percent", "location": "EV"}]},
            {"timestamp": "2024-05-01T10:10:00Z", "sampledValue": [{"value": "1400"}]},
        ]})
        await cp.send("MeterValues", {"connectorId": 2, "transactionId": other_id, "meterValue": [
            {"timestamp": "2024-05-01T10:05:00Z", "sampledValue": [{"value": "1"}]}]})
    response = await db(api.get)(f"/api/v1/transactions/{tx_id}/meter-values/")
    assert response.status_code == 200, response.text
    listed = results(response)
    assert [(v["value"], v["measurand"], v["unit"], v["location"]) for v in listed] == [
        ("1200", "Energy.Active.Import.Register", "Wh", "Outlet"),
        ("55", "SoC", "Percent", "EV"),
        ("1400", "Energy.Active.Import.Register", "Wh", "Outlet"),
    ]
    first = listed[0]
    assert {"timestamp", "value", "measurand", "phase", "unit", "context", "location", "format"} <= set(first)
    assert first["timestamp"].startswith("2024-05-01T10:05:00")
    assert (await db(api.get)("/api/v1/transactions/999999/meter-values/")).status_code == 404
