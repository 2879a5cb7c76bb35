"""Reads about reservations."""

from __future__ import annotations

from stations.selectors import stations_visible_to
from stations.models import Connector

from .models import Reservation


def reservations_visible_to(user):
    return Reservation.objects.filter(station__in=stations_visible_to(user)).select_related("station")

def connector_status(*, station_id: str, connector_id: int) -> str:
    """The connector's state as last reported (Reserved while the station holds a reservation)."""
    return (
        Connector.objects.filter(station_id=station_id, connector_id=connector_id).values_list("status", flat=True).first()
        or ""
    )
