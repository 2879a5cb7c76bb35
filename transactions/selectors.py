"""Reads about id tags and transactions."""

from __future__ import annotations

from partners.selectors import visible_to

from .models import IdTag


def id_tags_visible_to(user):
    """Staff see every tag; a partner user only its partner's."""
    return visible_to(user, IdTag.objects.all())
