"""OCPI Tariffs, sender: what we push to the partners' Tariffs receivers (docs/adr/0161)."""

from __future__ import annotations

from urllib.parse import quote

from tariffs.models import Tariff

from ..audience import listeners
from ..locations.selectors import party
from ..models import OcpiPartner, OcpiPush
from ..pushes import push_enqueue
from . import selectors

MODULE = "tariffs"


def _path(tariff_id: int) -> str:
    ours = party()
    return f"/{ours['country_code']}/{ours['party_id']}/{quote(str(tariff_id), safe='')}"


def _put(partner: OcpiPartner, tariff: Tariff) -> OcpiPush:
    return push_enqueue(partner=partner, module=MODULE, object_key=str(tariff.pk), method="PUT", path=_path(tariff.pk),
                        body=selectors.ocpi_tariff(tariff))


def tariffs_push_all(*, partner) -> int:
    """Queue a PUT of every tariff the partner sees; returns how many."""
    tariffs = list(selectors.visible_tariffs(partner))
    for tariff in tariffs:
        _put(partner, tariff)
    return len(tariffs)


def tariff_push(*, tariff_id: int, deleted: bool = False) -> int:
    """A tariff got a new version (PUT), or is being deleted (DELETE), for every registered partner
    with a tariffs receiver that sees it. Returns how many pushes."""
    audience = [item.partner_id for item in listeners() if item.tariffs]
    if not audience:
        return 0
    tariff = Tariff.objects.select_related("current_version").filter(pk=tariff_id).first()
    pushes = 0
    for partner in OcpiPartner.objects.filter(pk__in=audience):
        if tariff is None or tariff.current_version is None or not selectors.tariff_visible(partner, tariff_id):
            continue
        if deleted:
            push_enqueue(partner=partner, module=MODULE, object_key=str(tariff_id), method="DELETE",
                         path=_path(tariff_id), body=None)
        else:
            _put(partner, tariff)
        pushes += 1
    return pushes
