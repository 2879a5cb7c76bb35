"""Tariffs through the partner API and priced sessions over a real socket: a station's tariff, the
running cost of an open transaction, the final cost, a tariff changed mid-session, the CDR export."""

import csv
import io

import pytest

from csms.testing import connect_station, db, results

pytestmark = pytest.mark.django_db(transaction=True)

ENERGY_AND_FEE = {
    "name": "Standard", "currency": "EUR",
    "elements": [{"price_components": [
        {"type": "FLAT", "price": 0.5, "vat": 20, "step_size": 1},
        {"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1}]}],
}


def start(tag, meter_start=1000, timestamp="2024-05-01T10:00:00Z", connector_id=1):
    return {"connectorId": connector_id, "idTag": tag, "meterStart": meter_start, "timestamp": timestamp}


def energy(transaction_id, wh, timestamp):
    return {"connectorId": 1, "transactionId": transaction_id, "meterValue": [
        {"timestamp": timestamp, "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register"}]}]}


def test_tariff_crud_is_ocpi_shaped(api):
    created = api.post("/api/v1/tariffs/", json={**ENERGY_AND_FEE, "min_price": {"excl_vat": 1, "incl_vat": 1.2},
                                                  "is_default": True})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["elements"] == ENERGY_AND_FEE["elements"]
    assert (body["currency"], body["is_default"], body["version"], body["min_price"]) == (
        "EUR", True, 1, {"excl_vat": 1, "incl_vat": 1.2})
    tariff_id = body["id"]
    assert [t["id"] for t in results(api.get("/api/v1/tariffs/"))] == [tariff_id]

    changed = api.patch(f"/api/v1/tariffs/{tariff_id}/", json={"elements": [{
        "price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}],
        "restrictions": {"start_time": "22:00", "end_time": "06:00", "day_of_week": ["SATURDAY", "SUNDAY"]}}, {
        "price_components": [{"type": "ENERGY", "price": 0.40, "step_size": 1}]}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert changed.json()["elements"][0]["restrictions"] == {"start_time": "22:00", "end_time": "06:00",
                                                              "day_of_week": ["SATURDAY", "SUNDAY"]}
    unchanged = api.patch(f"/api/v1/tariffs/{tariff_id}/", json={"name": "Standard"})
    assert unchanged.json()["version"] == 2  # nothing changed: no new version

    assert api.delete(f"/api/v1/tariffs/{tariff_id}/").status_code == 204
    assert api.get(f"/api/v1/tariffs/{tariff_id}/").status_code == 404


@pytest.mark.parametrize("change,field", [
    ({"currency": "zz1"}, "currency"),
    ({"elements": [{"price_components": [{"type": "ENERGY", "price": -3, "step_size": 1}]}]}, "elements"),
    ({"elements": [{"price_components": [{"type": "FLAT", "price": -1, "step_size": 1}]}]}, "elements"),
    ({"elements": []}, "elements"),
    ({"elements": [{"price_components": [{"type": "ENERGY", "price": 1}, {"type": "ENERGY", "price": 2}]}]},
     "elements[0].price_components[1].type"),
    ({"elements": [{"price_components": [{"type": "TIME", "price": 1}], "restrictions": {"start_time": "25:00"}}]},
     "elements"),
    ({"min_price": {"excl_vat": -1}}, "min_price"),
    ({"start_date_time": "2024-02-01T00:00:00Z", "end_date_time": "2024-01-01T00:00:00Z"}, "end_date_time"),
])
def test_bad_tariffs_are_refused_naming_the_field(api, change, field):
    response = api.post("/api/v1/tariffs/", json={**ENERGY_AND_FEE, **change})
    assert response.status_code == 400, response.text
    body = response.json()
    assert "detail" in body and field in (body.get("details", {}).get("field", "") + body["detail"] + str(body))
    assert results(api.get("/api/v1/tariffs/")) == []


def test_at_most_one_default(api):
    assert api.post("/api/v1/tariffs/", json={**ENERGY_AND_FEE, "is_default": True}).status_code == 201
    second = api.post("/api/v1/tariffs/", json={**ENERGY_AND_FEE, "name": "Other", "is_default": True})
    assert second.status_code == 400 and "default" in second.json()["detail"]
    from tariffs.models import Tariff

    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():  # and the database says so too
        Tariff.objects.create(name="sneaky", currency="EUR", is_default=True)


def test_tariffs_are_for_staff(node, api):
    from csms.testing import Api
    from partners.services import partner_user_create

    _, token = partner_user_create(partner_name="P-tariffs", username="p-tariffs-user")
    partner = Api(node.http, token.key)
    assert partner.get("/api/v1/tariffs/").status_code == 403
    assert partner.post("/api/v1/tariffs/", json=ENERGY_AND_FEE).status_code == 403


async def test_running_cost_then_final_cost_through_the_api(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = (await db(make_id_tag)()).id_tag
    tariff = (await db(api.post)("/api/v1/tariffs/", json=ENERGY_AND_FEE)).json()
    assert (await db(api.patch)(f"/api/v1/stations/{station.id}/", json={"tariff": tariff["id"]})).json()["tariff"] \
        == tariff["id"]
    async with connect_station(node, station.id, boot=True) as cp:
        tx = (await cp.send("StartTransaction", start(tag)))["transactionId"]
        await cp.send("MeterValues", energy(tx, 9000, "2024-05-01T10:30:00Z"))
        running = (await db(api.get)(f"/api/v1/transactions/{tx}/")).json()
        # 8 kWh so far: 0.50 + 8 x 0.25 = 2.50 excl.; 0.60 + 2.20 = 2.80 incl.
        assert (running["cost"], running["cost_excl_vat"], running["currency"], running["cost_final"]) == (
            2.8, 2.5, "EUR", False)
        assert running["tariff"] == tariff["id"] and running["tariff_version"] == 1
        listed = next(t for t in results(await db(api.get)("/api/v1/transactions/?active=true")) if t["id"] == tx)
        assert listed["cost"] == 2.8
        await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 21000,
                                          "timestamp": "2024-05-01T11:00:00Z"})
    final = (await db(api.get)(f"/api/v1/transactions/{tx}/")).json()
    # 20 kWh: 0.50 + 5.00 = 5.50 excl.; 0.60 + 5.50 = 6.10 incl.
    assert (final["cost"], final["cost_excl_vat"], final["cost_final"]) == (6.1, 5.5, True)
    assert final["cost_breakdown"]["dimensions"]["ENERGY"] == {
        "quantity": "20000", "unit": "Wh", "cost_excl_vat": "5.00", "cost_incl_vat": "5.50"}


async def test_a_tariff_changed_mid_session_does_not_change_it(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = (await db(make_id_tag)(max_active_transactions=-1)).id_tag
    tariff = (await db(api.post)("/api/v1/tariffs/", json={**ENERGY_AND_FEE, "is_default": True})).json()
    async with connect_station(node, station.id, boot=True) as cp:
        before = (await cp.send("StartTransaction", start(tag)))["transactionId"]
        doubled = {"elements": [{"price_components": [{"type": "ENERGY", "price": 0.5, "vat": 10, "step_size": 1}]}]}
        assert (await db(api.patch)(f"/api/v1/tariffs/{tariff['id']}/", json=doubled)).json()["version"] == 2
        after = (await cp.send("StartTransaction", start(tag, connector_id=2)))["transactionId"]
        for tx in (before, after):
            await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 11000,
                                              "timestamp": "2024-05-01T11:00:00Z"})
    old = (await db(api.get)(f"/api/v1/transactions/{before}/")).json()
    new = (await db(api.get)(f"/api/v1/transactions/{after}/")).json()
    assert (old["tariff_version"], old["cost_excl_vat"]) == (1, 3.0)  # 0.50 + 10 x 0.25
    assert (new["tariff_version"], new["cost_excl_vat"]) == (2, 5.0)  # 10 x 0.50
    # Deleting the tariff keeps what past sessions cost.
    await db(api.delete)(f"/api/v1/tariffs/{tariff['id']}/")
    assert (await db(api.get)(f"/api/v1/transactions/{before}/")).json()["cost_excl_vat"] == 3.0


async def test_connector_and_partner_tariffs_win_over_the_default(node, api, make_station, make_id_tag):
    from partners.models import Partner
    from tariffs.models import Tariff
    from tariffs.services import tariff_assign

    partner = await db(Partner.objects.create)(name="P-priced")
    station = await db(make_station)(partner=partner)
    tag = (await db(make_id_tag)(max_active_transactions=-1)).id_tag

    def flat(name, price, **extra):
        return api.post("/api/v1/tariffs/", json={"name": name, "currency": "EUR", **extra, "elements": [
            {"price_components": [{"type": "FLAT", "price": price, "step_size": 1}]}]}).json()["id"]

    await db(flat)("default", 1, is_default=True)
    partners_own = await db(flat)("partner", 2)
    connectors_own = await db(flat)("connector 2", 3)

    def assign():
        tariff_assign(tariff=Tariff.objects.get(pk=partners_own), partner=partner)
        tariff_assign(tariff=Tariff.objects.get(pk=connectors_own), station_id=station.id, connector_id=2)

    await db(assign)()
    async with connect_station(node, station.id, boot=True) as cp:
        ids = [(await cp.send("StartTransaction", start(tag, connector_id=c)))["transactionId"] for c in (1, 2)]
        for tx in ids:
            await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 2000, "timestamp": "2024-05-01T11:00:00Z"})
    costs = [(await db(api.get)(f"/api/v1/transactions/{tx}/")).json()["cost"] for tx in ids]
    assert costs == [2, 3]


async def test_parking_time_from_the_connector_states_and_the_cdr_export(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = (await db(make_id_tag)()).id_tag
    parking = {"name": "Parking", "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": 0.30, "step_size": 1}, {"type": "PARKING_TIME", "price": 6, "step_size": 300}]}]}
    tariff = (await db(api.post)("/api/v1/tariffs/", json={**parking, "is_default": True})).json()

    def status(value, timestamp):
        return {"connectorId": 1, "errorCode": "NoError", "status": value, "timestamp": timestamp}

    async with connect_station(node, station.id, boot=True) as cp:
        tx = (await cp.send("StartTransaction", start(tag, timestamp="2024-05-01T10:00:00Z")))["transactionId"]
        await cp.send("StatusNotification", status("Charging", "2024-05-01T10:00:05Z"))
        await cp.send("StatusNotification", status("SuspendedEV", "2024-05-01T11:00:00Z"))
        await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 11000, "timestamp": "2024-05-01T11:22:00Z"})
    body = (await db(api.get)(f"/api/v1/transactions/{tx}/")).json()
    # 10 kWh x 0.30 = 3.00; parked 22 min, billed as 25 (step 300 s) x 6.00/h = 2.50 -> 5.50
    assert body["cost"] == 5.5
    assert body["cost_breakdown"]["dimensions"]["PARKING_TIME"]["quantity"] == "1500"

    records = await db(api.get)("/api/v1/transactions/cdrs/")
    assert records.status_code == 200
    record = next(r for r in results(records) if r["transaction_id"] == tx)
    assert (record["idle_s"], record["duration_s"], record["energy_wh"], record["tariff_name"]) == (
        1320, 4920, 10000, "Parking")
    assert (record["energy_excl_vat"], record["parking_excl_vat"], record["cost_incl_vat"]) == (3, 2.5, 5.5)
    exported = await db(api.get)(f"/api/v1/transactions/cdrs/?format=csv&station={station.id}")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1 and rows[0]["transaction_id"] == str(tx) and rows[0]["tariff"] == str(tariff["id"])
    assert (rows[0]["cost_incl_vat"], rows[0]["parking_excl_vat"], rows[0]["idle_s"], rows[0]["currency"]) == (
        "5.50", "2.50", "1320.000", "EUR")
    assert rows[0]["started_at"].startswith("2024-05-01T10:00:00")
    bad = await db(api.get)("/api/v1/transactions/cdrs/?format=csv&stopped_after=yesterday")
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("application/json")
    assert "detail" in bad.json()


