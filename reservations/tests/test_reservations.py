"""Reservations end to end: the partner API over HTTP, a simulated station over a real socket."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from csms.testing import connect_station, db, eventually, results
from reservations.models import Reservation
from transactions.id_tags import id_tag_create
from transactions.models import IdTag
from csms.ocpp.schemas import format_datetime
from csms.ocpp.models import Call

pytestmark = pytest.mark.django_db(transaction=True)


def in_minutes(minutes: float) -> str:
    return format_datetime(timezone.now() + timedelta(minutes=minutes))


def reservation_status(reservation_id: int):
    return lambda: Reservation.objects.values_list("status", flat=True).get(pk=reservation_id)


def registered(id_tag: str) -> None:
    """Reservations are refused for tags the CSMS does not know."""
    if not IdTag.objects.filter(id_tag=id_tag).exists():
        id_tag_create(id_tag=id_tag)


async def reserve(api, station_id: str, connector_id: int, id_tag: str, minutes: float = 30, **extra):
    await db(registered)(id_tag)
    return await db(api.post)("/api/v1/reservations/", json={
        "station": station_id, "connector_id": connector_id, "id_tag": id_tag, "expiry_date": in_minutes(minutes), **extra,
    })


async def start_transaction(cp, connector_id: int, id_tag: str, **extra) -> dict:
    return await cp.send("StartTransaction", {
        "connectorId": connector_id, "idTag": id_tag, "meterStart": 0, "timestamp": format_datetime(timezone.now()), **extra,
    })


async def test_reserve_sends_reserve_now_and_follows_the_answer(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    await db(make_id_tag)("RES-TAG-1")
    async with connect_station(node, station.id, boot=True) as cp:
        expiry = in_minutes(30)
        response = await db(api.post)("/api/v1/reservations/", json={
            "station": station.id, "connector_id": 1, "id_tag": "RES-TAG-1", "expiry_date": expiry})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "requested" and body["station"] == station.id and body["connector_id"] == 1
        sent = await cp.wait_for_call("ReserveNow")
        assert sent == {"connectorId": 1, "expiryDate": expiry, "idTag": "RES-TAG-1", "reservationId": body["id"]}
        await eventually(lambda: reservation_status(body["id"])() == "accepted")

    detail = (await db(api.get)(f"/api/v1/reservations/{body['id']}/")).json()
    assert detail["status"] == "accepted" and detail["active"] is True
    listed = results(await db(api.get)(f"/api/v1/reservations/?station={station.id}&status=accepted"))
    assert [item["id"] for item in listed] == [body["id"]]
    assert results(await db(api.get)(f"/api/v1/reservations/?station={station.id}&status=cancelled")) == []


@pytest.mark.parametrize("answer", ["Occupied", "Faulted", "Rejected", "Unavailable"])
async def test_a_refusal_is_kept_as_the_status(node, api, make_station, answer):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["ReserveNow"] = {"status": answer}
        body = (await reserve(api, station.id, 1, "ANY-TAG")).json()
        await eventually(lambda: reservation_status(body["id"])() == answer.lower())
    reservation = await db(Reservation.objects.get)(pk=body["id"])
    assert reservation.ended_at is not None and answer in reservation.detail


async def test_cancel_sends_cancel_reservation(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        body = (await reserve(api, station.id, 2, "CANCEL-TAG")).json()
        await eventually(lambda: reservation_status(body["id"])() == "accepted")
        response = await db(api.post)(f"/api/v1/reservations/{body['id']}/cancel/")
        assert response.status_code == 202, response.text
        assert await cp.wait_for_call("CancelReservation") == {"reservationId": body["id"]}
        await eventually(lambda: reservation_status(body["id"])() == "cancelled")
        # Nothing left to cancel.
        again = await db(api.post)(f"/api/v1/reservations/{body['id']}/cancel/")
        assert again.status_code == 400 and "cancelled" in again.json()["detail"]


async def test_cancel_rejected_by_the_station_keeps_the_status(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["CancelReservation"] = {"status": "Rejected"}
        body = (await reserve(api, station.id, 1, "CANCEL-TAG")).json()
        await eventually(lambda: reservation_status(body["id"])() == "accepted")
        response = await db(api.post)(f"/api/v1/reservations/{body['id']}/cancel/?wait=10")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted"
        assert "rejected" in response.json()["detail"]


async def test_expiry_job_expires_requested_and_accepted_and_late_answers_do_not_revive(node, api, make_station):
    from reservations.tasks import expire_reservations

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        accepted = (await reserve(api, station.id, 1, "EXP-TAG-1", minutes=0.03)).json()
        await eventually(lambda: reservation_status(accepted["id"])() == "accepted")

        answer_now = asyncio.Event()

        async def late_answer(payload):
            await answer_now.wait()
            return {"status": "Accepted"}

        cp.answers["ReserveNow"] = late_answer
        requested = (await reserve(api, station.id, 2, "EXP-TAG-2", minutes=0.03)).json()
        await cp.wait_for_call("ReserveNow", count=2)
        await asyncio.sleep(2.0)  # both are past their expiry date (1.8 s) now; the answer still within the call timeout
        await db(expire_reservations)()  # without Redis the node runs it on its own schedule too
        assert await db(reservation_status(accepted["id"]))() == "expired"
        assert await db(reservation_status(requested["id"]))() == "expired"
        answer_now.set()
        await eventually(lambda: Call.objects.filter(action="ReserveNow", status="completed").count() == 2)
    assert await db(reservation_status(requested["id"]))() == "expired"


async def test_start_transaction_with_the_reservation_id_uses_it(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    await db(make_id_tag)("USE-TAG")
    async with connect_station(node, station.id, boot=True) as cp:
        body = (await reserve(api, station.id, 1, "USE-TAG")).json()
        await eventually(lambda: reservation_status(body["id"])() == "accepted")
        started = await start_transaction(cp, 1, "USE-TAG", reservationId=body["id"])
    reservation = await db(Reservation.objects.get)(pk=body["id"])
    assert reservation.status == "used" and reservation.transaction_id == started["transactionId"]
    assert (await db(api.get)(f"/api/v1/reservations/{body['id']}/")).json()["transaction"] == started["transactionId"]


async def test_a_tag_of_the_group_on_the_reserved_connector_uses_it(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    await db(make_id_tag)("GROUP-A", parent_id_tag="FLEET-1")
    await db(make_id_tag)("GROUP-B", parent_id_tag="FLEET-1")
    await db(make_id_tag)("STRANGER")
    async with connect_station(node, station.id, boot=True) as cp:
        body = (await reserve(api, station.id, 1, "GROUP-A")).json()
        sent = await cp.wait_for_call("ReserveNow")
        assert sent["parentIdTag"] == "FLEET-1"  # so the station lets the whole group use it
        await eventually(lambda: reservation_status(body["id"])() == "accepted")
        await start_transaction(cp, 2, "GROUP-B")  # another connector: not this reservation
        await start_transaction(cp, 1, "STRANGER")  # not of the group
        assert await db(reservation_status(body["id"]))() == "accepted"
        started = await start_transaction(cp, 1, "GROUP-B")
    reservation = await db(Reservation.objects.get)(pk=body["id"])
    assert reservation.status == "used" and reservation.transaction_id == started["transactionId"]


async def test_connector_zero_needs_reserve_connector_zero_supported(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        refused = await reserve(api, station.id, 0, "ZERO-TAG")
        assert refused.status_code == 400 and "ReserveConnectorZeroSupported" in refused.json()["detail"]
        assert await db(Reservation.objects.count)() == 0

        cp.answers["GetConfiguration"] = {"configurationKey": [
            {"key": "ReserveConnectorZeroSupported", "readonly": True, "value": "false"}]}
        await db(api.call)(station.id, "GetConfiguration", {})
        assert (await reserve(api, station.id, 0, "ZERO-TAG")).status_code == 400
        assert await db(Call.objects.filter(action="ReserveNow").count)() == 0

        cp.answers["GetConfiguration"] = {"configurationKey": [
            {"key": "ReserveConnectorZeroSupported", "readonly": True, "value": "true"}]}
        await db(api.call)(station.id, "GetConfiguration", {})
        accepted = await reserve(api, station.id, 0, "ZERO-TAG")
        assert accepted.status_code == 201, accepted.text
        assert (await cp.wait_for_call("ReserveNow"))["connectorId"] == 0
    assert [name for name, _ in cp.received].count("ReserveNow") == 1


async def test_faulted_or_unavailable_connector_ends_accepted_reservations(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        on_one = (await reserve(api, station.id, 1, "F-TAG-1")).json()
        on_two = (await reserve(api, station.id, 2, "F-TAG-2")).json()
        await eventually(lambda: Reservation.objects.filter(status="accepted").count() == 2)

        async def status(connector_id: int, value: str):
            await cp.send("StatusNotification", {"connectorId": connector_id, "errorCode": "NoError", "status": value,
                                                 "timestamp": format_datetime(timezone.now())})

        await status(1, "Faulted")
        assert await db(reservation_status(on_one["id"]))() == "cancelled"
        assert await db(reservation_status(on_two["id"]))() == "accepted"
        await status(0, "Unavailable")  # the whole station
        assert await db(reservation_status(on_two["id"]))() == "cancelled"


async def test_reserved_connector_state_is_shown(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        body = (await reserve(api, station.id, 1, "SHOW-TAG")).json()
        await eventually(lambda: reservation_status(body["id"])() == "accepted")
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"})
    detail = (await db(api.get)(f"/api/v1/reservations/{body['id']}/")).json()
    assert detail["connector_status"] == "Reserved"


async def test_a_new_reservation_with_the_same_id_replaces_the_old_one(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        first = (await reserve(api, station.id, 1, "OLD-TAG")).json()
        await eventually(lambda: reservation_status(first["id"])() == "accepted")
        replaced = await reserve(api, station.id, 2, "NEW-TAG", id=first["id"])
        assert replaced.status_code == 201, replaced.text
        assert replaced.json()["id"] == first["id"] and replaced.json()["status"] == "requested"
        sent = await cp.wait_for_call("ReserveNow", count=2)
        assert sent["reservationId"] == first["id"] and sent["connectorId"] == 2 and sent["idTag"] == "NEW-TAG"
        await eventually(lambda: reservation_status(first["id"])() == "accepted")
    reservation = await db(Reservation.objects.get)(pk=first["id"])
    assert (reservation.connector_id, reservation.id_tag) == (2, "NEW-TAG")
    assert await db(Reservation.objects.count)() == 1


async def test_refusals_before_anything_is_sent(node, api, make_station):
    station = await db(make_station)()
    offline = await reserve(api, station.id, 1, "OFF-TAG")
    assert offline.status_code == 409 and "not connected" in offline.json()["detail"]
    async with connect_station(node, station.id, boot=True):
        past = await reserve(api, station.id, 1, "OFF-TAG", minutes=-1)
        assert past.status_code == 400 and "future" in past.json()["detail"]
        unknown = await reserve(api, station.id, 1, "OFF-TAG", id=999999)
        assert unknown.status_code == 400
        missing_station = await reserve(api, "NO-SUCH-STATION", 1, "OFF-TAG")
        assert missing_station.status_code == 404
    assert await db(Reservation.objects.count)() == 0
    assert await db(Call.objects.filter(action="ReserveNow").count)() == 0


async def test_a_partner_sees_only_its_own_reservations(node, api, make_station):
    from csms.testing import Api
    from partners.models import Partner
    from partners.services import partner_user_create

    mine_partner, token = await db(partner_user_create)(partner_name="Res Partner", username="res-partner-user")
    other = await db(Partner.objects.create)(name="Other Res Partner")
    mine = await db(make_station)(partner=mine_partner)
    theirs = await db(make_station)(partner=other)
    partner_api = Api(node.http, token.key)
    await db(id_tag_create)(id_tag="P-TAG", partner=mine_partner)
    async with connect_station(node, mine.id, boot=True), connect_station(node, theirs.id, boot=True):
        own = await reserve(partner_api, mine.id, 1, "P-TAG")
        assert own.status_code == 201, own.text
        assert (await reserve(partner_api, theirs.id, 1, "P-TAG")).status_code == 404
        foreign = (await reserve(api, theirs.id, 1, "Q-TAG")).json()
    listed = results(await db(partner_api.get)("/api/v1/reservations/"))
    assert [item["id"] for item in listed] == [own.json()["id"]]
    assert (await db(partner_api.get)(f"/api/v1/reservations/{foreign['id']}/")).status_code == 404
    assert (await db(partner_api.post)(f"/api/v1/reservations/{foreign['id']}/cancel/")).status_code == 404


async def test_unknown_tags_and_occupied_connectors_are_refused_before_sending(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    await db(make_id_tag)("KNOWN-TAG")
    async with connect_station(node, station.id, boot=True) as cp:
        for number in (1, 2):
            await cp.send("StatusNotification", {"connectorId": number, "errorCode": "NoError", "status": "Available"})
        unknown = await db(api.post)("/api/v1/reservations/", json={
            "station": station.id, "connector_id": 1, "id_tag": "NEVER-SEEN", "expiry_date": in_minutes(30)})
        assert unknown.status_code == 400 and "id tag NEVER-SEEN is unknown" in unknown.json()["detail"]
        phantom = await reserve(api, station.id, 99, "KNOWN-TAG")
        assert phantom.status_code == 400 and "has no connector 99" in phantom.json()["detail"]
        first = await reserve(api, station.id, 1, "KNOWN-TAG")
        assert first.status_code == 201, first.text
        again = await reserve(api, station.id, 1, "KNOWN-TAG")
        assert again.status_code == 400 and f"is already reserved (reservation {first.json()['id']}" in again.json()["detail"]
        await cp.send("StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Charging"})
        busy = await reserve(api, station.id, 2, "KNOWN-TAG")
        assert busy.status_code == 400 and "is occupied: it last reported Charging" in busy.json()["detail"]
        assert [action for action, _ in cp.received if action == "ReserveNow"] == ["ReserveNow"]
