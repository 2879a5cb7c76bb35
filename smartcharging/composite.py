"""Composite charging schedules (OCPP 1.6 §3.13 and its errata), in Decimal, without Django.

The CSMS computes what a connector may draw from its own mirror of installed profiles:

- within one purpose, at any instant the valid profile with the highest stackLevel that still has a
  period in force wins; lower levels apply only where it is not valid or has no duration left;
- a running transaction's TxProfiles replace every TxDefaultProfile for that transaction, even after
  their duration ends (CONTRACT.md); without one, the connector's own TxDefaultProfiles come first
  and connector 0's apply only where none of the connector's own has a limit;
- ChargePointMaxProfile caps everything; connector 0's composite is that cap alone;
- Recurring profiles repeat from startSchedule (UTC midnight when absent) and never run past their
  recurrence period; Relative profiles (and Absolute ones without startSchedule) start with the
  transaction, or at the window's start when there is none;
- limits convert A <-> W at 230 V per phase (3 phases when numberPhases is absent) and round down
  to 0.1; consecutive equal periods merge; an interval no profile covers has limit None.

docs/adr/0032-composite-schedule-rules.md records why each rule is so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal

CHARGE_POINT_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
ABSOLUTE, RECURRING, RELATIVE = "Absolute", "Recurring", "Relative"
DAILY, WEEKLY = "Daily", "Weekly"
AMPERES, WATTS = "A", "W"

LINE_VOLTAGE = Decimal(230)
DEFAULT_PHASES = 3
STEP = Decimal("0.1")
RECURRENCE_SECONDS = {DAILY: 86_400, WEEKLY: 7 * 86_400}
# Without startSchedule a recurrence starts at UTC midnight (Daily) or Monday midnight (Weekly).
DEFAULT_RECURRENCE_ANCHOR = {
    DAILY: datetime(1970, 1, 1, tzinfo=timezone.utc),
    WEEKLY: datetime(1970, 1, 5, tzinfo=timezone.utc),
}


@dataclass(frozen=True)
class Period:
    start_period: int
    limit: Decimal
    number_phases: int | None = None


@dataclass(frozen=True)
class Profile:
    """One installed profile as the station holds it (csChargingProfiles plus its connector)."""

    purpose: str
    stack_level: int
    kind: str
    charging_rate_unit: str
    periods: tuple[Period, ...]
    connector_id: int = 0
    recurrency_kind: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    start_schedule: datetime | None = None
    duration: int | None = None
    transaction_id: int | None = None
    charging_profile_id: int = 0


@dataclass(frozen=True)
class RunningTransaction:
    transaction_id: int
    started_at: datetime


@dataclass(frozen=True)
class CompositePeriod:
    start_period: int
    limit: Decimal | None  # None: no installed profile limits this interval
    number_phases: int | None = None


@dataclass(frozen=True)
class CompositeSchedule:
    schedule_start: datetime
    duration: int
    charging_rate_unit: str
    periods: tuple[CompositePeriod, ...]


@dataclass(frozen=True)
class _Pick:
    """The period of one profile in force over an interval."""

    profile: Profile
    period: Period


# --- Public entry point ----------------------------------------------------------------------


def compute(
    *,
    profiles: Iterable[Profile],
    connector_id: int,
    start: datetime,
    duration: int,
    charging_rate_unit: str | None = None,
    transaction: RunningTransaction | None = None,
) -> CompositeSchedule:
    if duration <= 0:
        raise ValueError("duration must be positive")
    start = whole_seconds(start)
    end = start + timedelta(seconds=duration)
    if connector_id == 0:
        transaction = None
    relative_origin = whole_seconds(transaction.started_at) if transaction else start
    cap, layers = applicable_stacks(list(profiles), connector_id, transaction)

    instants = {start, end}
    for profile in [*cap, *(p for layer in layers for p in layer)]:
        instants |= breakpoints(profile, start, end, relative_origin)
    ordered = sorted(t for t in instants if start <= t <= end)

    intervals = []
    for instant in ordered[:-1]:
        tx_pick = next((pick for layer in layers if (pick := prevailing(layer, instant, relative_origin))), None)
        cap_pick = prevailing(cap, instant, relative_origin)
        intervals.append((instant, tx_pick, cap_pick))

    unit = charging_rate_unit or natural_unit(pick for _, *picks in intervals for pick in picks if pick)
    periods = [
        CompositePeriod(int((instant - start).total_seconds()), *combine(tx_pick, cap_pick, unit))
        for instant, tx_pick, cap_pick in intervals
    ]
    return CompositeSchedule(start, duration, unit, tuple(merge(periods)))


# --- Which profiles count ----------------------------------------------------------------------


def applicable_stacks(
    profiles: Sequence[Profile], connector_id: int, transaction: RunningTransaction | None
) -> tuple[list[Profile], list[list[Profile]]]:
    """The ChargePointMaxProfile stack, and the transaction-level stacks in order of precedence."""
    cap = [p for p in profiles if p.purpose == CHARGE_POINT_MAX and p.connector_id == 0]
    if connector_id == 0:
        return cap, []
    if transaction is not None:
        tx_profiles = [
            p for p in profiles
            if p.purpose == TX and p.connector_id == connector_id
            and p.transaction_id in (None, transaction.transaction_id)
        ]
        if tx_profiles:
            return cap, [tx_profiles]
    own = [p for p in profiles if p.purpose == TX_DEFAULT and p.connector_id == connector_id]
    shared = [p for p in profiles if p.purpose == TX_DEFAULT and p.connector_id == 0]
    return cap, [own, shared]


def prevailing(stack: Sequence[Profile], instant: datetime, relative_origin: datetime) -> _Pick | None:
    """The highest stack level with a period in force at `instant` (ties: the newest id)."""
    for profile in sorted(stack, key=lambda p: (p.stack_level, p.charging_profile_id), reverse=True):
        period = period_at(profile, instant, relative_origin)
        if period is not None:
            return _Pick(profile, period)
    return None


# --- One profile over time ---------------------------------------------------------------------


def period_at(profile: Profile, instant: datetime, relative_origin: datetime) -> Period | None:
    """The period of `profile` in force at `instant`, or None when it is not valid or has ended."""
    if profile.valid_from is not None and instant < whole_seconds(profile.valid_from):
        return None
    if profile.valid_to is not None and instant >= whole_seconds(profile.valid_to):
        return None
    if profile.kind == RECURRING:
        anchor, length = recurrence(profile)
        if instant < anchor:
            return None
        offset = int((instant - anchor).total_seconds()) % length
        if offset >= min(profile.duration or length, length):
            return None
    else:
        offset = int((instant - schedule_origin(profile, relative_origin)).total_seconds())
        if offset < 0 or (profile.duration is not None and offset >= profile.duration):
            return None
    in_force = None
    for period in sorted(profile.periods, key=lambda p: p.start_period):
        if period.start_period > offset:
            break
        in_force = period
    return in_force


def breakpoints(profile: Profile, start: datetime, end: datetime, relative_origin: datetime) -> set[datetime]:
    """Every instant in the window where this profile's limit may change."""
    points = {whole_seconds(t) for t in (profile.valid_from, profile.valid_to) if t is not None}
    if profile.kind == RECURRING:
        anchor, length = recurrence(profile)
        span = min(profile.duration or length, length)
        first = max(0, (start - anchor) // timedelta(seconds=length))
        last = (end - anchor) // timedelta(seconds=length)
        for k in range(first, last + 1):
            occurrence = anchor + timedelta(seconds=k * length)
            points |= _schedule_points(profile, occurrence, span)
    else:
        points |= _schedule_points(profile, schedule_origin(profile, relative_origin), profile.duration)
    return {t for t in points if start <= t <= end}


def _schedule_points(profile: Profile, origin: datetime, span: int | None) -> set[datetime]:
    offsets = {p.start_period for p in profile.periods if span is None or p.start_period < span}
    if span is not None:
        offsets.add(span)
    offsets.add(0)
    return {origin + timedelta(seconds=offset) for offset in offsets}


def schedule_origin(profile: Profile, relative_origin: datetime) -> datetime:
    if profile.kind == ABSOLUTE and profile.start_schedule is not None:
        return whole_seconds(profile.start_schedule)
    # Relative, or Absolute without startSchedule: "relative to start of charging" (7.13).
    return relative_origin


def recurrence(profile: Profile) -> tuple[datetime, int]:
    kind = profile.recurrency_kind or DAILY
    anchor = profile.start_schedule or DEFAULT_RECURRENCE_ANCHOR[kind]
    return whole_seconds(anchor), RECURRENCE_SECONDS[kind]


# --- Combining purposes and units --------------------------------------------------------------


def combine(tx_pick: _Pick | None, cap_pick: _Pick | None, unit: str) -> tuple[Decimal | None, int | None]:
    """The lower of the transaction-level limit and the cap, in `unit`, with its phases."""
    candidates = [
        (convert(pick.period.limit, pick.profile.charging_rate_unit, unit, pick.period.number_phases),
         pick.period.number_phases)
        for pick in (tx_pick, cap_pick) if pick is not None
    ]
    if not candidates:
        return None, None
    # min() keeps the first of equal limits: the transaction-level one's phases win a tie.
    return min(candidates, key=lambda candidate: candidate[0])


def convert(limit: Decimal, from_unit: str, to_unit: str, number_phases: int | None) -> Decimal:
    """A limit in another unit at 230 V per phase, rounded down to 0.1."""
    value = Decimal(limit)
    if from_unit != to_unit:
        watts_per_ampere = LINE_VOLTAGE * (number_phases or DEFAULT_PHASES)
        value = value * watts_per_ampere if to_unit == WATTS else value / watts_per_ampere
    return round_down(value)


def round_down(value: Decimal) -> Decimal:
    return value.quantize(STEP, rounding=ROUND_FLOOR)


def natural_unit(picks: Iterable[_Pick]) -> str:
    """The unit of the profiles that set limits when they agree on one; amperes otherwise."""
    units = {pick.profile.charging_rate_unit for pick in picks}
    return units.pop() if len(units) == 1 else AMPERES


def merge(periods: Sequence[CompositePeriod]) -> list[CompositePeriod]:
    """Consecutive periods with equal limits become one, with the first one's phases (contract)."""
    merged: list[CompositePeriod] = []
    for period in periods:
        if merged and merged[-1].limit == period.limit:
            continue
        merged.append(period)
    return merged


def whole_seconds(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(timezone.utc).replace(microsecond=0)
