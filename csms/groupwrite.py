"""Writes that the station Calls of one group share (docs/adr/0090-station-path-throughput.md).

The station path's writer commits many stations' Calls in one transaction. Rows that nothing in the
same transaction reads back (meter values, status history, stored answers, heartbeat times) need
not be written one Call at a time: a service hands them to `defer(flush, item)`, and the writer
calls each `flush(items)` once, with the items of every Call of the group, just before the commit.
Outside a group (an API view, a job, a test) `defer` writes at once, so services need not care
where they run.

A flush that fails (a constraint) spoils the group like any failing Call: the writer then runs the
Calls one by one, each with its own flush, and only the guilty one fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Flush = Callable[[list[Any]], None]

_local = threading.local()


class WriteGroup:
    def __init__(self):
        self._items: dict[Flush, list[Any]] = {}

    def add(self, flush: Flush, item: Any) -> None:
        self._items.setdefault(flush, []).append(item)

    def flush(self) -> None:
        # Flushes may defer more (a stored answer after the rows it answers): drain until empty.
        while self._items:
            items, self._items = self._items, {}
            for flush, batch in items.items():
                flush(batch)


def current() -> WriteGroup | None:
    return getattr(_local, "group", None)


class collecting:
    """`with collecting(): ...` — defer the block's writes and make them, together, at its end."""

    def __enter__(self) -> WriteGroup:
        self.previous = current()
        self.group = _local.group = WriteGroup()
        return self.group

    def __exit__(self, exc_type, exc, tb) -> None:
        _local.group = self.previous
        if exc_type is None:
            self.group.flush()


def defer(flush: Flush, item: Any) -> None:
    """Write `item` with `flush` at the end of the current group, or now when there is none."""
    group = current()
    if group is None:
        flush([item])
    else:
        group.add(flush, item)
