"""What a charging session costs under an OCPI 2.2.1 tariff (mod_tariffs "Tariff object", mod_cdrs
"step_size"); docs/adr/0101-cost-engine.md.

Pure: a tariff document (the OCPI Tariff object, as each tariff version stores it), a `Usage` (the
energy register over time, when the EV was parked, the current, a reservation before the session)
and the time zone that restrictions are read in go in; a `Cost` comes out. The session is cut at
every moment that can change which price component applies (a meter reading, a change between
charging and parking, a time of day, a day, a duration or energy threshold, a change of current);
in each piece every dimension takes the first element, in list order, that has a component of
that dimension and whose restrictions all hold. Every amount stays a Decimal at full precision;
only the two totals are rounded, once, half up, to the currency's minor unit.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from itertools import pairwise

from .currencies import minor_units

FLAT, ENERGY, TIME, PARKING_TIME = "FLAT", "ENERGY", "TIME", "PARKING_TIME"
DIMENSIONS = (FLAT, ENERGY, TIME, PARKING_TIME)
RESERVATION, RESERVATION_EXPIRES = "RESERVATION", "RESERVATION_EXPIRES"
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# What a price is per: kWh for energy (quantities in Wh), hours for time (quantities in seconds).
UNIT_SIZE = {FLAT: Decimal(1), ENERGY: Decimal(1000), TIME: Decimal(3600), PARKING_TIME: Decimal(3600)}
UNIT_NAME = {FLAT: "session", ENERGY: "Wh", TIME: "s", PARKING_TIME: "s"}
# Without current readings the current is estimated from the power as the composite schedules
# convert amperes and watts: 230 V per phase, 3 phases.
VOLTS_PER_PHASE, PHASES = Decimal(230), Decimal(3)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Usage:
    """What happened during a session, as the cost engine needs it."""

    start: datetime
    end: datetime
    energy_wh: Decimal  # delivered from start to end
    # Energy register readings in between: (instant, Wh delivered since the start).
    readings: tuple[tuple[datetime, Decimal], ...] = ()
    # Intervals in which the EV was connected but not requesting energy (OCPI's PARKING_TIME).
    parked: tuple[tuple[datetime, datetime], ...] = ()
    # Current summed over phases (A), each value holding from its instant on.
    currents: tuple[tuple[datetime, Decimal], ...] = ()
    # When the reservation the session used was made (its time is priced by RESERVATION elements).
    reservation_start: datetime | None = None

    @property
    def parked_s(self) -> Decimal:
        """Seconds parked (connected, not requesting energy) within the session."""
        return sum((seconds(min(b, self.end) - max(a, self.start)) for a, b in self.parked
                    if min(b, self.end) > max(a, self.start)), ZERO)


@dataclass
class Line:
    """One priced quantity: a dimension priced by one component over a stretch of time."""

    dimension: str
    element: int  # index in the tariff's elements
    phase: str  # "session" or "reservation"
    start: datetime
    end: datetime
    quantity: Decimal  # Wh, seconds, or 1 for a flat fee
    price: Decimal
    vat: Decimal | None
    step_size: int

    @property
    def excl_vat(self) -> Decimal:
        return self.price * self.quantity / UNIT_SIZE[self.dimension]

    @property
    def incl_vat(self) -> Decimal:
        return self.excl_vat if self.vat is None else self.excl_vat * (100 + self.vat) / 100


@dataclass
class Cost:
    currency: str
    lines: list[Line]
    energy_wh: Decimal
    duration_s: Decimal
    parking_s: Decimal
    reservation_s: Decimal
    excl_vat: Decimal  # rounded
    incl_vat: Decimal  # rounded
    adjustment: dict | None = None  # min_price or max_price applied

    @property
    def charging_s(self) -> Decimal:
        return self.duration_s - self.parking_s

    def dimensions(self) -> dict:
        """Totals per dimension (reservation lines together under RESERVATION), each rounded for display."""
        groups: dict[str, dict] = {}
        for line in self.lines:
            key = "RESERVATION" if line.phase == "reservation" else line.dimension
            group = groups.setdefault(key, {"quantity": ZERO, "unit": UNIT_NAME[line.dimension], "excl": ZERO,
                                            "incl": ZERO})
            if key != "RESERVATION" or line.dimension == TIME:
                group["quantity"] += line.quantity
            if key == "RESERVATION":
                group["unit"] = "s"
            group["excl"] += line.excl_vat
            group["incl"] += line.incl_vat
        return {key: {"quantity": str(_plain(value["quantity"])), "unit": value["unit"],
                      "cost_excl_vat": str(money(value["excl"], self.currency)),
                      "cost_incl_vat": str(money(value["incl"], self.currency))}
                for key, value in groups.items()}

    def as_dict(self) -> dict:
        """The breakdown as stored with a transaction and shown by the API (amounts as strings)."""
        return {
            "currency": self.currency,
            "cost_excl_vat": str(self.excl_vat),
            "cost_incl_vat": str(self.incl_vat),
            "dimensions": self.dimensions(),
            "adjustment": self.adjustment,
            "lines": [{
                "dimension": line.dimension, "phase": line.phase, "element": line.element,
                "start": line.start.isoformat(), "end": line.end.isoformat(),
                "quantity": str(_plain(line.quantity)), "unit": UNIT_NAME[line.dimension],
                "price": str(line.price), "vat": None if line.vat is None else str(line.vat),
                "step_size": line.step_size, "cost_excl_vat": str(_plain(line.excl_vat)),
                "cost_incl_vat": str(_plain(line.incl_vat)),
            } for line in self.lines],
        }


def money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit: the one rounding money gets."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros or an exponent: 5.000 -> 5, 1E+1 -> 10."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral_value() else normalized


def seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


# --- The energy register between readings --------------------------------------------------------------


class _EnergyCurve:
    """Energy delivered since the start, linear between readings, never going back."""

    def __init__(self, usage: Usage):
        total = max(usage.energy_wh, ZERO)
        points = [(usage.start, ZERO)]
        for instant, value in sorted(usage.readings):
            if usage.start < instant < usage.end:
                points.append((instant, min(max(value, points[-1][1]), total)))
        points.append((usage.end, max(total, points[-1][1])))
        self.times = [instant for instant, _ in points]
        self.values = [value for _, value in points]

    def at(self, instant: datetime) -> Decimal:
        index = bisect.bisect_right(self.times, instant)
        if index == 0:
            return self.values[0]
        if index >= len(self.times):
            return self.values[-1]
        t0, t1 = self.times[index - 1], self.times[index]
        v0, v1 = self.values[index - 1], self.values[index]
        span = seconds(t1 - t0)
        return v0 if span == 0 else v0 + (v1 - v0) * seconds(instant - t0) / span

    def reaches(self, value: Decimal) -> datetime | None:
        """The first instant the delivered energy reaches `value` Wh (interpolated)."""
        for (t0, v0), (t1, v1) in pairwise(zip(self.times, self.values, strict=True)):
            if v0 < value <= v1:
                fraction = (value - v0) / (v1 - v0)
                return t0 + timedelta(microseconds=int(seconds(t1 - t0) * fraction * 1_000_000))
        return None


# --- Restrictions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Moment:
    """What restrictions are checked against at one instant of a session."""

    local: datetime
    energy_kwh: Decimal
    duration_s: Decimal
    power_kw: Decimal | None
    current_a: Decimal | None


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _time_of_day_holds(start: str | None, end: str | None, now: time) -> bool:
    if start is None and end is None:
        return True
    if start is not None and end is not None:
        begin, finish = _clock(start), _clock(end)
        if begin == finish:
            return True
        if begin < finish:
            return begin <= now < finish
        return now >= begin or now < finish  # wraps around midnight ("22:00" to "06:00", or to "00:00")
    if start is not None:
        return now >= _clock(start)
    return now < _clock(end)


def _below(value: Decimal | None, limit) -> bool:
    return value is not None and value < Decimal(str(limit))


def _at_least(value: Decimal | None, limit) -> bool:
    return value is not None and value >= Decimal(str(limit))


def restrictions_hold(restrictions: dict | None, moment: _Moment) -> bool:
    """All restrictions of an element hold at this moment (OCPI: a logical AND). `reservation` is
    checked by the caller: it decides which phase an element prices, not when."""
    if not restrictions:
        return True
    r = restrictions
    local_time = moment.local.time().replace(tzinfo=None)
    if not _time_of_day_holds(r.get("start_time"), r.get("end_time"), local_time):
        return False
    today = moment.local.date()
    if r.get("start_date") and today < date.fromisoformat(r["start_date"]):
        return False
    if r.get("end_date") and today >= date.fromisoformat(r["end_date"]):  # valid until this day (exclusive)
        return False
    if r.get("day_of_week") and WEEKDAYS[moment.local.weekday()] not in r["day_of_week"]:
        return False
    checks = (
        ("min_kwh", moment.energy_kwh, _at_least), ("max_kwh", moment.energy_kwh, _below),
        ("min_power", moment.power_kw, _at_least), ("max_power", moment.power_kw, _below),
        ("min_current", moment.current_a, _at_least), ("max_current", moment.current_a, _below),
        ("min_duration", moment.duration_s, _at_least), ("max_duration", moment.duration_s, _below),
    )
    return all(r.get(name) is None or holds(value, r[name]) for name, value, holds in checks)


def _component(elements: list[dict], dimension: str, moment: _Moment, phase: str) -> tuple[int, dict] | None:
    """The first element with a component of `dimension` whose restrictions hold, and that component."""
    for index, element in enumerate(elements):
        restrictions = element.get("restrictions") or {}
        reservation = restrictions.get("reservation")
        # RESERVATION elements price the reservation before the session; RESERVATION_EXPIRES ones
        # only a reservation that expired unused, which is no session of ours.
        if (phase == "reservation") != (reservation == RESERVATION) or reservation == RESERVATION_EXPIRES:
            continue
        component = next((c for c in element["price_components"] if c["type"] == dimension), None)
        if component is not None and restrictions_hold(restrictions, moment):
            return index, component
    return None


# --- Cutting the session --------------------------------------------------------------------------------


def _clock_times(elements: list[dict]) -> set[time]:
    times = {time(0, 0)}
    for element in elements:
        restrictions = element.get("restrictions") or {}
        for name in ("start_time", "end_time"):
            if restrictions.get(name):
                times.add(_clock(restrictions[name]))
    return times


def _local_boundaries(start: datetime, end: datetime, zone: tzinfo, clock_times: set[time]):
    """Each instant in (start, end) at which a time-of-day, date or weekday restriction can change."""
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        for clock in clock_times:
            instant = datetime.combine(day, clock, tzinfo=zone).astimezone(timezone.utc)
            if start < instant < end:
                yield instant
        day += timedelta(days=1)


def _breakpoints(usage: Usage, elements: list[dict], zone: tzinfo, curve: _EnergyCurve) -> list[datetime]:
    start, end = usage.start, usage.end
    points = {start, end}
    points.update(curve.times)
    for begin, finish in usage.parked:
        points.update((begin, finish))
    points.update(instant for instant, _ in usage.currents)
    points.update(_local_boundaries(start, end, zone, _clock_times(elements)))
    for element in elements:
        restrictions = element.get("restrictions") or {}
        for name in ("min_duration", "max_duration"):
            if restrictions.get(name) is not None:
                points.add(start + timedelta(seconds=int(restrictions[name])))
        for name in ("min_kwh", "max_kwh"):
            if restrictions.get(name) is not None:
                reached = curve.reaches(Decimal(str(restrictions[name])) * 1000)
                if reached is not None:
                    points.add(reached)
    return sorted(point for point in points if start <= point <= end)


def _current_at(usage: Usage, instant: datetime) -> Decimal | None:
    current = None
    for at, value in usage.currents:  # sorted by the caller
        if at > instant:
            break
        current = value
    return current


class _Lines:
    """Priced lines in time order; consecutive stretches priced by the same component merge."""

    def __init__(self):
        self.lines: list[Line] = []
        self._open: dict[tuple[str, str], Line] = {}

    def add(self, dimension: str, phase: str, found: tuple[int, dict] | None, start: datetime, end: datetime,
            quantity: Decimal) -> None:
        key = (phase, dimension)
        if found is None:
            self._open.pop(key, None)
            return
        index, component = found
        line = self._open.get(key)
        if line is not None and line.element == index and line.end == start:
            line.end = end
            line.quantity += quantity
            return
        line = Line(dimension, index, phase, start, end, quantity, Decimal(str(component["price"])),
                    None if component.get("vat") is None else Decimal(str(component["vat"])),
                    int(component.get("step_size") or 0))
        self.lines.append(line)
        self._open[key] = line


def _round_up_steps(lines: list[Line], dimensions: tuple[str, ...]) -> None:
    """OCPI step_size: the billed total of the dimension of the last line among `dimensions` is
    rounded up to that line's step size, the extra billed on that line (mod_cdrs "step_size")."""
    relevant = [line for line in lines if line.dimension in dimensions]
    if not relevant:
        return
    last = relevant[-1]
    if last.step_size <= 0:
        return
    total = sum((line.quantity for line in relevant if line.dimension == last.dimension), ZERO)
    step = Decimal(last.step_size)
    rounded = (total / step).to_integral_value(rounding=ROUND_CEILING) * step
    last.quantity += rounded - total


