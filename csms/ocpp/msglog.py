"""Per-process buffer for the message log and for stations' last-seen times.

Logging every frame with its own INSERT would double the writes on the station path; instead frames
are collected in memory and written in bulk a few times a second, off the path that answers the
station. What a station *reported* is persisted by its handler before the answer; only this
observability copy waits for the next flush (docs/adr/0005-station-path-writes.md).

While the database is away the rows stay buffered and go in once it is back; the buffer is bounded
(`CSMS_MESSAGE_LOG_BUFFER` rows): beyond it the oldest rows are dropped and counted, never the
node's memory (docs/adr/0080-surviving-outages.md).
"""

from __future__ import annotations

import asyncio
import collections
import logging

from functools import partial

from django.conf import settings
from django.utils import timezone

from csms.db import insert_rows, run_db

from . import directory
from .writer import get_writer

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.25
MAX_BATCH = 5000
COLUMNS = ("station_id", "direction", "frame", "message_type", "message_id", "action", "created_at")


class MessageLogBuffer:
    def __init__(self):
        self._rows: collections.deque[tuple] = collections.deque()
        self._seen: set[str] = set()
        self._task: asyncio.Task | None = None
        self._wakeup: asyncio.Event | None = None
        self.dropped = 0  # rows lost to a full buffer since the process started
        self.written = 0

    @property
    def depth(self) -> int:
        return len(self._rows)

    def add(self, *, station_id: str, direction: str, frame: str, message_type=None, message_id="", action=""):
        self._rows.append((station_id, direction, frame, message_type, (message_id or "")[:72], action or "",
                           timezone.now()))
        if len(self._rows) > settings.CSMS_MESSAGE_LOG_BUFFER:
            self._rows.popleft()
            self.dropped += 1
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
        rows = [self._rows.popleft() for _ in range(min(len(self._rows), MAX_BATCH))]
        seen, self._seen = self._seen, set()
        if seen:
            # Station rows are written by the node's writer only, so that its transactions never
            # deadlock with this one.
            get_writer().run_later("", partial(directory.get().seen, seen))
        if not rows:
            return
        try:
            await run_db(_write, rows)
        except Exception as exc:  # never let logging take a station down: keep the rows for later
            from .writer import db_outage, is_outage

            if is_outage(exc):
                db_outage.failed(exc)
            else:
                logger.exception("message log flush failed; %d rows kept for the next attempt", len(rows))
            self._rows.extendleft(reversed(rows))
            while len(self._rows) > settings.CSMS_MESSAGE_LOG_BUFFER:
                self._rows.popleft()
                self.dropped += 1
            await asyncio.sleep(1.0)  # do not hammer a database that is away
            return
        self.written += len(rows)

    async def flush_all(self, attempts: int = 3):
        """Write everything buffered (a node stopping); gives up after a few failed attempts."""
        for _ in range(attempts):
            while self._rows or self._seen:
                before = len(self._rows)
                await self.flush()
                if len(self._rows) >= before and before:
                    break  # the database refused: try again after the pause flush() took
            if not self._rows:
                return


def _write(rows: list[tuple]) -> None:
    from .models import MessageLog

    insert_rows(MessageLog, COLUMNS, rows)


buffer = MessageLogBuffer()
