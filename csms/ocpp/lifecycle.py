"""A node's life as the runtime sees it: start, report alive, release dead nodes' stations, drain.

- Start: whatever the database says this node held is offline (it holds no socket yet).
- Every `CSMS_NODE_REPORT_INTERVAL` seconds the node reports itself alive together with the sockets
  it holds; the report also corrects the record both ways (a held station shown offline is online
  again; a station shown online on this node that it no longer holds is offline), so the screen
  shows the truth even when a connection's own bookkeeping could not run (database away).
- On every report the node also releases the stations of nodes that stopped reporting: they are
  offline within `CSMS_NODE_TIMEOUT` of a node's death, and their unfinished calls end as errors.
- SIGTERM: the node stops accepting, lets Calls being processed finish and be answered, closes every
  socket with 1001 (going away: stations reconnect elsewhere at once), marks what it held offline
  and exits (docs/adr/0080-surviving-outages.md).
"""

from __future__ import annotations

import asyncio
import logging
import time

from django.conf import settings
from django.utils import timezone

from csms.db import run_db

from . import calls, directory
from .consumer import connections_busy, held_stations
from .mailbox import mailbox
from .msglog import buffer as message_log
from .writer import db_outage, is_outage

logger = logging.getLogger(__name__)


class NodeState:
    def __init__(self):
        self.draining = False
        self.started = time.monotonic()
        # While the database was away no node could report; after it returns, each gets a couple of
        # report intervals to do so before anyone takes it for dead.
        self.sweep_after = 0.0


state = NodeState()


def node_start() -> int:
    return directory.get().node_started(name=settings.CSMS_NODE_NAME)


def dead_after() -> float:
    """Seconds of silence after which a node is dead: its stations are offline within CSMS_NODE_TIMEOUT
    because every live node looks for dead ones at each of its reports."""
    return max(settings.CSMS_NODE_TIMEOUT - settings.CSMS_NODE_REPORT_INTERVAL, settings.CSMS_NODE_REPORT_INTERVAL * 2)


def report_and_sweep() -> tuple[int, int]:
    """One report (on a database thread): returns (stations corrected, stations of dead nodes released)."""
    now = timezone.now()
    corrected = directory.get().node_report(name=settings.CSMS_NODE_NAME, held=held_stations(), as_of=now)
    if time.monotonic() < state.sweep_after:
        return corrected, 0
    released = directory.get().dead_nodes_release(silent_for=dead_after())
    if released:
        calls.calls_fail_for_stations(station_ids=released, error_code="NodeLost",
                                      error_description="the node holding the station stopped")
    return corrected, len(released)


async def report_alive_forever() -> None:
    while True:
        try:
            corrected, released = await run_db(report_and_sweep)
            db_outage.succeeded()
            if corrected:
                logger.info("node %s: %d stations' online state corrected", settings.CSMS_NODE_NAME, corrected)
            if released:
                logger.warning("released %d stations of nodes that stopped reporting", released)
        except Exception as exc:
            if is_outage(exc):
                db_outage.failed(exc)
                state.sweep_after = time.monotonic() + 3 * settings.CSMS_NODE_REPORT_INTERVAL
            else:
                logger.exception("could not report node %s alive", settings.CSMS_NODE_NAME)
        await asyncio.sleep(settings.CSMS_NODE_REPORT_INTERVAL)


async def drain() -> None:
    """Stop gracefully: finish the Calls in hand, close every socket with 1001, leave nothing online."""
    state.draining = True
    deadline = time.monotonic() + settings.CSMS_DRAIN_SECONDS
    logger.warning("node %s draining: %d stations connected", settings.CSMS_NODE_NAME, len(mailbox.connections))
    while connections_busy() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    for connection in list(mailbox.connections.values()):
        connection.on_event({"type": "node.draining"})
    # Each connection's own bookkeeping runs as its socket closes.
    while mailbox.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    try:
        released = await run_db(directory.get().node_stopped, name=settings.CSMS_NODE_NAME)
        if released:
            await run_db(calls.calls_fail_for_stations, station_ids=released, error_code="Disconnected",
                         error_description="the node holding the station stopped")
    except Exception:
        logger.exception("node %s: could not mark its stations offline", settings.CSMS_NODE_NAME)
    await message_log.flush_all()
    await mailbox.stop()
    logger.warning("node %s drained", settings.CSMS_NODE_NAME)
