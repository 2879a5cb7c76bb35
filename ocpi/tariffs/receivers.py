"""How the Tariffs module follows the tariffs app (csms.hooks): a new version is PUT, a deleted tariff
DELETEd, at the partners that see it; queued in the tariff's transaction, sent after the commit."""

from tariffs.hooks import TariffAssignmentChanged, TariffChanged, tariff_assignment_changed, tariff_changed

from ..audience import listeners
from . import services


@tariff_changed.connect(when=lambda event: any(item.tariffs for item in listeners()))
def push_tariff(event: TariffChanged) -> None:
    services.tariff_push(tariff_id=event.tariff_id, deleted=event.deleted)


# A tariff newly applied somewhere may be new to partners that see that place.
@tariff_assignment_changed.connect(
    when=lambda event: event.tariff_id is not None and any(item.tariffs for item in listeners()))
def push_assigned_tariff(event: TariffAssignmentChanged) -> None:
    services.tariff_push(tariff_id=event.tariff_id)
