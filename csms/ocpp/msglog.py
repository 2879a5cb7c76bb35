"""Per-process buffer for the message log and for stations' last-seen times.

Logging every frame with its own INSERT would double the writes on the station path; instead frames
are collected in memory and written in bulk a few times a second, off the path that answers the
station. What a station *reported* is persisted by its handler before the answer; only this
observability copy waits for the next flush (docs/adr/0005-station-path-writes.md).
"""

from __future__ import annotations

import asyncio
import logging

from django.utils import timezone

from csms.db import run_db

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.25
MAX_BATCH = 2000


class MessageLogBuffer:
    def __init__(self):
        self._rows: list[dict] = []
        self._seen: set[str] = set()
        self._task: asyncio.Task | None = None
        self._wakeup: asyncio.Event | None = None

    def add(self, *, station_id: str, direction: str, frame: str, message_type=None, message_id="", action=""):
        self._rows.append(
            {
                "station_id": station_id,
                "direction": direction,
                "frame": frame,
                "message_type": message_type,
                "message_id": (message_id or "")[:72],
                "action": action or "",
                "created_at": timezone.now(),
            }
        )
        if direction == "in":
            self._seen.add(station_id)
        self._ensure_running()
        if len(self._rows) >= MAX_BATCH and self._wakeup is not None:
            self._wakeup.set()

    def _ensure_running(self):
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self):
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), FLUSH_INTERVAL)
            except TimeoutError:
                pass
            self._wakeup.clear()
            await self.flush()

    async def flush(self):
        rows, self._rows = self._rows, []
        seen, self._seen = self._seen, set()
        if not rows and not seen:
            return
        try:
            await run_db(_write, rows, seen)
        except Exception:  # never let logging take a station down
            logger.exception("message log flush failed (%d rows dropped)", len(rows))


def _write(rows: list[dict], seen: set[str]) -> None:
    from . import directory
    from .models import MessageLog

    if rows:
        MessageLog.objects.bulk_create([MessageLog(**row) for row in rows], batch_size=500)
    if seen:
        directory.get().seen(seen)


buffer = MessageLogBuffer()
