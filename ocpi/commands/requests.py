"""The request objects of the commands (StartSession, StopSession, ReserveNow, CancelReservation,
UnlockConnector) checked field by field (2001 naming the field), and the location/EVSE they name
resolved to one of our stations the partner sees (2003 otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


from stations.models import ChargeStation
from stations.selectors import station_connector_ids

from ..models import OcpiPartner, Visibility
from ..locations.documents import evse_uid as evse_uid_of
from ..transport import INVALID_PARAMETERS, UNKNOWN_LOCATION, OcpiError, parse_ocpi_datetime

COMMANDS = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR")
TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
WHITELIST_TYPES = ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")


@dataclass
class CommandRequest:
    command: str
    body: dict
    response_url: str
    station: ChargeStation | None = None
    connector_id: int | None = None  # the EVSE's OCPP connector (None: the station chooses)
    expiry_date: datetime | None = None


def _invalid(field: str, problem: str) -> OcpiError:
    return OcpiError(INVALID_PARAMETERS, f"{field} {problem}")


def _string(body: dict, name: str, *, max_length: int, required: bool = True, prefix: str = "") -> str | None:
    value = body.get(name)
    field = prefix + name
    if value is None:
        if required:
            raise _invalid(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "must be a non-empty string")
    if len(value) > max_length:
        raise _invalid(field, f"has at most {max_length} characters")
    return value


def _datetime(body: dict, name: str, prefix: str = "") -> datetime:
    return parse_ocpi_datetime(_string(body, name, max_length=40, prefix=prefix), field=prefix + name)


def _token(body: dict) -> dict:
    token = body.get("token")
    if not isinstance(token, dict):
        raise _invalid("token", "is required (a Token object)")
    for name, length in (("country_code", 2), ("party_id", 3), ("uid", 36), ("contract_id", 36), ("issuer", 64)):
        _string(token, name, max_length=length, prefix="token.")
    if token.get("type") not in TOKEN_TYPES:
        raise _invalid("token.type", f"must be one of {', '.join(TOKEN_TYPES)}")
    if token.get("whitelist") not in WHITELIST_TYPES:
        raise _invalid("token.whitelist", f"must be one of {', '.join(WHITELIST_TYPES)}")
    if not isinstance(token.get("valid"), bool):
        raise _invalid("token.valid", "must be true or false")
    _datetime(token, "last_updated", prefix="token.")
    return token


def _response_url(body: dict) -> str:
    url = _string(body, "response_url", max_length=500)
    if not url.startswith(("http://", "https://")):
        raise _invalid("response_url", "must be an http(s) URL")
    return url


def command_request_parse(*, partner: OcpiPartner, command: str, body: dict) -> CommandRequest:
    """The command's request object, checked (2001), with its location resolved (2003)."""
    if command not in COMMANDS:
        raise _invalid("command", f"must be one of {', '.join(COMMANDS)}, not {command!r}")
    request = CommandRequest(command=command, body=body, response_url=_response_url(body))
    if command in ("START_SESSION", "RESERVE_NOW"):
        _token(body)
        _string(body, "authorization_reference", max_length=36, required=False)
    if command in ("RESERVE_NOW", "CANCEL_RESERVATION"):
        _string(body, "reservation_id", max_length=36)
    if command == "RESERVE_NOW":
        request.expiry_date = _datetime(body, "expiry_date")
    if command == "STOP_SESSION":
        _string(body, "session_id", max_length=36)
        return request
    if command == "CANCEL_RESERVATION":
        return request
    location_id = _string(body, "location_id", max_length=36)
    evse = _string(body, "evse_uid", max_length=36, required=command == "UNLOCK_CONNECTOR")
    connector = _string(body, "connector_id", max_length=36, required=command == "UNLOCK_CONNECTOR")
    if connector is not None and evse is None:
        raise _invalid("evse_uid", "is required when connector_id is given")
    request.station = visible_station(partner=partner, location_id=location_id)
    if evse is not None:
        request.connector_id = parse_evse_uid(request.station, evse)
        if request.connector_id is None:
            raise OcpiError(UNKNOWN_LOCATION, f"location {location_id} has no EVSE {evse}", http_status=404)
    return request


def visible_station(*, partner: OcpiPartner, location_id: str) -> ChargeStation:
    """Our station that is this Location (id = chargeBoxId, compared as a CiString), if the partner
    sees it; else 2003."""
    candidates = list(ChargeStation.objects.filter(id__iexact=location_id)[:5])
    station = next((s for s in candidates if s.pk == location_id), candidates[0] if len(candidates) == 1 else None)
    if station is not None:
        if partner.visibility == Visibility.CHOSEN:
            seen = partner.stations.filter(pk=station.pk).exists()
        else:
            seen = station.ocpi_publish
        if seen:
            return station
    raise OcpiError(UNKNOWN_LOCATION, f"unknown location {location_id}", http_status=404)


def parse_evse_uid(station: ChargeStation, evse_uid: str) -> int | None:
    """The OCPP connector an EVSE uid of this station names (each connector is an EVSE: the locations
    module's `evse_uid`), or None. The connector must be one the station has reported; while it has
    reported none, the number the uid ends with."""
    known = station_connector_ids(station.pk)
    if known is None:
        number = evse_uid.rpartition("-")[2]
        known = [int(number)] if number.isdigit() and 1 <= int(number) <= 2**31 - 1 else []
    return next((c for c in known if evse_uid_of(station, c).upper() == evse_uid.upper()), None)
