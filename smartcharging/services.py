"""Writes of smart charging: the library, commands to stations, and the mirror of what they hold.

Commands go out through `csms.ocpp.calls.call_enqueue`; a refusal before sending raises a domain error
(400) with the reason, and nothing is sent. The mirror changes only on the station's answers
(docs/adr/0031-installed-profile-mirror.md).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction as db_transaction
from django.db.models import Q
from django.utils import timezone

from csms.errors import Invalid
from csms.ocpp.calls import call_enqueue
from csms.ocpp.models import Call
from csms.ocpp.schemas import format_datetime
from stations.models import ChargeStation
from transactions.models import Transaction

from . import selectors
from .composite import Period
from .models import (
    AssignmentStatus,
    ChargingProfile,
    ChargingProfileAssignment,
    ChargingProfilePurpose,
    ChargingSchedulePeriod,
    InstalledChargingProfile,
    StationCompositeSchedule,
)
from .validation import assignment_errors, profile_errors, station_limit_errors

logger = logging.getLogger(__name__)

TX = ChargingProfilePurpose.TX
ASSIGNMENT_KEY = "charging_profile_assignment"
LIBRARY_KEY = "charging_profile"
PROFILE_FIELDS = (
    "name", "stack_level", "purpose", "kind", "recurrency_kind", "valid_from", "valid_to", "duration",
    "start_schedule", "charging_rate_unit", "min_charging_rate",
)


class ProfileInvalid(Invalid):
    """A library profile breaks a rule of OCPP 1.6 or its errata: `errors` is {field: reason}, the
    message the first of them (as the API's `detail`)."""

    def __init__(self, errors: dict[str, str]):
        field, reason = next(iter(errors.items()))
        super().__init__(f"{field}: {reason}", details={"errors": errors})
        self.errors = errors


# --- The library ---------------------------------------------------------------------------------


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


def wire_number(value: Decimal) -> int | float:
    """JSON number for a Decimal limit: the schemas check multipleOf 0.1 on what was written (ADR 0033)."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


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


# --- Commands to stations --------------------------------------------------------------------------


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        field, reason = next(iter(errors.items()))
        raise Invalid(f"{field}: {reason}", details={"errors": errors})


def _replaced_by(station_id: str, *, connector_id: int, stack_level: int, purpose: str):
    """Installed profiles a new one with these keys replaces (its id is always new)."""
    return InstalledChargingProfile.objects.filter(
        station_id=station_id, connector_id=connector_id, stack_level=stack_level, purpose=purpose
    )


def _station_limit_check(station_id: str, profile: ChargingProfile, connector_id: int | None) -> dict[str, str]:
    held = InstalledChargingProfile.objects.filter(station_id=station_id).count()
    if connector_id is not None:
        held -= _replaced_by(station_id, connector_id=connector_id, stack_level=profile.stack_level,
                             purpose=profile.purpose).count()
    return station_limit_errors(
        limits=selectors.station_limits(station_id),
        charging_rate_unit=profile.charging_rate_unit,
        stack_level=profile.stack_level,
        period_count=profile.periods.count(),
        installed_after=held + 1,
    )


def _transaction_for(station_id: str, connector_id: int, transaction_id: int | None) -> Transaction | None:
    if transaction_id is None:
        return selectors.running_transaction(station_id, connector_id)
    return Transaction.objects.filter(
        pk=transaction_id, station_id=station_id, connector_id=connector_id, stopped_at__isnull=True
    ).first()


def charging_profile_assign(
    *,
    station: ChargeStation,
    profile: ChargingProfile,
    connector_id: int,
    transaction_id: int | None = None,
    requested_by=None,
    source: str = "api",
) -> Call:
    """Send a library profile to a station's connector with SetChargingProfile, under a new id."""
    if connector_id < 0:
        _refuse({"connector_id": "must not be negative"})
    if transaction_id is not None and profile.purpose != TX:
        _refuse({"transaction_id": f"only a TxProfile names a transaction, not a {profile.purpose}"})
    tx = _transaction_for(station.pk, connector_id, transaction_id) if profile.purpose == TX and connector_id else None
    errors = assignment_errors(purpose=profile.purpose, connector_id=connector_id, has_transaction=tx is not None)
    if errors.get("transaction_id") and transaction_id is not None:
        errors["transaction_id"] = (
            f"transaction {transaction_id} is not running on connector {connector_id} of {station.pk}"
        )
    _refuse(errors)
    _refuse(_station_limit_check(station.pk, profile, connector_id))
    with db_transaction.atomic():
        assignment = ChargingProfileAssignment.objects.create(
            station=station, profile=profile, connector_id=connector_id, transaction=tx, via="SetChargingProfile",
            requested_by=_user(requested_by),
        )
        payload = {
            "connectorId": connector_id,
            "csChargingProfiles": library_profile_payload(
                profile=profile, charging_profile_id=assignment.pk, transaction_id=tx.pk if tx else None
            ),
        }
        call = call_enqueue(
            station=station, action="SetChargingProfile", payload=payload, requested_by=requested_by, source=source,
            context={ASSIGNMENT_KEY: assignment.pk, LIBRARY_KEY: profile.pk},
        )
        assignment.call = call
        assignment.save(update_fields=["call"])
    return call


def charging_profile_remote_start(
    *,
    station: ChargeStation,
    profile: ChargingProfile,
    id_tag: str,
    connector_id: int | None = None,
    requested_by=None,
    source: str = "api",
) -> Call:
    """RemoteStartTransaction carrying a library TxProfile; it is installed when the transaction starts."""
    if profile.purpose != TX:
        _refuse({"profile": f"a remote start carries a TxProfile only, not a {profile.purpose}"})
    if connector_id is not None and connector_id <= 0:
        _refuse({"connector_id": "a transaction starts on a connector > 0"})
    _refuse(_station_limit_check(station.pk, profile, connector_id))
    with db_transaction.atomic():
        assignment = ChargingProfileAssignment.objects.create(
            station=station, profile=profile, connector_id=connector_id, via="RemoteStartTransaction",
            requested_by=_user(requested_by),
        )
        payload: dict = {"idTag": id_tag}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        # 5.16.2 and errata 3.41: purpose TxProfile and no transactionId.
        payload["chargingProfile"] = library_profile_payload(profile=profile, charging_profile_id=assignment.pk)
        call = call_enqueue(
            station=station, action="RemoteStartTransaction", payload=payload, requested_by=requested_by,
            source=source, context={ASSIGNMENT_KEY: assignment.pk, LIBRARY_KEY: profile.pk},
        )
        assignment.call = call
        assignment.save(update_fields=["call"])
    return call


def charging_profiles_clear(
    *,
    station: ChargeStation,
    charging_profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
    requested_by=None,
    source: str = "api",
) -> Call:
    """ClearChargingProfile with the given filters (none: every profile on the station)."""
    payload = {
        key: value
        for key, value in (
            ("id", charging_profile_id), ("connectorId", connector_id),
            ("chargingProfilePurpose", purpose or None), ("stackLevel", stack_level),
        )
        if value is not None
    }
    return call_enqueue(station=station, action="ClearChargingProfile", payload=payload,
                        requested_by=requested_by, source=source)


def composite_schedule_request(
    *,
    station: ChargeStation,
    connector_id: int,
    duration: int,
    charging_rate_unit: str | None = None,
    requested_by=None,
    source: str = "api",
) -> Call:
    """Ask the station for its composite schedule; the answer is kept beside the CSMS's own."""
    payload: dict = {"connectorId": connector_id, "duration": duration}
    if charging_rate_unit:
        payload["chargingRateUnit"] = charging_rate_unit
    return call_enqueue(station=station, action="GetCompositeSchedule", payload=payload,
                        requested_by=requested_by, source=source)


def _user(user):
    return user if getattr(user, "is_authenticated", False) else None


# --- The mirror: what the station answered -----------------------------------------------------------


def installed_profile_apply(
    *,
    station_id: str,
    connector_id: int,
    cs_profile: dict,
    call: Call | None = None,
    transaction: Transaction | None = None,
) -> InstalledChargingProfile | None:
    """Record a profile the station accepted: the same id, or the same stack level and purpose on
    the same connector, is replaced (3.13.2, 5.16.3)."""
    purpose = cs_profile["chargingProfilePurpose"]
    if purpose == TX and transaction is None:
        transaction = _tx_profile_transaction(station_id, connector_id, cs_profile.get("transactionId"))
        if transaction is not None and transaction.stopped_at is not None:
            logger.info("TxProfile %s for already stopped transaction %s not mirrored",
                        cs_profile["chargingProfileId"], transaction.pk)
            return None
    InstalledChargingProfile.objects.filter(station_id=station_id).filter(
        Q(charging_profile_id=cs_profile["chargingProfileId"])
        | Q(connector_id=connector_id, stack_level=cs_profile["stackLevel"], purpose=purpose)
    ).delete()
    context = call.context if call is not None else {}
    return InstalledChargingProfile.objects.create(
        station_id=station_id,
        charging_profile_id=cs_profile["chargingProfileId"],
        connector_id=connector_id,
        purpose=purpose,
        stack_level=cs_profile["stackLevel"],
        kind=cs_profile["chargingProfileKind"],
        transaction=transaction if purpose == TX else None,
        charging_profile=cs_profile,
        profile_id=ChargingProfile.objects.filter(pk=context.get(LIBRARY_KEY)).values_list("pk", flat=True).first(),
        assignment_id=ChargingProfileAssignment.objects.filter(pk=context.get(ASSIGNMENT_KEY))
        .values_list("pk", flat=True).first(),
        call=call,
    )


def _tx_profile_transaction(station_id: str, connector_id: int, transaction_id: int | None) -> Transaction | None:
    if transaction_id is not None:
        return Transaction.objects.filter(pk=transaction_id, station_id=station_id).first()
    return selectors.running_transaction(station_id, connector_id)


def installed_profiles_clear(*, station_id: str, request: dict) -> int:
    """Apply ClearChargingProfile's filters as the station does: all given fields must match (errata
    3.25); none given clears everything."""
    matching = InstalledChargingProfile.objects.filter(station_id=station_id)
    if "id" in request:
        matching = matching.filter(charging_profile_id=request["id"])
    if "connectorId" in request:
        matching = matching.filter(connector_id=request["connectorId"])
    if "chargingProfilePurpose" in request:
        matching = matching.filter(purpose=request["chargingProfilePurpose"])
    if "stackLevel" in request:
        matching = matching.filter(stack_level=request["stackLevel"])
    deleted, _ = matching.delete()
    return deleted


def installed_tx_profiles_end(*, transaction: Transaction) -> int:
    """A transaction's TxProfiles cease with it (7.10), and so do unattributed ones on its connector."""
    deleted, _ = InstalledChargingProfile.objects.filter(station_id=transaction.station_id, purpose=TX).filter(
        Q(transaction=transaction) | Q(transaction__isnull=True, connector_id=transaction.connector_id)
    ).delete()
    return deleted


def installed_profiles_on_transaction_start(*, transaction: Transaction) -> InstalledChargingProfile | None:
    """Drop TxProfiles left on the connector by earlier transactions, and install the profile of the
    RemoteStartTransaction this start answers, under the new transactionId (5.16.2)."""
    InstalledChargingProfile.objects.filter(
        station_id=transaction.station_id, connector_id=transaction.connector_id, purpose=TX
    ).exclude(transaction=transaction).delete()
    call = transaction.remote_start_call
    cs_profile = (call.payload or {}).get("chargingProfile") if call is not None else None
    if not cs_profile:
        return None
    installed = installed_profile_apply(
        station_id=transaction.station_id,
        connector_id=transaction.connector_id,
        cs_profile={**cs_profile, "transactionId": transaction.pk},
        call=call,
        transaction=transaction,
    )
    assignment_id = call.context.get(ASSIGNMENT_KEY)
    if assignment_id:
        ChargingProfileAssignment.objects.filter(pk=assignment_id).update(
            status=AssignmentStatus.INSTALLED, transaction=transaction, connector_id=transaction.connector_id,
            detail=f"installed for transaction {transaction.pk}", updated_at=timezone.now(),
        )
    return installed


# --- Answers about assignments and composite schedules -------------------------------------------

STATUS_OF_ANSWER = {
    ("SetChargingProfile", "Accepted"): AssignmentStatus.INSTALLED,
    ("RemoteStartTransaction", "Accepted"): AssignmentStatus.AWAITING_TRANSACTION,
    ("SetChargingProfile", "NotSupported"): AssignmentStatus.NOT_SUPPORTED,
}


def assignment_answered(*, call: Call, status: str | None = None) -> None:
    """Record the station's answer (or the call's failure) on the assignment the call served."""
    assignment_id = call.context.get(ASSIGNMENT_KEY)
    if not assignment_id:
        return
    if status is None:
        new_status, detail = AssignmentStatus.FAILED, f"{call.status}: {call.error_code} {call.error_description}"
    else:
        new_status, detail = STATUS_OF_ANSWER.get((call.action, status), AssignmentStatus.REJECTED), status
    ChargingProfileAssignment.objects.filter(pk=assignment_id).update(
        status=new_status, detail=detail[:255], updated_at=timezone.now()
    )


def composite_report_record(
    *,
    call: Call,
    status: str | None,
    schedule_start: datetime | None = None,
    station_schedule: dict | None = None,
) -> StationCompositeSchedule:
    """Keep the station's composite schedule (its chargingSchedule, stored as it wrote it) beside the
    CSMS's own for the same window and unit. `status` None: the call got no answer."""
    request = call.payload
    start = schedule_start or call.sent_at or timezone.now()
    unit = (station_schedule or {}).get("chargingRateUnit") or request.get("chargingRateUnit")
    csms = None
    if request["duration"] > 0:
        csms = selectors.composite_schedule(
            station_id=call.station_id, connector_id=request["connectorId"], duration=request["duration"],
            charging_rate_unit=unit, start=start,
        )
    status = status or f"{call.status}: {call.error_code}".strip()
    return StationCompositeSchedule.objects.update_or_create(
        call=call,
        defaults=dict(
            station_id=call.station_id,
            connector_id=request["connectorId"],
            duration=request["duration"],
            requested_unit=request.get("chargingRateUnit", ""),
            status=status[:50],
            schedule_start=schedule_start,
            charging_schedule=station_schedule,
            csms_schedule=selectors.schedule_as_dict(csms) if csms else None,
            agrees=schedules_agree(station_schedule, csms) if station_schedule and csms else None,
            received_at=timezone.now(),
        ),
    )[0]


def schedules_agree(station_schedule: dict, csms) -> bool:
    """Same limits over the same intervals (phases aside: stations report them as they like)."""
    station_steps = _steps(
        (p.start_period, p.limit) for p in selectors.periods_of(station_schedule)
    )
    csms_steps = _steps((p.start_period, p.limit) for p in csms.periods)
    return station_steps == csms_steps


def _steps(pairs) -> list[tuple[int, Decimal | None]]:
    steps: list[tuple[int, Decimal | None]] = []
    for start, limit in sorted(pairs, key=lambda pair: pair[0]):
        if not steps or steps[-1][1] != limit:
            steps.append((start, limit))
    return steps
