"""Re-push everything a partner sees (after it registers, or when an operator asks)."""

from django.db import transaction

from .locations.services import locations_push_all
from .tariffs.services import tariffs_push_all


@transaction.atomic
def partner_republish(*, partner) -> int:
    """Queue a full PUT of every Location and tariff the partner sees; returns how many pushes."""
    return locations_push_all(partner=partner) + tariffs_push_all(partner=partner)
