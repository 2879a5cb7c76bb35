"""What the console shows across apps: the fleet's figures and the charts' series (reads only)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from alerts.models import Severity
from alerts.selectors import alerts_open
from csms.ocpp.models import Call, CallStatus
from stations.models import ChargeStation, Connector, ConnectorStatus, SecurityEvent
from transactions.models import MeterValue, Transaction
from transactions.services import ENERGY_REGISTER

from .series import downsample, epoch, mean, power_of_readings, to_watts, to_wh

POWER = "Power.Active.Import"
SOC = "SoC"
# A power sample older than this says nothing about the power now.
POWER_FRESH = timedelta(minutes=15)
# Buckets of the 24-hour and fleet power charts.
POWER_BUCKET = timedelta(minutes=5)
FLEET_CHART_CACHE_SECONDS = 30
FAILED_CALLS = (CallStatus.ERROR, CallStatus.TIMEOUT)
# Firmware updates of a station still under way (firmware.models.TargetState values).
FIRMWARE_UNDER_WAY = ("waiting", "sent", "accepted", "in_progress", "stuck")


def start_of_today(now: datetime | None = None) -> datetime:
    return timezone.localtime(now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)


# --- Stations and connectors --------------------------------------------------------------------------


def stations_faulted():
    """Stations with a Faulted connector (connector 0 is the station itself)."""
    return ChargeStation.objects.filter(connectors__status=ConnectorStatus.FAULTED).distinct()


def connectors_by_status() -> dict[str, int]:
    counts = dict(Connector.objects.filter(connector_id__gt=0).values_list("status").annotate(n=Count("id"))
                  .values_list("status", "n"))
    return {status: counts.get(status, 0) for status in ConnectorStatus.values if counts.get(status)}


def calls_failed_since(since: datetime) -> int:
    return Call.objects.filter(created_at__gte=since, status__in=FAILED_CALLS).count()


def firmware_updates_under_way() -> int:
    target = apps.get_model("firmware", "FirmwareUpdateTarget")
    return target.objects.filter(state__in=FIRMWARE_UNDER_WAY).count()


def security_events_critical_since(since: datetime) -> int:
    """Critical security events (the Security Whitepaper's list) since then; every security event
    while the model does not flag critical ones yet."""
    events = SecurityEvent.objects.filter(timestamp__gte=since)
    if any(f.name == "critical" for f in SecurityEvent._meta.fields):
        events = events.filter(critical=True)
    return events.count()


def alerts_open_count(*, critical: bool = False) -> int:
    alerts = alerts_open()
    return alerts.filter(severity=Severity.CRITICAL).count() if critical else alerts.count()


# --- Power and energy ------------------------------------------------------------------------------------


def _latest_power_rows(transaction_ids=None, since: datetime | None = None):
    """(transaction, timestamp, phase, value, unit) of the newest power sample per transaction and
    phase, for running transactions (or the given ones)."""
    samples = MeterValue.objects.filter(measurand=POWER, numeric_value__isnull=False, unit__in=["W", "kW"])
    if transaction_ids is None:
        samples = samples.filter(transaction__stopped_at__isnull=True)
    else:
        samples = samples.filter(transaction_id__in=list(transaction_ids))
    if since is not None:
        samples = samples.filter(timestamp__gte=since)
    columns = ("transaction_id", "timestamp", "phase", "numeric_value", "unit")
    if connection.vendor == "postgresql":
        return samples.order_by("transaction_id", "phase", "-timestamp", "-id").distinct(
            "transaction_id", "phase").values_list(*columns)
    newest = {}
    for row in samples.order_by("timestamp", "id").values_list(*columns):
        newest[(row[0], row[2])] = row
    return list(newest.values())


def power_now_by_transaction(transaction_ids=None) -> dict[int, float]:
    """Watts per running transaction from its latest power sample(s) of the last POWER_FRESH."""
    rows = _latest_power_rows(transaction_ids, since=timezone.now() - POWER_FRESH)
    latest_at: dict[int, datetime] = {}
    for tx, moment, _, _, _ in rows:
        latest_at[tx] = max(moment, latest_at.get(tx, moment))
    readings: dict[int, list] = defaultdict(list)
    for tx, moment, phase, value, unit in rows:
        if latest_at[tx] - moment <= timedelta(seconds=5):  # phases of the same meter reading
            readings[tx].append((phase, to_watts(value, unit)))
    return {tx: power_of_readings(values) for tx, values in readings.items()}


def fleet_power_now() -> float:
    return sum(power_now_by_transaction().values())


def station_power_now(station_id: str) -> float | None:
    running = list(Transaction.objects.filter(station_id=station_id, stopped_at__isnull=True).values_list("pk", flat=True))
    if not running:
        return None
    return sum(power_now_by_transaction(running).values())


def energy_since(since: datetime) -> float:
    """Wh delivered since `since` by every transaction: each one's register now (or at its stop)
    minus its register then (its meterStart when it started later)."""
    overlapping = Transaction.objects.filter(Q(stopped_at__isnull=True) | Q(stopped_at__gte=since))
    total = 0.0
    carried_over = []
    for pk, started, meter_start, meter_stop, meter_last in overlapping.values_list(
            "pk", "started_at", "meter_start", "meter_stop", "meter_last"):
        end = meter_stop if meter_stop is not None else meter_last
        if end is None:
            continue
        if started >= since:
            total += float(end) - meter_start
        else:
            carried_over.append((pk, float(end), meter_start))
    if carried_over:
        at_start = {}
        readings = (MeterValue.objects.filter(transaction_id__in=[pk for pk, _, _ in carried_over], measurand=ENERGY_REGISTER,
                                              phase="", numeric_value__isnull=False, timestamp__lt=since)
                    .order_by("timestamp", "id").values_list("transaction_id", "numeric_value", "unit"))
        for pk, value, unit in readings:
            at_start[pk] = to_wh(value, unit)  # the last one before `since` wins
        for pk, end, meter_start in carried_over:
            total += end - at_start.get(pk, meter_start)
    return max(total, 0.0)


# --- Chart series ----------------------------------------------------------------------------------------


def transaction_series(tx: Transaction) -> dict:
    """Energy delivered (Wh from meterStart), power (W) and SoC (%) over the transaction's life."""
    energy, soc = [], []
    power_at: dict[float, list] = defaultdict(list)
    samples = (tx.meter_values.filter(numeric_value__isnull=False, measurand__in=[ENERGY_REGISTER, POWER, SOC])
               .order_by("timestamp", "id").values_list("timestamp", "measurand", "phase", "numeric_value", "unit"))
    for moment, measurand, phase, value, unit in samples:
        at = epoch(moment)
        if measurand == ENERGY_REGISTER and not phase and unit in ("Wh", "kWh"):
            energy.append((at, to_wh(value, unit) - tx.meter_start))
        elif measurand == POWER and unit in ("W", "kW"):
            power_at[at].append((phase, to_watts(value, unit)))
        elif measurand == SOC and not phase:
            soc.append((at, float(value)))
    if not energy or energy[0][0] > epoch(tx.started_at):
        energy.insert(0, (epoch(tx.started_at), 0.0))
    if tx.meter_stop is not None and tx.stopped_at is not None:
        energy.append((epoch(tx.stopped_at), float(tx.meter_stop - tx.meter_start)))
    power = [(at, power_of_readings(readings)) for at, readings in power_at.items()]
    return {
        "energy": downsample(energy),
        "power": downsample(power, combine=mean),
        "soc": downsample(soc),
    }


def _bucketed_power(samples, since: datetime, until: datetime) -> list[tuple[float, float]]:
    """Summed watts per POWER_BUCKET from (station, connector, timestamp, phase, value, unit) rows:
    each connector's mean in the bucket (a total, or the sum of its phases), summed over connectors."""
    width = POWER_BUCKET.total_seconds()
    start = epoch(since)
    per: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for station, connector, moment, phase, value, unit in samples:
        bucket = int((epoch(moment) - start) // width)
        per[(bucket, station, connector)][phase].append(to_watts(value, unit))
    totals: dict[int, float] = defaultdict(float)
    for (bucket, _, _), phases in per.items():
        totals[bucket] += power_of_readings((phase, mean(values)) for phase, values in phases.items())
    last = int((epoch(until) - start) // width)
    # Buckets without samples are gaps (None), not zero: nothing was reported then.
    return [(start + (bucket + 1) * width, totals.get(bucket)) for bucket in range(0, last + 1)]


def _power_samples(**filters):
    return (MeterValue.objects.filter(measurand=POWER, numeric_value__isnull=False, unit__in=["W", "kW"], **filters)
            .values_list("station_id", "connector_id", "timestamp", "phase", "numeric_value", "unit"))


def station_power_series(station_id: str, *, hours: int = 24) -> list[tuple[float, float | None]]:
    now = timezone.now()
    since = now - timedelta(hours=hours)
    return _bucketed_power(_power_samples(station_id=station_id, timestamp__gte=since), since, now)


def fleet_power_series() -> list[tuple[float, float | None]]:
    """Every station's power since midnight, in POWER_BUCKET steps; recomputed at most every
    FLEET_CHART_CACHE_SECONDS (the dashboard re-renders whenever the fleet changes)."""
    key = "console:fleet-power"
    series = cache.get(key)
    if series is None:
        now = timezone.now()
        since = start_of_today(now)
        series = _bucketed_power(_power_samples(timestamp__gte=since), since, now)
        cache.set(key, series, FLEET_CHART_CACHE_SECONDS)
    return series
