"""OCPI Session, CDR and Tariff documents, checked field by field against OCPI 2.2.1's object tables
(read from the spec text in the repository's reference folder) and its JSON examples."""

import json
import re
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest

from csms.testing import ocpi_reference
from ocpi.cdrs.documents import cdr_document, charging_periods
from ocpi.sessions.documents import auth_method_for, ocpi_datetime, price, session_document
from ocpi.tariffs.documents import tariff_ocpi_document
from stations.models import ChargeStation, StatusNotificationRecord
from tariffs.selectors import tariff_document
from tariffs.services import tariff_assign, tariff_create
from transactions.models import IdTag, Transaction
from transactions.services import SampledValue, meter_values_store, transaction_start, transaction_stop

SPEC = ocpi_reference()
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt_timezone.utc)
TOKEN = {"country_code": "NL", "party_id": "TST", "uid": "04A1B2C3", "type": "RFID",
         "contract_id": "NL-TST-C12345678-S"}
PARTY = {"country_code": "BE", "party_id": "BEC"}
LOCATION = {
    "country_code": "BE", "party_id": "BEC", "id": "LOC1", "publish": True, "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A", "city": "Gent", "postal_code": "9000", "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "evses": [
        {"uid": "CP-OCPI-1", "status": "CHARGING", "last_updated": "2024-05-01T09:00:00Z",
         "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                         "max_voltage": 230, "max_amperage": 32, "last_updated": "2024-05-01T09:00:00Z"}]},
        {"uid": "CP-OCPI-2", "evse_id": "BE*BEC*E0001", "status": "AVAILABLE", "last_updated": "2024-05-01T09:00:00Z",
         "connectors": [{"id": "1", "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC",
                         "max_voltage": 400, "max_amperage": 125, "last_updated": "2024-05-01T09:00:00Z"}]},
    ],
    "time_zone": "Europe/Brussels", "last_updated": "2024-05-01T09:00:00Z",
}


# --- The spec's object tables ----------------------------------------------------------------------------


def spec_table(module: str, anchor: str) -> dict[str, str]:
    """{property: cardinality} of the first table after `[[anchor]]` in the spec's asciidoc."""
    text = (SPEC / module).read_text()
    after = text[text.index(f"[[{anchor}]]"):]
    table = after[after.index("|===") + 4:]
    table = table[:table.index("|===")]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) >= 4 and cells[1] and cells[1] != "Property" and cells[3] in ("1", "?", "*", "+"):
            rows[cells[1]] = cells[3]
    return rows


def enum_values(module: str, anchor: str) -> dict[str, str]:
    """{value: its second column} of an enum table (e.g. the "Session Only" flag)."""
    text = (SPEC / module).read_text()
    after = text[text.index(f"[[{anchor}]]"):]
    table = after[after.index("|===") + 4:]
    table = table[:table.index("|===")]
    values = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[A-Z_0-9]+", cells[1]):
            values[cells[1]] = cells[2]
    return values


SESSION = spec_table("mod_sessions.asciidoc", "mod_sessions_session_object")
CDR = spec_table("mod_cdrs.asciidoc", "mod_cdrs_cdr_object")
CDR_LOCATION = spec_table("mod_cdrs.asciidoc", "mod_cdrs_cdr_location_class")
CHARGING_PERIOD = spec_table("mod_cdrs.asciidoc", "mod_cdrs_chargingperiod_class")
CDR_DIMENSION = spec_table("mod_cdrs.asciidoc", "mod_cdrs_cdrdimension_class")
TARIFF = spec_table("mod_tariffs.asciidoc", "mod_tariffs_tariff_object")
PRICE = spec_table("types.asciidoc", "types_price_class")
DIMENSION_TYPES = enum_values("mod_cdrs.asciidoc", "mod_cdrs_cdrdimensiontype_enum")
SESSION_STATUSES = enum_values("mod_sessions.asciidoc", "mod_sessions_sessionstatus_enum")
AUTH_METHODS = enum_values("mod_cdrs.asciidoc", "mod_cdrs_authmethod_enum")


