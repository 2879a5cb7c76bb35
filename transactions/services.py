"""Authorization, transactions and meter values."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from csms.db import insert_one, insert_rows
from csms.errors import Invalid
from csms.groupwrite import defer
from csms.ocpp.models import Call, CallStatus
from csms.ocpp.schemas import format_datetime

from .hooks import (
    MeterValuesStored,
    TransactionStarted,
    TransactionStopped,
    meter_values_stored,
    transaction_started,
    transaction_stopped,
)
from .id_tags import same_id_tag
from .models import AuthorizationStatus, IdTag, MeterValue, Transaction, UnmatchedStopTransaction

logger = logging.getLogger(__name__)

ENERGY_REGISTER = "Energy.Active.Import.Register"


# --- Authorization -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagState:
    """What authorization needs of a stored tag, read in one statement (the station path's Authorize,
    StartTransaction and StopTransaction all ask)."""

    id_tag: str
    parent_id_tag: str
    expiry_date: datetime | None
    blocked: bool
    max_active_transactions: int
    active_transactions: int  # its open Accepted transactions, every spelling (0 when not counted)
    offline_allowed: bool


def _tag_state(id_tag: str, *, count_active: bool, exclude_transaction: int | None) -> TagState | None:
    tag_table, tx_table = IdTag._meta.db_table, Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id_tag, t.parent_id_tag, t.expiry_date, t.blocked, t.max_active_transactions, "
            f"CASE WHEN %s AND t.max_active_transactions > 0 THEN (SELECT COUNT(*) FROM {tx_table} x "
            f"WHERE UPPER(x.id_tag) = UPPER(t.id_tag) AND x.stopped_at IS NULL AND x.id_tag_status = %s "
            f"AND x.id <> %s) ELSE 0 END, t.offline_allowed FROM {tag_table} t WHERE UPPER(t.id_tag) = UPPER(%s) LIMIT 1",
            [count_active, AuthorizationStatus.ACCEPTED.value, exclude_transaction or -1, id_tag])
        row = cursor.fetchone()
    if row is None:
        return None
    expiry = row[2]
    if expiry is not None and timezone.is_naive(expiry):  # SQLite hands naive UTC back to raw SQL
        expiry = timezone.make_aware(expiry, dt_timezone.utc)
    return TagState(row[0], row[1], expiry, bool(row[3]), row[4], row[5], bool(row[6]))


def id_tag_info(*, id_tag: str, check_concurrency: bool = True, exclude_transaction: int | None = None) -> dict:
    """The idTagInfo OCPP answers for a tag: status, parentIdTag and an expiryDate."""
    tag = _tag_state(id_tag, count_active=check_concurrency, exclude_transaction=exclude_transaction)
    if tag is None:
        return {"status": AuthorizationStatus.INVALID.value}
    now = timezone.now()
    if tag.blocked or tag.max_active_transactions == 0:
        status = AuthorizationStatus.BLOCKED
    elif tag.expiry_date is not None and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    elif check_concurrency and tag.max_active_transactions > 0:
        # Both spellings of a tag are one tag: their open transactions count together.
        concurrent = tag.active_transactions >= tag.max_active_transactions
        status = AuthorizationStatus.CONCURRENT_TX if concurrent else AuthorizationStatus.ACCEPTED
    else:
        status = AuthorizationStatus.ACCEPTED
    info = {"status": status.value}
    if tag.parent_id_tag:
        info["parentIdTag"] = tag.parent_id_tag
    # A tag that must be checked online every time expires at once: the station must not cache it
    # (OCPP 1.6 Authorization Cache); its status still tells what this answer allows.
    expiry = _cache_expiry(tag, now) if tag.offline_allowed else now
    if expiry is not None:
        info["expiryDate"] = format_datetime(expiry, timespec="auto")
    return info


def _cache_expiry(tag: TagState, now):
    """When a station's cached authorization of this tag must lapse: the tag's own expiry, or
    CSMS_AUTH_CACHE_HOURS from now when that comes first (0 hours: only the tag's own)."""
    candidates = []
    if tag.expiry_date is not None:
        candidates.append(tag.expiry_date)
    if settings.CSMS_AUTH_CACHE_HOURS > 0:
        candidates.append(now + timedelta(hours=settings.CSMS_AUTH_CACHE_HOURS))
    return min(candidates) if candidates else None


def same_group(tag_a: str, tag_b: str) -> bool:
    """True when both tags are one and the same, or share a parent (group) idTag (case-insensitively)."""
    a, b = tag_a.upper(), tag_b.upper()
    if a == b:
        return True
    stored = IdTag.objects.filter(Q(id_tag__iexact=tag_a) | Q(id_tag__iexact=tag_b)).values_list("id_tag", "parent_id_tag")
    parents = {tag.upper(): (parent or "").upper() for tag, parent in stored}
    group_a = parents.get(a) or a
    group_b = parents.get(b) or b
    return group_a == group_b or parents.get(a) == b or parents.get(b) == a


# --- Transactions --------------------------------------------------------------------------------


def transaction_start(
    *,
    station_id: str,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: datetime,
    reservation_id: int | None = None,
) -> tuple[Transaction, dict]:
    """Always answer with a transactionId; the tag's status decides whether it counts as Accepted.
    Returns the transaction and the idTagInfo to answer."""
    _check_connector_id(connector_id, minimum=1)  # a transaction is always on a real connector
    # The same start delivered again under a new messageId (station queue replay) gets its id back.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Transaction._meta.db_table} WHERE station_id = %s AND connector_id = %s "
                       "AND id_tag = %s AND started_at = %s AND meter_start = %s LIMIT 1",
                       [station_id, connector_id, id_tag, connection.ops.adapt_datetimefield_value(timestamp),
                        meter_start])
        replayed = cursor.fetchone()
    if replayed is not None:
        existing = Transaction.objects.get(pk=replayed[0])
        return existing, id_tag_info(id_tag=existing.id_tag, exclude_transaction=existing.pk)
    info = id_tag_info(id_tag=id_tag)
    remote_start = remote_start_awaiting(station_id=station_id, connector_id=connector_id, id_tag=id_tag)
    tx = insert_one(
        Transaction,
        station_id=station_id,
        connector_id=connector_id,
        id_tag=id_tag,
        id_tag_status=info["status"],
        meter_start=meter_start,
        started_at=timestamp,
        reservation_id=reservation_id,
        remote_start_call_id=remote_start,
    )
    transaction_started.emit(TransactionStarted(tx, info["status"], info.get("parentIdTag", "")))
    return tx, info


