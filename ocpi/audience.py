"""Who we push to, as the station path asks it: the registered partners, their visibility and the
receiver modules they offer, cached in process for a few seconds.

The station path (status notifications, connects) asks this on every event; with no partner
registered the answer must cost nothing. Saving an OcpiPartner (or its chosen stations) clears the
cache of this process at once; other nodes see the change when their copy expires (AUDIENCE_TTL):
there is no cross-node invalidation, and a few seconds of delay on a new registration is harmless
because a partner that registers gets a full push anyway.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .models import HandshakeState, OcpiPartner, Visibility

AUDIENCE_TTL = 5.0  # seconds


@dataclass(frozen=True)
class Listener:
    partner_id: int
    public: bool  # Visibility.PUBLIC: every published station
    chosen: frozenset  # station ids, with Visibility.CHOSEN
    locations: bool  # it offers a locations receiver
    tariffs: bool  # it offers a tariffs receiver

    def may_see(self, station_id: str) -> bool:
        """Whether it may see the station at all (PUBLIC still needs the station's ocpi_publish flag)."""
        return self.public or station_id in self.chosen


_lock = threading.Lock()
_cached: tuple[float, tuple[Listener, ...]] | None = None


def listeners() -> tuple[Listener, ...]:
    """The registered partners (one query every AUDIENCE_TTL seconds at most, per process)."""
    global _cached
    cached = _cached
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    partners = list(OcpiPartner.objects.filter(state=HandshakeState.REGISTERED).prefetch_related("stations")
                    .only("pk", "visibility", "endpoints"))
    found = tuple(Listener(p.pk, p.visibility == Visibility.PUBLIC,
                           frozenset() if p.visibility == Visibility.PUBLIC else frozenset(s.pk for s in p.stations.all()),
                           p.endpoint("locations") is not None, p.endpoint("tariffs") is not None)
                  for p in partners)
    with _lock:
        _cached = (time.monotonic() + AUDIENCE_TTL, found)
    return found


def location_listeners(station_id: str) -> list[Listener]:
    """The registered partners with a locations receiver that may see this station (no query while cached)."""
    return [item for item in listeners() if item.locations and item.may_see(station_id)]


def forget(**_kwargs) -> None:
    """Drop this process's copy (connected to OcpiPartner saves and deletes, and its stations' changes)."""
    global _cached
    with _lock:
        _cached = None
