"""Reads about tariffs: their OCPI documents, which version prices a session, what a session used,
and what a transaction costs (final once stopped, estimated while it runs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from reservations.models import Reservation
from stations.models import ChargeStation, StatusNotificationRecord
from transactions.models import MeterValue, Transaction

from .engine import RESERVATION, Cost, Usage, cost_compute, money
from .models import Tariff, TariffAssignment, TariffElement, TransactionCost

ENERGY_REGISTER = "Energy.Active.Import.Register"
CURRENT = "Current.Import"
# Connector states in which the EV is connected but not requesting energy: OCPI's PARKING_TIME.
PARKED_STATUSES = frozenset({"SuspendedEV", "Finishing"})
DIMENSION_FIELDS = (("FLAT", "flat"), ("ENERGY", "energy"), ("TIME", "time"), ("PARKING_TIME", "parking"))
RESTRICTION_NUMBERS = ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power")


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def tariff_zone(station_zone: str = "") -> ZoneInfo:
    """The time zone tariff restrictions (times of day, dates, weekdays) are read in: the station's own
    (OCPI reads them in the location's local time), else CSMS_TARIFF_TIME_ZONE."""
    if station_zone:
        try:
            return _zone(station_zone)
        except (ZoneInfoNotFoundError, ValueError):  # validated on save; an older row may hold anything
            pass
    return _zone(settings.CSMS_TARIFF_TIME_ZONE)


def transaction_zone(transaction: Transaction) -> ZoneInfo:
    """The time zone a transaction's tariff is read in (its station's)."""
    station = transaction.station if "station" in transaction._state.fields_cache else None
    zone = station.time_zone if station is not None else (
        ChargeStation.objects.filter(pk=transaction.station_id).values_list("time_zone", flat=True).first())
    return tariff_zone(zone or "")


# --- The OCPI document of a tariff -------------------------------------------------------------------


def _number(value: Decimal) -> float | int:
    """A JSON number for a stored decimal: OCPI writes numbers, and a price of at most 12 digits
    survives the round trip through a float exactly (str(float) is its shortest decimal)."""
    return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)


def element_document(element: TariffElement) -> dict:
    """An OCPI TariffElement."""
    components = []
    for dimension, prefix in DIMENSION_FIELDS:
        price = getattr(element, f"{prefix}_price")
        if price is None:
            continue
        component = {"type": dimension, "price": _number(price)}
        vat = getattr(element, f"{prefix}_vat")
        if vat is not None:
            component["vat"] = _number(vat)
        component["step_size"] = 1 if dimension == "FLAT" else getattr(element, f"{prefix}_step")
        components.append(component)
    restrictions = {}
    for name in ("start_time", "end_time"):
        if getattr(element, name) is not None:
            restrictions[name] = getattr(element, name).strftime("%H:%M")
    for name in ("start_date", "end_date"):
        if getattr(element, name) is not None:
            restrictions[name] = getattr(element, name).isoformat()
    for name in RESTRICTION_NUMBERS:
        if getattr(element, name) is not None:
            restrictions[name] = _number(getattr(element, name))
    for name in ("min_duration", "max_duration"):
        if getattr(element, name) is not None:
            restrictions[name] = getattr(element, name)
    if element.day_of_week:
        restrictions["day_of_week"] = list(element.day_of_week)
    if element.reservation:
        restrictions["reservation"] = element.reservation
    document = {"price_components": components}
    if restrictions:
        document["restrictions"] = restrictions
    return document


def _price_document(excl: Decimal | None, incl: Decimal | None) -> dict | None:
    if excl is None:
        return None
    price = {"excl_vat": _number(excl)}
    if incl is not None:
        price["incl_vat"] = _number(incl)
    return price


