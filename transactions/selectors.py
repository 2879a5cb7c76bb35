"""Reads about id tags and transactions."""

from __future__ import annotations

from django.utils import timezone

from partners.selectors import visible_to

from .models import AuthorizationStatus, IdTag, Transaction


def id_tags_visible_to(user):
    """Staff see every tag; a partner user only its partner's."""
    return visible_to(user, IdTag.objects.all())


def id_tag_warnings(id_tag: str) -> list[str]:
    """What an operator should know before starting a transaction with this tag: unknown, blocked,
    expired, or already in as many transactions as it may hold. Empty: nothing against it."""
    tag = IdTag.objects.filter(id_tag__iexact=id_tag).first()  # idTags are case-insensitive
    if tag is None:
        return [f"{id_tag} is unknown to the CSMS: its StartTransaction will be answered Invalid"]
    warnings = []
    if tag.blocked or tag.max_active_transactions == 0:
        warnings.append(f"{tag.id_tag} is blocked")
    if tag.expiry_date is not None and tag.expiry_date <= timezone.now():
        warnings.append(f"{tag.id_tag} expired on {tag.expiry_date:%Y-%m-%d %H:%M:%S} UTC")
    running = list(Transaction.objects.filter(id_tag__iexact=tag.id_tag, stopped_at__isnull=True,
                                              id_tag_status=AuthorizationStatus.ACCEPTED).values_list("pk", "station_id"))
    if running and tag.max_active_transactions > 0 and len(running) >= tag.max_active_transactions:
        where = ", ".join(f"#{pk} on {station}" for pk, station in running[:5])
        warnings.append(f"{tag.id_tag} is already in a transaction ({where}); it may hold "
                        f"{tag.max_active_transactions} at once")
    return warnings