REMOTE_START_WINDOW = timedelta(minutes=10)


def remote_start_awaiting(*, station_id: str, connector_id: int, id_tag: str) -> int | None:
    """The id of the accepted RemoteStartTransaction this start answers, if any: same station and tag,
    the same connector (or none named), recent, and not already linked to another transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.payload, c.response FROM {Call._meta.db_table} c WHERE c.station_id = %s AND c.action = %s "
            f"AND c.status = %s AND c.created_at >= %s AND NOT EXISTS (SELECT 1 FROM {Transaction._meta.db_table} t "
            f"WHERE t.remote_start_call_id = c.id) ORDER BY c.created_at DESC",
            [station_id, "RemoteStartTransaction", CallStatus.COMPLETED.value,
             connection.ops.adapt_datetimefield_value(timezone.now() - REMOTE_START_WINDOW)])
        candidates = cursor.fetchall()
    for call_id, payload, response in candidates:
        payload, response = _json(payload), _json(response) or {}
        # The station may start with the tag in another case than the remote start named it.
        if (response.get("status") == "Accepted" and same_id_tag(payload.get("idTag"), id_tag)
                and payload.get("connectorId") in (None, connector_id)):
            return call_id
    return None


def _json(value):
    """A JSON column as raw SQL returns it: decoded on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def transaction_stop(
    *,
    station_id: str,
    transaction_id: int,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None = None,
    id_tag: str = "",
    samples: Sequence[SampledValue] = (),
    reported_transaction_data: list | None = None,
) -> dict:
    """Close the transaction (or keep an unmatched stop); answer idTagInfo when a tag was given.

    `samples` are the transactionData's values; an unmatched stop keeps the transactionData as the
    station wrote it (`reported_transaction_data`) for an operator to read."""
    reason = reason or "Local"
    stop_tag = id_tag
    tx = Transaction.objects.select_for_update().filter(pk=transaction_id, station_id=station_id).first()
    if tx is None:
        UnmatchedStopTransaction.objects.create(
            station_id=station_id,
            transaction_id=transaction_id,
            id_tag=stop_tag,
            meter_stop=meter_stop,
            timestamp=timestamp,
            reason=reason,
            transaction_data=reported_transaction_data,
        )
        logger.warning("StopTransaction for unknown transaction %s on %s kept", transaction_id, station_id)
    else:
        if samples:
            meter_values_store(
                station_id=station_id,
                connector_id=tx.connector_id,
                transaction_id=tx.pk,
                samples=samples,
                source="StopTransaction",
                transaction=tx,
            )
        if tx.stopped_at is None:
            tx.meter_stop = meter_stop
            tx.stopped_at = timestamp
            tx.stop_reason = reason
            tx.stop_id_tag = stop_tag
            tx.stop_tag_mismatch = bool(stop_tag) and not same_group(stop_tag, tx.id_tag)
            tx.save()
            transaction_stopped.emit(TransactionStopped(tx))
    if stop_tag:
        return id_tag_info(id_tag=stop_tag, check_concurrency=False)
    return {}


