"""Commands to stations: a refusal before sending raises a domain error with the reason, and nothing
is sent. The Call carries the assignment it serves, so that its answer finds it."""

from __future__ import annotations

from django.db import transaction as db_transaction
from django.utils import timezone

from csms.ocpp.calls import call_enqueue
from csms.ocpp.models import Call
from partners.selectors import acting_user
from stations.models import ChargeStation
from transactions.models import Transaction

from .. import selectors
from ..models import (
    AssignmentStatus,
    ChargingProfile,
    ChargingProfileAssignment,
    ChargingProfilePurpose,
    InstalledChargingProfile,
)
from ..validation import assignment_errors, station_limit_errors
from .library import ProfileInvalid, library_profile_payload

TX = ChargingProfilePurpose.TX
ASSIGNMENT_KEY = "charging_profile_assignment"
LIBRARY_KEY = "charging_profile"


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise ProfileInvalid(errors)


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
            requested_by=acting_user(requested_by),
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
            requested_by=acting_user(requested_by),
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
