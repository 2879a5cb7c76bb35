"""OCPI Locations, sender: what we push to the partners' Locations receivers, and when (docs/adr/0161).

Every push of a station's Location, EVSEs included, is one object in the push queue (its key is the
Location id): a PATCH of an EVSE is never sent before the PUT of the Location it amends, and a newer
PUT replaces the pushes of the Location not sent yet. Locations are never deleted (OCPI has no
DELETE for them): a station a partner no longer sees is PATCHed `publish: false`.
"""

from __future__ import annotations

from urllib.parse import quote

from django.utils import timezone

from stations.models import ChargeStation

from ..audience import Listener, listeners, location_listeners
from ..models import OcpiPartner, OcpiPush
from ..pushes import push_enqueue
from ..transport import ocpi_datetime
from . import selectors
from .documents import evse_document, evse_uid, location_id, publishable

MODULE = "locations"
BATCH = 100


def _path(*parts: str) -> str:
    party = selectors.party()
    return "/" + "/".join(quote(part, safe="") for part in (party["country_code"], party["party_id"], *parts))


def _sees(listener: Listener, station: ChargeStation) -> bool:
    """Whether the partner sees the station (loaded) as a Location."""
    return (station.pk in listener.chosen or (listener.public and station.ocpi_publish)) and publishable(station)


def _put(partner_id: int, document: dict) -> OcpiPush:
    return push_enqueue(partner=OcpiPartner(pk=partner_id), module=MODULE, object_key=document["id"], method="PUT",
                        path=_path(document["id"]), body=document)


def locations_push_all(*, partner) -> int:
    """Queue a PUT of every Location the partner sees; returns how many."""
    station_ids = list(selectors.visible_stations(partner).values_list("pk", flat=True))
    for start in range(0, len(station_ids), BATCH):
        stations = selectors.stations_with_connectors(station_ids[start:start + BATCH])
        for document in selectors.location_documents(stations):
            _put(partner.pk, document)
    return len(station_ids)


def location_push(*, station_id: str) -> int:
    """The station's location data changed: queue a PUT of its Location to every partner that sees it,
    and hide it (PATCH publish false) from those that were sent it and no longer see it. Returns how
    many pushes."""
    audience = [item for item in listeners() if item.locations]
    if not audience:
        return 0
    stations = selectors.stations_with_connectors([station_id])
    if not stations:
        return 0
    station = stations[0]
    document = selectors.location_documents(stations)[0] if publishable(station) else None
    pushes = 0
    for listener in audience:
        if document is not None and _sees(listener, station):
            _put(listener.partner_id, document)
            pushes += 1
        elif _location_hide(listener.partner_id, location_id(station)):
            pushes += 1
    return pushes


def _location_hide(partner_id: int, key: str) -> bool:
    """PATCH publish false, when the partner was sent the Location and it is not hidden already."""
    latest = (OcpiPush.objects.filter(partner_id=partner_id, module=MODULE, object_key=key)
              .order_by("-id").values_list("method", "body").first())
    if latest is None or (latest[0] == "PATCH" and (latest[1] or {}).get("publish") is False):
        return False
    push_enqueue(partner=OcpiPartner(pk=partner_id), module=MODULE, object_key=key, method="PATCH", path=_path(key),
                 body={"publish": False, "last_updated": ocpi_datetime(timezone.now())})
    return True


def evses_push(*, station_id: str, connector_ids: set[int] | None = None) -> int:
    """Queue a PATCH of the status of the station's EVSEs (those of `connector_ids`, or all) to every
    partner that sees it. Returns how many pushes."""
    audience = location_listeners(station_id)
    if not audience:
        return 0
    station = ChargeStation.objects.filter(pk=station_id).first()
    if station is None:
        return 0
    audience = [listener for listener in audience if _sees(listener, station)]
    if not audience:
        return 0
    connectors = selectors.connectors_of(station_id)
    whole = next((row for row in connectors if row.connector_id == 0), None)
    key, pushes = location_id(station), 0
    for row in connectors:
        if row.connector_id < 1 or (connector_ids is not None and row.connector_id not in connector_ids):
            continue
        evse = evse_document(station, row, station_status=whole.status if whole else None,
                             station_status_at=whole.updated_at if whole else None)
        body = {"status": evse["status"], "last_updated": evse["last_updated"]}
        for listener in audience:
            push_enqueue(partner=OcpiPartner(pk=listener.partner_id), module=MODULE, object_key=key, method="PATCH",
                         path=_path(key, evse_uid(station, row.connector_id)), body=body)
            pushes += 1
    return pushes


def station_remove(*, station_id: str) -> int:
    """The station is being deleted: its EVSEs are REMOVED for every partner that was sent its
    Location (Locations themselves are never deleted). Returns how many pushes."""
    audience = [item for item in listeners() if item.locations]
    stations = selectors.stations_with_connectors([station_id]) if audience else []
    if not stations:
        return 0
    station = stations[0]
    key, now, pushes = location_id(station), ocpi_datetime(timezone.now()), 0
    for listener in audience:
        if not OcpiPush.objects.filter(partner_id=listener.partner_id, module=MODULE, object_key=key).exists():
            continue
        for connector in station.connectors.all():
            if connector.connector_id < 1:
                continue
            push_enqueue(partner=OcpiPartner(pk=listener.partner_id), module=MODULE, object_key=key, method="PATCH",
                         path=_path(key, evse_uid(station, connector.connector_id)),
                         body={"status": "REMOVED", "last_updated": now})
            pushes += 1
    return pushes


def partner_locations_resync(*, partner) -> int:
    """What the partner sees changed (its visibility, its chosen stations): PUT every Location it sees
    now and hide the ones it was sent and no longer sees. Returns how many pushes."""
    pushes = locations_push_all(partner=partner)
    visible = set(selectors.visible_stations(partner).values_list("pk", flat=True))
    sent = set(OcpiPush.objects.filter(partner=partner, module=MODULE).values_list("object_key", flat=True))
    for key in sorted(sent - {location_id(ChargeStation(id=pk)) for pk in visible}):
        pushes += _location_hide(partner.pk, key)
    return pushes
