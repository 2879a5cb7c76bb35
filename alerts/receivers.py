"""What other apps' hooks turn into alerts (connected in AlertsConfig.ready)."""

from __future__ import annotations

from stations.hooks import SecurityEventRecorded, security_event_recorded

from .models import Severity
from .services import alert_raise


@security_event_recorded.connect
def critical_security_event(event: SecurityEventRecorded) -> None:
    """A critical event (Security Whitepaper section 8) is an alert; repeats of the same type on the
    same station count on the open one."""
    if not event.critical:
        return
    detail = f": {event.tech_info}" if event.tech_info else ""
    alert_raise(kind="security_event", severity=Severity.CRITICAL, station_id=event.station_id,
                key=f"security_event:{event.station_id}:{event.type}",
                message=f"{event.station_id} reported {event.type} at {event.timestamp:%Y-%m-%d %H:%M:%S}{detail}")
