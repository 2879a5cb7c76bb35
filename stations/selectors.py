"""Reads about stations."""

from __future__ import annotations

from .models import ConfigurationKey


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