def example(name: str) -> dict:
    return json.loads((SPEC / "examples" / name).read_text())


def assert_shape(document: dict, table: dict[str, str], where: str) -> None:
    """No key the object does not allow; every required key (cardinality 1 or +) present, and a +
    list not empty."""
    assert set(document) <= set(table), f"{where}: not in OCPI: {set(document) - set(table)}"
    required = {name for name, card in table.items() if card in ("1", "+")}
    assert required <= set(document), f"{where}: missing {required - set(document)}"
    for name, card in table.items():
        if card in ("+", "*") and name in document:
            assert isinstance(document[name], list), f"{where}.{name}: a list"
        if card == "+" and name in document:
            assert document[name], f"{where}.{name}: at least one"


def assert_price(value: dict, where: str) -> None:
    assert_shape(value, PRICE, where)
    for amount in value.values():
        assert isinstance(amount, int | float) and not isinstance(amount, bool), where
        assert Decimal(str(amount)) == Decimal(str(amount)).quantize(Decimal("0.01")), f"{where}: EUR cents"


def assert_periods(periods: list[dict], *, cdr: bool, start: str, end: str | None) -> None:
    starts = [period["start_date_time"] for period in periods]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "periods in time order, one per start"
    for period in periods:
        assert_shape(period, CHARGING_PERIOD, "charging_period")
        assert DATETIME.match(period["start_date_time"])
        assert start <= period["start_date_time"] and (end is None or period["start_date_time"] <= end)
        for dimension in period["dimensions"]:
            assert_shape(dimension, CDR_DIMENSION, "dimension")
            assert dimension["type"] in DIMENSION_TYPES
            if cdr:
                assert DIMENSION_TYPES[dimension["type"]] != "Y", f"{dimension['type']} is for Sessions only"
            assert isinstance(dimension["volume"], int | float)


def test_the_spec_tables_read_here_fit_the_spec_examples():
    """The parsed tables are what the examples use: the checks below rest on them."""
    for name in ("session_example_1_simple_start.json", "session_example_2_short_finished.json"):
        assert_shape(example(name), SESSION, name)
    cdr = example("cdr_example.json")
    assert_shape(cdr, CDR, "cdr_example")
    assert_shape(cdr["cdr_location"], CDR_LOCATION, "cdr_example.cdr_location")
    for tariff in cdr["tariffs"]:
        assert_shape(tariff, TARIFF, "cdr_example.tariffs")
    assert_shape(example("tariff_4_complex.json"), TARIFF, "tariff_4_complex")
    assert "FLAT" not in DIMENSION_TYPES and "RESERVATION_TIME" in DIMENSION_TYPES
    assert {"ACTIVE", "COMPLETED", "INVALID"} <= set(SESSION_STATUSES)
    assert set(AUTH_METHODS) == {"AUTH_REQUEST", "COMMAND", "WHITELIST"}


# --- Set-up through the real services ----------------------------------------------------------------------


def priced_tariff(**extra):
    return tariff_create(name="Roaming AC", currency="EUR", elements=[{"price_components": [
        {"type": "FLAT", "price": "0.50", "vat": 21},
        {"type": "ENERGY", "price": "0.30", "vat": 21, "step_size": 1},
        {"type": "TIME", "price": "1.20", "vat": 21, "step_size": 60},
    ]}], **extra)


@pytest.fixture
def station(db):
    station = ChargeStation.objects.create(id="CP-OCPI", meter_serial_number="MTR-0042")
    IdTag.objects.create(id_tag="04A1B2C3")
    return station


def start(station, *, id_tag="04A1B2C3", at=T0):
    tx, _ = transaction_start(station_id=station.id, connector_id=1, id_tag=id_tag, meter_start=1000, timestamp=at)
    return tx


def energy(tx, wh, at):
    meter_values_store(station_id=tx.station_id, connector_id=1, transaction_id=tx.pk,
                       samples=[SampledValue(timestamp=at, value=str(wh))])


