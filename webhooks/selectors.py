"""Reads about webhooks."""

from __future__ import annotations

from partners.selectors import visible_to

from .models import WebhookEndpoint


def endpoints_visible_to(user):
    """Staff see every endpoint; a partner user only its partner's."""
    return visible_to(user, WebhookEndpoint.objects.select_related("partner"))
