"""Re-push everything a partner sees (after it registers, when an operator asks, or when what it sees
changes)."""

from django.db import transaction

from .locations.services import locations_push_all, partner_locations_resync
from .models import HandshakeState
from .tariffs.services import tariffs_push_all


@transaction.atomic
def partner_republish(*, partner) -> int:
    """Queue a full PUT of every Location and tariff the partner sees; returns how many pushes."""
    return locations_push_all(partner=partner) + tariffs_push_all(partner=partner)


@transaction.atomic
def partner_audience_changed(*, partner) -> int:
    """What a registered partner sees changed (visibility, chosen stations): it gets every Location
    and tariff it sees now, and the Locations it no longer sees are hidden. Returns how many pushes."""
    if partner.state != HandshakeState.REGISTERED:
        return 0
    return partner_locations_resync(partner=partner) + tariffs_push_all(partner=partner)