def stop(tx, wh, at):
    transaction_stop(station_id=tx.station_id, transaction_id=tx.pk, meter_stop=wh, timestamp=at)
    return Transaction.objects.select_related("station", "cost_record__tariff_version").get(pk=tx.pk)


def reload(tx):
    return Transaction.objects.select_related("station", "cost_record__tariff_version").get(pk=tx.pk)


def session(tx, **extra):
    return session_document(tx, **PARTY, cdr_token=TOKEN, auth_method="WHITELIST", location_id="LOC1",
                            evse_uid="CP-OCPI-1", connector_id="1", **extra)


def cdr(tx, **extra):
    version = tx.cost_record.tariff_version
    tariffs = [tariff_ocpi_document(version.document, **PARTY)] if version else []
    return cdr_document(tx, **PARTY, cdr_token=TOKEN, auth_method="WHITELIST", location=LOCATION,
                        evse_uid="CP-OCPI-1", connector_id="1", tariffs=tariffs, **extra)


@pytest.fixture
def finished(station):
    """45 min, 12 kWh (8 in the first 30 min), parked (SuspendedEV) for the last 10 min."""
    tariff = priced_tariff()
    tariff_assign(tariff=tariff, station_id=station.id)
    tx = start(station)
    energy(tx, 9000, T0 + timedelta(minutes=30))
    return stop(tx, 13000, T0 + timedelta(minutes=45))


# --- Helpers ---------------------------------------------------------------------------------------------------


def test_ocpi_datetime_is_utc_whole_seconds_with_z():
    from zoneinfo import ZoneInfo

    local = datetime(2024, 5, 1, 12, 0, 5, 987654, tzinfo=ZoneInfo("Europe/Brussels"))
    assert ocpi_datetime(local) == "2024-05-01T10:00:05Z"
    assert ocpi_datetime(datetime(2024, 5, 1, 10, 0)) == "2024-05-01T10:00:00Z"  # naive: UTC


def test_price_rounds_to_the_currencys_minor_unit_as_json_numbers():
    assert price(Decimal("1.005"), Decimal("1.21605"), currency="EUR") == {"excl_vat": 1.01, "incl_vat": 1.22}
    assert price(Decimal("2"), None, currency="EUR") == {"excl_vat": 2}
    assert price(Decimal("149.6"), Decimal("150.4"), currency="JPY") == {"excl_vat": 150, "incl_vat": 150}
    assert price("0.1235", "0.1", currency="BHD") == {"excl_vat": 0.124, "incl_vat": 0.1}


@pytest.mark.parametrize(("remote_start", "realtime", "expected"), [
    (True, False, "COMMAND"), (True, True, "COMMAND"), (False, True, "AUTH_REQUEST"), (False, False, "WHITELIST")])
def test_auth_method(station, remote_start, realtime, expected):
    tx = start(station)
    assert auth_method_for(tx, remote_start=remote_start, realtime=realtime) == expected
    assert auth_method_for(tx, realtime=realtime) == ("AUTH_REQUEST" if realtime else "WHITELIST")  # no remote start


# --- Tariffs -------------------------------------------------------------------------------------------------


def test_tariff_document_is_an_ocpi_tariff_without_our_name(db):
    tariff = priced_tariff(min_price={"excl_vat": "2.00", "incl_vat": "2.42"},
                           alt_text=[{"language": "en", "text": "0.30/kWh"}])
    stored = tariff_document(tariff)
    assert stored["name"] == "Roaming AC"
    document = tariff_ocpi_document(stored, **PARTY)
    assert_shape(document, TARIFF, "tariff")
    assert "name" not in document
    assert (document["country_code"], document["party_id"], document["id"]) == ("BE", "BEC", str(tariff.pk))
    assert len(document["id"]) <= 36 and document["currency"] == "EUR"
    assert DATETIME.match(document["last_updated"])
    assert document["min_price"] == {"excl_vat": 2, "incl_vat": 2.42}
    assert document["elements"] == stored["elements"]
    assert list(document)[:2] == ["country_code", "party_id"]
    # The spec's own example keeps its shape through the builder.
    spec = example("tariff_4_complex.json")
    assert tariff_ocpi_document(spec, country_code="DE", party_id="ALL") == spec
    with pytest.raises(ValueError):
        tariff_ocpi_document({**stored, "id": "x" * 37}, **PARTY)
    with pytest.raises(ValueError):
        tariff_ocpi_document({k: v for k, v in stored.items() if k != "elements"}, **PARTY)
    with pytest.raises(ValueError):
        tariff_ocpi_document(stored, country_code="BEL", party_id="BEC")