# A night rate from 22:00 to 06:00 local time, and a day rate otherwise.
NIGHT_AND_DAY = {
    "name": "Night and day", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.10, "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.40, "step_size": 1}]}],
}


@pytest.mark.parametrize("zone, price", [("", 0.40), ("Asia/Tokyo", 0.10)])
async def test_times_of_day_are_read_in_the_station_time_zone(node, api, make_station, make_id_tag, zone, price):
    # 14:00 UTC is 23:00 in Tokyo (night rate there); in UTC (the default) it is day.
    station = await db(make_station)(time_zone=zone)
    tag = (await db(make_id_tag)()).id_tag
    tariff = (await db(api.post)("/api/v1/tariffs/", json=NIGHT_AND_DAY)).json()
    await db(api.patch)(f"/api/v1/stations/{station.id}/", json={"tariff": tariff["id"]})
    async with connect_station(node, station.id, boot=True) as cp:
        tx = (await cp.send("StartTransaction", start(tag, meter_start=0, timestamp="2024-05-01T14:00:00Z")))[
            "transactionId"]
        await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 10000,
                                          "timestamp": "2024-05-01T14:30:00Z"})
    final = (await db(api.get)(f"/api/v1/transactions/{tx}/")).json()
    assert (final["cost_excl_vat"], final["cost_final"]) == (round(10 * price, 2), True)
