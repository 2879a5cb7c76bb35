"""The charging profile library: profiles checked against OCPP 1.6 and its errata, stored with their
periods, and the OCPP ChargingProfile each becomes when installed (docs/adr/0034-profile-library.md)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction as db_transaction

from csms.errors import Invalid
from csms.ocpp.schemas import format_datetime

from ..composite import Period
from ..models import ChargingProfile, ChargingSchedulePeriod
from ..selectors import wire_number
from ..validation import profile_errors

PROFILE_FIELDS = (
    "name", "stack_level", "purpose", "kind", "recurrency_kind", "valid_from", "valid_to", "duration",
    "start_schedule", "charging_rate_unit", "min_charging_rate",
)


class ProfileInvalid(Invalid):
    """A profile, or where it is to go, breaks a rule of OCPP 1.6, its errata or the station's limits:
    `errors` is {field: reason}, the message the first of them (as the API's `detail`)."""

    def __init__(self, errors: dict[str, str]):
        field, reason = next(iter(errors.items()))
        super().__init__(f"{field}: {reason}", details={"errors": errors})
        self.errors = errors


def charging_profile_validate(*, fields: dict, periods: list[dict]) -> None:
    """Raise ProfileInvalid unless the profile satisfies OCPP 1.6 and its errata."""
    errors = profile_errors(
        kind=fields.get("kind") or "Absolute",
        recurrency_kind=fields.get("recurrency_kind"),
        valid_from=fields.get("valid_from"),
        valid_to=fields.get("valid_to"),
        duration=fields.get("duration"),
        min_charging_rate=fields.get("min_charging_rate"),
        stack_level=fields.get("stack_level") or 0,
        periods=[Period(p["start_period"], Decimal(p["limit"]), p.get("number_phases")) for p in periods],
    )
    if errors:
        raise ProfileInvalid(errors)


@db_transaction.atomic
def charging_profile_create(*, periods: list[dict], partner=None, **fields) -> ChargingProfile:
    fields = {name: fields.get(name) for name in PROFILE_FIELDS if name in fields}
    charging_profile_validate(fields=fields, periods=periods)
    fields["name"] = fields.get("name") or ""
    profile = ChargingProfile.objects.create(partner=partner, **fields)
    _periods_replace(profile, periods)
    return profile


@db_transaction.atomic
def charging_profile_update(*, profile: ChargingProfile, periods: list[dict] | None = None, **fields) -> ChargingProfile:
    """Change a library profile; installed copies keep what was sent (the station holds that)."""
    merged = {name: getattr(profile, name) for name in PROFILE_FIELDS}
    merged.update({name: value for name, value in fields.items() if name in PROFILE_FIELDS})
    if periods is None:
        periods = [_period_dict(p) for p in profile.periods.all()]
    charging_profile_validate(fields=merged, periods=periods)
    for name, value in merged.items():
        setattr(profile, name, value if name != "name" else (value or ""))
    profile.save()
    _periods_replace(profile, periods)
    return profile


def _period_dict(period: ChargingSchedulePeriod) -> dict:
    return {"start_period": period.start_period, "limit": period.limit, "number_phases": period.number_phases}


def _periods_replace(profile: ChargingProfile, periods: list[dict]) -> None:
    profile.periods.all().delete()
    ChargingSchedulePeriod.objects.bulk_create(
        ChargingSchedulePeriod(
            profile=profile, start_period=p["start_period"], limit=Decimal(p["limit"]), number_phases=p.get("number_phases")
        )
        for p in periods
    )


def library_profile_payload(*, profile: ChargingProfile, charging_profile_id: int, transaction_id: int | None = None) -> dict:
    """OCPP's ChargingProfile for a library profile installed under `charging_profile_id`."""
    schedule: dict = {"chargingRateUnit": profile.charging_rate_unit}
    if profile.duration is not None:
        schedule["duration"] = profile.duration
    if profile.start_schedule is not None:
        schedule["startSchedule"] = format_datetime(profile.start_schedule, timespec="auto")
    schedule["chargingSchedulePeriod"] = [
        {"startPeriod": p.start_period, "limit": wire_number(p.limit),
         **({"numberPhases": p.number_phases} if p.number_phases is not None else {})}
        for p in profile.periods.all()
    ]
    if profile.min_charging_rate is not None:
        schedule["minChargingRate"] = wire_number(profile.min_charging_rate)
    payload: dict = {"chargingProfileId": charging_profile_id}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    payload |= {
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": profile.purpose,
        "chargingProfileKind": profile.kind,
    }
    if profile.recurrency_kind:
        payload["recurrencyKind"] = profile.recurrency_kind
    if profile.valid_from is not None:
        payload["validFrom"] = format_datetime(profile.valid_from, timespec="auto")
    if profile.valid_to is not None:
        payload["validTo"] = format_datetime(profile.valid_to, timespec="auto")
    payload["chargingSchedule"] = schedule
    return payload
