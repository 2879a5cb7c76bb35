"""The mirror of what each station holds, changed only on the station's answers and by the end or
start of transactions (docs/adr/0031-installed-profile-mirror.md), and the composite schedules
stations report, kept beside the CSMS's own."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from csms.ocpp.models import Call
from transactions.models import Transaction

from .. import selectors
from ..models import (
    AssignmentStatus,
    ChargingProfile,
    ChargingProfileAssignment,
    InstalledChargingProfile,
    StationCompositeSchedule,
)
from .commands import ASSIGNMENT_KEY, LIBRARY_KEY, TX

logger = logging.getLogger(__name__)


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


def installed_profiles_clear(
    *,
    station_id: str,
    charging_profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> int:
    """Apply ClearChargingProfile's filters as the station does: all given fields must match (errata
    3.25); none given clears everything."""
    matching = InstalledChargingProfile.objects.filter(station_id=station_id)
    if charging_profile_id is not None:
        matching = matching.filter(charging_profile_id=charging_profile_id)
    if connector_id is not None:
        matching = matching.filter(connector_id=connector_id)
    if purpose is not None:
        matching = matching.filter(purpose=purpose)
    if stack_level is not None:
        matching = matching.filter(stack_level=stack_level)
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