def cost_compute(tariff: dict, usage: Usage, zone: tzinfo) -> Cost:
    """The cost of `usage` under the tariff document `tariff` (an OCPI Tariff object)."""
    elements = tariff["elements"]
    currency = tariff["currency"]
    end = max(usage.end, usage.start)
    usage = Usage(usage.start, end, usage.energy_wh, usage.readings,
                  tuple(sorted((max(a, usage.start), min(b, end)) for a, b in usage.parked if b > a)),
                  tuple(sorted(usage.currents)), usage.reservation_start)
    curve = _EnergyCurve(usage)
    session = _Lines()
    parking_s = ZERO
    first_moment = None
    for begin, finish in pairwise(_breakpoints(usage, elements, zone, curve)):
        span = seconds(finish - begin)
        if span <= 0:
            continue
        middle = begin + (finish - begin) / 2
        delivered = curve.at(finish) - curve.at(begin)
        power = delivered / 1000 / (span / 3600)
        current = _current_at(usage, middle)
        if current is None and not usage.currents:
            current = power * 1000 / (VOLTS_PER_PHASE * PHASES)
        moment = _Moment(middle.astimezone(zone), curve.at(middle) / 1000, seconds(middle - usage.start), power,
                         current)
        if first_moment is None:
            first_moment = _Moment(usage.start.astimezone(zone), ZERO, ZERO, power, current)
        parked = any(a <= middle < b for a, b in usage.parked)
        if parked:
            parking_s += span
        if delivered > 0:
            session.add(ENERGY, "session", _component(elements, ENERGY, moment, "session"), begin, finish, delivered)
        dimension = PARKING_TIME if parked else TIME
        session.add(dimension, "session", _component(elements, dimension, moment, "session"), begin, finish, span)
    if first_moment is None:  # a session of no duration still pays its flat fee
        first_moment = _Moment(usage.start.astimezone(zone), ZERO, ZERO, None, None)
    _round_up_steps(session.lines, (ENERGY,))
    _round_up_steps(session.lines, (TIME, PARKING_TIME))
    flat = _component(elements, FLAT, first_moment, "session")
    flat_lines = _Lines()
    flat_lines.add(FLAT, "session", flat, usage.start, usage.start, Decimal(1))

    reservation_lines, reservation_s = _reservation(elements, usage, zone)
    lines = reservation_lines + flat_lines.lines + session.lines
    return _total(tariff, currency, lines, usage, parking_s, reservation_s)


