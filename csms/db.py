"""Where the station path runs its database work.

Channels' `database_sync_to_async` sends every consumer's queries to ONE thread per process, so a
slow query stalls every station on the node (DESIGN.md). Consumers use `run_db` instead: a pool of
`CSMS_DB_THREADS` threads (1 for SQLite, which has a single writer), each closing its connection
after the unit of work so that psycopg's pool gets it back.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection

_executor: ThreadPoolExecutor | None = None
# The event loop that handed work to this thread: code running here (an on_commit hook that wakes a
# consumer) must use that loop, never start its own.
_origin = threading.local()


def origin_loop() -> asyncio.AbstractEventLoop | None:
    return getattr(_origin, "loop", None)


def bind_origin_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Tell code running on this thread which event loop handed it the work (None: none)."""
    _origin.loop = loop


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.CSMS_DB_THREADS, thread_name_prefix="csms-db")
    return _executor


def _with_connection_hygiene(loop, func, args, kwargs):
    _origin.loop = loop
    # SQLite runs on one long-lived thread: reopening its file per Call cost ~1.4 ms, half the CPU
    # of a Call (bench/station_path.py). PostgreSQL connections go back to psycopg's pool instead.
    keep = settings.DB_IS_SQLITE
    if not keep:
        close_old_connections()
    try:
        return func(*args, **kwargs)
    except BaseException:
        if keep:
            connection.close()  # never reuse a connection in an unknown state
        raise
    finally:
        if not keep:
            close_old_connections()
        _origin.loop = None


async def run_db(func, /, *args, **kwargs):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _get_executor(), functools.partial(_with_connection_hygiene, loop, func, args, kwargs)
    )


def insert_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert many rows of `model` (values in `columns` order) as cheaply as the database allows:
    COPY on PostgreSQL (a few microseconds a row), one bulk INSERT elsewhere. No signals, no
    model instances on PostgreSQL: for the station path's append-only tables."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        names = ", ".join(model._meta.get_field(name).column for name in columns)
        # Django's errors, as for any query (a value out of a column's range is a DataError).
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    model.objects.bulk_create([model(**dict(zip(columns, row))) for row in rows], batch_size=500)


def insert_one(model, **values):
    """Insert one row of `model` with one statement and return the instance (pk set), without the
    ORM's save machinery: for the station path's hot inserts. Fields not given take their default
    (auto_now ones: now), so columns added later need no change here. No signals are sent."""
    from django.utils import timezone

    now = timezone.now()
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    instance_values = {}
    for field in fields:
        if field.attname in values:
            instance_values[field.attname] = values[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            instance_values[field.attname] = now
        else:
            instance_values[field.attname] = field.get_default()
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    params = [field.get_db_prep_save(instance_values[field.attname], connection) for field in fields]
    pk = model._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
                       f"VALUES ({placeholders}) RETURNING {connection.ops.quote_name(pk.column)}", params)
        instance_values[pk.attname] = cursor.fetchone()[0]
    instance = model(**instance_values)
    instance._state.adding = False
    return instance
