"""OCPI 2.2.1 Location documents of real stations (ocpi.locations.documents), checked field by field
against the rules of the Locations module: required fields, enums, lengths, formats."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils import timezone

from csms.testing import ocpi_reference
from ocpi.locations.documents import (
    CONNECTOR_DEFAULTS,
    EVSE_STATUS,
    NotPublishable,
    evse_document,
    evse_id,
    evse_status,
    evse_uid,
    location_document,
    location_id,
    ocpi_datetime,
    publishable,
)
from stations import services
from stations.location import CAPABILITIES, FACILITIES, ConnectorFormat, ConnectorStandard, ParkingType, PowerType
from stations.models import ChargeStation, Connector

pytestmark = pytest.mark.django_db

EXAMPLES = ocpi_reference() / "examples"

# --- The spec's rules, as a checker -----------------------------------------------------------------

LATITUDE = re.compile(r"-?[0-9]{1,2}\.[0-9]{5,7}")
LONGITUDE = re.compile(r"-?[0-9]{1,3}\.[0-9]{5,7}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")
HOUR_MINUTE = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]")
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
EVSE_STATUSES = {"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED", "RESERVED",
                 "UNKNOWN"}

LOCATION_REQUIRED = {"country_code", "party_id", "id", "publish", "address", "city", "country", "coordinates",
                     "time_zone", "last_updated"}
LOCATION_KEYS = LOCATION_REQUIRED | {
    "publish_allowed_to", "name", "postal_code", "state", "related_locations", "parking_type", "evses", "directions",
    "operator", "suboperator", "owner", "facilities", "opening_times", "charging_when_closed", "images", "energy_mix"}
EVSE_REQUIRED = {"uid", "status", "connectors", "last_updated"}
EVSE_KEYS = EVSE_REQUIRED | {"evse_id", "status_schedule", "capabilities", "floor_level", "coordinates",
                             "physical_reference", "directions", "parking_restrictions", "images"}
CONNECTOR_REQUIRED = {"id", "standard", "format", "power_type", "max_voltage", "max_amperage", "last_updated"}
CONNECTOR_KEYS = CONNECTOR_REQUIRED | {"max_electric_power", "tariff_ids", "terms_and_conditions"}


def cistring(value, length: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= length and PRINTABLE_ASCII.fullmatch(value) is not None


def string(value, length: int) -> bool:
    return isinstance(value, str) and len(value) <= length


def check_datetime(value) -> None:
    assert isinstance(value, str) and len(value) <= 25 and DATETIME.fullmatch(value), value


def check_hours(hours: dict) -> None:
    assert set(hours) <= {"twentyfourseven", "regular_hours", "exceptional_openings", "exceptional_closings"}
    assert isinstance(hours["twentyfourseven"], bool)
    if not hours["twentyfourseven"]:
        assert hours["regular_hours"]
    for period in hours.get("regular_hours", []):
        assert 1 <= period["weekday"] <= 7
        assert HOUR_MINUTE.fullmatch(period["period_begin"]) and HOUR_MINUTE.fullmatch(period["period_end"])
        assert period["period_end"] > period["period_begin"]
    for period in hours.get("exceptional_openings", []) + hours.get("exceptional_closings", []):
        check_datetime(period["period_begin"])
        check_datetime(period["period_end"])


def check_connector(connector: dict) -> None:
    assert CONNECTOR_REQUIRED <= set(connector) <= CONNECTOR_KEYS, set(connector) ^ CONNECTOR_REQUIRED
    assert cistring(connector["id"], 36)
    assert connector["standard"] in ConnectorStandard.values
    assert connector["format"] in ConnectorFormat.values
    assert connector["power_type"] in PowerType.values
    for name in ("max_voltage", "max_amperage", "max_electric_power"):
        if name in connector:
            assert isinstance(connector[name], int) and not isinstance(connector[name], bool) and connector[name] > 0
    check_datetime(connector["last_updated"])


def check_evse(evse: dict) -> None:
    assert EVSE_REQUIRED <= set(evse) <= EVSE_KEYS, set(evse) ^ EVSE_REQUIRED
    assert cistring(evse["uid"], 36)
    if "evse_id" in evse:
        assert cistring(evse["evse_id"], 48)
    assert evse["status"] in EVSE_STATUSES
    assert set(evse.get("capabilities", [])) <= set(CAPABILITIES)
    assert evse["connectors"], "an EVSE has one connector or more"
    assert len({connector["id"] for connector in evse["connectors"]}) == len(evse["connectors"])
    for connector in evse["connectors"]:
        check_connector(connector)
    if "physical_reference" in evse:
        assert string(evse["physical_reference"], 16)
    check_datetime(evse["last_updated"])


def check_location(location: dict) -> None:
    """Every rule of OCPI 2.2.1's Location object that a document can break on its own."""
    json.dumps(location)  # plain JSON
    assert LOCATION_REQUIRED <= set(location) <= LOCATION_KEYS, set(location) ^ LOCATION_REQUIRED
    assert cistring(location["country_code"], 2) and cistring(location["party_id"], 3)
    assert cistring(location["id"], 36)
    assert isinstance(location["publish"], bool)
    assert string(location.get("name", ""), 255)
    assert string(location["address"], 255) and location["address"]
    assert string(location["city"], 45) and location["city"]
    assert string(location.get("postal_code", ""), 10)
    assert string(location.get("state", ""), 45)
    assert re.fullmatch(r"[A-Z]{3}", location["country"])
    coordinates = location["coordinates"]
    assert set(coordinates) == {"latitude", "longitude"}
    assert string(coordinates["latitude"], 10) and LATITUDE.fullmatch(coordinates["latitude"]), coordinates
    assert string(coordinates["longitude"], 11) and LONGITUDE.fullmatch(coordinates["longitude"]), coordinates
    assert -90 <= Decimal(coordinates["latitude"]) <= 90 and -180 <= Decimal(coordinates["longitude"]) <= 180
    if "parking_type" in location:
        assert location["parking_type"] in ParkingType.values
    assert set(location.get("facilities", [])) <= set(FACILITIES)
    if "operator" in location:
        assert string(location["operator"]["name"], 100) and location["operator"]["name"]
    assert string(location["time_zone"], 255) and "/" in location["time_zone"]
    if "opening_times" in location:
        check_hours(location["opening_times"])
    uids = [evse["uid"] for evse in location.get("evses", [])]
    assert len(set(uids)) == len(uids)
    for evse in location.get("evses", []):
        check_evse(evse)
    check_datetime(location["last_updated"])


