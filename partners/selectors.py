"""Who acts for which partner, and what a user may see."""

from __future__ import annotations

from .models import Partner


def partner_of(user) -> Partner | None:
    """The partner a user acts for; None for staff and for users outside any partner."""
    if user is None or not user.is_authenticated:
        return None
    membership = getattr(user, "partner_membership", None)
    return membership.partner if membership else None


def acting_user(user):
    """The user to record as having asked for something: None for the system and the anonymous."""
    return user if getattr(user, "is_authenticated", False) else None


def is_staff(user) -> bool:
    """Staff (and superusers) see and manage everything, whatever their partner."""
    return bool(user is not None and (user.is_staff or user.is_superuser))


def visible_to(user, queryset, *, partner_field: str = "partner"):
    """Staff see everything; a partner user sees what belongs to its partner; anyone else nothing."""
    if is_staff(user):
        return queryset
    partner = partner_of(user)
    return queryset.filter(**{partner_field: partner}) if partner else queryset.none()
