"""Where a station is and what its connectors are (stations.location): one set of rules, through the
services, whether staff use the API or the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from csms.errors import Invalid
from stations import location, services
from stations.models import ChargeStation, Connector
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db

HOURS = {
    "twentyfourseven": False,
    "regular_hours": [{"weekday": 1, "period_begin": "08:00", "period_end": "20:00"},
                      {"weekday": 6, "period_begin": "09:00", "period_end": "12:00"}],
    "exceptional_closings": [{"period_begin": "2026-12-25T00:00:00Z", "period_end": "2026-12-26T00:00:00Z"}],
}
LOCATION = {
    "location_name": "Gent Zuid", "address": "F.Rooseveltlaan 3A", "city": "Gent", "postal_code": "9000",
    "country": "BEL", "latitude": "51.047599", "longitude": "3.729944", "time_zone": "Europe/Brussels",
    "opening_hours": HOURS, "parking_type": "ON_STREET", "facilities": ["CAFE", "WIFI"],
    "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"], "ocpi_publish": True, "physical_reference": "P1",
}


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def refusal(response) -> dict:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert body["detail"]
    return body


def refused_field(body: dict) -> str:
    """The field a 400 names: the services' `details`, or DRF's own `errors`."""
    if "details" in body:
        return body["details"]["field"]
    return next(iter(body["errors"]))


# --- Validators ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "field"), [
    ({"country": "BE"}, "country"),
    ({"country": "bel"}, "country"),
    ({"country": "BELG"}, "country"),
    ({"latitude": "91", "longitude": "3"}, "latitude"),
    ({"latitude": "51", "longitude": "-180.5"}, "longitude"),
    ({"latitude": "north", "longitude": "3"}, "latitude"),
    ({"latitude": "51"}, "longitude"),  # both or neither
    ({"longitude": "3"}, "latitude"),
    ({"time_zone": "Europe/Gent"}, "time_zone"),
    ({"time_zone": "../etc/passwd"}, "time_zone"),
    ({"parking_type": "ROOFTOP"}, "parking_type"),
    ({"facilities": ["CAFE", "CASINO"]}, "facilities"),
    ({"facilities": "CAFE"}, "facilities"),
    ({"capabilities": ["TELEPORT"]}, "capabilities"),
    ({"ocpi_publish": "yes"}, "ocpi_publish"),
    ({"city": "x" * 46}, "city"),
    ({"postal_code": "12345678901"}, "postal_code"),
    ({"physical_reference": "x" * 17}, "physical_reference"),
    ({"opening_hours": []}, "opening_hours"),
    ({"opening_hours": {"regular_hours": []}}, "opening_hours"),  # twentyfourseven is required
    ({"opening_hours": {"twentyfourseven": False}}, "opening_hours"),  # closed for ever
    ({"opening_hours": {"twentyfourseven": True, "regular_hours": HOURS["regular_hours"]}}, "opening_hours"),
    ({"opening_hours": {"twentyfourseven": False, "regular_hours": [
        {"weekday": 8, "period_begin": "08:00", "period_end": "20:00"}]}}, "opening_hours"),
    ({"opening_hours": {"twentyfourseven": False, "regular_hours": [
        {"weekday": 1, "period_begin": "8:00", "period_end": "20:00"}]}}, "opening_hours"),
    ({"opening_hours": {"twentyfourseven": False, "regular_hours": [
        {"weekday": 1, "period_begin": "20:00", "period_end": "08:00"}]}}, "opening_hours"),
    ({"opening_hours": {"twentyfourseven": True, "exceptional_closings": [
        {"period_begin": "2026-12-25T00:00:00+01:00", "period_end": "2026-12-26T00:00:00Z"}]}}, "opening_hours"),
    ({"opening_hours": {"twentyfourseven": True, "holidays": []}}, "opening_hours"),
    ({"colour": "green"}, "colour"),
])
def test_location_values_refused_name_their_field(values, field):
    with pytest.raises(Invalid) as refused:
        location.station_location_clean(values, current={})
    assert refused.value.details == {"field": field}


def test_location_values_accepted_are_normalised():
    clean = location.station_location_clean(
        {**LOCATION, "city": "  Gent ", "facilities": ["WIFI", "WIFI", "CAFE"]}, current={})
    assert clean["city"] == "Gent"
    assert clean["facilities"] == ["WIFI", "CAFE"]
    assert clean["latitude"] == Decimal("51.0475990") and clean["longitude"] == Decimal("3.7299440")
    assert clean["opening_hours"] == HOURS
    assert location.station_location_clean({"opening_hours": None}, current={}) == {"opening_hours": None}
    # One coordinate changes: the other is taken as stored.
    assert location.station_location_clean({"latitude": "-33.8688"}, current={"longitude": Decimal("151.2093")}) == {
        "latitude": Decimal("-33.8688000"), "longitude": Decimal("151.2093000")}
    # Both cleared together.
    assert location.station_location_clean({"latitude": None, "longitude": None}, current={}) == {
        "latitude": None, "longitude": None}


@pytest.mark.parametrize(("values", "field"), [
    ({"standard": "TYPE_2"}, "standard"),
    ({"format": "PLUG"}, "format"),
    ({"power_type": "AC_4_PHASE"}, "power_type"),
    ({"max_voltage": 0}, "max_voltage"),
    ({"max_amperage": -16}, "max_amperage"),
    ({"max_electric_power": "22000"}, "max_electric_power"),
    ({"max_voltage": True}, "max_voltage"),
    ({"status": "Available"}, "status"),
])
def test_connector_values_refused_name_their_field(values, field):
    with pytest.raises(Invalid) as refused:
        location.connector_spec_clean(values)
    assert refused.value.details == {"field": field}


def test_connector_specs_set_adds_a_connector_not_reported_yet_but_never_connector_0():
    station = services.station_create(charge_box_id="CP-LOC-SVC")
    connector = services.connector_specs_set(station=station, connector_id=2, values={
        "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC", "max_voltage": 920,
        "max_amperage": 400, "max_electric_power": 150000})
    assert (connector.connector_id, connector.status, connector.power_type) == (2, "", "DC")
    services.connector_specs_set(station=station, connector_id=2, values={"max_electric_power": None})
    connector.refresh_from_db()
    assert connector.max_electric_power is None and connector.max_voltage == 920  # those left out stay
    with pytest.raises(Invalid) as refused:
        services.connector_specs_set(station=station, connector_id=0, values={"standard": "IEC_62196_T2"})
    assert refused.value.details == {"field": "connector_id"}


def test_a_reported_status_keeps_what_the_operator_set():
    station = services.station_create(charge_box_id="CP-LOC-STATUS")
    services.connector_specs_set(station=station, connector_id=1, values={"standard": "CHADEMO", "power_type": "DC"})
    services.connector_status_update(station_id=station.pk, connector_id=1, status="Charging", error_code="NoError")
    connector = Connector.objects.get(station=station, connector_id=1)
    assert (connector.status, connector.standard, connector.power_type) == ("Charging", "CHADEMO", "DC")


# --- API ----------------------------------------------------------------------------------------------


def test_api_patch_sets_location_and_connectors(api):
    services.station_create(charge_box_id="CP-LOC-API")
    response = api.patch("/api/v1/stations/CP-LOC-API/", {**LOCATION, "connectors": [
        {"connector_id": 1, "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
         "max_voltage": 230, "max_amperage": 32},
        {"connector_id": 2, "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC",
         "max_voltage": 920, "max_amperage": 200, "max_electric_power": 150000},
    ]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["country"] == "BEL" and body["time_zone"] == "Europe/Brussels"
    assert Decimal(str(body["latitude"])) == Decimal("51.047599") and body["opening_hours"] == HOURS
    assert [(c["connector_id"], c["power_type"], c["max_electric_power"]) for c in body["connectors"]] == [
        (1, "AC_3_PHASE", None), (2, "DC", 150000)]
    station = ChargeStation.objects.get(pk="CP-LOC-API")
    assert station.facilities == ["CAFE", "WIFI"] and station.parking_type == "ON_STREET"

    # A partial change leaves the rest as it was; only the connectors listed change.
    response = api.patch("/api/v1/stations/CP-LOC-API/", {"ocpi_publish": False, "connectors": [
        {"connector_id": 2, "max_electric_power": 100000}]}, format="json")
    assert response.status_code == 200, response.content
    station.refresh_from_db()
    assert station.ocpi_publish is False and station.city == "Gent"
    assert Connector.objects.get(station=station, connector_id=2).max_electric_power == 100000
    assert Connector.objects.get(station=station, connector_id=1).max_voltage == 230


def test_api_create_with_location(api):
    response = api.post("/api/v1/stations/", {"id": "CP-LOC-NEW", "city": "Gent", "country": "BEL",
                                              "connectors": [{"connector_id": 1, "standard": "CHADEMO"}]},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["ocpi_publish"] is True and response.json()["capabilities"] == []
    assert Connector.objects.get(station_id="CP-LOC-NEW", connector_id=1).standard == "CHADEMO"


@pytest.mark.parametrize(("body", "field"), [
    ({"country": "Belgium"}, "country"),
    ({"latitude": "51.0"}, "longitude"),
    ({"latitude": "123.5", "longitude": "3"}, "latitude"),
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"opening_hours": {"twentyfourseven": False}}, "opening_hours"),
    ({"facilities": ["CASINO"]}, "facilities"),
    ({"capabilities": ["TELEPORT"]}, "capabilities"),
    ({"parking_type": "ROOFTOP"}, "parking_type"),
    ({"connectors": [{"connector_id": 0, "standard": "CHADEMO"}]}, "connectors"),
    ({"connectors": [{"connector_id": 1, "standard": "TYPE_2"}]}, "connectors"),
    ({"connectors": [{"standard": "CHADEMO"}]}, "connectors"),
])
def test_api_refuses_bad_location_with_a_400_naming_the_field(api, body, field):
    services.station_create(charge_box_id="CP-LOC-BAD")
    body_back = refusal(api.patch("/api/v1/stations/CP-LOC-BAD/", body, format="json"))
    assert refused_field(body_back).split(".")[0] == field, body_back
    station = ChargeStation.objects.get(pk="CP-LOC-BAD")
    assert (station.country, station.latitude, station.opening_hours) == ("", None, None)
    assert not Connector.objects.filter(station=station).exists()


def test_a_bad_connector_rolls_back_the_whole_patch(api):
    services.station_create(charge_box_id="CP-LOC-ATOMIC")
    refusal(api.patch("/api/v1/stations/CP-LOC-ATOMIC/", {"city": "Gent", "connectors": [
        {"connector_id": 1, "standard": "CHADEMO"}, {"connector_id": 2, "max_voltage": 0}]}, format="json"))
    assert ChargeStation.objects.get(pk="CP-LOC-ATOMIC").city == ""
    assert not Connector.objects.filter(station_id="CP-LOC-ATOMIC").exists()


def test_a_partner_reads_the_location_but_does_not_set_it():
    from partners.services import partner_user_create

    partner, token = partner_user_create(partner_name="loc-partner", username="loc-partner-user")
    services.station_create(charge_box_id="CP-LOC-PARTNER", partner=partner, location={"city": "Gent"})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/stations/CP-LOC-PARTNER/").json()["city"] == "Gent"
    response = client.patch("/api/v1/stations/CP-LOC-PARTNER/", {"city": "Brugge"}, format="json")
    assert response.status_code == 403
    response = client.patch("/api/v1/stations/CP-LOC-PARTNER/", {"connectors": [{"connector_id": 1}]}, format="json")
    assert response.status_code == 403
    assert client.patch("/api/v1/stations/CP-LOC-PARTNER/", {"description": "bay 1"},
                        format="json").status_code == 200
    assert ChargeStation.objects.get(pk="CP-LOC-PARTNER").city == "Gent"


# --- Admin --------------------------------------------------------------------------------------------


def station_form(**location) -> dict:
    """The station page's form as a browser posts it (connectors inline included)."""
    form = {"registration_status": "Accepted", "security_profile": "0", "description": "", "password": "",
            "file_transfer_protocol": "http", "ocpi_publish": "on",
            "connectors-TOTAL_FORMS": "0", "connectors-INITIAL_FORMS": "0",
            "connectors-MIN_NUM_FORMS": "0", "connectors-MAX_NUM_FORMS": "1000"}
    for name, value in location.items():
        if name == "ocpi_publish" and not value:
            form.pop("ocpi_publish")
        elif isinstance(value, dict):
            import json

            form[name] = json.dumps(value)
        elif value is not None:
            form[name] = value
    return form