def test_the_checker_accepts_the_spec_examples():
    for name in ("location_example.json", "location_example_parking_garage_opening_hours.json"):
        example = json.loads((EXAMPLES / name).read_text())
        # Our enums and lengths, the spec's example: they must agree.
        check_location({key: value for key, value in example.items() if key != "energy_mix"})


# --- Stations as the operator sets them up --------------------------------------------------------

WHERE = {"location_name": "Gent Zuid", "address": "F.Rooseveltlaan 3A", "city": "Gent", "postal_code": "9000",
         "country": "BEL", "latitude": "51.047599", "longitude": "3.729944", "time_zone": "Europe/Brussels"}


def make_station(station_id: str = "CP1", *, online: bool = True, statuses: dict[int, str] | None = None,
                 **location) -> ChargeStation:
    services.station_create(charge_box_id=station_id, location={**WHERE, **location})
    for connector_id, status in (statuses if statuses is not None else {0: "Available", 1: "Available"}).items():
        services.connector_status_update(station_id=station_id, connector_id=connector_id, status=status,
                                         error_code="NoError")
    if online:
        ChargeStation.objects.filter(pk=station_id).update(online=True, connected_at=timezone.now())
    return ChargeStation.objects.get(pk=station_id)


def document_of(station: ChargeStation, **kwargs) -> dict:
    kwargs.setdefault("country_code", "BE")
    kwargs.setdefault("party_id", "BEC")
    return location_document(station, list(Connector.objects.filter(station=station)), **kwargs)


