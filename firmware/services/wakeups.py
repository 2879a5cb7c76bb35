"""Work noted in memory after a commit, for the node that noticed it to do off the station path:
send waiting firmware updates to a station that just connected or booted, and look at a rollout
whose station just reported (firmware/node.py drains both every second; the periodic jobs do the
same work for whatever no node noted, e.g. after a restart)."""

from __future__ import annotations

import threading

from django.db import transaction

_lock = threading.Lock()
_stations: set[str] = set()
_rollouts: set[int] = set()


def _note(bucket: set, item) -> None:
    with _lock:
        bucket.add(item)


def station_catch_up_soon(station_id: str) -> None:
    """Once committed, send this station the updates waiting for it."""
    transaction.on_commit(lambda: _note(_stations, station_id))


def rollout_advance_soon(rollout_id: int) -> None:
    """Once committed, let the rollout engine look at this rollout (a wave may be decided)."""
    transaction.on_commit(lambda: _note(_rollouts, rollout_id))


def take() -> tuple[list[str], list[int]]:
    """Everything noted since the last call."""
    global _stations, _rollouts
    with _lock:
        stations, rollouts = _stations, _rollouts
        _stations, _rollouts = set(), set()
    return sorted(stations), sorted(rollouts)
