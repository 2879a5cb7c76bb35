"""Which active endpoints want which events: a per-process cache, so that a hook nobody subscribes
to costs a dictionary lookup and no query on the station path (docs/adr/0102-webhooks.md).

Node processes keep it fresh from a background thread (webhooks/pump.py), so that a station's Call
never waits for the reload; elsewhere (a Celery worker, a test, the benchmark) it is reloaded on
first use after TTL seconds. Writes to endpoints in this process drop it at once; other processes
see them within TTL seconds.
"""

from __future__ import annotations

import logging
import threading
import time

from .models import WebhookEndpoint

logger = logging.getLogger(__name__)

TTL = 5.0


class Subscriptions:
    def __init__(self):
        self._by_event: dict[str, tuple[tuple[int, int | None], ...]] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()
        # Set by the node's pump, which then reloads it every few seconds itself.
        self.kept_fresh = False

    def endpoints_for(self, event: str) -> tuple[tuple[int, int | None], ...]:
        """(endpoint id, partner id or None) of each active endpoint subscribed to `event`."""
        # Kept fresh by the pump, it is still reloaded here right after this process changed an endpoint.
        if (self._loaded_at == float("-inf") or not self.kept_fresh) and time.monotonic() - self._loaded_at > TTL:
            self.refresh()
        return self._by_event.get(event, ())

    def refresh(self) -> None:
        with self._lock:
            try:
                rows = list(WebhookEndpoint.objects.filter(active=True).values_list("id", "partner_id", "events"))
            except Exception:  # the database is away: keep what we knew, try again next time
                logger.warning("webhook subscriptions could not be reloaded", exc_info=True)
                return
            by_event: dict[str, list[tuple[int, int | None]]] = {}
            for endpoint_id, partner_id, events in rows:
                for event in events or ():
                    by_event.setdefault(event, []).append((endpoint_id, partner_id))
            self._by_event = {event: tuple(endpoints) for event, endpoints in by_event.items()}
            self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")


subscriptions = Subscriptions()
