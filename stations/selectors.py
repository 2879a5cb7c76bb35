"""Reads about stations."""

from __future__ import annotations

from csms.errors import NotFound
from partners.selectors import visible_to

from .models import ChargeStation, ConfigurationKey, Connector


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


def station_connector_ids(station_id: str) -> list[int] | None:
    """The station's connectors (1..n) as it reported them: NumberOfConnectors as last read, else the
    connectors its StatusNotifications named; None while it reported neither."""
    count = station_config_int(station_id, "NumberOfConnectors")
    if count is not None and count > 0:
        return list(range(1, count + 1))
    seen = list(Connector.objects.filter(station_id=station_id, connector_id__gt=0)
                .order_by("connector_id").values_list("connector_id", flat=True))
    return seen or None


def station_configuration_keys(station_id: str) -> list[ConfigurationKey]:
    """The keys the station reported (GetConfiguration), known ones first."""
    return list(ConfigurationKey.objects.filter(station_id=station_id).order_by("-known", "key"))