def test_admin_saves_the_location_and_connectors(admin_client):
    station = services.station_create(charge_box_id="CP-LOC-ADMIN")
    services.connector_status_update(station_id=station.pk, connector_id=0, status="Available", error_code="NoError")
    services.connector_status_update(station_id=station.pk, connector_id=1, status="Available", error_code="NoError")
    change = reverse("admin:stations_chargestation_change", args=[station.pk])
    page = admin_client.get(change).content.decode()
    assert "Location (roaming)" in page and "connectors-TOTAL_FORMS" in page
    assert 'name="connectors-0-standard"' in page and 'name="connectors-1-standard"' not in page  # not connector 0

    connector_1 = Connector.objects.get(station=station, connector_id=1)
    form = station_form(**{**LOCATION, "facilities": None, "capabilities": None})
    form.update({"facilities": ["CAFE", "WIFI"], "capabilities": ["RFID_READER"],
                 "connectors-TOTAL_FORMS": "2", "connectors-INITIAL_FORMS": "1",
                 "connectors-0-id": str(connector_1.pk), "connectors-0-station": station.pk,
                 "connectors-0-standard": "IEC_62196_T2", "connectors-0-format": "CABLE",
                 "connectors-0-power_type": "AC_1_PHASE", "connectors-0-max_voltage": "230",
                 "connectors-0-max_amperage": "16",
                 # a connector the station has not reported yet
                 "connectors-1-id": "", "connectors-1-station": station.pk, "connectors-1-connector_id": "2",
                 "connectors-1-standard": "CHADEMO", "connectors-1-format": "CABLE", "connectors-1-power_type": "DC",
                 "connectors-1-max_voltage": "500", "connectors-1-max_amperage": "125",
                 "connectors-1-max_electric_power": "50000"})
    response = admin_client.post(change, form, follow=True)
    assert response.status_code == 200
    assert [level for level, _ in page_messages(response.content.decode())] == ["success"], response.content[-3000:]
    station.refresh_from_db()
    assert (station.city, station.country, station.latitude) == ("Gent", "BEL", Decimal("51.0475990"))
    assert station.facilities == ["CAFE", "WIFI"] and station.capabilities == ["RFID_READER"]
    assert station.opening_hours == HOURS and station.ocpi_publish is True
    connectors = {c.connector_id: c for c in Connector.objects.filter(station=station)}
    assert (connectors[1].standard, connectors[1].power_type, connectors[1].status) == (
        "IEC_62196_T2", "AC_1_PHASE", "Available")
    assert (connectors[2].standard, connectors[2].max_electric_power, connectors[2].status) == ("CHADEMO", 50000, "")