def _reservation(elements: list[dict], usage: Usage, zone: tzinfo) -> tuple[list[Line], Decimal]:
    """The reservation before the session (OCPI: from when it was made until charging starts)."""
    begin = usage.reservation_start
    if begin is None or begin >= usage.start:
        return [], ZERO
    lines = _Lines()
    clock_times = _clock_times(elements)
    points = sorted({begin, usage.start, *_local_boundaries(begin, usage.start, zone, clock_times)})
    for a, b in pairwise(points):
        middle = a + (b - a) / 2
        moment = _Moment(middle.astimezone(zone), ZERO, seconds(middle - begin), None, None)
        lines.add(TIME, "reservation", _component(elements, TIME, moment, "reservation"), a, b, seconds(b - a))
    _round_up_steps(lines.lines, (TIME,))
    flat = _component(elements, FLAT, _Moment(begin.astimezone(zone), ZERO, ZERO, None, None), "reservation")
    flat_lines = _Lines()
    flat_lines.add(FLAT, "reservation", flat, begin, begin, Decimal(1))
    return flat_lines.lines + lines.lines, seconds(usage.start - begin)


def _total(tariff: dict, currency: str, lines: list[Line], usage: Usage, parking_s: Decimal,
           reservation_s: Decimal) -> Cost:
    excl = sum((line.excl_vat for line in lines), ZERO)
    incl = sum((line.incl_vat for line in lines), ZERO)
    adjustment = None
    # min_price and max_price hold for the totals excl. and incl. VAT each (mod_tariffs, notes).
    for name, limit_applies in (("min_price", lambda total, limit: total < limit),
                                ("max_price", lambda total, limit: total > limit)):
        limit = tariff.get(name)
        if not limit:
            continue
        new_excl, new_incl = excl, incl
        if limit.get("excl_vat") is not None and limit_applies(excl, Decimal(str(limit["excl_vat"]))):
            new_excl = Decimal(str(limit["excl_vat"]))
        if limit.get("incl_vat") is not None and limit_applies(incl, Decimal(str(limit["incl_vat"]))):
            new_incl = Decimal(str(limit["incl_vat"]))
        if (new_excl, new_incl) != (excl, incl):
            adjustment = {"applied": name, "cost_excl_vat": str(money(new_excl - excl, currency)),
                          "cost_incl_vat": str(money(new_incl - incl, currency))}
            excl, incl = new_excl, new_incl
    return Cost(currency=currency, lines=lines, energy_wh=max(usage.energy_wh, ZERO),
                duration_s=seconds(usage.end - usage.start), parking_s=parking_s, reservation_s=reservation_s,
                excl_vat=money(excl, currency), incl_vat=money(incl, currency), adjustment=adjustment)
