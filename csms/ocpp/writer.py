"""Group commit for the station path: one writer thread runs many stations' Calls in one transaction.

Committing each station Call on its own costs a database round trip and a commit each; one node
answering 1,500 Calls a second cannot afford that. The writer takes every Call waiting when it is
free, runs their handlers one after the other in ONE transaction, commits, and only then lets each
connection send its answer (an answer still means its data is committed). While it commits, the
next Calls gather: the busier the node, the bigger the groups (docs/adr/0090-station-path-throughput.md).

Failures stay with their Call:
- a Call that fails (a handler error, a value the database refuses, a retried transaction message
  that hits its stored answer) aborts the group, which is then run again Call by Call, each in its
  own transaction, through `processing.inbound_call_process` (the slow path, rare);
- the database being unreachable (PostgreSQL restarting) makes the group wait and try again, up to
  `CSMS_DB_OUTAGE_WAIT` seconds after each Call arrived; only a Call that waited that long gets an
  InternalError. Connections broken by the outage are discarded, never reused
  (docs/adr/0080-surviving-outages.md).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction

from csms.db import bind_origin_loop
from csms.groupwrite import collecting

from . import processing
from .errors import ErrorCode, OCPPError

logger = logging.getLogger(__name__)

# Pause between attempts while the database is unreachable.
OUTAGE_RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0)
# A group chosen as a deadlock's victim runs again at once, this many times before it is treated as an
# outage (waited out, then split Call by Call).
DEADLOCK_RETRIES = 3


@dataclass(slots=True, eq=False)  # identity: a job is a dictionary key
class Job:
    """Database work of one station Call (or of a connection's bookkeeping) for the writer.

    `in_group` runs inside the group's transaction and raises on anything unusual; `alone` runs it in
    its own transaction and returns its result (an exception object for a refusal)."""

    order: str  # jobs of a group run sorted by it (a station id): rows are locked in one order
    in_group: Callable[[], object]
    alone: Callable[[], object]
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future | None
    deadline: float = field(default=0.0)


class DatabaseOutage:
    """Logs the start and the end of a database outage once each, however many Calls wait."""

    def __init__(self):
        self.since: float | None = None
        self.outages = 0

    def failed(self, exc: BaseException) -> None:
        from csms import metrics

        metrics.database_errors.labels(kind="outage").inc()
        if self.since is None:
            self.since = time.monotonic()
            self.outages += 1
            logger.error("database unavailable (%s): station Calls wait up to %s s for it",
                         str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                         settings.CSMS_DB_OUTAGE_WAIT, extra={"event": "database_outage_started"})

    def succeeded(self) -> None:
        if self.since is not None:
            seconds = round(time.monotonic() - self.since, 1)
            logger.warning("database back after %.1f s", seconds, extra={"event": "database_outage_ended",
                                                                          "seconds": seconds})
            self.since = None


# The node's one view of the database's health: whoever meets the outage first logs it.
db_outage = DatabaseOutage()


def _outage_types() -> tuple[type, ...]:
    types: list[type] = [OperationalError, InterfaceError]
    try:  # raised unwrapped by raw psycopg work (the message log's COPY) and by the pool
        import psycopg
        import psycopg_pool

        types += [psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout]
    except ImportError:
        pass
    return tuple(types)


OUTAGE_TYPES = _outage_types()


def is_deadlock(exc: BaseException) -> bool:
    """Two transactions waited for each other's rows (across nodes): the database chose this one."""
    cause = exc.__cause__ if isinstance(exc, (OperationalError, InterfaceError)) else exc
    name = type(cause).__name__
    return name in ("DeadlockDetected", "SerializationFailure")


def is_outage(exc: BaseException) -> bool:
    """A failure of the connection, or a transient one (a deadlock, a lock timeout), not of the Call
    itself: worth running it again once the database answers."""
    return isinstance(exc, OUTAGE_TYPES)


class Writer:
    def __init__(self, *, max_group: int | None = None):
        self.max_group = max_group or settings.CSMS_WRITE_GROUP_MAX
        self.outage = db_outage
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Figures for the operations team (and the bench): groups committed and their sizes.
        self.groups = 0
        self.calls = 0
        self.deadlocks = 0

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, *, station_id: str, message_id: str, action: str, payload: dict) -> asyncio.Future:
        """Queue a station Call; the future resolves to its `processing.Outcome` once committed."""
        arguments = {"station_id": station_id, "message_id": message_id, "action": action, "payload": payload}
        return self._put(station_id, partial(processing.process_in_group, **arguments),
                         partial(processing.inbound_call_process, **arguments))

    def run(self, order: str, func: Callable[[], object]) -> asyncio.Future:
        """Queue other database work of a connection (admission, connection bookkeeping) to run with
        the next group: the future resolves to `func()`'s result once committed. Station rows are then
        written by this one thread per node, which keeps its transactions from deadlocking each other."""
        return self._put(order, func, partial(_alone, func))

    def run_later(self, order: str, func: Callable[[], object]) -> None:
        """Like `run`, for work nobody waits for (a disconnection's bookkeeping)."""
        self._put(order, func, partial(_alone, func), wait=False)

    def _put(self, order: str, in_group, alone, wait: bool = True) -> asyncio.Future | None:
        loop = asyncio.get_running_loop() if wait else None
        job = Job(order, in_group, alone, loop, loop.create_future() if wait else None,
                  time.monotonic() + settings.CSMS_DB_OUTAGE_WAIT)
        self._ensure_thread()
        self._queue.put(job)
        return job.future

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="csms-writer", daemon=True)
                self._thread.start()

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # A Call whose station was already answered (it waited past the bound) is not run any more.
            group = sorted((job for job in group if job.future is None or not job.future.done()),
                           key=lambda job: job.order)
            if not group:
                continue
            try:
                results = self._process(group)
            except BaseException as exc:  # never let the writer die: answer the group with an error
                logger.exception("the station path writer failed on a group of %d Calls", len(group))
                results = [exc] * len(group)
            self.groups += 1
            self.calls += len(group)
            _resolve(group, results)

    def _process(self, group: list[Job]) -> list:
        # on_commit hooks reach connections through the node's loop
        bind_origin_loop(next((job.loop for job in group if job.loop is not None), None))
        try:
            results = self._retrying(group, self._try_group) if len(group) > 1 else {}
            for job in group:
                if job not in results:
                    results.update(self._retrying([job], self._try_alone))
            return [results[job] for job in group]
        finally:
            bind_origin_loop(None)

    def _retrying(self, jobs: list[Job], attempt) -> dict:
        """Run `attempt(jobs)` until it gets through a database outage; a Call that waited longer than
        its bound is answered InternalError. Returns {job: result} for the jobs it settled."""
        settled: dict[Job, object] = {}
        live = list(jobs)
        delays = iter(OUTAGE_RETRY_DELAYS)
        delay = next(delays)
        deadlocks = 0
        while live:
            try:
                settled.update(attempt(live))
            except Exception as exc:
                if not is_outage(exc):
                    raise
                if is_deadlock(exc) and deadlocks < DEADLOCK_RETRIES:
                    deadlocks += 1  # not an outage: the other transaction went through, go again now
                    self.deadlocks += 1
                    continue
                self.outage.failed(exc)
                _discard_connection()
                now = time.monotonic()
                for job in live:
                    if job.deadline <= now:
                        settled[job] = OCPPError(ErrorCode.INTERNAL_ERROR, "the database is unavailable; try again")
                live = [job for job in live if job not in settled]
                if live:
                    time.sleep(delay)
                    delay = next(delays, delay)
                continue
            self.outage.succeeded()
            break
        return settled

    def _try_group(self, group: list[Job]) -> dict:
        """All Calls of the group in one transaction; {} when one of them spoilt it (each then runs
        on its own). An outage propagates, to be waited out."""
        try:
            with transaction.atomic(), collecting():
                return {job: job.in_group() for job in group}
        except Exception as exc:
            if is_outage(exc):
                raise
            return {}

    def _try_alone(self, jobs: list[Job]) -> dict:
        (job,) = jobs
        try:
            return {job: job.alone()}
        except Exception as exc:
            if is_outage(exc):
                raise
            return {job: exc}


def _alone(func: Callable[[], object]):
    with transaction.atomic(), collecting():
        return func()


def _discard_connection() -> None:
    try:
        connection.close()
    except Exception:  # already broken: nothing to give back
        pass
    close_old_connections()


def _resolve(jobs: list[Job], results: list) -> None:
    """Hand each Call its result on its connection's loop, one callback per loop for the whole group."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for job, result in zip(jobs, results):
        if job.future is None:
            if isinstance(result, BaseException):
                logger.error("background database work for %s failed: %s: %s", job.order, type(result).__name__, result)
            continue
        by_loop.setdefault(job.loop, []).append((job.future, result))
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pairs)
        except RuntimeError:  # the loop closed (the node is stopping)
            pass


def _settle(pairs) -> None:
    for future, result in pairs:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


_writer: Writer | None = None


def get_writer() -> Writer:
    """The process's writer, made on first use (settings are read then)."""
    global _writer
    if _writer is None:
        _writer = Writer()
    return _writer
