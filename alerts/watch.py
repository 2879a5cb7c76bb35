"""Conditions that turn into alerts when they last: a station offline, a connector faulted."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from stations.models import ChargeStation, Connector, ConnectorStatus, RegistrationStatus

from .models import Alert, Severity
from .services import alert_raise


def stations_watch() -> dict:
    """Raise alerts for stations offline and connectors faulted longer than configured; resolve the
    ones whose condition cleared. Returns how many were raised and resolved."""
    now = timezone.now()
    raised = resolved = 0

    offline_since = now - timedelta(minutes=settings.CSMS_ALERT_OFFLINE_MINUTES)
    long_offline = ChargeStation.objects.filter(online=False, disconnected_at__lt=offline_since,
                                                registration_status=RegistrationStatus.ACCEPTED)
    for station_id, since in long_offline.values_list("pk", "disconnected_at"):
        alert_raise(kind="station_offline", station_id=station_id, key=f"station_offline:{station_id}",
                    message=f"{station_id} offline since {since:%Y-%m-%d %H:%M:%S} UTC")
        raised += 1
    back = Alert.objects.filter(kind="station_offline", resolved_at__isnull=True,
                                station__online=True)
    resolved += back.update(resolved_at=now)

    faulted_since = now - timedelta(minutes=settings.CSMS_ALERT_FAULTED_MINUTES)
    long_faulted = Connector.objects.filter(status=ConnectorStatus.FAULTED, updated_at__lt=faulted_since)
    faulted_keys = set()
    for station_id, connector_id, error_code, info in long_faulted.values_list("station_id", "connector_id",
                                                                               "error_code", "info"):
        key = f"connector_faulted:{station_id}:{connector_id}"
        faulted_keys.add(key)
        alert_raise(kind="connector_faulted", severity=Severity.CRITICAL, station_id=station_id, key=key,
                    message=f"{station_id} connector {connector_id} faulted ({error_code}{': ' + info if info else ''})")
        raised += 1
    cleared = Alert.objects.filter(kind="connector_faulted", resolved_at__isnull=True).exclude(key__in=faulted_keys)
    resolved += cleared.update(resolved_at=now)
    return {"raised": raised, "resolved": resolved}