def test_a_fully_described_station(settings):
    settings.CSMS_OCPI_BUSINESS_NAME = "Charged Up"
    station = make_station(
        "CP1", statuses={0: "Available", 1: "Available", 2: "Charging"}, state="Oost-Vlaanderen",
        parking_type="ON_STREET", facilities=["CAFE", "WIFI"], capabilities=["RFID_READER", "RESERVABLE"],
        physical_reference="P1",
        opening_hours={"twentyfourseven": False,
                       "regular_hours": [{"weekday": day, "period_begin": "07:00", "period_end": "22:00"}
                                         for day in range(1, 8)]})
    services.connector_specs_set(station=station, connector_id=2, values={
        "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC", "max_voltage": 920,
        "max_amperage": 200, "max_electric_power": 150000})
    document = document_of(station)
    check_location(document)
    assert (document["country_code"], document["party_id"], document["id"]) == ("BE", "BEC", "CP1")
    assert document["publish"] is True and document["name"] == "Gent Zuid"
    assert document["coordinates"] == {"latitude": "51.0475990", "longitude": "3.7299440"}
    assert document["operator"] == {"name": "Charged Up"}
    assert document["facilities"] == ["CAFE", "WIFI"] and document["parking_type"] == "ON_STREET"
    assert document["opening_times"]["regular_hours"][0] == {"weekday": 1, "period_begin": "07:00",
                                                             "period_end": "22:00"}
    # One EVSE per OCPP connector from 1; connector 0 is the station, not an EVSE.
    evse_1, evse_2 = document["evses"]
    assert (evse_1["uid"], evse_1["evse_id"], evse_1["status"]) == ("CP1-1", "BE*BEC*ECP1*1", "AVAILABLE")
    assert (evse_2["uid"], evse_2["status"]) == ("CP1-2", "CHARGING")
    assert evse_1["capabilities"] == ["RFID_READER", "RESERVABLE"] and evse_1["physical_reference"] == "P1"
    assert evse_2["connectors"] == [{
        "id": "2", "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC", "max_voltage": 920,
        "max_amperage": 200, "max_electric_power": 150000, "last_updated": evse_2["connectors"][0]["last_updated"]}]


def test_connectors_nobody_described_get_the_defaults(settings):
    settings.CSMS_OCPI_BUSINESS_NAME = ""
    document = document_of(make_station("CP2"))
    check_location(document)
    (connector,) = document["evses"][0]["connectors"]
    assert {name: connector[name] for name in CONNECTOR_DEFAULTS} == CONNECTOR_DEFAULTS
    assert connector["id"] == "1" and "max_electric_power" not in connector
    # Only what is known is sent; no hours stored is open 24/7, said explicitly.
    assert {"name", "state", "facilities", "parking_type", "operator"} & set(document) == {"name"}
    assert document["opening_times"] == {"twentyfourseven": True}
    assert "capabilities" not in document["evses"][0] and "physical_reference" not in document["evses"][0]


def test_an_offline_station_has_every_evse_unknown():
    station = make_station("CP-OFF", online=False, statuses={0: "Available", 1: "Available", 2: "Charging"})
    document = document_of(station)
    check_location(document)
    assert [evse["status"] for evse in document["evses"]] == ["UNKNOWN", "UNKNOWN"]


@pytest.mark.parametrize(("whole", "expected"), [("Unavailable", "INOPERATIVE"), ("Faulted", "OUTOFORDER"),
                                                   ("Available", "CHARGING")])
def test_connector_0_takes_every_evse_with_it(whole, expected):
    station = make_station(f"CP-0-{whole}", statuses={0: whole, 1: "Charging"})
    document = document_of(station)
    check_location(document)
    assert document["evses"][0]["status"] == expected


@pytest.mark.parametrize(("status", "expected"), [
    ("Available", "AVAILABLE"), ("Preparing", "CHARGING"), ("Charging", "CHARGING"), ("SuspendedEV", "CHARGING"),
    ("SuspendedEVSE", "CHARGING"), ("Finishing", "CHARGING"), ("Reserved", "RESERVED"),
    ("Unavailable", "INOPERATIVE"), ("Faulted", "OUTOFORDER"), ("", "UNKNOWN"), ("Sleeping", "UNKNOWN"),
])
def test_every_ocpp_status_maps_to_an_ocpi_status(status, expected):
    station = ChargeStation(id="CP-S", online=True)
    assert evse_status(station, Connector(connector_id=1, status=status), None) == expected
    assert evse_status(station, Connector(connector_id=1, status=status), "Available") == expected
    assert set(EVSE_STATUS.values()) <= EVSE_STATUSES


def test_a_connector_described_before_the_station_reports_it():
    station = make_station("CP-NEW", online=False, statuses={})
    services.connector_specs_set(station=station, connector_id=1, values={"standard": "CHADEMO", "power_type": "DC",
                                                                         "format": "CABLE"})
    document = document_of(station)
    check_location(document)
    assert document["evses"][0]["status"] == "UNKNOWN"
    assert document["evses"][0]["connectors"][0]["standard"] == "CHADEMO"


