"""OCPI 2.2.1 Location, EVSE and Connector documents of our stations, as pure functions.

Nothing here reads or writes the database: callers pass the station and its Connector rows (connector
0, the station as a whole, included or not). The mapping, and why, is docs/adr/0150.

- One Location per station: its id is the chargeBoxId.
- One EVSE per OCPP connector (connector_id >= 1), with that one Connector: OCPP 1.6 has no EVSE
  level, and OCPI's note on OCPP 1.x asks CPOs to present each connector as an EVSE so that
  StartSession (which names an EVSE) reaches one OCPP connectorId.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Iterable

from django.conf import settings

from ocpi.transport import ocpi_datetime  # noqa: F401  (also re-exported)

# OCPP 1.6 ChargePointStatus -> OCPI EVSE Status. A connector in a session (from Preparing to
# Finishing) is not free for another driver: CHARGING. Anything else (blank, a vendor's value): UNKNOWN.
EVSE_STATUS = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}
UNKNOWN = "UNKNOWN"
# What connector 0 (the whole station) reports that takes every connector with it.
STATION_WIDE_STATUS = {"Unavailable": "INOPERATIVE", "Faulted": "OUTOFORDER"}

# OCPI requires standard, format, power_type, max_voltage and max_amperage on every Connector, and
# OCPP 1.6 reports none of them. Until the operator sets them (stations admin / API), a connector is
# described as the commonest public AC point in Europe: a Type 2 socket, three phases, 230 V, 32 A.
CONNECTOR_DEFAULTS = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}

CISTRING_ID_LENGTH = 36  # Location.id, EVSE.uid, Connector.id
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
PARTY_ID = re.compile(r"[A-Za-z0-9]{3}")
# eMI3 / ISO 15118 EVSE ID with separators: country, operator, "E", then the power outlet id
# (an alphanumeric first, then alphanumerics or "*", at most 31 in all).
EMI3_EVSE_ID = re.compile(r"[A-Z]{2}\*[A-Z0-9]{3}\*E[A-Z0-9][A-Z0-9*]{0,30}")
# Maximum lengths of GeoLocation's strings, and the decimals OCPI accepts (5 to 7).
LATITUDE_LENGTH, LONGITUDE_LENGTH = 10, 11
OPERATOR_NAME_LENGTH = 100


class NotPublishable(ValueError):
    """The station lacks what every OCPI Location must carry (publish_problems says what)."""


def _is_cistring(value: str, max_length: int) -> bool:
    return 0 < len(value) <= max_length and PRINTABLE_ASCII.fullmatch(value) is not None


# --- Identifiers ------------------------------------------------------------------------------


def location_id(station) -> str:
    """The Location's id: the chargeBoxId (publishable only when it is a CiString(36))."""
    return station.id


def evse_uid(station, connector_id: int) -> str:
    """The EVSE's uid: "<chargeBoxId>-<connectorId>", or, when that is no CiString(36), a stable
    short form from a hash of the chargeBoxId (the same station always gives the same uid)."""
    plain = f"{station.id}-{connector_id}"
    if _is_cistring(plain, CISTRING_ID_LENGTH):
        return plain
    digest = hashlib.sha256(station.id.encode()).hexdigest()[:CISTRING_ID_LENGTH - 1 - len(str(connector_id))]
    return f"{digest}-{connector_id}"[:CISTRING_ID_LENGTH]


def evse_id(station, connector_id: int, *, country_code: str, party_id: str) -> str | None:
    """The eMI3 EVSE ID "<CC>*<PARTY>*E<chargeBoxId>*<connectorId>", or None when the chargeBoxId
    cannot be written in it (characters other than letters and digits, too long): the field is
    optional in OCPI, and an id that breaks the eMI3 syntax would be refused by partners.

    The "*" before the connector keeps station "A1" connector 12 apart from station "A11" connector 2.
    """
    candidate = f"{country_code}*{party_id}*E{station.id}*{connector_id}".upper()
    return candidate if EMI3_EVSE_ID.fullmatch(candidate) else None


# --- Status ---------------------------------------------------------------------------------------


def evse_status(station, connector, station_connector0_status: str | None) -> str:
    """The OCPI status of the EVSE that is this connector: UNKNOWN while the station is offline (what
    it reported last may no longer hold); INOPERATIVE / OUTOFORDER when connector 0 says the whole
    station is Unavailable / Faulted; otherwise the connector's own status (EVSE_STATUS)."""
    if not station.online:
        return UNKNOWN
    if station_connector0_status in STATION_WIDE_STATUS:
        return STATION_WIDE_STATUS[station_connector0_status]
    return EVSE_STATUS.get(connector.status or "", UNKNOWN)


# --- Publishing -------------------------------------------------------------------------------


def publish_problems(station) -> list[str]:
    """What keeps the station from being a valid OCPI Location (empty: it can be sent)."""
    problems = []
    if not _is_cistring(station.id, CISTRING_ID_LENGTH):
        problems.append(f"the chargeBoxId is not an OCPI id (at most {CISTRING_ID_LENGTH} printable ASCII characters)")
    for name in ("address", "city", "country", "time_zone"):
        if not getattr(station, name):
            problems.append(f"no {name.replace('_', ' ')}")
    if station.latitude is None or station.longitude is None:
        problems.append("no coordinates")
    return problems


def publishable(station) -> bool:
    """Whether the station can be sent as an OCPI Location (whatever its `ocpi_publish` flag says: a
    Location with publish false is still sent, to the partners allowed to show it)."""
    return not publish_problems(station)


