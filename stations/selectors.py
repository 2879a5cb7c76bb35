"""Reads about stations."""

from __future__ import annotations

from csms.errors import NotFound
from partners.selectors import visible_to

from .models import ChargeStation, ConfigurationKey


def stations_visible_to(user):
    """Staff see every station; a partner user only its partner's."""
    return visible_to(user, ChargeStation.objects.all())


def station_accessible(user, station_id: str) -> bool:
    """Whether `user` may act on this station (csms.ocpp.permissions asks it for users who are not staff)."""
    return stations_visible_to(user).filter(pk=station_id).exists()


def station_for(user, station_id: str) -> ChargeStation:
    """The station `user` may see by that chargeBoxId (NotFound otherwise, as if it did not exist)."""
    station = stations_visible_to(user).filter(pk=station_id).first()
    if station is None:
        raise NotFound("No ChargeStation matches the given query.")
    return station


def requested_keys(get_configuration_payload: dict) -> list[str]:
    return list(get_configuration_payload.get("key") or [])


def station_config_value(station_id: str, key: str) -> str | None:
    """A configuration value as last read from (or accepted by) the station; None when unknown."""
    return (
        ConfigurationKey.objects.filter(station_id=station_id, key=key, known=True)
        .values_list("value", flat=True)
        .first()
    )


def station_config_int(station_id: str, key: str) -> int | None:
    value = station_config_value(station_id, key)
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def station_config_bool(station_id: str, key: str) -> bool | None:
    value = station_config_value(station_id, key)
    if value is None:
        return None
    return value.strip().lower() == "true"