# --- Sessions ------------------------------------------------------------------------------------------------


def test_running_session_is_active_and_its_cost_grows_with_the_energy(station):
    tariff_assign(tariff=priced_tariff(), station_id=station.id)
    tx = start(station)
    now = T0 + timedelta(minutes=20)
    first = session(reload(tx), now=now)
    assert_shape(first, SESSION, "session")
    assert first["status"] == "ACTIVE" and "end_date_time" not in first
    assert first["id"] == str(tx.pk) and first["start_date_time"] == "2024-05-01T10:00:00Z"
    assert first["kwh"] == 0 and first["currency"] == "EUR" and first["meter_id"] == "MTR-0042"
    assert first["cdr_token"] == TOKEN and first["auth_method"] in AUTH_METHODS
    assert first["last_updated"] == ocpi_datetime(now)
    # 0.50 flat + 20 min at 1.20/h = 0.90, +21 %
    assert first["total_cost"] == {"excl_vat": 0.9, "incl_vat": 1.09}
    assert_price(first["total_cost"], "session.total_cost")
    assert_periods(first["charging_periods"], cdr=False, start=first["start_date_time"], end=None)
    energy(tx, 6000, now)
    second = session(reload(tx), now=now)
    assert second["kwh"] == 5
    assert second["total_cost"]["excl_vat"] == 0.9 + 1.5  # 5 kWh at 0.30
    assert second["total_cost"]["incl_vat"] > first["total_cost"]["incl_vat"]
    later = session(reload(tx), now=now + timedelta(minutes=10))
    assert later["total_cost"]["excl_vat"] > second["total_cost"]["excl_vat"]


def test_stopped_session_is_completed_with_the_final_cost(finished):
    document = session(finished, authorization_reference="AUTH-1")
    assert_shape(document, SESSION, "session")
    assert document["status"] == "COMPLETED"
    assert document["end_date_time"] == "2024-05-01T10:45:00Z"
    assert document["kwh"] == 12 and document["authorization_reference"] == "AUTH-1"
    record = finished.cost_record
    assert document["total_cost"] == price(record.cost_excl_vat, record.cost_incl_vat, currency="EUR")
    for name in ("start_date_time", "end_date_time", "last_updated"):
        assert DATETIME.match(document[name])
    assert_periods(document["charging_periods"], cdr=False, start=document["start_date_time"],
                   end=document["end_date_time"])


def test_a_session_refused_at_its_start_is_invalid(station):
    tariff_assign(tariff=priced_tariff(), station_id=station.id)
    tx = start(station, id_tag="UNKNOWN")
    assert tx.id_tag_status != "Accepted"
    assert session(reload(tx), now=T0 + timedelta(minutes=1))["status"] == "INVALID"
    assert session(stop(tx, 2000, T0 + timedelta(minutes=5)))["status"] == "INVALID"


def test_without_a_tariff_the_currency_falls_back_and_total_cost_is_left_out(station, settings):
    settings.CSMS_OCPI_DEFAULT_CURRENCY = "CHF"
    tx = start(station)
    document = session(reload(tx), now=T0 + timedelta(minutes=5))
    assert document["currency"] == "CHF"
    assert "total_cost" not in document and "charging_periods" not in document
    assert_shape(document, SESSION, "session")