def _check_connector_id(connector_id: int, *, minimum: int) -> None:
    """The schemas only say "integer": refuse what OCPP's ranges forbid before the database does."""
    if connector_id < minimum:
        raise Invalid(f"connectorId must be at least {minimum}", details={"field": "connectorId"})


# --- Meter values ------------------------------------------------------------------------------


@dataclass(slots=True)
class SampledValue:
    """One sampled value of a MeterValues (or of StopTransaction's transactionData), at the time of
    its meterValue. The defaults are OCPP's for a field the station left out. Not frozen: MeterValues
    builds several per Call on the hot path, and a frozen dataclass takes twice as long to build."""

    timestamp: datetime
    value: str
    measurand: str = ENERGY_REGISTER
    phase: str = ""
    unit: str = "Wh"
    context: str = "Sample.Periodic"
    location: str = "Outlet"
    format: str = "Raw"


def _to_decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and abs(number) < Decimal("1e13") else None


def meter_values_store(
    *,
    station_id: str,
    connector_id: int,
    transaction_id: int | None,
    samples: Sequence[SampledValue],
    source: str = "MeterValues",
    transaction: Transaction | None = None,
) -> int:
    """Store every sampled value; keep the transaction's latest energy register current.

    On the station path (MeterValues) the rows and the register update are deferred to the writer's
    group (csms.groupwrite): one COPY and one UPDATE for all the stations' values of the group. With
    `transaction` given (StopTransaction's transactionData) they are written at once.
    """
    _check_connector_id(connector_id, minimum=0)
    now = timezone.now()
    rows = []
    latest = None  # (timestamp, Wh) of the unphased energy import register
    for sample in samples:
        number = _to_decimal(sample.value) if sample.format != "SignedData" else None
        rows.append((station_id, connector_id, transaction_id, sample.timestamp, sample.value, number,
                     sample.measurand, sample.phase, sample.unit, sample.context, sample.location, sample.format,
                     source, now))
        if number is not None and sample.measurand == ENERGY_REGISTER and not sample.phase:
            if latest is None or sample.timestamp >= latest[0]:
                latest = (sample.timestamp, number * 1000 if sample.unit == "kWh" else number)
    meter_values_stored.emit(MeterValuesStored(station_id, connector_id, transaction_id))
    if transaction is not None:
        _meter_rows_insert([rows], linked={(transaction.pk, station_id)})
        if latest is not None:
            _meter_registers_advance([(transaction.pk, station_id, latest[1], latest[0])])
            transaction.meter_last, transaction.meter_last_at = latest[1], latest[0]
        return len(rows)
    defer(_meter_rows_insert, rows)
    if transaction_id is not None and latest is not None:
        defer(_meter_registers_advance, (transaction_id, station_id, latest[1], latest[0]))
    return len(rows)


METER_VALUE_COLUMNS = ("station_id", "connector_id", "reported_transaction_id", "timestamp", "value", "numeric_value",
                       "measurand", "phase", "unit", "context", "location", "format", "source", "received_at",
                       "transaction_id")


def _meter_rows_insert(batches: list[list[tuple]], linked: set[tuple[int, str]] | None = None) -> None:
    """Insert the sampled values of several MeterValues at once. A value is linked to the transaction
    it names only when that transaction is the station's (one query for the whole group)."""
    if linked is None:
        named = {(row[2], row[0]) for rows in batches for row in rows if row[2] is not None}
        linked = set()
        if named:
            found = Transaction.objects.filter(pk__in={pk for pk, _ in named}).values_list("pk", "station_id")
            linked = named & set(found)
    insert_rows(MeterValue, METER_VALUE_COLUMNS,
                [(*row, row[2] if (row[2], row[0]) in linked else None) for rows in batches for row in rows])


def _meter_registers_advance(items: list[tuple[int, str, Decimal, datetime]]) -> None:
    """Move each transaction's latest energy register forward (never back: replayed old samples must
    not roll the meter back), in one statement on PostgreSQL."""
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s::bigint, %s::text, %s::numeric, %s::timestamptz)"] * len(items))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Transaction._meta.db_table} AS t SET meter_last = v.wh, meter_last_at = v.at "
                f"FROM (VALUES {values}) AS v(id, station_id, wh, at) "
                "WHERE t.id = v.id AND t.station_id = v.station_id AND (t.meter_last_at IS NULL OR t.meter_last_at <= v.at)",
                [value for item in items for value in item])
        return
    for pk, station_id, wh, at in items:
        Transaction.objects.filter(pk=pk, station_id=station_id).filter(
            Q(meter_last_at__isnull=True) | Q(meter_last_at__lte=at)).update(meter_last=wh, meter_last_at=at)

