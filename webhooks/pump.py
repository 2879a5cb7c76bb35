"""Inside each node: a thread that keeps the subscription cache fresh and takes the deliveries a
commit queued off the station path. When Celery runs tasks inline (no broker: `make run`, the test
nodes) it sends them itself; with a broker it hands them to Celery (webhooks.tasks), since even
that hand-over is network I/O (and a Redis outage would stall whoever did it).

It never runs on the station path's database threads: a slow receiver may hold it for the whole
CSMS_WEBHOOK_TIMEOUT, and no station waits for that.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from django.conf import settings
from django.db import close_old_connections, connection

from csms.celery import app as celery_app

from . import services
from .subscriptions import TTL, subscriptions

logger = logging.getLogger(__name__)

INTERVAL = 2.0
_wake = threading.Event()
_started = threading.Event()
_handed: deque[int] = deque()


def hand_over(delivery_ids: list[int]) -> None:
    """After the commit that queued these deliveries: have them sent, without any network I/O here
    when this is a node (the caller may be the station path)."""
    if _started.is_set():
        _handed.extend(delivery_ids)
        _wake.set()
    elif not sends_here():
        _dispatch(delivery_ids)  # a Celery worker or beat process: nobody waits on it
    # Otherwise (no broker, no pump here): any node's pump sends what is due within seconds.


def _dispatch(delivery_ids: list[int]) -> None:
    celery_app.send_task("webhooks.tasks.send_deliveries", args=[delivery_ids])


def sends_here() -> bool:
    """Whether this process's pump sends deliveries (Celery runs tasks inline: no broker to hand them to)."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def _dispatch_handed() -> None:
    """Hand the deliveries queued since the last tick to Celery; if the broker is away they stay due
    in the database and the beat job sends them."""
    batch = []
    while _handed:
        batch.append(_handed.popleft())
    if batch:
        _dispatch(batch)


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
                _handed.clear()
                services.deliveries_send_due()
            else:
                _dispatch_handed()
        except Exception:
            logger.exception("webhook pump failed; trying again")
            connection.close()
        finally:
            if not settings.DB_IS_SQLITE:
                connection.close()  # back to psycopg's pool between ticks
        _wake.wait(min(INTERVAL, TTL / 2))
        _wake.clear()
