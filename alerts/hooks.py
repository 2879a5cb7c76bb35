"""Events of the alerts app (csms.hooks: receivers run in the raising transaction, in a savepoint)."""

from dataclasses import dataclass

from csms.hooks import Hook


@dataclass(frozen=True)
class AlertRaised:
    alert_id: int
    kind: str
    severity: str
    station_id: str | None
    message: str


# A new alert (not a repeat of an open one).
alert_raised: Hook[AlertRaised] = Hook("alert_raised")
