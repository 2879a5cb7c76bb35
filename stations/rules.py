"""What the CSMS refuses to send a station because the station could only reject it (or worse,
accept it): a connector it does not have, a configuration value of the wrong type. The admin's
forms, the API and every job reach the station through `call_enqueue`, which runs these checks
(`csms.ocpp.calls.call_check`, registered in StationsConfig.ready)."""

from __future__ import annotations

from csms.errors import Invalid
from csms.ocpp.calls import call_check

from .configuration import INT32_MAX, KEY_MAX_LENGTH, VALUE_MAX_LENGTH, standard_key, value_problem
from .models import ConfigurationKey
from .selectors import station_config_int, station_connector_ids
from .services import station_password_check


def connectors_described(connectors: list[int]) -> str:
    if connectors == list(range(1, len(connectors) + 1)) and len(connectors) > 2:
        return f"1 to {len(connectors)}"
    return ", ".join(str(number) for number in connectors)


def connector_validate(*, station_id: str, connector_id: int, allow_zero: bool, field: str = "connectorId") -> None:
    """Refuse a connector the station does not have (Invalid, naming the field). Connector 0 is the
    whole station where the action allows it. While the station has reported no connectors (no
    NumberOfConnectors read, no StatusNotification), any number OCPP allows passes."""
    details = {"field": field}
    if connector_id < 0 or (connector_id == 0 and not allow_zero):
        raise Invalid(f"{field} must be {'0 (the whole station) or ' if allow_zero else ''}a connector number "
                      f"of the station, at least 1", details=details)
    if connector_id > INT32_MAX:
        raise Invalid(f"{field} {connector_id} is beyond OCPP's integer range", details=details)
    if connector_id == 0:
        return
    connectors = station_connector_ids(station_id)
    if connectors is not None and connector_id not in connectors:
        raise Invalid(f"station {station_id} has no connector {connector_id}: its connectors are "
                      f"{connectors_described(connectors)}", details=details)


def configuration_change_validate(*, station_id: str, key: str, value: str) -> None:
    """Refuse a ChangeConfiguration the station must reject: a key it reported read-only, a standard
    key OCPP makes read-only, a value that is not of the standard key's type (range, list items and
    the station's own list length included)."""
    if not key or len(key) > KEY_MAX_LENGTH:
        raise Invalid(f"a configuration key has 1 to {KEY_MAX_LENGTH} characters", details={"field": "key"})
    if len(value) > VALUE_MAX_LENGTH:
        raise Invalid(f"a configuration value has at most {VALUE_MAX_LENGTH} characters", details={"field": "value"})
    if key == "AuthorizationKey":
        # A password the station must refuse (Security Whitepaper A01/A05) would only be rejected.
        station_password_check(value)
        return
    reported = ConfigurationKey.objects.filter(station_id=station_id, key=key, known=True).first()
    if reported is not None and reported.readonly:
        raise Invalid(f"{key} is read-only on station {station_id} (as last read)", details={"field": "key"})
    standard = standard_key(key)
    if standard is None:
        return
    name, spec = standard
    if not spec.writable and reported is None:
        raise Invalid(f"{name} is read-only in OCPP 1.6: a Central System cannot change it", details={"field": "key"})
    max_items = station_config_int(station_id, spec.max_length_key) if spec.max_length_key else None
    problem = value_problem(spec, value, max_items)
    if problem:
        raise Invalid(f"{name} is {'an' if spec.type == 'integer' else 'a'} {spec.type}"
                      f"{' in ' + spec.unit if spec.unit else ''}: {value!r} {problem}", details={"field": "value"})


# --- The same rules for every Call, whoever sends it -------------------------------------------------------

@call_check("ChangeAvailability", "ReserveNow", "SetChargingProfile", "GetCompositeSchedule", "ClearChargingProfile")
def connector_or_station_of_call(station_id: str, payload: dict) -> None:
    """connectorId 0 is the whole station for these actions (optional for ClearChargingProfile)."""
    if payload.get("connectorId") is not None:
        connector_validate(station_id=station_id, connector_id=payload["connectorId"], allow_zero=True)


@call_check("UnlockConnector", "RemoteStartTransaction", "TriggerMessage")
def connector_of_call(station_id: str, payload: dict) -> None:
    """A real connector (optional for RemoteStartTransaction and TriggerMessage)."""
    if payload.get("connectorId") is not None:
        connector_validate(station_id=station_id, connector_id=payload["connectorId"], allow_zero=False)


@call_check("ChangeConfiguration")
def configuration_of_call(station_id: str, payload: dict) -> None:
    configuration_change_validate(station_id=station_id, key=payload["key"], value=payload["value"])
