"""Registering and changing stations (stations.services.station_create / station_update): one set of
rules, and the same registration path, whether the operator uses the admin or the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from csms.errors import Invalid
from csms.ocpp.models import Call
from stations import services
from stations.models import ChargeStation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("charge_box_id", ["", "  ", "a/b", "x" * 129, "tab\there", "del\x7f"])
def test_a_station_that_could_never_connect_is_refused(charge_box_id):
    with pytest.raises(Invalid) as refused:
        services.station_create(charge_box_id=charge_box_id)
    assert refused.value.details == {"field": "id"}
    assert not ChargeStation.objects.exists()


def test_create_refuses_a_duplicate_and_a_password_profile_without_password():
    services.station_create(charge_box_id="CP-W1")
    with pytest.raises(Invalid):
        services.station_create(charge_box_id="CP-W1")
    with pytest.raises(Invalid) as refused:
        services.station_create(charge_box_id="CP-W2", security_profile=1)
    assert refused.value.details == {"field": "password"}
    station = services.station_create(charge_box_id="CP-W2", security_profile=2, password="a-password-of-16")
    assert station.check_password("a-password-of-16") and station.registration_status == "Accepted"


def test_update_keeps_sets_and_removes_the_password():
    station = services.station_create(charge_box_id="CP-W3", security_profile=1, password="first-password-16")
    services.station_update(station=station, description="bay 1")
    station.refresh_from_db()
    assert station.check_password("first-password-16") and station.description == "bay 1"
    services.station_update(station=station, password="second-password-16")
    station.refresh_from_db()
    assert station.check_password("second-password-16")
    with pytest.raises(Invalid):
        services.station_update(station=station, password="")  # profile 1 needs one
    services.station_update(station=station, security_profile=0, password="")
    station.refresh_from_db()
    assert station.password_hash == "" and station.security_profile == 0


def pending_connected_station(station_id: str) -> ChargeStation:
    # Online on a channel nobody reads: the trigger is stored and handed over, never answered.
    return ChargeStation.objects.create(id=station_id, registration_status="Pending", online=True,
                                        channel_name="test.nobody-listens")


def boot_triggers(station_id: str) -> list[dict]:
    return list(Call.objects.filter(station_id=station_id, action="TriggerMessage").values_list("payload", flat=True))


def test_admin_form_and_api_patch_accept_the_same_way(admin_client, admin_user):
    pending_connected_station("CP-FORM")
    response = admin_client.post(reverse("admin:stations_chargestation_change", args=["CP-FORM"]), {
        "registration_status": "Accepted", "security_profile": "0", "description": "", "password": ""}, follow=True)
    assert "Accepted: asked CP-FORM to boot again" in response.content.decode()
    assert boot_triggers("CP-FORM") == [{"requestedMessage": "BootNotification"}]

    pending_connected_station("CP-PATCH")
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.patch("/api/v1/stations/CP-PATCH/", {"registration_status": "Accepted"}, format="json")
    assert response.status_code == 200 and response.json()["registration_status"] == "Accepted"
    assert boot_triggers("CP-PATCH") == [{"requestedMessage": "BootNotification"}]
    # Already accepted: never asked again (OCPP 1.6 errata 3.40).
    api.patch("/api/v1/stations/CP-PATCH/", {"registration_status": "Accepted", "description": "x"}, format="json")
    assert len(boot_triggers("CP-PATCH")) == 1


def test_the_api_answers_the_services_refusals_with_400(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/v1/stations/", {"id": "CP-API", "security_profile": 1}, format="json")
    assert response.status_code == 400 and "need a password" in response.json()["detail"]
    assert api.post("/api/v1/stations/", {"id": "CP-API"}, format="json").status_code == 201
    response = api.post("/api/v1/stations/", {"id": "CP-API"}, format="json")
    assert response.status_code == 400 and "already exists" in response.json()["detail"]
