"""OCPI 2.2.1 CDRs and ChargingPeriods for priced transactions. Pure reads: the Location document
comes from the caller (docs/adr/0151-ocpi-sessions-and-cdrs.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from tariffs.currencies import minor_units
from tariffs.engine import money, seconds
from tariffs.models import TransactionCost
from transactions.models import Transaction

from ocpi.sessions.documents import (
    AUTH_METHODS,
    cistring,
    hours,
    kwh,
    meter_id,
    number,
    ocpi_datetime,
    parse_datetime,
    party,
    pinned_tariff_id,
    price,
)

ZERO = Decimal(0)
# The CdrDimensionType a cost line's quantity is reported as, and the factor to its unit (kWh, h).
# A FLAT line has none: a fee is no volume (its money is in total_fixed_cost).
LINE_DIMENSIONS = {
    ("session", "ENERGY"): ("ENERGY", Decimal(1000)),
    ("session", "TIME"): ("TIME", Decimal(3600)),
    ("session", "PARKING_TIME"): ("PARKING_TIME", Decimal(3600)),
    ("reservation", "TIME"): ("RESERVATION_TIME", Decimal(3600)),
}
DIMENSION_ORDER = ("ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME")
# The breakdown's per-dimension costs, and the CDR field each goes to.
COST_FIELDS = (("FLAT", "total_fixed_cost"), ("ENERGY", "total_energy_cost"), ("TIME", "total_time_cost"),
               ("PARKING_TIME", "total_parking_cost"), ("RESERVATION", "total_reservation_cost"))


# --- Charging periods -----------------------------------------------------------------------------------


def _second(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def charging_periods(breakdown: dict | None, *, tariff_id: str | None) -> list[dict]:
    """OCPI ChargingPeriods from a cost breakdown's lines (Cost.as_dict): one period from each distinct
    line start (to the second, sorted) until the next; each line's volume goes to the periods it
    overlaps, in proportion to the time (exact for time, linear for energy). Periods with no volume
    (only a flat fee starts there) are left out: a period needs a dimension."""
    lines = [line for line in (breakdown or {}).get("lines") or ()]
    if not lines:
        return []
    parsed = [(line, parse_datetime(line["start"]), parse_datetime(line["end"])) for line in lines]
    starts = sorted({_second(start) for _, start, _ in parsed})
    finish = max(max(end for _, _, end in parsed), starts[-1])
    bounds = list(zip(starts, [*starts[1:], finish], strict=True))
    volumes: list[dict[str, Decimal]] = [{} for _ in bounds]
    for line, start, end in parsed:
        kind = LINE_DIMENSIONS.get((line.get("phase", "session"), line["dimension"]))
        if kind is None:
            continue
        name, unit = kind
        quantity = Decimal(str(line["quantity"])) / unit
        for index, share in _shares(start, end, bounds):
            volumes[index][name] = volumes[index].get(name, ZERO) + quantity * share
    periods = []
    for (start, _), found in zip(bounds, volumes, strict=True):
        if not found:
            continue
        period = {"start_date_time": ocpi_datetime(start),
                  "dimensions": [{"type": name, "volume": number(found[name])}
                                 for name in DIMENSION_ORDER if name in found]}
        if tariff_id is not None:
            period["tariff_id"] = cistring(tariff_id, field="tariff_id", max_length=36)
        periods.append(period)
    return periods


def _shares(start: datetime, end: datetime, bounds: list[tuple[datetime, datetime]]) -> Iterable[tuple[int, Decimal]]:
    """(period index, fraction of the line) for each period the line [start, end) overlaps; a line of
    no duration belongs to the period it starts in."""
    span = seconds(end - start)
    if span <= 0:
        index = max(i for i, (begin, _) in enumerate(bounds) if begin <= start)
        yield index, Decimal(1)
        return
    for index, (begin, until) in enumerate(bounds):
        if index == len(bounds) - 1:
            until = max(until, end)
        overlap = seconds(min(end, until) - max(start, begin))
        if overlap > 0:
            yield index, overlap / span


# --- CDR ------------------------------------------------------------------------------------------------


def cdr_location(location: dict, *, evse_uid: str, connector_id: str) -> dict:
    """An OCPI CdrLocation: the Location document's address with the one EVSE and connector used."""
    evse = next((e for e in location.get("evses") or () if str(e.get("uid")) == str(evse_uid)), None)
    if evse is None:
        raise ValueError(f"location {location.get('id')!r} has no EVSE {evse_uid!r}")
    connector = next((c for c in evse.get("connectors") or () if str(c.get("id")) == str(connector_id)), None)
    if connector is None:
        raise ValueError(f"EVSE {evse_uid!r} has no connector {connector_id!r}")
    document = {"id": cistring(location["id"], field="cdr_location.id", max_length=36)}
    for name in ("name", "address", "city", "postal_code", "state", "country", "coordinates"):
        if location.get(name) is not None:
            document[name] = location[name]
    missing = [name for name in ("address", "city", "country", "coordinates") if name not in document]
    if missing:
        raise ValueError(f"location {location['id']!r} lacks {', '.join(missing)}")
    document["evse_uid"] = cistring(evse["uid"], field="evse_uid", max_length=36)
    # Required here though optional on an EVSE: without an eMI3 EVSE ID, the uid is what we have.
    document["evse_id"] = cistring(evse.get("evse_id") or evse["uid"], field="evse_id", max_length=48)
    document["connector_id"] = cistring(connector["id"], field="connector_id", max_length=36)
    document["connector_standard"] = connector["standard"]
    document["connector_format"] = connector["format"]
    document["connector_power_type"] = connector["power_type"]
    return document


