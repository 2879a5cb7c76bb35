"""Profile 1-2 passwords: one rule (16 to 40 characters of OCPP's password characters) for admin,
API and the AuthorizationKey sent to a station; a strong one generated on request."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from csms.ocpp.models import Call
from stations.models import ChargeStation
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

BAD = ["short", "x" * 15, "y" * 41, "sixteen chars ok", "pässwörd-pässwörd-1", "password/with/slash"]
GOOD = ["a" * 16, "Z" * 40, "0123456789abcdef0123", "*-_=:+|@.Abc12345"]


def test_the_rule():
    from csms.errors import Invalid
    from stations.services import station_password_check, station_password_generate

    for password in BAD:
        with pytest.raises(Invalid):
            station_password_check(password)
    for password in GOOD:
        station_password_check(password)
    generated = {station_password_generate() for _ in range(20)}
    assert len(generated) == 20
    assert all(re.fullmatch(r"[0-9a-f]{40}", password) for password in generated)


def test_admin_refuses_a_weak_password_and_generates_a_strong_one(admin_client):
    url = reverse("admin:stations_chargestation_add")
    form = {"id": "CP-PWRULE", "registration_status": "Accepted", "security_profile": "1", "description": ""}
    for password in ("short", "sixteen chars ok"):
        response = admin_client.post(url, {**form, "password": password})
        assert response.status_code == 200 and "16 to 40 characters" in response.content.decode()
        assert not ChargeStation.objects.filter(pk="CP-PWRULE").exists()

    response = admin_client.post(url, {**form, "generate_password": "on"}, follow=True)
    assert response.status_code == 200
    shown = [re.search(r"generated for CP-PWRULE is ([0-9a-f]{40})", text) for _, text in page_messages(response.content.decode())]
    password = next(match[1] for match in shown if match)
    station = ChargeStation.objects.get(pk="CP-PWRULE")
    assert station.check_password(password) and password not in station.password_hash

    change = reverse("admin:stations_chargestation_change", args=["CP-PWRULE"])
    response = admin_client.post(change, {**form, "password": "a" * 20, "generate_password": "on"})
    assert response.status_code == 200 and "one of them" in response.content.decode()


def test_api_refuses_a_weak_password_and_generates_a_strong_one(api):
    response = api.post("/api/v1/stations/", json={"id": "CP-PWAPI", "security_profile": 2, "password": "short"})
    assert response.status_code == 400 and "16 to 40 characters" in response.json()["detail"]
    assert not ChargeStation.objects.filter(pk="CP-PWAPI").exists()

    response = api.post("/api/v1/stations/", json={"id": "CP-PWAPI", "security_profile": 2, "password": "generate"})
    assert response.status_code == 201, response.text
    password = response.json()["password"]
    assert re.fullmatch(r"[0-9a-f]{40}", password)
    assert ChargeStation.objects.get(pk="CP-PWAPI").check_password(password)
    assert "password" not in api.get("/api/v1/stations/CP-PWAPI/").json()

    response = api.patch("/api/v1/stations/CP-PWAPI/", json={"password": "generate"})
    renewed = response.json()["password"]
    assert renewed != password and ChargeStation.objects.get(pk="CP-PWAPI").check_password(renewed)
    response = api.patch("/api/v1/stations/CP-PWAPI/", json={"password": "with spaces inside it"})
    assert response.status_code == 400 and response.json()["details"] == {"field": "password"}
    assert "password" not in api.patch("/api/v1/stations/CP-PWAPI/", json={"description": "x"}).json()


def test_an_authorization_key_that_breaks_the_rule_is_not_sent(api, make_station):
    station = make_station(online=True, channel_name="test.nobody-listens")
    response = api.post(f"/api/v1/stations/{station.pk}/calls/",
                        json={"action": "ChangeConfiguration", "payload": {"key": "AuthorizationKey", "value": "short"}})
    assert response.status_code == 400 and "16 to 40 characters" in response.json()["detail"]
    assert not Call.objects.filter(station=station).exists()
