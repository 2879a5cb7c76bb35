"""Who may send Calls to stations: one rule for every path (admin action, admin page, API, job).

`may_send_calls(user, station)`: the user holds "Can add call" on the runtime's Call model (sending
a Call is adding one) AND may act on that station: staff on every station, anyone else on the
stations the station domain says are theirs (the stations app registers that rule: the runtime
knows no partner). Without a station, only the permission is asked (may this user send Calls at
all: which actions to offer). Celery jobs and result handlers act as the system and are not asked.
"""

from __future__ import annotations

from collections.abc import Callable

from csms.errors import Forbidden

SEND_CALLS = "ocpp.add_call"
SEND_CALLS_REFUSED = "Sending calls to stations needs the permission ocpp.add_call (\"Can add call\")."

# (user, station id) -> whether a user who is not staff may act on that station.
_station_access: Callable[[object, str], bool] | None = None


def register_station_access(rule: Callable[[object, str], bool]) -> None:
    global _station_access
    _station_access = rule


def may_send_calls(user, station=None) -> bool:
    if user is None or not user.is_authenticated or not user.has_perm(SEND_CALLS):
        return False
    if station is None or user.is_staff or user.is_superuser:
        return True
    return _station_access is not None and _station_access(user, str(getattr(station, "pk", station)))


def require_send_calls(user, station=None) -> None:
    """Forbidden (HTTP 403, an admin error message) unless `may_send_calls`."""
    if not may_send_calls(user, station):
        raise Forbidden(SEND_CALLS_REFUSED)
