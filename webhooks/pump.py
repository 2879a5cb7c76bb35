"""Inside each node: a thread that keeps the subscription cache fresh and, when Celery runs tasks
inline (no broker: `make run`, the test nodes), sends the deliveries that are due.

It never runs on the station path's database threads: a slow receiver may hold it for the whole
CSMS_WEBHOOK_TIMEOUT, and no station waits for that. With a broker, Celery sends them instead
(webhooks.tasks) and this thread only refreshes the cache.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from . import services
from .subscriptions import TTL, subscriptions

logger = logging.getLogger(__name__)

INTERVAL = 2.0
_wake = threading.Event()
_started = threading.Event()


def wake() -> None:
    """Send what is due now rather than at the next tick (called after a commit that queued deliveries)."""
    _wake.set()


def sends_here() -> bool:
    """Whether this process's pump sends deliveries (Celery runs tasks inline: no broker to hand them to)."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def start_pump(loop=None) -> None:
    """A node service (csms.nodeservices): from its own thread, keep the subscriptions fresh (so the
    station path never reloads them) and, without a broker, send what is due."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_run, name="csms-webhooks", daemon=True).start()


def _run() -> None:
    while True:
        try:
            close_old_connections()
            subscriptions.refresh()
            subscriptions.kept_fresh = True  # from now on the station path never reloads them
            if sends_here():
                services.deliveries_send_due()
        except Exception:
            logger.exception("webhook pump failed; trying again")
            connection.close()
        finally:
            if not settings.DB_IS_SQLITE:
                connection.close()  # back to psycopg's pool between ticks
        _wake.wait(min(INTERVAL, TTL / 2))
        _wake.clear()