def tariff_document(tariff: Tariff, elements=None) -> dict:
    """The tariff as an OCPI 2.2.1 Tariff object (without the CPO's country_code and party_id),
    plus its name: what a version stores and the API shows."""
    if elements is None:
        elements = tariff.elements.all()
    document = {"id": str(tariff.pk), "name": tariff.name, "currency": tariff.currency}
    if tariff.type:
        document["type"] = tariff.type
    if tariff.alt_text:
        document["tariff_alt_text"] = tariff.alt_text
    if tariff.alt_url:
        document["tariff_alt_url"] = tariff.alt_url
    for name in ("min_price", "max_price"):
        price = _price_document(getattr(tariff, f"{name}_excl_vat"), getattr(tariff, f"{name}_incl_vat"))
        if price is not None:
            document[name] = price
    document["elements"] = [element_document(element) for element in elements]
    for name in ("start_date_time", "end_date_time"):
        if getattr(tariff, name) is not None:
            document[name] = getattr(tariff, name).astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")
    if tariff.energy_mix is not None:
        document["energy_mix"] = tariff.energy_mix
    document["last_updated"] = tariff.last_updated.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")
    return document


def tariff_summary(document: dict) -> str:
    """One line for people: "0.25 EUR/kWh + 0.50 EUR/session" (each dimension's first price)."""
    currency = document["currency"]
    units = {"FLAT": "session", "ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h parked"}
    seen: dict[str, str] = {}
    for element in document["elements"]:
        conditional = bool(element.get("restrictions"))
        for component in element["price_components"]:
            kind = component["type"]
            if kind not in seen:
                seen[kind] = f"{component['price']} {currency}/{units[kind]}" + (" (conditions)" if conditional else "")
    return " + ".join(seen[kind] for kind in ("ENERGY", "TIME", "PARKING_TIME", "FLAT") if kind in seen) or "free"


# --- Which tariff prices a session -------------------------------------------------------------------


def _version_query() -> str:
    """The SQL of tariff_version_for: written once, because building it through the ORM (a union of
    annotated, filtered querysets) cost ~4 ms of CPU per StartTransaction."""
    tariff, assignment = Tariff._meta.db_table, TariffAssignment._meta.db_table
    station = ChargeStation._meta.db_table
    valid = "(t.start_date_time IS NULL OR t.start_date_time <= %s) AND (t.end_date_time IS NULL OR t.end_date_time >= %s)"
    return f"""
        SELECT version_id, tariff_id, currency FROM (
            SELECT t.current_version_id AS version_id, t.id AS tariff_id, t.currency AS currency,
                   CASE WHEN a.connector_id IS NOT NULL THEN 0 WHEN a.station_id IS NOT NULL THEN 1 ELSE 2 END AS rank
            FROM {assignment} a JOIN {tariff} t ON t.id = a.tariff_id
            WHERE ((a.station_id = %s AND (a.connector_id = %s OR a.connector_id IS NULL))
                   OR (a.station_id IS NULL AND a.partner_id = (SELECT s.partner_id FROM {station} s WHERE s.id = %s)))
              AND t.current_version_id IS NOT NULL AND {valid}
            UNION ALL
            SELECT t.current_version_id, t.id, t.currency, 3 FROM {tariff} t
            WHERE t.is_default = %s AND t.current_version_id IS NOT NULL AND {valid}
        ) candidates ORDER BY rank LIMIT 1"""


_VERSION_QUERY: list[str] = []


def tariff_version_for(*, station_id: str, connector_id: int, at: datetime) -> tuple[int, int, str] | None:
    """(version id, tariff id, currency) of the tariff pricing a session that starts at `at` on this
    connector: the connector's own, else the station's, else its partner's, else the default; a
    tariff outside its validity (start_date_time, end_date_time) is passed over. One query: it runs
    at StartTransaction."""
    if not _VERSION_QUERY:
        _VERSION_QUERY.append(_version_query())
    when = connection.ops.adapt_datetimefield_value(at)
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_QUERY[0], [station_id, connector_id, station_id, when, when, True, when, when])
        row = cursor.fetchone()
    return tuple(row) if row else None


