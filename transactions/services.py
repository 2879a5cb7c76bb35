"""Authorization, transactions and meter values."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from csms.errors import Invalid
from csms.ocpp.models import Call, CallStatus
from csms.ocpp.schemas import format_datetime

from .hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped
from .models import AuthorizationStatus, IdTag, MeterValue, Transaction, UnmatchedStopTransaction

logger = logging.getLogger(__name__)

ENERGY_REGISTER = "Energy.Active.Import.Register"


# --- Authorization -------------------------------------------------------------------------------


def id_tag_info(*, id_tag: str, check_concurrency: bool = True, exclude_transaction: int | None = None) -> dict:
    """The idTagInfo OCPP answers for a tag: status, parentIdTag and an expiryDate."""
    tag = IdTag.objects.filter(id_tag=id_tag).first()
    if tag is None:
        return {"status": AuthorizationStatus.INVALID.value}
    now = timezone.now()
    if tag.blocked or tag.max_active_transactions == 0:
        status = AuthorizationStatus.BLOCKED
    elif tag.expiry_date is not None and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    elif check_concurrency and tag.max_active_transactions > 0:
        active = Transaction.objects.filter(
            id_tag=tag.id_tag, stopped_at__isnull=True, id_tag_status=AuthorizationStatus.ACCEPTED
        )
        if exclude_transaction is not None:
            active = active.exclude(pk=exclude_transaction)
        status = AuthorizationStatus.CONCURRENT_TX if active.count() >= tag.max_active_transactions else AuthorizationStatus.ACCEPTED
    else:
        status = AuthorizationStatus.ACCEPTED
    info = {"status": status.value}
    if tag.parent_id_tag:
        info["parentIdTag"] = tag.parent_id_tag
    expiry = _cache_expiry(tag, now)
    if expiry is not None:
        info["expiryDate"] = format_datetime(expiry, timespec="auto")
    return info


def _cache_expiry(tag: IdTag, now):
    """When a station's cached authorization of this tag must lapse: the tag's own expiry, or
    CSMS_AUTH_CACHE_HOURS from now when that comes first (0 hours: only the tag's own)."""
    candidates = []
    if tag.expiry_date is not None:
        candidates.append(tag.expiry_date)
    if settings.CSMS_AUTH_CACHE_HOURS > 0:
        candidates.append(now + timedelta(hours=settings.CSMS_AUTH_CACHE_HOURS))
    return min(candidates) if candidates else None


def same_group(tag_a: str, tag_b: str) -> bool:
    """True when both tags are one and the same, or share a parent (group) idTag."""
    if tag_a == tag_b:
        return True
    parents = dict(IdTag.objects.filter(id_tag__in=[tag_a, tag_b]).values_list("id_tag", "parent_id_tag"))
    group_a = parents.get(tag_a) or tag_a
    group_b = parents.get(tag_b) or tag_b
    return group_a == group_b or parents.get(tag_a) == tag_b or parents.get(tag_b) == tag_a


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
    existing = Transaction.objects.filter(
        station_id=station_id,
        connector_id=connector_id,
        id_tag=id_tag,
        started_at=timestamp,
        meter_start=meter_start,
    ).first()
    if existing is not None:
        return existing, id_tag_info(id_tag=existing.id_tag, exclude_transaction=existing.pk)
    info = id_tag_info(id_tag=id_tag)
    tx = Transaction.objects.create(
        station_id=station_id,
        connector_id=connector_id,
        id_tag=id_tag,
        id_tag_status=info["status"],
        meter_start=meter_start,
        started_at=timestamp,
        reservation_id=reservation_id,
        remote_start_call=remote_start_awaiting(station_id=station_id, connector_id=connector_id, id_tag=id_tag),
    )
    transaction_started.emit(TransactionStarted(tx, info["status"], info.get("parentIdTag", "")))
    return tx, info


REMOTE_START_WINDOW = timedelta(minutes=10)


def remote_start_awaiting(*, station_id: str, connector_id: int, id_tag: str):
    """The accepted RemoteStartTransaction this start answers, if any: same station and tag, the
    same connector (or none named), recent, and not already linked to another transaction."""
    candidates = (
        Call.objects.filter(
            station_id=station_id,
            action="RemoteStartTransaction",
            status=CallStatus.COMPLETED,
            response__status="Accepted",
            payload__idTag=id_tag,
            created_at__gte=timezone.now() - REMOTE_START_WINDOW,
        )
        .exclude(Exists(Transaction.objects.filter(remote_start_call=OuterRef("pk"))))
        .order_by("-created_at")
    )
    for call in candidates:
        if call.payload.get("connectorId") in (None, connector_id):
            return call
    return None


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
    """Store every sampled value; keep the transaction's latest energy register current."""
    _check_connector_id(connector_id, minimum=0)
    if transaction is None and transaction_id is not None:
        # Only the key is needed to link the values; the energy update below is a separate UPDATE.
        transaction = Transaction.objects.filter(pk=transaction_id, station_id=station_id).only("pk").first()
    now = timezone.now()
    rows = []
    latest = None  # (timestamp, Wh) of the unphased energy import register
    for sample in samples:
        number = _to_decimal(sample.value) if sample.format != "SignedData" else None
        rows.append(
            MeterValue(
                station_id=station_id,
                connector_id=connector_id,
                transaction=transaction,
                reported_transaction_id=transaction_id,
                timestamp=sample.timestamp,
                value=sample.value,
                numeric_value=number,
                measurand=sample.measurand,
                phase=sample.phase,
                unit=sample.unit,
                context=sample.context,
                location=sample.location,
                format=sample.format,
                source=source,
                received_at=now,
            )
        )
        if number is not None and sample.measurand == ENERGY_REGISTER and not sample.phase:
            if latest is None or sample.timestamp >= latest[0]:
                latest = (sample.timestamp, number * 1000 if sample.unit == "kWh" else number)
    MeterValue.objects.bulk_create(rows)
    if transaction is not None and latest is not None:
        # Only move forward in station time: replayed old samples must not roll the meter back.
        Transaction.objects.filter(pk=transaction.pk).filter(
            Q(meter_last_at__isnull=True) | Q(meter_last_at__lte=latest[0])
        ).update(meter_last=latest[1], meter_last_at=latest[0])
        transaction.meter_last, transaction.meter_last_at = latest[1], latest[0]
    return len(rows)