def test_a_40_character_station_id_is_not_publishable():
    station = make_station("X" * 40)
    assert not publishable(station)
    with pytest.raises(NotPublishable, match="not an OCPI id"):
        document_of(station)
    # Its EVSE uid still fits, and stays the same from one call to the next.
    uid = evse_uid(station, 1)
    assert cistring(uid, 36) and uid == evse_uid(ChargeStation(id="X" * 40), 1) and uid != evse_uid(station, 2)


def test_a_35_character_id_is_a_location_whose_evse_uids_are_hashed():
    station = make_station("Y" * 35)
    document = document_of(station)
    check_location(document)
    assert document["id"] == location_id(station) == "Y" * 35
    assert document["evses"][0]["uid"] != f"{'Y' * 35}-1" and len(document["evses"][0]["uid"]) <= 36


@pytest.mark.parametrize("missing", ["address", "city", "country", "time_zone", "latitude"])
def test_a_station_without_what_ocpi_requires_is_not_publishable(missing):
    values = {missing: ""}
    if missing == "latitude":
        values = {"latitude": None, "longitude": None}
    station = make_station(f"CP-MISSING-{missing}", **values)
    assert not publishable(station)
    with pytest.raises(NotPublishable):
        document_of(station)


def test_a_station_not_published_is_still_a_valid_document():
    document = document_of(make_station("CP-PRIVATE", ocpi_publish=False))
    check_location(document)
    assert document["publish"] is False


@pytest.mark.parametrize(("latitude", "longitude", "expected"), [
    ("-33.8688197", "151.2092955", {"latitude": "-33.868820", "longitude": "151.2092955"}),
    ("-89.9999999", "-179.9999999", {"latitude": "-90.000000", "longitude": "-180.000000"}),
    ("0", "0", {"latitude": "0.0000000", "longitude": "0.0000000"}),
    ("9.5", "-9.5", {"latitude": "9.5000000", "longitude": "-9.5000000"}),
])
def test_coordinates_are_written_as_ocpi_wants_them(latitude, longitude, expected):
    document = document_of(make_station(f"CP-GEO-{latitude}", latitude=latitude, longitude=longitude))
    check_location(document)
    assert document["coordinates"] == expected


@pytest.mark.parametrize(("station_id", "expected"), [
    ("CP1", "BE*BEC*ECP1*1"), ("abc123", "BE*BEC*EABC123*1"), ("CP-1", None), ("CP 1", None), ("Z" * 30, None),
])
def test_the_emi3_evse_id_is_given_only_when_it_is_one(station_id, expected):
    assert evse_id(ChargeStation(id=station_id), 1, country_code="BE", party_id="BEC") == expected


def test_evse_id_is_left_out_when_it_cannot_be_written():
    document = document_of(make_station("CP-DASH"))
    check_location(document)
    assert "evse_id" not in document["evses"][0]


def test_last_updated_is_the_latest_change():
    station = make_station("CP-TIME", online=False)
    later = timezone.now() + timedelta(hours=1)
    Connector.objects.filter(station=station, connector_id=1).update(updated_at=later)
    document = document_of(station)
    assert document["last_updated"] == document["evses"][0]["last_updated"] == ocpi_datetime(later)
    # Going offline moves the status, and so last_updated.
    even_later = later + timedelta(minutes=5)
    ChargeStation.objects.filter(pk=station.pk).update(disconnected_at=even_later)
    station.refresh_from_db()
    assert document_of(station)["last_updated"] == ocpi_datetime(even_later)


def test_ocpi_datetime():
    assert ocpi_datetime(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt_timezone.utc)) == "2026-01-02T03:04:05Z"
    assert ocpi_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt_timezone(timedelta(hours=2)))) == "2026-01-02T01:04:05Z"
    assert ocpi_datetime(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_evse_document_alone():
    station = make_station("CP-EVSE", capabilities=["REMOTE_START_STOP_CAPABLE"])
    connector = Connector.objects.get(station=station, connector_id=1)
    evse = evse_document(station, connector, station_status="Faulted")
    check_evse(evse)
    assert evse["status"] == "OUTOFORDER" and "evse_id" not in evse  # no party given


def test_bad_party_is_refused():
    station = make_station("CP-PARTY")
    with pytest.raises(ValueError):
        document_of(station, country_code="BEL")
    with pytest.raises(ValueError):
        document_of(station, party_id="B-C")