def test_session_refuses_an_unknown_auth_method(station):
    with pytest.raises(ValueError):
        session_document(start(station), **PARTY, cdr_token=TOKEN, auth_method="RFID", location_id="LOC1",
                         evse_uid="CP-OCPI-1", connector_id="1")


# --- Charging periods ------------------------------------------------------------------------------------------


def line(dimension, start, end, quantity, *, phase="session", unit=None):
    return {"dimension": dimension, "phase": phase, "element": 0, "start": start, "end": end,
            "quantity": str(quantity), "unit": unit or {"ENERGY": "Wh", "FLAT": "session"}.get(dimension, "s"),
            "price": "1", "vat": None, "step_size": 1, "cost_excl_vat": "0", "cost_incl_vat": "0"}


def test_charging_periods_from_cost_lines_in_kwh_and_hours():
    breakdown = {"lines": [
        line("FLAT", "2024-05-01T09:30:00+00:00", "2024-05-01T09:30:00+00:00", 1, phase="reservation"),
        line("TIME", "2024-05-01T09:30:00+00:00", "2024-05-01T10:00:00+00:00", 1800, phase="reservation"),
        line("FLAT", "2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00+00:00", 1),
        line("ENERGY", "2024-05-01T10:00:00+00:00", "2024-05-01T11:00:00+00:00", 12000),
        line("TIME", "2024-05-01T10:00:00+00:00", "2024-05-01T10:30:00+00:00", 1800),
        line("TIME", "2024-05-01T10:30:00.400000+00:00", "2024-05-01T10:45:00+00:00", 900),
        line("PARKING_TIME", "2024-05-01T10:45:00+00:00", "2024-05-01T11:00:00+00:00", 900),
    ]}
    periods = charging_periods(breakdown, tariff_id="7")
    assert [p["start_date_time"] for p in periods] == [
        "2024-05-01T09:30:00Z", "2024-05-01T10:00:00Z", "2024-05-01T10:30:00Z", "2024-05-01T10:45:00Z"]
    assert all(p["tariff_id"] == "7" for p in periods)
    volumes = [{d["type"]: d["volume"] for d in p["dimensions"]} for p in periods]
    assert volumes[0] == {"RESERVATION_TIME": 0.5}  # the fee is no dimension: no FLAT anywhere
    assert volumes[1] == {"ENERGY": 6, "TIME": 0.5}  # the energy line split where the next period starts
    assert volumes[2] == {"ENERGY": 3, "TIME": 0.25}
    assert volumes[3] == {"ENERGY": 3, "PARKING_TIME": 0.25}
    assert_periods(periods, cdr=True, start="2024-05-01T09:30:00Z", end="2024-05-01T11:00:00Z")
    assert "tariff_id" not in charging_periods(breakdown, tariff_id=None)[0]
    assert charging_periods(None, tariff_id="7") == []
    only_flat = {"lines": [line("FLAT", "2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00+00:00", 1)]}
    assert charging_periods(only_flat, tariff_id="7") == []


# --- CDRs ----------------------------------------------------------------------------------------------------


