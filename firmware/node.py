"""What the firmware app runs inside each node process (csms.nodeservices): the embedded FTP server
when configured (`make run`), and the loop that does, off the station path, the work the station
path noted in memory (services/wakeups.py): updates waiting for a station that just connected or
booted are sent, and rollouts whose stations just reported are looked at."""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from csms.db import run_db

logger = logging.getLogger(__name__)

WAKEUP_SECONDS = 1.0


def start(loop: asyncio.AbstractEventLoop) -> None:
    loop.create_task(_wakeups_forever())
    if settings.CSMS_FTP_EMBEDDED:  # last: a port already taken must not stop the rest
        from .ftp import start_embedded

        start_embedded()


async def _wakeups_forever() -> None:
    from .services import jobs, wakeups
    from .services.rollouts import firmware_rollout_advance
    from .tasks import advance_firmware_rollout

    while True:
        await asyncio.sleep(WAKEUP_SECONDS)
        stations, rollouts = wakeups.take()
        try:
            if stations:
                await run_db(jobs.firmware_updates_send_waiting, station_ids=stations)
            for rollout_id in rollouts:
                if settings.CELERY_TASK_ALWAYS_EAGER:
                    await run_db(firmware_rollout_advance, rollout_id=rollout_id)
                else:  # a worker starts the next wave, not this node's station threads
                    await asyncio.to_thread(advance_firmware_rollout.delay, rollout_id)
        except Exception:
            logger.exception("firmware wake-ups failed (the periodic jobs will do the same work)")
