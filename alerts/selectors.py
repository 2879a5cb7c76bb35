"""Reads about alerts."""

from __future__ import annotations

from .models import Alert


def alerts_open():
    """Alerts an operator has not acknowledged and whose condition has not cleared."""
    return Alert.objects.filter(acknowledged_at__isnull=True, resolved_at__isnull=True)