def test_cdr_field_by_field(finished):
    document = cdr(finished, authorization_reference="AUTH-1")
    assert_shape(document, CDR, "cdr")
    assert_shape(document["cdr_location"], CDR_LOCATION, "cdr.cdr_location")
    for tariff in document["tariffs"]:
        assert_shape(tariff, TARIFF, "cdr.tariffs")
        assert "name" not in tariff
    assert document["id"] == document["session_id"] == str(finished.pk) and len(document["id"]) <= 36
    assert (document["country_code"], document["party_id"]) == ("BE", "BEC")
    assert document["start_date_time"] == "2024-05-01T10:00:00Z"
    assert document["end_date_time"] == "2024-05-01T10:45:00Z"
    for name in ("start_date_time", "end_date_time", "last_updated"):
        assert DATETIME.match(document[name])
    assert document["auth_method"] == "WHITELIST" and document["authorization_reference"] == "AUTH-1"
    assert document["cdr_token"] == TOKEN and document["meter_id"] == "MTR-0042" and document["currency"] == "EUR"
    location = document["cdr_location"]
    assert (location["id"], location["evse_uid"], location["connector_id"]) == ("LOC1", "CP-OCPI-1", "1")
    assert location["evse_id"] == "CP-OCPI-1"  # no evse_id on the EVSE: its uid
    assert (location["connector_standard"], location["connector_format"], location["connector_power_type"]) == (
        "IEC_62196_T2", "SOCKET", "AC_3_PHASE")
    assert location["country"] == "BEL" and location["coordinates"] == LOCATION["coordinates"]
    assert document["tariffs"][0]["id"] == str(finished.cost_record.tariff_id)
    assert document["total_energy"] == 12  # kWh
    assert document["total_time"] == 0.75  # hours
    assert document["total_parking_time"] == 0
    # 0.50 flat + 12 kWh x 0.30 + 45 min x 1.20/h = 0.50 + 3.60 + 0.90 = 5.00; +21 % = 6.05
    assert document["total_cost"] == {"excl_vat": 5, "incl_vat": 6.05}
    # incl. VAT the parts are 0.605 + 4.356 + 1.089 = 6.05: rounded one by one they would make 6.06,
    # so the cent goes where the largest remainders are (the fixed cost's half cent is the smallest).
    assert document["total_fixed_cost"] == {"excl_vat": 0.5, "incl_vat": 0.6}
    assert document["total_energy_cost"] == {"excl_vat": 3.6, "incl_vat": 4.36}
    assert document["total_time_cost"] == {"excl_vat": 0.9, "incl_vat": 1.09}
    assert "total_parking_cost" not in document and "total_reservation_cost" not in document
    assert_totals_add_up(document)
    periods = document["charging_periods"]
    assert_periods(periods, cdr=True, start=document["start_date_time"], end=document["end_date_time"])
    assert all(p["tariff_id"] == document["tariffs"][0]["id"] for p in periods)
    energy_sum = sum(Decimal(str(d["volume"])) for p in periods for d in p["dimensions"] if d["type"] == "ENERGY")
    time_sum = sum(Decimal(str(d["volume"])) for p in periods for d in p["dimensions"] if d["type"] == "TIME")
    assert energy_sum == 12 and time_sum == Decimal("0.75")


def assert_totals_add_up(document):
    for field in ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
                  "total_reservation_cost"):
        if field in document:
            assert_price(document[field], field)
    for which in ("excl_vat", "incl_vat"):
        parts = sum(Decimal(str(document[field][which])) for field in (
            "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
            "total_reservation_cost") if field in document)
        assert parts == Decimal(str(document["total_cost"][which])), which
    assert document["total_cost"]["incl_vat"] >= document["total_cost"]["excl_vat"]


def test_cdr_with_parking_and_the_evses_own_evse_id(station):
    tariff = tariff_create(name="Parking", currency="EUR", elements=[{"price_components": [
        {"type": "ENERGY", "price": "0.25", "vat": 20}, {"type": "PARKING_TIME", "price": "6.00", "vat": 20}]}])
    tariff_assign(tariff=tariff, station_id=station.id)
    tx = start(station)
    StatusNotificationRecord.objects.create(station=station, connector_id=1, status="SuspendedEV", error_code="NoError",
                                            timestamp=T0 + timedelta(minutes=40))
    finished = stop(tx, 11000, T0 + timedelta(minutes=60))
    document = cdr_document(finished, **PARTY, cdr_token=TOKEN, auth_method="COMMAND", location=LOCATION,
                            evse_uid="CP-OCPI-2", connector_id="1")
    assert_shape(document, CDR, "cdr")
    assert document["cdr_location"]["evse_id"] == "BE*BEC*E0001"
    assert document["cdr_location"]["connector_power_type"] == "DC"
    assert document["total_parking_time"] == 0.3333  # 20 min in hours, 4 decimals
    assert document["total_time"] == 1
    # 10 kWh x 0.25 = 2.50; 20 min x 6.00/h = 2.00
    assert document["total_energy_cost"] == {"excl_vat": 2.5, "incl_vat": 3}
    assert document["total_parking_cost"] == {"excl_vat": 2, "incl_vat": 2.4}
    assert document["total_cost"] == {"excl_vat": 4.5, "incl_vat": 5.4}
    assert_totals_add_up(document)
    kinds = [[d["type"] for d in p["dimensions"]] for p in document["charging_periods"]]
    assert "PARKING_TIME" in kinds[-1] and kinds[0] == ["ENERGY"]
    assert not any("TIME" in kind for kind in kinds)  # no TIME component: no TIME line, no TIME volume


