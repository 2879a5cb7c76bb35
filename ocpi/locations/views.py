"""The Locations module, sender interface: the partner reads the Locations it sees (docs/adr/0161)."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest

from ..transport import UNKNOWN_LOCATION, OcpiError, ocpi_view, paginate
from . import selectors


def _unknown(what: str) -> OcpiError:
    return OcpiError(UNKNOWN_LOCATION, f"unknown {what}", http_status=404)


@ocpi_view(methods=["GET"])
def location_list(request: HttpRequest):
    stations = selectors.with_documents_prefetch(selectors.visible_stations(request.ocpi_partner))
    page = paginate(request, stations, to_document=lambda station: station, date_field="ocpi_last_updated")
    return replace(page, items=selectors.location_documents(page.items))


def _location(request: HttpRequest, location_id: str) -> dict:
    station = selectors.visible_station(request.ocpi_partner, location_id)
    if station is None:
        raise _unknown(f"location {location_id!r}")
    return selectors.location_documents([station])[0]


def _evse(location: dict, evse_uid: str) -> dict:
    evse = next((item for item in location["evses"] if item["uid"] == evse_uid), None)
    if evse is None:
        raise _unknown(f"EVSE {evse_uid!r} of location {location['id']!r}")
    return evse


@ocpi_view(methods=["GET"])
def location_detail(request: HttpRequest, location_id: str):
    return _location(request, location_id)


@ocpi_view(methods=["GET"])
def evse_detail(request: HttpRequest, location_id: str, evse_uid: str):
    return _evse(_location(request, location_id), evse_uid)


@ocpi_view(methods=["GET"])
def connector_detail(request: HttpRequest, location_id: str, evse_uid: str, connector_id: str):
    evse = _evse(_location(request, location_id), evse_uid)
    connector = next((item for item in evse["connectors"] if item["id"] == connector_id), None)
    if connector is None:
        raise _unknown(f"connector {connector_id!r} of EVSE {evse_uid!r}")
    return connector
