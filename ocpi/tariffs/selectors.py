"""Reads for the Tariffs module: the tariffs a partner sees, as OCPI Tariffs.

A partner sees the tariffs that price the stations it sees (assigned to one of their connectors, to
the station, or to the station's partner), the default tariff, and the tariff assigned to its own
partner organisation; only tariffs with a version (an OCPI document) are sent.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tariffs.models import Tariff, TariffAssignment

from ..locations.selectors import party, seen_stations
from ..models import OcpiPartner
from .documents import tariff_ocpi_document


def visible_tariffs(partner: OcpiPartner) -> QuerySet[Tariff]:
    stations = seen_stations(partner)
    applied = TariffAssignment.objects.filter(Q(station__in=stations.values("pk"))
                                              | Q(partner__in=stations.values("partner_id"))
                                              | Q(partner_id=partner.partner_id))
    return (Tariff.objects.filter(Q(pk__in=applied.values("tariff_id")) | Q(is_default=True),
                                  current_version__isnull=False)
            .select_related("current_version").order_by("pk"))


def tariff_visible(partner: OcpiPartner, tariff_id: int) -> bool:
    return visible_tariffs(partner).filter(pk=tariff_id).exists()


def ocpi_tariff(tariff: Tariff) -> dict:
    """The OCPI Tariff of a tariff's current version, with our country_code and party_id."""
    return tariff_ocpi_document(tariff.current_version.document, **party())
