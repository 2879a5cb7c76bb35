"""What makes a charging profile acceptable, per OCPP 1.6 and its errata (pure Python, Decimal).

`profile_errors` checks a library profile on its own; `station_limit_errors` checks it against what
a station said it supports (its smart charging configuration keys as last read). Both return
{field: reason}; empty means acceptable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .composite import AMPERES, RECURRING, TX, WATTS, Period

MAX_PHASES = 3
# ChargingScheduleAllowedChargingRateUnit lists quantities; some stations write the units instead.
RATE_UNIT_NAMES = {AMPERES: {"current", "a"}, WATTS: {"power", "w"}}


@dataclass(frozen=True)
class StationLimits:
    """The station's smart charging configuration keys; None where the CSMS does not know them."""

    allowed_units: str | None = None  # ChargingScheduleAllowedChargingRateUnit
    max_stack_level: int | None = None  # ChargeProfileMaxStackLevel
    max_periods: int | None = None  # ChargingScheduleMaxPeriods
    max_installed: int | None = None  # MaxChargingProfilesInstalled


def is_tenth(value: Decimal) -> bool:
    return (Decimal(value) * 10) % 1 == 0


def periods_errors(periods: Sequence[Period]) -> list[str]:
    if not periods:
        return ["a schedule needs at least one period"]
    problems = []
    if periods[0].start_period != 0:
        problems.append(f"the first period must start at 0, not {periods[0].start_period}")
    for before, after in zip(periods, periods[1:]):
        if after.start_period <= before.start_period:
            problems.append(
                f"start_period values must strictly ascend ({before.start_period} then {after.start_period})"
            )
            break
    for period in periods:
        if period.limit < 0:
            problems.append(f"limit {period.limit} must not be negative")
        elif not is_tenth(period.limit):
            problems.append(f"limit {period.limit} is not a multiple of 0.1")
        if period.number_phases is not None and not 1 <= period.number_phases <= MAX_PHASES:
            problems.append(f"number_phases {period.number_phases} must be 1, 2 or 3")
    return problems


def profile_errors(
    *,
    kind: str,
    recurrency_kind: str | None,
    valid_from: datetime | None,
    valid_to: datetime | None,
    duration: int | None,
    min_charging_rate: Decimal | None,
    periods: Sequence[Period],
    stack_level: int = 0,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind == RECURRING and not recurrency_kind:
        errors["recurrency_kind"] = "a Recurring profile needs recurrency_kind (Daily or Weekly)"
    elif kind != RECURRING and recurrency_kind:
        errors["recurrency_kind"] = f"recurrency_kind is only for Recurring profiles, not {kind}"
    if valid_from and valid_to and valid_to <= valid_from:
        errors["valid_to"] = "valid_to must be after valid_from"
    if duration is not None and duration <= 0:
        errors["duration"] = "duration must be a positive number of seconds"
    if stack_level < 0:
        errors["stack_level"] = "stack_level must not be negative"
    if min_charging_rate is not None:
        if min_charging_rate < 0:
            errors["min_charging_rate"] = "min_charging_rate must not be negative"
        elif not is_tenth(min_charging_rate):
            errors["min_charging_rate"] = f"min_charging_rate {min_charging_rate} is not a multiple of 0.1"
    problems = periods_errors(periods)
    if problems:
        errors["periods"] = "; ".join(problems)
    return errors


def assignment_errors(*, purpose: str, connector_id: int, has_transaction: bool) -> dict[str, str]:
    """Where a profile of this purpose may go (3.13.1)."""
    if purpose == "ChargePointMaxProfile" and connector_id != 0:
        return {"connector_id": "a ChargePointMaxProfile can only be set on connector 0"}
    if purpose == TX and connector_id == 0:
        return {"connector_id": "a TxProfile can only be set on a connector > 0"}
    if purpose == TX and not has_transaction:
        return {"transaction_id": f"a TxProfile needs a running transaction on connector {connector_id}"}
    return {}


def station_limit_errors(
    *,
    limits: StationLimits,
    charging_rate_unit: str,
    stack_level: int,
    period_count: int,
    installed_after: int,
) -> dict[str, str]:
    """`installed_after`: how many profiles the station would hold once this one is installed."""
    errors: dict[str, str] = {}
    if limits.allowed_units is not None:
        allowed = {part.strip().lower() for part in limits.allowed_units.split(",") if part.strip()}
        if not allowed & RATE_UNIT_NAMES[charging_rate_unit]:
            errors["charging_rate_unit"] = (
                f"the station allows only {limits.allowed_units} (ChargingScheduleAllowedChargingRateUnit), "
                f"not {charging_rate_unit}"
            )
    if limits.max_stack_level is not None and stack_level > limits.max_stack_level:
        errors["stack_level"] = (
            f"stack level {stack_level} exceeds the station's ChargeProfileMaxStackLevel {limits.max_stack_level}"
        )
    if limits.max_periods is not None and period_count > limits.max_periods:
        errors["periods"] = (
            f"{period_count} periods exceed the station's ChargingScheduleMaxPeriods {limits.max_periods}"
        )
    if limits.max_installed is not None and installed_after > limits.max_installed:
        errors["profile"] = (
            f"the station would hold {installed_after} profiles, more than its "
            f"MaxChargingProfilesInstalled {limits.max_installed}"
        )
    return errors
