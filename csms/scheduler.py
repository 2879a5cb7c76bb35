"""The beat schedule run inside the node when there is no Celery broker (`make run` without Redis).

Each job runs on the node's database threads, so anything it sends to a station goes through the
node's own event loop and in-memory channel layer.
"""

from __future__ import annotations

import asyncio
import logging
import time

from django.conf import settings

from csms.celery import app

from csms.db import run_db

logger = logging.getLogger(__name__)

TICK = 1.0


async def run_schedule() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    # Celery discovers the apps' tasks modules lazily, when a worker starts; we are the worker here.
    await run_db(app.loader.import_default_modules)
    next_run = {name: time.monotonic() + min(float(entry["schedule"]), 10.0) for name, entry in schedule.items()}
    while True:
        await asyncio.sleep(TICK)
        now = time.monotonic()
        for name, entry in schedule.items():
            if now < next_run[name]:
                continue
            next_run[name] = now + float(entry["schedule"])
            try:
                task = app.tasks[entry["task"]]
                await run_db(task.apply)
            except Exception:
                logger.exception("periodic job %s failed", name)