def station_tariff_id(station: ChargeStation) -> int | None:
    """The tariff assigned to the station as a whole (uses a prefetched `tariff_assignments`)."""
    return next((a.tariff_id for a in station.tariff_assignments.all() if a.connector_id is None), None)


# --- What a session used -------------------------------------------------------------------------------


def _wh(value: Decimal, unit: str) -> Decimal:
    return value * 1000 if unit == "kWh" else value


def usage_recorded(transaction: Transaction, *, readings: bool = True, reservation: bool = False) -> Usage:
    """A stopped transaction's usage from what its station reported: the connector's states (EV
    parked or not) between start and stop and, with `readings`, every energy register and current
    reading (needed only when a restriction depends on when energy flowed; see needs_readings)."""
    start, end = transaction.started_at, max(transaction.stopped_at, transaction.started_at)
    energy_readings, by_instant = [], {}
    samples = (MeterValue.objects.filter(transaction=transaction, measurand__in=[ENERGY_REGISTER, CURRENT],
                                         numeric_value__isnull=False)
               .values_list("timestamp", "measurand", "phase", "unit", "numeric_value")) if readings else ()
    for instant, measurand, phase, unit, value in samples:
        if measurand == ENERGY_REGISTER:
            if not phase:
                energy_readings.append((instant, _wh(value, unit) - transaction.meter_start))
        else:
            # OCPI's current is the sum over phases; an unphased reading stands for the total.
            phased, unphased = by_instant.setdefault(instant, [Decimal(0), None])
            if phase:
                by_instant[instant][0] = phased + value
            else:
                by_instant[instant][1] = value
    currents = tuple(sorted((instant, phased if phased else (unphased or Decimal(0)))
                            for instant, (phased, unphased) in by_instant.items()))
    statuses = (StatusNotificationRecord.objects
                .filter(station_id=transaction.station_id, connector_id=transaction.connector_id)
                .filter(Q(timestamp__gte=start, timestamp__lte=end)
                        | Q(timestamp__isnull=True, received_at__gte=start, received_at__lte=end))
                .values_list("timestamp", "received_at", "status"))
    parked, since = [], None
    for instant, status in sorted((timestamp or received, status) for timestamp, received, status in statuses):
        if status in PARKED_STATUSES and since is None:
            since = instant
        elif status not in PARKED_STATUSES and since is not None:
            parked.append((since, instant))
            since = None
    if since is not None:
        parked.append((since, end))
    reservation_start = None
    if reservation:
        reservation_start = (Reservation.objects.filter(transaction=transaction)
                             .values_list("created_at", flat=True).first())
    return Usage(start=start, end=end, energy_wh=Decimal(transaction.energy_wh), readings=tuple(energy_readings),
                 parked=tuple(parked), currents=currents, reservation_start=reservation_start)


def usage_so_far(transaction: Transaction, now: datetime) -> Usage:
    """A running transaction's usage as far as known without a query: from its start until now, the
    energy linear up to its latest register reading (docs/adr/0101-cost-engine.md)."""
    end = max(now, transaction.started_at)
    readings = ()
    if transaction.meter_last is not None and transaction.meter_last_at is not None:
        readings = ((transaction.meter_last_at, transaction.meter_last - transaction.meter_start),)
    return Usage(start=transaction.started_at, end=end, energy_wh=Decimal(transaction.energy_wh), readings=readings)


def needs_readings(document: dict) -> bool:
    """Whether pricing depends on when energy flowed (any restriction besides `reservation`): else
    the start and stop registers say all the engine needs."""
    return any(set(element.get("restrictions") or {}) - {"reservation"} for element in document["elements"])


def needs_reservation(document: dict) -> bool:
    return any((element.get("restrictions") or {}).get("reservation") == RESERVATION
               for element in document["elements"])


# --- What a transaction costs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionCostView:
    tariff_id: int | None
    tariff_version: int | None
    currency: str | None
    cost_incl_vat: Decimal | None  # the total: incl. VAT, equal to excl. VAT where no VAT is set
    cost_excl_vat: Decimal | None
    final: bool
    breakdown: dict | None
    parking_s: Decimal | None


