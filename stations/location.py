"""Where a station is and what its connectors are: the static data a roaming partner (OCPI 2.2.1
Locations module) needs and no station reports over OCPP 1.6.

The value sets are OCPI's enums; the validators refuse what an OCPI document could not carry, with
csms.errors.Invalid naming the field (`details["field"]`), as the other station rules do. This
module imports no model: models.py takes its choices from here.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import models

from csms.errors import Invalid


class ConnectorStandard(models.TextChoices):
    """OCPI ConnectorType."""

    CHADEMO = "CHADEMO", "CHAdeMO (DC)"
    CHAOJI = "CHAOJI", "ChaoJi (DC)"
    DOMESTIC_A = "DOMESTIC_A", "Domestic type A"
    DOMESTIC_B = "DOMESTIC_B", "Domestic type B"
    DOMESTIC_C = "DOMESTIC_C", "Domestic type C"
    DOMESTIC_D = "DOMESTIC_D", "Domestic type D"
    DOMESTIC_E = "DOMESTIC_E", "Domestic type E"
    DOMESTIC_F = "DOMESTIC_F", "Domestic type F (Schuko)"
    DOMESTIC_G = "DOMESTIC_G", "Domestic type G"
    DOMESTIC_H = "DOMESTIC_H", "Domestic type H"
    DOMESTIC_I = "DOMESTIC_I", "Domestic type I"
    DOMESTIC_J = "DOMESTIC_J", "Domestic type J"
    DOMESTIC_K = "DOMESTIC_K", "Domestic type K"
    DOMESTIC_L = "DOMESTIC_L", "Domestic type L"
    DOMESTIC_M = "DOMESTIC_M", "Domestic type M"
    DOMESTIC_N = "DOMESTIC_N", "Domestic type N"
    DOMESTIC_O = "DOMESTIC_O", "Domestic type O"
    GBT_AC = "GBT_AC", "GB/T AC"
    GBT_DC = "GBT_DC", "GB/T DC"
    IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16", "IEC 60309-2 single phase 16 A"
    IEC_60309_2_THREE_16 = "IEC_60309_2_three_16", "IEC 60309-2 three phases 16 A"
    IEC_60309_2_THREE_32 = "IEC_60309_2_three_32", "IEC 60309-2 three phases 32 A"
    IEC_60309_2_THREE_64 = "IEC_60309_2_three_64", "IEC 60309-2 three phases 64 A"
    IEC_62196_T1 = "IEC_62196_T1", "Type 1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO", "CCS Type 1 (DC)"
    IEC_62196_T2 = "IEC_62196_T2", "Type 2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO", "CCS Type 2 (DC)"
    IEC_62196_T3A = "IEC_62196_T3A", "Type 3A"
    IEC_62196_T3C = "IEC_62196_T3C", "Type 3C"
    NEMA_5_20 = "NEMA_5_20", "NEMA 5-20"
    NEMA_6_30 = "NEMA_6_30", "NEMA 6-30"
    NEMA_6_50 = "NEMA_6_50", "NEMA 6-50"
    NEMA_10_30 = "NEMA_10_30", "NEMA 10-30"
    NEMA_10_50 = "NEMA_10_50", "NEMA 10-50"
    NEMA_14_30 = "NEMA_14_30", "NEMA 14-30"
    NEMA_14_50 = "NEMA_14_50", "NEMA 14-50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP", "Pantograph, bottom-up"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN", "Pantograph, top-down"
    TESLA_R = "TESLA_R", "Tesla Roadster"
    TESLA_S = "TESLA_S", "Tesla Model S"


class ConnectorFormat(models.TextChoices):
    """OCPI ConnectorFormat."""

    SOCKET = "SOCKET", "Socket"
    CABLE = "CABLE", "Attached cable"


class PowerType(models.TextChoices):
    """OCPI PowerType."""

    AC_1_PHASE = "AC_1_PHASE", "AC, one phase"
    AC_2_PHASE = "AC_2_PHASE", "AC, two phases"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT", "AC, split phase"
    AC_3_PHASE = "AC_3_PHASE", "AC, three phases"
    DC = "DC", "DC"


class ParkingType(models.TextChoices):
    """OCPI ParkingType."""

    ALONG_MOTORWAY = "ALONG_MOTORWAY", "Along a motorway"
    PARKING_GARAGE = "PARKING_GARAGE", "Parking garage"
    PARKING_LOT = "PARKING_LOT", "Parking lot"
    ON_DRIVEWAY = "ON_DRIVEWAY", "On a driveway"
    ON_STREET = "ON_STREET", "On street"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE", "Underground garage"


# OCPI Facility and Capability: stored as JSON lists of these values.
FACILITIES = (
    "HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE", "MUSEUM",
    "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION", "TRAIN_STATION", "AIRPORT",
    "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI",
)
CAPABILITIES = (
    "CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT", "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL", "REMOTE_START_STOP_CAPABLE", "RESERVABLE",
    "RFID_READER", "START_SESSION_CONNECTOR_REQUIRED", "TOKEN_GROUP_CAPABLE", "UNLOCK_CAPABLE",
)

# What an operator sets on a station for roaming, and on a connector (connector_id >= 1).
STATION_LOCATION_FIELDS = (
    "location_name", "address", "city", "postal_code", "state", "country", "latitude", "longitude", "time_zone",
    "opening_hours", "parking_type", "facilities", "capabilities", "ocpi_publish", "physical_reference",
)
CONNECTOR_SPEC_FIELDS = ("standard", "format", "power_type", "max_voltage", "max_amperage", "max_electric_power")

# Text lengths as OCPI 2.2.1 bounds them (its errata: address and state 255 and 45).
TEXT_LENGTHS = {"location_name": 255, "address": 255, "city": 45, "postal_code": 10, "state": 45,
                "physical_reference": 16, "time_zone": 64}

COUNTRY = re.compile(r"[A-Z]{3}")
HOUR_MINUTE = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]")
# OCPI DateTime: RFC 3339 in UTC, "Z" or nothing at the end, optional fractional seconds.
OCPI_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")
HOURS_KEYS = {"twentyfourseven", "regular_hours", "exceptional_openings", "exceptional_closings"}


def _refuse(field: str, message: str):
    raise Invalid(f"{field}: {message}", details={"field": field})


def text_validate(field: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _refuse(field, "must be text")
    value = value.strip()
    if len(value) > TEXT_LENGTHS[field]:
        _refuse(field, f"at most {TEXT_LENGTHS[field]} characters")
    return value


def country_validate(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or (value and not COUNTRY.fullmatch(value)):
        _refuse("country", "an ISO 3166-1 alpha-3 code: three upper-case letters (e.g. BEL)")
    return value


def time_zone_validate(value) -> str:
    value = text_validate("time_zone", value)
    if not value:
        return ""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        _refuse("time_zone", f"{value!r} is not an IANA time zone (e.g. Europe/Brussels)")
    return value


def coordinate_validate(field: str, value, bound: int) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = None if isinstance(value, bool) else Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        _refuse(field, "a decimal number of degrees")
    if not -bound <= number <= bound:
        _refuse(field, f"between -{bound} and {bound}")
    # The column keeps seven decimal places (about 1 cm); more would be refused by the database.
    return number.quantize(Decimal("0.0000001"))


def coordinates_validate(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    latitude = coordinate_validate("latitude", latitude, 90)
    longitude = coordinate_validate("longitude", longitude, 180)
    if (latitude is None) != (longitude is None):
        _refuse("latitude" if latitude is None else "longitude", "latitude and longitude go together: both or neither")
    return latitude, longitude


def _enum_list_validate(field: str, value, allowed: tuple[str, ...]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _refuse(field, "a list of values")
    unknown = [item for item in value if item not in allowed]
    if unknown:
        _refuse(field, f"unknown {', '.join(unknown)}; one of {', '.join(allowed)}")
    return list(dict.fromkeys(value))  # in the given order, each once


def facilities_validate(value) -> list[str]:
    return _enum_list_validate("facilities", value, FACILITIES)


def capabilities_validate(value) -> list[str]:
    return _enum_list_validate("capabilities", value, CAPABILITIES)


def choice_validate(field: str, value, choices: type[models.TextChoices]) -> str:
    if value is None or value == "":
        return ""
    if value not in choices.values:
        _refuse(field, f"{value!r} is not one of {', '.join(choices.values)}")
    return value


def _datetime_parse(field: str, value) -> datetime:
    if not isinstance(value, str) or not OCPI_DATETIME.fullmatch(value):
        _refuse(field, "periods begin and end at a UTC date-time such as 2018-12-25T05:00:00Z")
    try:
        return datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        _refuse(field, f"{value!r} is not a date-time")


def opening_hours_validate(value) -> dict | None:
    """An OCPI Hours object (None: open 24/7, as OCPI reads a Location without one)."""
    field = "opening_hours"
    if value is None:
        return None
    if not isinstance(value, dict):
        _refuse(field, "an object with twentyfourseven, regular_hours, exceptional_openings, exceptional_closings")
    unknown = set(value) - HOURS_KEYS
    if unknown:
        _refuse(field, f"unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(value.get("twentyfourseven"), bool):
        _refuse(field, "twentyfourseven (true or false) is required")
    regular = value.get("regular_hours") or []
    if not isinstance(regular, list):
        _refuse(field, "regular_hours is a list")
    if value["twentyfourseven"] and regular:
        _refuse(field, "regular_hours only when twentyfourseven is false")
    if not value["twentyfourseven"] and not regular:
        _refuse(field, "when not open 24/7, regular_hours needs at least one period")
    clean: dict = {"twentyfourseven": value["twentyfourseven"]}
    if regular:
        clean["regular_hours"] = [_regular_period_validate(period) for period in regular]
    for key in ("exceptional_openings", "exceptional_closings"):
        periods = value.get(key) or []
        if not isinstance(periods, list):
            _refuse(field, f"{key} is a list")
        if periods:
            clean[key] = [_exceptional_period_validate(key, period) for period in periods]
    return clean


def _regular_period_validate(period) -> dict:
    field = "opening_hours"
    if not isinstance(period, dict) or set(period) != {"weekday", "period_begin", "period_end"}:
        _refuse(field, "each regular_hours entry has weekday, period_begin and period_end")
    weekday = period["weekday"]
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
        _refuse(field, "weekday is 1 (Monday) to 7 (Sunday)")
    begin, end = period["period_begin"], period["period_end"]
    for moment in (begin, end):
        if not isinstance(moment, str) or not HOUR_MINUTE.fullmatch(moment):
            _refuse(field, "period_begin and period_end are local times HH:MM (00:00 to 23:59)")
    if end <= begin:
        _refuse(field, f"a regular period ends after it begins ({begin}-{end} on day {weekday})")
    return {"weekday": weekday, "period_begin": begin, "period_end": end}


def _exceptional_period_validate(key: str, period) -> dict:
    field = "opening_hours"
    if not isinstance(period, dict) or set(period) != {"period_begin", "period_end"}:
        _refuse(field, f"each {key} entry has period_begin and period_end")
    begin = _datetime_parse(field, period["period_begin"])
    end = _datetime_parse(field, period["period_end"])
    if end <= begin:
        _refuse(field, f"an exceptional period ends after it begins ({period['period_begin']})")
    return {"period_begin": period["period_begin"], "period_end": period["period_end"]}


def station_location_clean(values: dict, *, current: dict) -> dict:
    """The given location fields, checked and normalised; `current` holds the stored values, for the
    rules that span fields (coordinates: both or neither)."""
    unknown = set(values) - set(STATION_LOCATION_FIELDS)
    if unknown:
        raise Invalid(f"not location fields: {', '.join(sorted(unknown))}", details={"field": sorted(unknown)[0]})
    clean: dict = {}
    for name, value in values.items():
        if name in ("location_name", "address", "city", "postal_code", "state", "physical_reference"):
            clean[name] = text_validate(name, value)
        elif name == "country":
            clean[name] = country_validate(value)
        elif name == "time_zone":
            clean[name] = time_zone_validate(value)
        elif name == "opening_hours":
            clean[name] = opening_hours_validate(value)
        elif name == "parking_type":
            clean[name] = choice_validate(name, value, ParkingType)
        elif name == "facilities":
            clean[name] = facilities_validate(value)
        elif name == "capabilities":
            clean[name] = capabilities_validate(value)
        elif name == "ocpi_publish":
            if not isinstance(value, bool):
                _refuse(name, "true or false")
            clean[name] = value
    if "latitude" in values or "longitude" in values:
        clean["latitude"], clean["longitude"] = coordinates_validate(
            values.get("latitude", current.get("latitude")), values.get("longitude", current.get("longitude")))
    return clean


def _positive_int_validate(field: str, value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value > 2_147_483_647:
        _refuse(field, "a whole number above 0")
    return value


def connector_spec_clean(values: dict) -> dict:
    """A connector's static fields (CONNECTOR_SPEC_FIELDS), checked."""
    unknown = set(values) - set(CONNECTOR_SPEC_FIELDS)
    if unknown:
        raise Invalid(f"not connector fields: {', '.join(sorted(unknown))}", details={"field": sorted(unknown)[0]})
    choices = {"standard": ConnectorStandard, "format": ConnectorFormat, "power_type": PowerType}
    return {name: choice_validate(name, value, choices[name]) if name in choices else _positive_int_validate(name, value)
            for name, value in values.items()}
