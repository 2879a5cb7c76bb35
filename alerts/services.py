"""Raising, resolving and acknowledging alerts."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .hooks import AlertRaised, alert_raised
from .models import Alert, Severity


def alert_raise(*, kind: str, message: str, severity: str = Severity.WARNING, station_id: str | None = None,
                key: str | None = None) -> Alert:
    """Raise an alert; while one with the same key is open (not resolved), count it instead."""
    key = key or f"{kind}:{station_id or ''}"
    now = timezone.now()
    with transaction.atomic():
        if Alert.objects.filter(key=key, resolved_at__isnull=True).update(
                last_seen_at=now, occurrences=F("occurrences") + 1, message=message[:500]):
            return Alert.objects.get(key=key, resolved_at__isnull=True)
        try:
            with transaction.atomic():
                alert = Alert.objects.create(kind=kind, severity=severity, station_id=station_id,
                                             message=message[:500], key=key, raised_at=now, last_seen_at=now)
        except IntegrityError:  # raised concurrently by another node: count it
            return alert_raise(kind=kind, message=message, severity=severity, station_id=station_id, key=key)
        alert_raised.emit(AlertRaised(alert.pk, kind, severity, station_id, alert.message))
    return alert


def alert_resolve(*, key: str) -> int:
    """The condition behind `key` cleared (a station came back): its open alert is resolved."""
    return Alert.objects.filter(key=key, resolved_at__isnull=True).update(resolved_at=timezone.now())


def alert_acknowledge(*, alert: Alert, user) -> Alert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user if getattr(user, "is_authenticated", False) else None
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return alert
