"""Reserving and cancelling from admin end to end: an operator's browser (over HTTP) → the node → a
simulated station (docs/adr/0013-admin-wire-tests-over-http.md)."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from csms.testing import connect_station, db, eventually
from reservations.models import Reservation
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

RESERVATIONS = "/admin/reservations/reservation/"


async def test_reserve_then_cancel_from_admin(node, make_station, make_id_tag, admin_session):
    station = await db(make_station)()
    await db(make_id_tag)("ADMIN-WIRE")
    expiry = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    async with connect_station(node, station.id, boot=True) as cp:
        response = await asyncio.to_thread(admin_session.post, f"{RESERVATIONS}add/", {
            "station": station.id, "connector_id": "1", "id_tag": "ADMIN-WIRE",
            "expiry_date_0": expiry.strftime("%Y-%m-%d"), "expiry_date_1": expiry.strftime("%H:%M:%S")})
        assert response.status_code == 200, response.text[:2000]
        reservation = await eventually(lambda: Reservation.objects.filter(status="accepted").first())
        assert await cp.wait_for_call("ReserveNow") == {
            "connectorId": 1, "expiryDate": expiry.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "idTag": "ADMIN-WIRE",
            "reservationId": reservation.pk}
        successes = [text for level, text in page_messages(response.text) if level == "success"]
        assert any(f"ReserveNow #{reservation.reserve_call_id}" in text for text in successes), successes
        assert reservation.source == "admin" and reservation.requested_by_id == admin_session.user.pk

        response = await asyncio.to_thread(admin_session.post, f"{RESERVATIONS}{reservation.pk}/cancel/", {})
        assert await cp.wait_for_call("CancelReservation") == {"reservationId": reservation.pk}
        await eventually(lambda: Reservation.objects.get(pk=reservation.pk).status == "cancelled")
    page = (await asyncio.to_thread(admin_session.get, f"{RESERVATIONS}{reservation.pk}/change/")).text
    assert "cancelled" in page and "Cancel reservation on the station" not in page
