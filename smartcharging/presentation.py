"""Pictures of profiles and composite schedules for the operator (admin pages)."""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe

from csms.ocpp.schemas import parse_datetime

from .charts import step_chart
from .composite import RECURRENCE_SECONDS, RECURRING, Period
from .selectors import periods_of


def _horizon(periods: tuple[Period, ...], duration: int | None, kind: str, recurrency_kind: str | None) -> int:
    """How much time a chart of one profile shows: its duration, one recurrence, or past its last step."""
    if kind == RECURRING:
        length = RECURRENCE_SECONDS.get(recurrency_kind or "Daily", 86400)
        return min(duration or length, length)
    if duration:
        return duration
    last = max((p.start_period for p in periods), default=0)
    return last + max(3600, last // 4)


def profile_chart(*, periods: tuple[Period, ...], unit: str, duration: int | None, kind: str,
                  recurrency_kind: str | None, title: str) -> SafeString:
    total = _horizon(periods, duration, kind, recurrency_kind)
    steps = [(p.start_period, p.limit) for p in sorted(periods, key=lambda p: p.start_period)]
    if duration and duration < total:
        steps.append((duration, None))
    # step_chart escapes every text it draws.
    return mark_safe(step_chart(steps, total=total, unit=unit, title=title))  # noqa: S308


def library_profile_chart(profile) -> SafeString:
    periods = tuple(Period(p.start_period, p.limit, p.number_phases) for p in profile.periods.all())
    return profile_chart(periods=periods, unit=profile.charging_rate_unit, duration=profile.duration,
                         kind=profile.kind, recurrency_kind=profile.recurrency_kind,
                         title=f"{profile.purpose}, stack level {profile.stack_level}, {profile.kind}")


def ocpp_profile_chart(cs_profile: dict, title: str = "") -> SafeString:
    schedule = cs_profile["chargingSchedule"]
    return profile_chart(periods=periods_of(schedule), unit=schedule["chargingRateUnit"],
                         duration=schedule.get("duration"), kind=cs_profile["chargingProfileKind"],
                         recurrency_kind=cs_profile.get("recurrencyKind"), title=title)


def composite_chart(schedule: dict, title: str) -> SafeString:
    """A composite as the API gives it (schedule_start, duration, charging_rate_unit, periods)."""
    steps = [(p["start_period"], p["limit"]) for p in schedule["periods"]]
    start = parse_datetime(schedule["schedule_start"]) if schedule.get("schedule_start") else None
    return mark_safe(step_chart(steps, total=schedule["duration"], unit=schedule["charging_rate_unit"],  # noqa: S308
                                title=title, start=start))


def station_schedule_chart(charging_schedule: dict, *, duration: int, schedule_start, title: str) -> SafeString:
    """A station's GetCompositeSchedule answer (OCPP's chargingSchedule)."""
    steps = [(p.start_period, p.limit) for p in periods_of(charging_schedule)]
    total = charging_schedule.get("duration") or duration
    return mark_safe(step_chart(steps, total=total, unit=charging_schedule["chargingRateUnit"],  # noqa: S308
                                title=title, start=schedule_start))
