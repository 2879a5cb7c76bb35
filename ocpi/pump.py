"""Inside each node: a thread that sends the pushes a commit queued, off the station path. Without a
broker (Celery eager: `make run`, the test nodes) it sends them itself; with one it hands them to
Celery (ocpi.tasks), and the beat job sends whatever is due (retries, a missed hand-over). The same
shape as webhooks/pump.py."""

from __future__ import annotations

import logging
import threading
from collections import deque

from django.conf import settings
from django.db import close_old_connections, connection

from csms.celery import app as celery_app

from . import pushes

logger = logging.getLogger(__name__)

INTERVAL = 2.0
_wake = threading.Event()
_started = threading.Event()
_handed: deque[int] = deque()


def sends_here() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def hand_over(push_ids: list[int]) -> None:
    """After the commit that queued these pushes: have them sent, with no network I/O here when this
    is a node (the caller may be the station path)."""
    if _started.is_set():
        _handed.extend(push_ids)
        _wake.set()
    elif not sends_here():
        celery_app.send_task("ocpi.tasks.send_pushes", args=[push_ids])
    # Otherwise (no broker, no pump here: a management command, a test): the next pump run sends them.


def start_pump(loop=None) -> None:
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_run, name="csms-ocpi", daemon=True).start()


def _run() -> None:
    while True:
        try:
            close_old_connections()
            if sends_here():
                _handed.clear()
                pushes.pushes_send_due()
            else:
                batch = []
                while _handed:
                    batch.append(_handed.popleft())
                if batch:
                    celery_app.send_task("ocpi.tasks.send_pushes", args=[batch])
        except Exception:
            logger.exception("OCPI pump failed; trying again")
            connection.close()
        finally:
            if not settings.DB_IS_SQLITE:
                connection.close()
        _wake.wait(INTERVAL)
        _wake.clear()