def _coordinate(value, max_length: int) -> str:
    """Degrees as OCPI writes them: 7 decimals, fewer (never under 5) when the string would be too long."""
    number = Decimal(value)
    for places in (7, 6, 5):
        text = f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):f}"
        if len(text) <= max_length:
            return text
    return text


def _latest(*moments: datetime | None) -> datetime:
    return max(moment for moment in moments if moment is not None)


# --- Documents ------------------------------------------------------------------------------------


def connector_document(connector, *, tariff_ids: list[str] | None = None) -> dict:
    """The OCPI Connector: what the operator set, CONNECTOR_DEFAULTS for what they did not;
    `tariff_ids`: the tariffs pricing it, when it has any of its own."""
    document = {
        "id": str(connector.connector_id),
        "standard": connector.standard or CONNECTOR_DEFAULTS["standard"],
        "format": connector.format or CONNECTOR_DEFAULTS["format"],
        "power_type": connector.power_type or CONNECTOR_DEFAULTS["power_type"],
        "max_voltage": connector.max_voltage or CONNECTOR_DEFAULTS["max_voltage"],
        "max_amperage": connector.max_amperage or CONNECTOR_DEFAULTS["max_amperage"],
    }
    if connector.max_electric_power:
        document["max_electric_power"] = connector.max_electric_power
    if tariff_ids:
        document["tariff_ids"] = list(tariff_ids)
    document["last_updated"] = ocpi_datetime(connector.updated_at)
    return document


def evse_document(station, connector, *, station_status: str | None, station_status_at: datetime | None = None,
                  country_code: str = "", party_id: str = "", tariff_ids: list[str] | None = None) -> dict:
    """The OCPI EVSE that is one OCPP connector (connector_id >= 1).

    `station_status` is what connector 0 last reported (None: nothing), `station_status_at` when;
    `country_code` and `party_id` (the CPO's) give the EVSE an eMI3 evse_id where one can be written;
    `tariff_ids` go on its Connector.
    """
    document = {"uid": evse_uid(station, connector.connector_id)}
    if country_code and party_id:
        emi3 = evse_id(station, connector.connector_id, country_code=country_code, party_id=party_id)
        if emi3:
            document["evse_id"] = emi3
    document["status"] = evse_status(station, connector, station_status)
    if station.capabilities:
        document["capabilities"] = list(station.capabilities)
    document["connectors"] = [connector_document(connector, tariff_ids=tariff_ids)]
    if station.physical_reference:
        document["physical_reference"] = station.physical_reference
    # The status also moves when the station connects or goes offline, and with connector 0.
    document["last_updated"] = ocpi_datetime(_latest(station.updated_at, connector.updated_at,
                                                     _connection_changed_at(station), station_status_at))
    return document


def location_document(station, connectors: Iterable, *, country_code: str, party_id: str,
                      tariff_ids: dict[int, list[str]] | None = None) -> dict:
    """The OCPI Location of one station, with one EVSE per connector numbered 1 and above.

    `connectors` are the station's Connector rows (connector 0 included, or not); `country_code`
    (ISO 3166-1 alpha-2) and `party_id` name the CPO; `tariff_ids` ({connector id: [tariff id]}) the
    tariffs of the connectors priced by one of their own. NotPublishable when the station lacks what a
    Location must carry (publish_problems).
    """
    if not COUNTRY_CODE.fullmatch(country_code or "") or not PARTY_ID.fullmatch(party_id or ""):
        raise ValueError("country_code is 2 letters and party_id 3 letters or digits")
    problems = publish_problems(station)
    if problems:
        raise NotPublishable(f"{station.id}: {'; '.join(problems)}")
    rows = sorted(connectors, key=lambda row: row.connector_id)
    whole = next((row for row in rows if row.connector_id == 0), None)
    evses = [
        evse_document(station, row, station_status=whole.status if whole else None,
                      station_status_at=whole.updated_at if whole else None,
                      country_code=country_code.upper(), party_id=party_id.upper(),
                      tariff_ids=(tariff_ids or {}).get(row.connector_id))
        for row in rows if row.connector_id >= 1
    ]
    document = {
        "country_code": country_code.upper(),
        "party_id": party_id.upper(),
        "id": location_id(station),
        "publish": station.ocpi_publish,
    }
    if station.location_name:
        document["name"] = station.location_name
    document.update({"address": station.address, "city": station.city})
    if station.postal_code:
        document["postal_code"] = station.postal_code
    if station.state:
        document["state"] = station.state
    document["country"] = station.country
    document["coordinates"] = {"latitude": _coordinate(station.latitude, LATITUDE_LENGTH),
                               "longitude": _coordinate(station.longitude, LONGITUDE_LENGTH)}
    if station.parking_type:
        document["parking_type"] = station.parking_type
    document["evses"] = evses
    operator = getattr(settings, "CSMS_OCPI_BUSINESS_NAME", "")
    if operator:
        document["operator"] = {"name": operator[:OPERATOR_NAME_LENGTH]}
    if station.facilities:
        document["facilities"] = list(station.facilities)
    document["time_zone"] = station.time_zone
    # No hours stored means open 24/7 (stations.models): said explicitly rather than left to the reader.
    document["opening_times"] = station.opening_hours or {"twentyfourseven": True}
    # The latest of the station, its connectors and the EVSEs' status (which moves with the connection).
    document["last_updated"] = ocpi_datetime(_latest(station.updated_at, *(row.updated_at for row in rows),
                                                     _connection_changed_at(station)))
    return document


def _connection_changed_at(station) -> datetime | None:
    """When the station connected or went offline: it moves every EVSE's status, and no row's time."""
    return station.connected_at if station.online else station.disconnected_at