@pytest.mark.parametrize(("limit", "expected"), [
    ({"min_price": {"excl_vat": "10.00", "incl_vat": "12.10"}}, {"excl_vat": 10, "incl_vat": 12.1}),
    ({"max_price": {"excl_vat": "3.00", "incl_vat": "3.63"}}, {"excl_vat": 3, "incl_vat": 3.63}),
])
def test_cdr_totals_add_up_after_a_min_or_max_price(station, limit, expected):
    tariff_assign(tariff=priced_tariff(**limit), station_id=station.id)
    tx = start(station)
    energy(tx, 9000, T0 + timedelta(minutes=30))
    finished = stop(tx, 13000, T0 + timedelta(minutes=45))
    assert finished.cost_record.breakdown["adjustment"]["applied"] in limit
    document = cdr(finished)
    assert document["total_cost"] == expected
    assert_totals_add_up(document)
    if "min_price" in limit:  # the top-up is a fixed cost; energy and time cost what they cost
        assert document["total_energy_cost"] == {"excl_vat": 3.6, "incl_vat": 4.36}
        # 0.605 + 6.05 top-up, 4.356 and 1.089 incl. VAT share out the 12.10 as 6.65 + 4.36 + 1.09
        assert document["total_fixed_cost"] == {"excl_vat": 5.5, "incl_vat": 6.65}


def test_cdr_of_a_session_without_cost_lines_has_one_period(station):
    tariff = tariff_create(name="Time only", currency="EUR",
                           elements=[{"price_components": [{"type": "TIME", "price": "2.00"}]}])
    tariff_assign(tariff=tariff, station_id=station.id)
    finished = stop(start(station), 1000, T0)  # stopped as it started: nothing to price
    document = cdr(finished)
    assert document["charging_periods"] == [{"start_date_time": "2024-05-01T10:00:00Z",
                                             "dimensions": [{"type": "ENERGY", "volume": 0}]}]
    assert document["total_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert_shape(document, CDR, "cdr")


def test_no_cdr_for_a_running_or_unpriced_transaction(station):
    tx = start(station)
    with pytest.raises(ValueError, match="running"):
        cdr_document(reload(tx), **PARTY, cdr_token=TOKEN, auth_method="WHITELIST", location=LOCATION,
                     evse_uid="CP-OCPI-1", connector_id="1")
    unpriced = stop(tx, 2000, T0 + timedelta(minutes=5))  # no tariff anywhere
    with pytest.raises(ValueError, match="priced"):
        cdr_document(unpriced, **PARTY, cdr_token=TOKEN, auth_method="WHITELIST", location=LOCATION,
                     evse_uid="CP-OCPI-1", connector_id="1")


def test_cdr_refuses_an_evse_or_connector_the_location_lacks(finished):
    with pytest.raises(ValueError, match="EVSE"):
        cdr_document(finished, **PARTY, cdr_token=TOKEN, auth_method="WHITELIST", location=LOCATION,
                     evse_uid="NOPE", connector_id="1")
    with pytest.raises(ValueError, match="connector"):
        cdr_document(finished, **PARTY, cdr_token=TOKEN, auth_method="WHITELIST", location=LOCATION,
                     evse_uid="CP-OCPI-1", connector_id="9")
