"""The operator's pages: reservations per station and connector, created and cancelled from admin.
The admin runs in this process, so these tests look at the calls it stores, not at a station."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reservations.models import Reservation
from csms.ocpp.models import Call
from stations.models import ConfigurationKey, Connector

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def online_station(make_station, make_id_tag):
    make_id_tag("ADMIN-TAG")  # reservations are refused for unknown tags
    make_id_tag("OTHER-TAG")
    # Online on a channel nobody reads: calls are stored and handed over, never answered.
    return make_station(online=True, channel_name="test.nobody-listens")


def add_form(station, connector_id: int, id_tag: str = "ADMIN-TAG") -> dict:
    expiry = timezone.now() + timedelta(hours=1)
    return {"station": station.pk, "connector_id": connector_id, "id_tag": id_tag,
            "expiry_date_0": expiry.strftime("%Y-%m-%d"), "expiry_date_1": expiry.strftime("%H:%M:%S")}


def test_adding_a_reservation_sends_reserve_now(admin_client, online_station):
    response = admin_client.post(reverse("admin:reservations_reservation_add"), add_form(online_station, 1))
    assert response.status_code == 302, response.content.decode()[:2000]
    reservation = Reservation.objects.get()
    call = Call.objects.get(action="ReserveNow")
    assert reservation.status == "requested" and reservation.source == "admin" and reservation.reserve_call == call
    assert call.payload["reservationId"] == reservation.pk and call.payload["connectorId"] == 1

    Connector.objects.create(station=online_station, connector_id=1, status="Reserved")
    changelist = admin_client.get(reverse("admin:reservations_reservation_changelist"))
    assert changelist.status_code == 200 and "Reserved" in changelist.content.decode()
    page = admin_client.get(reverse("admin:reservations_reservation_change", args=[reservation.pk]))
    assert page.status_code == 200 and "Cancel reservation on the station" in page.content.decode()

    admin_client.post(reverse("admin:reservations_reservation_cancel", args=[reservation.pk]))
    assert Call.objects.get(action="CancelReservation").payload == {"reservationId": reservation.pk}


def test_connector_zero_and_offline_stations_are_refused_on_the_form(admin_client, online_station, make_station):
    response = admin_client.post(reverse("admin:reservations_reservation_add"), add_form(online_station, 0))
    assert response.status_code == 200 and "ReserveConnectorZeroSupported" in response.content.decode()
    offline = make_station()
    response = admin_client.post(reverse("admin:reservations_reservation_add"), add_form(offline, 1))
    assert response.status_code == 200 and "not connected" in response.content.decode()
    assert not Reservation.objects.exists() and not Call.objects.exists()

    ConfigurationKey.objects.create(station=online_station, key="ReserveConnectorZeroSupported", value="true")
    response = admin_client.post(reverse("admin:reservations_reservation_add"), add_form(online_station, 0))
    assert response.status_code == 302 and Call.objects.get(action="ReserveNow").payload["connectorId"] == 0


def test_cancel_action(admin_client, online_station):
    admin_client.post(reverse("admin:reservations_reservation_add"), add_form(online_station, 2))
    reservation = Reservation.objects.get()
    response = admin_client.post(reverse("admin:reservations_reservation_changelist"),
                                 {"action": "cancel_reservations", "_selected_action": [reservation.pk]}, follow=True)
    assert "CancelReservation #" in response.content.decode()
    assert Call.objects.filter(action="CancelReservation").count() == 1


def test_saving_an_ended_reservation_sends_nothing(admin_client, online_station):
    admin_client.post(reverse("admin:reservations_reservation_add"), add_form(online_station, 1))
    reservation = Reservation.objects.get()
    Reservation.objects.filter(pk=reservation.pk).update(status="expired")
    url = reverse("admin:reservations_reservation_change", args=[reservation.pk])
    page = admin_client.get(url).content.decode()
    assert "Cancel reservation on the station" not in page
    assert admin_client.post(url, {}).status_code == 302
    assert Call.objects.filter(action="ReserveNow").count() == 1


def test_changing_an_active_reservation_replaces_it_under_the_same_id(admin_client, online_station):
    admin_client.post(reverse("admin:reservations_reservation_add"), add_form(online_station, 1))
    reservation = Reservation.objects.get()
    form = add_form(online_station, 3, id_tag="OTHER-TAG")
    del form["station"]
    response = admin_client.post(reverse("admin:reservations_reservation_change", args=[reservation.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    latest = Call.objects.filter(action="ReserveNow").order_by("-pk").first()
    assert latest.payload["reservationId"] == reservation.pk and latest.payload["connectorId"] == 3
    assert Reservation.objects.get().id_tag == "OTHER-TAG"
