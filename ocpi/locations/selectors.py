"""Reads for the Locations module: which stations a partner sees, and their OCPI documents.

A partner sees the stations its visibility allows (PUBLIC: those with `ocpi_publish`; CHOSEN: its own
list, published or not) that can be sent as a Location at all (documents.publishable). The filter is
written in SQL too, so that a page counts and slices the right stations.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Case, DateTimeField, F, Max, Q, QuerySet, When
from django.db.models.functions import Coalesce, Greatest

from stations.models import ChargeStation, Connector
from tariffs.models import TariffAssignment

from ..models import OcpiPartner, Visibility
from .documents import CISTRING_ID_LENGTH, location_document, publishable

# publish_problems, as a filter: a CiString(36) id and every field a Location requires.
PUBLISHABLE = (Q(id__regex=rf"^[ -~]{{1,{CISTRING_ID_LENGTH}}}$") & ~Q(address="") & ~Q(city="") & ~Q(country="")
               & ~Q(time_zone="") & Q(latitude__isnull=False) & Q(longitude__isnull=False))


def seen_stations(partner: OcpiPartner) -> QuerySet[ChargeStation]:
    """The stations the partner sees as Locations (a plain filter, for subqueries)."""
    if partner.visibility == Visibility.PUBLIC:
        stations = ChargeStation.objects.filter(ocpi_publish=True)
    else:
        stations = ChargeStation.objects.filter(pk__in=partner.stations.values("pk"))
    return stations.filter(PUBLISHABLE)


def visible_stations(partner: OcpiPartner) -> QuerySet[ChargeStation]:
    """seen_stations by id, each annotated with `ocpi_last_updated` (what the Location's last_updated
    says: station, connectors, connection, the latest of them)."""
    connection_changed = Case(When(online=True, then=F("connected_at")), default=F("disconnected_at"),
                              output_field=DateTimeField())
    return (seen_stations(partner)
            .annotate(ocpi_last_updated=Greatest(
                "updated_at", Coalesce(Max("connectors__updated_at"), "updated_at"),
                Coalesce(connection_changed, "updated_at")))
            .order_by("pk"))


def station_visible(partner: OcpiPartner, station: ChargeStation) -> bool:
    """Whether the partner sees this station (already loaded) as a Location."""
    if partner.visibility == Visibility.PUBLIC:
        seen = station.ocpi_publish
    else:
        seen = partner.stations.filter(pk=station.pk).exists()
    return seen and publishable(station)


def party() -> dict:
    """Our country_code and party_id, as every document and push path names them."""
    return {"country_code": settings.CSMS_OCPI_COUNTRY_CODE.upper(), "party_id": settings.CSMS_OCPI_PARTY_ID.upper()}


def connector_tariff_ids(stations: list[ChargeStation]) -> dict[tuple[str, int], list[str]]:
    """{(station id, connector id): [tariff id]} for the connectors priced by a tariff of their own,
    of their station or of the station's partner (the default tariff is left implicit). Uses the
    stations' prefetched `tariff_assignments`; one query for the partners' tariffs."""
    owners = {station.partner_id for station in stations if station.partner_id}
    by_partner = dict(TariffAssignment.objects.filter(partner_id__in=owners, tariff__current_version__isnull=False)
                      .values_list("partner_id", "tariff_id")) if owners else {}
    found = {}
    for station in stations:
        assignments = [a for a in station.tariff_assignments.all()]
        whole = next((a.tariff_id for a in assignments if a.connector_id is None), None)
        own = {a.connector_id: a.tariff_id for a in assignments if a.connector_id is not None}
        for connector in station.connectors.all():
            tariff_id = own.get(connector.connector_id) or whole or by_partner.get(station.partner_id)
            if connector.connector_id >= 1 and tariff_id is not None:
                found[(station.pk, connector.connector_id)] = [str(tariff_id)]
    return found


def with_documents_prefetch(stations: QuerySet[ChargeStation]) -> QuerySet[ChargeStation]:
    """What building documents reads, fetched once for a page of stations."""
    return stations.prefetch_related("connectors", "tariff_assignments")


def location_documents(stations: list[ChargeStation]) -> list[dict]:
    """The Location documents of stations loaded through with_documents_prefetch, in their order."""
    tariffs = connector_tariff_ids(stations)
    return [location_document(station, station.connectors.all(), **party(),
                              tariff_ids={connector_id: ids for (station_id, connector_id), ids in tariffs.items()
                                          if station_id == station.pk})
            for station in stations]


def visible_station(partner: OcpiPartner, location_id: str) -> ChargeStation | None:
    """The station that is this Location, if the partner sees it."""
    return with_documents_prefetch(visible_stations(partner)).filter(pk=location_id).first()


def stations_with_connectors(station_ids) -> list[ChargeStation]:
    """Stations by id, ready for location_documents (pushes)."""
    return list(with_documents_prefetch(ChargeStation.objects.filter(pk__in=list(station_ids)).order_by("pk")))


def connectors_of(station_id: str) -> list[Connector]:
    return list(Connector.objects.filter(station_id=station_id).order_by("connector_id"))