NO_COST = TransactionCostView(None, None, None, None, None, False, None, None)


def transaction_cost(transaction: Transaction, *, now: datetime | None = None) -> TransactionCostView:
    """Final once stopped; while running, estimated on read from the pinned tariff version and the
    latest energy reading. Reads `transaction.cost_record` (select_related it for lists)."""
    try:
        record = transaction.cost_record
    except TransactionCost.DoesNotExist:
        return NO_COST
    version = record.tariff_version
    number = version.number if version is not None else None
    if record.final:
        def stored(amount):  # kept with 4 decimals; shown in the currency's own
            return None if amount is None else money(amount, record.currency)

        return TransactionCostView(record.tariff_id, number, record.currency or None, stored(record.cost_incl_vat),
                                   stored(record.cost_excl_vat), True, record.breakdown, record.parking_s)
    if version is None or transaction.stopped_at is not None:
        return TransactionCostView(record.tariff_id, number, record.currency or None, None, None, False, None, None)
    cost = running_cost(transaction, version.document, now=now)
    return TransactionCostView(record.tariff_id, number, cost.currency, cost.incl_vat, cost.excl_vat, False,
                               cost.as_dict(), None)


def running_cost(transaction: Transaction, document: dict, *, now: datetime | None = None) -> Cost:
    return cost_compute(document, usage_so_far(transaction, now or timezone.now()), transaction_zone(transaction))


def transactions_with_cost(queryset):
    """Transactions with what their cost is read from, in the same query."""
    return queryset.select_related("cost_record", "cost_record__tariff_version", "station")


# --- Charge detail records -----------------------------------------------------------------------------

CDR_DIMENSIONS = (("flat", "FLAT"), ("energy", "ENERGY"), ("time", "TIME"), ("parking", "PARKING_TIME"),
                  ("reservation", "RESERVATION"))
CDR_COLUMNS = [
    "transaction_id", "station", "connector_id", "id_tag", "started_at", "stopped_at", "stop_reason", "energy_wh",
    "duration_s", "idle_s", "tariff", "tariff_name", "tariff_version", "currency",
    *(f"{name}_{part}" for name, _ in CDR_DIMENSIONS for part in ("excl_vat", "incl_vat")),
    "cost_excl_vat", "cost_incl_vat",
]


def charge_detail_record(transaction: Transaction) -> dict:
    """A finished session as finance reads it: where, who, when, how much energy and time, which
    tariff, and the cost per dimension and in total (reads `transaction.cost_record`)."""
    try:
        record = transaction.cost_record
    except TransactionCost.DoesNotExist:
        record = None
    dimensions = ((record.breakdown or {}).get("dimensions", {}) if record else {})
    version = record.tariff_version if record else None
    row = {
        "transaction_id": transaction.pk, "station": transaction.station_id, "connector_id": transaction.connector_id,
        "id_tag": transaction.id_tag, "started_at": transaction.started_at, "stopped_at": transaction.stopped_at,
        "stop_reason": transaction.stop_reason or "Local", "energy_wh": transaction.energy_wh,
        "duration_s": record.duration_s if record else None, "idle_s": record.parking_s if record else None,
        "tariff": record.tariff_id if record else None,
        "tariff_name": version.document.get("name") if version else None,
        "tariff_version": version.number if version else None,
        "currency": (record.currency or None) if record else None,
        "cost_excl_vat": money(record.cost_excl_vat, record.currency) if record and record.cost_excl_vat is not None
        else None,
        "cost_incl_vat": money(record.cost_incl_vat, record.currency) if record and record.cost_incl_vat is not None
        else None,
    }
    for name, key in CDR_DIMENSIONS:
        part = dimensions.get(key)
        for which in ("excl_vat", "incl_vat"):
            row[f"{name}_{which}"] = Decimal(part[f"cost_{which}"]) if part else None
    return row
