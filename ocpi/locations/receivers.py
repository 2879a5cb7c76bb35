"""How the Locations module follows the stations (csms.hooks): what changed is queued for the partners
that see the station, inside the station's transaction, and sent after the commit by the pump.

These run on the station path. Each first asks ocpi.audience, cached in process: with no partner
registered (or none that may see the station) a receiver does not run at all (`when`), costs no
query and no savepoint.
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from stations.hooks import (
    ConnectorStatusChanged,
    StationConnected,
    StationDeleting,
    StationDisconnected,
    StationLocationChanged,
    connector_status_changed,
    station_connected,
    station_deleting,
    station_disconnected,
    station_location_changed,
)
from stations.models import ChargeStation
from tariffs.hooks import TariffAssignmentChanged, tariff_assignment_changed

from ..audience import forget, listeners, location_listeners
from ..models import OcpiPartner
from . import services
from .documents import EVSE_STATUS, STATION_WIDE_STATUS


def _ocpi_status_moved(event: ConnectorStatusChanged) -> bool:
    """Whether the report moves what partners see: the EVSE status of the connector (connector 0:
    whether it takes the whole station down). A repeated report, or one older than the stored state,
    moves nothing."""
    connector = event.connector
    if event.previous_status is not None and connector.status == event.previous_status:
        return False
    if connector.connector_id == 0:
        return STATION_WIDE_STATUS.get(connector.status) != STATION_WIDE_STATUS.get(event.previous_status or "")
    return event.previous_status is None or EVSE_STATUS.get(connector.status) != EVSE_STATUS.get(event.previous_status)


@connector_status_changed.connect(
    when=lambda event: bool(location_listeners(event.connector.station_id)) and _ocpi_status_moved(event))
def push_evse_status(event: ConnectorStatusChanged) -> None:
    connector = event.connector
    services.evses_push(station_id=connector.station_id,
                        connector_ids=None if connector.connector_id == 0 else {connector.connector_id})


@station_connected.connect(when=lambda event: bool(location_listeners(event.station_id)))
def push_statuses_on_connect(event: StationConnected) -> None:
    services.evses_push(station_id=event.station_id)


@station_disconnected.connect(when=lambda event: bool(location_listeners(event.station_id)))
def push_unknown_on_disconnect(event: StationDisconnected) -> None:
    services.evses_push(station_id=event.station_id)


# Any registered partner with a receiver: one that no longer sees the station may need to hide it.
@station_location_changed.connect(when=lambda event: any(item.locations for item in listeners()))
def push_location(event: StationLocationChanged) -> None:
    services.location_push(station_id=event.station_id)


@station_deleting.connect(when=lambda event: any(item.locations for item in listeners()))
def push_removed(event: StationDeleting) -> None:
    services.station_remove(station_id=event.station_id)


# Another tariff prices the station (or a partner's stations): their connectors' tariff_ids moved.
@tariff_assignment_changed.connect(when=lambda event: any(item.locations for item in listeners()))
def push_tariff_ids(event: TariffAssignmentChanged) -> None:
    if event.station_id is not None:
        services.location_push(station_id=event.station_id)
        return
    for station_id in ChargeStation.objects.filter(partner_id=event.partner_id).values_list("pk", flat=True):
        services.location_push(station_id=station_id)


# The audience cached for the station path is stale once a partner (or its chosen stations) changes.
post_save.connect(forget, sender=OcpiPartner, dispatch_uid="ocpi-audience-save")
post_delete.connect(forget, sender=OcpiPartner, dispatch_uid="ocpi-audience-delete")
m2m_changed.connect(forget, sender=OcpiPartner.stations.through, dispatch_uid="ocpi-audience-m2m")
