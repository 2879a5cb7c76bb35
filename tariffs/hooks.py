"""What the tariffs app tells other apps, inside the transaction that made the change (csms.hooks)."""

from __future__ import annotations

from dataclasses import dataclass

from csms.hooks import Hook


@dataclass(frozen=True)
class TariffChanged:
    tariff_id: int
    # False: a new version was written (the tariff's OCPI document changed); True: the tariff is
    # being deleted (emitted before the delete, while where it applied is still known).
    deleted: bool = False


tariff_changed: Hook[TariffChanged] = Hook("tariff_changed")


@dataclass(frozen=True)
class TariffAssignmentChanged:
    """Where a tariff applies changed: a station (perhaps one connector of it) or every station of a
    partner organisation now has another tariff (or none of its own)."""

    station_id: str | None
    partner_id: int | None
    tariff_id: int | None  # the tariff now assigned there; None: the assignment was removed


tariff_assignment_changed: Hook[TariffAssignmentChanged] = Hook("tariff_assignment_changed")