def _allocate(total: Decimal, parts: dict[str, Decimal], currency: str, *, rest: str) -> dict[str, Decimal]:
    """Share `total` (already in the currency's minor unit) out over `parts` in proportion to them,
    each rounded to the minor unit so that they add up to it exactly (largest remainder). Nothing to
    be proportional to: all of it to `rest`."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    base = sum(parts.values(), ZERO)
    if base <= 0:
        return {**{name: ZERO for name in parts}, rest: total}
    exact = {name: part * total / base for name, part in parts.items()}
    shares = {name: (value / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum
              for name, value in exact.items()}
    left = int(((total - sum(shares.values(), ZERO)) / quantum).to_integral_value())
    for name in sorted(exact, key=lambda n: exact[n] - shares[n], reverse=True)[:max(left, 0)]:
        shares[name] += quantum
    return shares


def dimension_costs(breakdown: dict, *, total_excl_vat: Decimal, total_incl_vat: Decimal,
                    currency: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Cost per breakdown dimension (FLAT, ENERGY, TIME, PARKING_TIME, RESERVATION), excl. and incl.
    VAT, adding up to the totals: each dimension's unrounded line costs, plus a min_price top-up as a
    fixed cost, shared out over the totals (which a max_price cap or the one rounding of the total
    may have moved)."""
    parts: dict[str, dict[str, Decimal]] = {"excl": {}, "incl": {}}
    for line in breakdown.get("lines") or ():
        key = "RESERVATION" if line.get("phase") == "reservation" else line["dimension"]
        for which in ("excl", "incl"):
            parts[which][key] = parts[which].get(key, ZERO) + Decimal(str(line[f"cost_{which}_vat"]))
    for key in breakdown.get("dimensions") or {}:  # a dimension listed without lines still shows
        for which in ("excl", "incl"):
            parts[which].setdefault(key, ZERO)
    adjustment = breakdown.get("adjustment") or {}
    if adjustment.get("applied") == "min_price":
        for which in ("excl", "incl"):
            parts[which]["FLAT"] = parts[which].get("FLAT", ZERO) + Decimal(str(adjustment[f"cost_{which}_vat"]))
    excl = _allocate(total_excl_vat, parts["excl"], currency, rest="FLAT")
    incl = _allocate(total_incl_vat, parts["incl"], currency, rest="FLAT")
    return {key: (excl.get(key, ZERO), incl.get(key, ZERO)) for key in {*excl, *incl}}


