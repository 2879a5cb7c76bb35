"""StartTransaction and StopTransaction persisted (OCPP 1.6 sections 4.8, 4.10, errata 3.18 and 3.54)."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from csms.testing import connect_station, db

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:30:00Z"


def start_payload(id_tag, connector_id=1, meter_start=1000, timestamp=T0, **extra):
    return {"connectorId": connector_id, "idTag": id_tag, "meterStart": meter_start, "timestamp": timestamp, **extra}


def tx_row(pk):
    from transactions.models import Transaction

    return Transaction.objects.get(pk=pk)


# --- StartTransaction -------------------------------------------------------------------------------------------


async def test_every_start_gets_a_unique_positive_id(node, make_station, make_id_tag):
    from transactions.models import Transaction

    one, two = await db(make_station)(), await db(make_station)()
    tag = await db(make_id_tag)(max_active_transactions=-1)
    seen = []
    async with connect_station(node, one.id, boot=True) as a, connect_station(node, two.id, boot=True) as b:
        for index in range(3):
            for cp in (a, b):
                answer = await cp.send("StartTransaction", start_payload(tag.id_tag, index + 1, index * 10))
                assert answer["idTagInfo"]["status"] == "Accepted"
                seen.append(answer["transactionId"])
    assert all(isinstance(tx_id, int) and tx_id > 0 for tx_id in seen)
    assert len(set(seen)) == 6
    assert await db(Transaction.objects.count)() == 6


@pytest.mark.parametrize("setup,status", [
    (None, "Invalid"),
    ({"blocked": True}, "Blocked"),
    ({"expiry_date": datetime(2020, 1, 1, tzinfo=timezone.utc)}, "Expired"),
])
async def test_refused_tag_still_gets_an_id_and_its_status(node, make_station, make_id_tag, setup, status):
    station = await db(make_station)()
    id_tag = "UNKNOWN-TAG" if setup is None else (await db(make_id_tag)(**setup)).id_tag
    async with connect_station(node, station.id, boot=True) as cp:
        answer = await cp.send("StartTransaction", start_payload(id_tag))
    assert answer["transactionId"] > 0
    assert answer["idTagInfo"]["status"] == status
    row = await db(tx_row)(answer["transactionId"])
    assert row.id_tag == id_tag and row.id_tag_status == status and row.stopped_at is None


async def test_concurrent_start_is_answered_concurrent_tx_with_an_id(node, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)(parent_id_tag="GROUP")
    async with connect_station(node, station.id, boot=True) as cp:
        first = await cp.send("StartTransaction", start_payload(tag.id_tag, 1))
        second = await cp.send("StartTransaction", start_payload(tag.id_tag, 2, timestamp=T1))
    assert first["idTagInfo"]["status"] == "Accepted" and first["idTagInfo"]["parentIdTag"] == "GROUP"
    assert second["idTagInfo"]["status"] == "ConcurrentTx" and second["idTagInfo"]["parentIdTag"] == "GROUP"
    assert second["transactionId"] > 0 and second["transactionId"] != first["transactionId"]


async def test_historic_timestamp_and_fields_are_kept_as_sent(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        answer = await cp.send("StartTransaction", start_payload(
            tag.id_tag, 2, 123456, "2019-12-31T23:59:58.250+01:00", reservationId=77))
    row = await db(tx_row)(answer["transactionId"])
    assert row.started_at == datetime(2019, 12, 31, 22, 59, 58, 250000, tzinfo=timezone.utc)
    assert (row.station_id, row.connector_id, row.meter_start, row.reservation_id) == (station.id, 2, 123456, 77)
    body = (await db(api.get)(f"/api/v1/transactions/{answer['transactionId']}/")).json()
    assert body["started_at"].startswith("2019-12-31T22:59:58.25")
    assert body["stopped_at"] is None and body["meter_stop"] is None and body["stop_reason"] is None


async def test_the_same_start_replayed_under_a_new_message_id_gets_its_id_back(node, make_station, make_id_tag):
    from transactions.models import Transaction

    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        first = await cp.send("StartTransaction", start_payload(tag.id_tag))
        again = await cp.send("StartTransaction", start_payload(tag.id_tag))
    assert again["transactionId"] == first["transactionId"]
    assert again["idTagInfo"]["status"] == "Accepted"
    assert await db(Transaction.objects.count)() == 1


# --- StopTransaction ------------------------------------------------------------------------------------------------


async def test_stop_without_reason_is_local_and_everything_is_stored(node, api, make_station, make_id_tag):
    from transactions.models import MeterValue

    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        start = await cp.send("StartTransaction", start_payload(tag.id_tag, meter_start=1000))
        tx_id = start["transactionId"]
        stop = await cp.send("StopTransaction", {
            "transactionId": tx_id, "meterStop": 8500, "timestamp": T1,
            "transactionData": [
                {"timestamp": T0, "sampledValue": [{"value": "1000", "context": "Transaction.Begin"}]},
                {"timestamp": T1, "sampledValue": [
                    {"value": "8500", "context": "Transaction.End", "measurand": "Energy.Active.Import.Register",
                     "unit": "Wh", "location": "Outlet", "format": "Raw"},
                    {"value": "80", "measurand": "SoC", "unit": "Percent", "location": "EV",
                     "context": "Transaction.End"},
                ]},
            ],
        })
    assert stop == {}  # no idTag given: no idTagInfo
    row = await db(tx_row)(tx_id)
    assert row.stop_reason == "Local"
    assert row.meter_stop == 8500
    assert row.stopped_at == datetime(2024, 5, 1, 11, 30, tzinfo=timezone.utc)
    assert row.stop_tag_mismatch is False
    data = await db(lambda: list(MeterValue.objects.filter(transaction_id=tx_id).order_by("timestamp", "id")
                                 .values_list("value", "measurand", "unit", "context", "location", "source")))()
    assert data == [
        ("1000", "Energy.Active.Import.Register", "Wh", "Transaction.Begin", "Outlet", "StopTransaction"),
        ("8500", "Energy.Active.Import.Register", "Wh", "Transaction.End", "Outlet", "StopTransaction"),
        ("80", "SoC", "Percent", "Transaction.End", "EV", "StopTransaction"),
    ]
    body = (await db(api.get)(f"/api/v1/transactions/{tx_id}/")).json()
    assert body["stop_reason"] == "Local" and body["energy_wh"] == 7500 and body["meter_stop"] == 8500
    assert body["stopped_at"].startswith("2024-05-01T11:30:00")


async def test_stop_with_reason_and_tag_answers_id_tag_info(node, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)(parent_id_tag="PARENT")
    async with connect_station(node, station.id, boot=True) as cp:
        start = await cp.send("StartTransaction", start_payload(tag.id_tag))
        stop = await cp.send("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 1200,
                                                 "timestamp": T1, "reason": "EVDisconnected", "idTag": tag.id_tag})
    # The tag's own open transaction is the one ending: not ConcurrentTx.
    assert stop["idTagInfo"]["status"] == "Accepted" and stop["idTagInfo"]["parentIdTag"] == "PARENT"
    row = await db(tx_row)(start["transactionId"])
    assert row.stop_reason == "EVDisconnected" and row.stop_id_tag == tag.id_tag and not row.stop_tag_mismatch


async def test_stop_by_a_group_member_is_not_flagged_but_a_foreign_tag_is(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    owner = await db(make_id_tag)(parent_id_tag="FAMILY")
    sibling = await db(make_id_tag)(parent_id_tag="FAMILY")
    stranger = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        by_sibling = await cp.send("StartTransaction", start_payload(owner.id_tag, 1))
        await cp.send("StopTransaction", {"transactionId": by_sibling["transactionId"], "meterStop": 1100,
                                          "timestamp": T1, "idTag": sibling.id_tag})
        by_stranger = await cp.send("StartTransaction", start_payload(owner.id_tag, 2, timestamp=T1))
        answer = await cp.send("StopTransaction", {"transactionId": by_stranger["transactionId"], "meterStop": 1100,
                                                   "timestamp": T1, "idTag": stranger.id_tag})
        by_unknown = await cp.send("StartTransaction", start_payload(owner.id_tag, 3, timestamp=T1))
        unknown_answer = await cp.send("StopTransaction", {"transactionId": by_unknown["transactionId"],
                                                           "meterStop": 1100, "timestamp": T1, "idTag": "WHO-IS-IT"})
    assert answer["idTagInfo"]["status"] == "Accepted"
    assert unknown_answer["idTagInfo"]["status"] == "Invalid"
    assert (await db(tx_row)(by_sibling["transactionId"])).stop_tag_mismatch is False
    for kept in (by_stranger, by_unknown):
        row = await db(tx_row)(kept["transactionId"])
        # Stopped all the same (the station has ended it) and flagged for the operator.
        assert row.stopped_at is not None and row.stop_tag_mismatch is True
    body = (await db(api.get)(f"/api/v1/transactions/{by_stranger['transactionId']}/")).json()
    assert body["stop_tag_mismatch"] is True and body["stop_id_tag"] == stranger.id_tag


@pytest.mark.parametrize("transaction_id", [-1, 987654])
async def test_stop_of_an_unknown_transaction_is_answered_and_recorded(node, make_station, make_id_tag,
                                                                       transaction_id):
    from transactions.models import MeterValue, UnmatchedStopTransaction

    station = await db(make_station)()
    tag = await db(make_id_tag)()
    data = [{"timestamp": T1, "sampledValue": [{"value": "4200"}]}]
    async with connect_station(node, station.id, boot=True) as cp:
        answer = await cp.send("StopTransaction", {"transactionId": transaction_id, "meterStop": 4200,
                                                   "timestamp": T1, "idTag": tag.id_tag, "transactionData": data})
        bare = await cp.send("StopTransaction", {"transactionId": transaction_id, "meterStop": 4300,
                                                 "timestamp": T1, "reason": "PowerLoss"})
    assert answer["idTagInfo"]["status"] == "Accepted"
    assert bare == {}
    kept = await db(lambda: list(UnmatchedStopTransaction.objects.filter(station=station)
                                 .order_by("received_at", "id")))()
    assert [(k.transaction_id, k.id_tag, k.meter_stop, k.reason) for k in kept] == [
        (transaction_id, tag.id_tag, 4200, "Local"), (transaction_id, "", 4300, "PowerLoss")]
    assert kept[0].transaction_data == data
    assert kept[0].timestamp == datetime(2024, 5, 1, 11, 30, tzinfo=timezone.utc)
    assert await db(MeterValue.objects.count)() == 0


async def test_stop_of_another_stations_transaction_does_not_touch_it(node, make_station, make_id_tag):
    from transactions.models import UnmatchedStopTransaction

    owner, other = await db(make_station)(), await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, owner.id, boot=True) as a, connect_station(node, other.id, boot=True) as b:
        start = await a.send("StartTransaction", start_payload(tag.id_tag))
        await b.send("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 5, "timestamp": T1})
    assert (await db(tx_row)(start["transactionId"])).stopped_at is None
    assert await db(UnmatchedStopTransaction.objects.filter(station=other).count)() == 1


async def test_a_second_stop_does_not_change_a_stopped_transaction(node, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        start = await cp.send("StartTransaction", start_payload(tag.id_tag))
        await cp.send("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 2000,
                                          "timestamp": T1, "reason": "Remote"})
        assert await cp.send("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 9999,
                                                 "timestamp": "2024-05-02T00:00:00Z"}) == {}
    row = await db(tx_row)(start["transactionId"])
    assert (row.meter_stop, row.stop_reason) == (2000, "Remote")


async def test_cost_from_the_station_tariff_or_the_default(node, api, make_station, make_id_tag):
    from tariffs.services import tariff_assign, tariff_create

    priced, plain = await db(make_station)(), await db(make_station)()
    tag = await db(make_id_tag)(max_active_transactions=-1)

    def tariffs():
        own = tariff_create(name="own", currency="EUR", elements=[{"price_components": [
            {"type": "ENERGY", "price": "0.40", "step_size": 1}, {"type": "FLAT", "price": "1.00", "step_size": 1}]}])
        tariff_assign(tariff=own, station_id=priced.id)
        tariff_create(name="default", currency="CHF", is_default=True,
                      elements=[{"price_components": [{"type": "ENERGY", "price": "0.2567", "step_size": 1}]}])

    await db(tariffs)()
    costs = {}
    for station in (priced, plain):
        async with connect_station(node, station.id, boot=True) as cp:
            start = await cp.send("StartTransaction", start_payload(tag.id_tag, meter_start=1000))
            await cp.send("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 13500,
                                              "timestamp": T1})
        body = (await db(api.get)(f"/api/v1/transactions/{start['transactionId']}/")).json()
        costs[station.id] = (body["energy_wh"], Decimal(str(body["cost"])), body["currency"])
    assert costs[priced.id] == (12500, Decimal("6.00"), "EUR")  # 1.00 + 12.5 kWh x 0.40
    assert costs[plain.id] == (12500, Decimal("3.21"), "CHF")  # 12.5 x 0.2567 = 3.20875, to cents


async def test_no_tariff_means_no_cost(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        start = await cp.send("StartTransaction", start_payload(tag.id_tag))
        await cp.send("StopTransaction", {"transactionId": start["transactionId"], "meterStop": 2000, "timestamp": T1})
    body = (await db(api.get)(f"/api/v1/transactions/{start['transactionId']}/")).json()
    assert body["cost"] is None and body["energy_wh"] == 1000
