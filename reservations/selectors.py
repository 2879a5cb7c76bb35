"""Reads about reservations."""

from __future__ import annotations

from django.db import connection

from stations.selectors import stations_visible_to
from stations.models import Connector

from .models import ACTIVE_STATUSES, Reservation


def reservations_visible_to(user):
    return Reservation.objects.filter(station__in=stations_visible_to(user)).select_related("station")

def connector_status(*, station_id: str, connector_id: int) -> str:
    """The connector's state as last reported (Reserved while the station holds a reservation)."""
    return (
        Connector.objects.filter(station_id=station_id, connector_id=connector_id).values_list("status", flat=True).first()
        or ""
    )


def station_has_open_reservations(station_id: str) -> bool:
    """Whether a start at this station may use a reservation (one statement, no model instances: it
    runs for every StartTransaction)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Reservation._meta.db_table} WHERE station_id = %s AND status IN "
                       f"({', '.join(['%s'] * len(ACTIVE_STATUSES))}) LIMIT 1", [station_id, *ACTIVE_STATUSES])
        return cursor.fetchone() is not None