def _final_record(transaction: Transaction) -> TransactionCost:
    if transaction.stopped_at is None:
        raise ValueError(f"transaction {transaction.pk} is still running: no CDR before it stops")
    try:
        record = transaction.cost_record
    except TransactionCost.DoesNotExist:
        record = None
    if record is None or not record.final or record.cost_excl_vat is None or not record.currency:
        raise ValueError(f"transaction {transaction.pk} has not been priced: a CDR needs its total cost")
    return record


def cdr_document(transaction: Transaction, *, country_code: str, party_id: str, cdr_token: dict, auth_method: str,
                 location: dict, evse_uid: str, connector_id: str, authorization_reference: str | None = None,
                 tariffs: Iterable[dict] = ()) -> dict:
    """The stopped, priced transaction as an OCPI CDR, from its final cost record; `location` is the
    OCPI Location document (as at the session's start), `tariffs` the OCPI Tariff documents of the
    version that priced it. ValueError while it runs or when it was not priced."""
    if auth_method not in AUTH_METHODS:
        raise ValueError(f"auth_method must be one of {', '.join(AUTH_METHODS)}, not {auth_method!r}")
    record = _final_record(transaction)
    currency = record.currency
    breakdown = record.breakdown or {}
    start, end = transaction.started_at, max(transaction.stopped_at, transaction.started_at)
    reservation = [parse_datetime(line["start"]) for line in breakdown.get("lines") or ()
                   if line.get("phase") == "reservation"]
    cdr_start = min([start, *reservation])  # a reservation before the session starts the CDR
    energy_wh = record.energy_wh if record.energy_wh is not None else Decimal(transaction.energy_wh)
    periods = charging_periods(breakdown, tariff_id=pinned_tariff_id(transaction))
    if not periods:  # at least one period: the session's energy from its start
        periods = [{"start_date_time": ocpi_datetime(start),
                    "dimensions": [{"type": "ENERGY", "volume": kwh(max(energy_wh, ZERO))}]}]
    document = {
        **party(country_code=country_code, party_id=party_id),
        "id": cistring(transaction.pk, field="id", max_length=36),
        "start_date_time": ocpi_datetime(cdr_start),
        "end_date_time": ocpi_datetime(end),
        "session_id": cistring(transaction.pk, field="session_id", max_length=36),
        "cdr_token": dict(cdr_token),
        "auth_method": auth_method,
    }
    if authorization_reference is not None:
        document["authorization_reference"] = cistring(authorization_reference, field="authorization_reference",
                                                       max_length=36)
    document["cdr_location"] = cdr_location(location, evse_uid=evse_uid, connector_id=connector_id)
    meter = meter_id(transaction)
    if meter:
        document["meter_id"] = meter
    document["currency"] = currency
    tariffs = [dict(tariff) for tariff in tariffs]
    if tariffs:
        document["tariffs"] = tariffs
    document["charging_periods"] = periods
    total_excl = money(record.cost_excl_vat, currency)
    total_incl = money(record.cost_incl_vat if record.cost_incl_vat is not None else record.cost_excl_vat, currency)
    document["total_cost"] = price(total_excl, total_incl, currency=currency)
    costs = dimension_costs(breakdown, total_excl_vat=total_excl, total_incl_vat=total_incl, currency=currency)
    duration_s = record.duration_s if record.duration_s is not None else seconds(end - start)
    figures = {
        "total_fixed_cost": None, "total_energy": kwh(max(energy_wh, ZERO)), "total_energy_cost": None,
        "total_time": hours(duration_s), "total_time_cost": None,
        "total_parking_time": hours(record.parking_s) if record.parking_s is not None else None,
        "total_parking_cost": None, "total_reservation_cost": None,
    }
    for key, field in COST_FIELDS:
        if key in costs:
            figures[field] = price(*costs[key], currency=currency)
    document.update({name: value for name, value in figures.items() if value is not None})
    document["last_updated"] = ocpi_datetime(max(moment for moment in (record.priced_at, transaction.stopped_at)
                                                 if moment is not None))
    return document