@pytest.mark.parametrize(("location", "message"), [
    ({"country": "be"}, "ISO 3166-1 alpha-3"),
    ({"latitude": "51.05"}, "both or neither"),
    ({"latitude": "99", "longitude": "3"}, "between -90 and 90"),
    ({"time_zone": "Europe/Gent"}, "not an IANA time zone"),
    ({"opening_hours": {"twentyfourseven": False}}, "at least one period"),
])
def test_admin_refuses_bad_location_on_its_field(admin_client, location, message):
    station = services.station_create(charge_box_id="CP-LOC-ADMINBAD")
    response = admin_client.post(reverse("admin:stations_chargestation_change", args=[station.pk]),
                                 station_form(**location))
    page = response.content.decode()
    assert response.status_code == 200 and "errornote" in page and message in page
    station.refresh_from_db()
    assert (station.country, station.latitude, station.time_zone, station.opening_hours) == ("", None, "", None)


def test_admin_refuses_connector_0_and_a_bad_connector_value(admin_client):
    station = services.station_create(charge_box_id="CP-LOC-ADMINC")
    base = station_form()
    base.update({"connectors-TOTAL_FORMS": "1", "connectors-0-id": "", "connectors-0-station": station.pk,
                 "connectors-0-connector_id": "0", "connectors-0-standard": "CHADEMO"})
    response = admin_client.post(reverse("admin:stations_chargestation_change", args=[station.pk]), base)
    assert response.status_code == 200 and "errornote" in response.content.decode()
    base.update({"connectors-0-connector_id": "1", "connectors-0-max_voltage": "0"})
    response = admin_client.post(reverse("admin:stations_chargestation_change", args=[station.pk]), base)
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert not Connector.objects.filter(station=station).exists()


def test_admin_form_without_the_new_fields_keeps_the_connectors(admin_client):
    """A script posting the station form as it was before the connectors were on the page."""
    station = services.station_create(charge_box_id="CP-LOC-OLDFORM")
    services.connector_specs_set(station=station, connector_id=1, values={"standard": "CHADEMO"})
    response = admin_client.post(reverse("admin:stations_chargestation_change", args=[station.pk]), {
        "registration_status": "Accepted", "security_profile": "0", "description": "bay 9", "password": ""})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Connector.objects.get(station=station, connector_id=1).standard == "CHADEMO"


def test_admin_adds_a_station_with_its_location(admin_client):
    page = admin_client.get(reverse("admin:stations_chargestation_add")).content.decode()
    assert "Location (roaming)" in page and "connectors-TOTAL_FORMS" in page
    form = station_form(city="Gent", country="BEL", latitude="51.05", longitude="3.73", time_zone="Europe/Brussels")
    form["id"] = "CP-LOC-ADD"
    response = admin_client.post(reverse("admin:stations_chargestation_add"), form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    station = ChargeStation.objects.get(pk="CP-LOC-ADD")
    assert (station.city, station.latitude, station.time_zone) == ("Gent", Decimal("51.0500000"), "Europe/Brussels")
