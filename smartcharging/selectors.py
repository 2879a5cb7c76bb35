"""Reads of smart charging: the mirror, station limits, and the CSMS's composite schedules."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from csms.ocpp.schemas import format_datetime, parse_datetime
from stations.selectors import station_config_int, station_config_value
from transactions.models import Transaction

from . import composite
from .composite import CompositeSchedule, Period, Profile, RunningTransaction
from .models import InstalledChargingProfile
from .validation import StationLimits


def installed_profiles(station_id: str) -> QuerySet[InstalledChargingProfile]:
    return InstalledChargingProfile.objects.filter(station_id=station_id).order_by(
        "connector_id", "purpose", "-stack_level", "charging_profile_id"
    )


def station_limits(station_id: str) -> StationLimits:
    return StationLimits(
        allowed_units=station_config_value(station_id, "ChargingScheduleAllowedChargingRateUnit"),
        max_stack_level=station_config_int(station_id, "ChargeProfileMaxStackLevel"),
        max_periods=station_config_int(station_id, "ChargingScheduleMaxPeriods"),
        max_installed=station_config_int(station_id, "MaxChargingProfilesInstalled"),
    )


def running_transaction(station_id: str, connector_id: int) -> Transaction | None:
    if connector_id == 0:
        return None
    return (
        Transaction.objects.filter(station_id=station_id, connector_id=connector_id, stopped_at__isnull=True)
        .order_by("-started_at", "-id")
        .first()
    )


# --- From stored shapes to the pure module's ---------------------------------------------------


def periods_of(schedule: dict) -> tuple[Period, ...]:
    return tuple(
        Period(int(p["startPeriod"]), Decimal(str(p["limit"])), p.get("numberPhases"))
        for p in schedule.get("chargingSchedulePeriod", [])
    )


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def profile_from_ocpp(cs_profile: dict, *, connector_id: int, transaction_id: int | None = None) -> Profile:
    """A pure Profile from OCPP's csChargingProfiles (as stored in the mirror)."""
    schedule = cs_profile["chargingSchedule"]
    return Profile(
        purpose=cs_profile["chargingProfilePurpose"],
        stack_level=cs_profile["stackLevel"],
        kind=cs_profile["chargingProfileKind"],
        charging_rate_unit=schedule["chargingRateUnit"],
        periods=periods_of(schedule),
        connector_id=connector_id,
        recurrency_kind=cs_profile.get("recurrencyKind"),
        valid_from=_when(cs_profile.get("validFrom")),
        valid_to=_when(cs_profile.get("validTo")),
        start_schedule=_when(schedule.get("startSchedule")),
        duration=schedule.get("duration"),
        transaction_id=transaction_id if transaction_id is not None else cs_profile.get("transactionId"),
        charging_profile_id=cs_profile["chargingProfileId"],
    )


# --- Composite schedules -----------------------------------------------------------------------


def composite_schedule(
    *,
    station_id: str,
    connector_id: int,
    duration: int,
    charging_rate_unit: str | None = None,
    start: datetime | None = None,
) -> CompositeSchedule:
    """What the CSMS's mirror says this connector may draw from `start` (now) for `duration` s."""
    tx = running_transaction(station_id, connector_id)
    profiles = [
        profile_from_ocpp(row.charging_profile, connector_id=row.connector_id, transaction_id=row.transaction_id)
        for row in installed_profiles(station_id)
    ]
    return composite.compute(
        profiles=profiles,
        connector_id=connector_id,
        start=start or timezone.now(),
        duration=duration,
        charging_rate_unit=charging_rate_unit or None,
        transaction=RunningTransaction(tx.pk, tx.started_at) if tx else None,
    )


def schedule_as_dict(schedule: CompositeSchedule) -> dict:
    """The API's (and the stored report's) shape of a composite schedule."""
    return {
        "schedule_start": format_datetime(schedule.schedule_start, timespec="auto"),
        "duration": schedule.duration,
        "charging_rate_unit": schedule.charging_rate_unit,
        "periods": [
            {
                "start_period": p.start_period,
                "limit": None if p.limit is None else wire_number(p.limit),
                "number_phases": p.number_phases,
            }
            for p in schedule.periods
        ],
    }


def wire_number(value: Decimal) -> int | float:
    """JSON number for a Decimal limit: the schemas check multipleOf 0.1 on what was written (ADR 0033)."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def station_connector_ids(station_id: str) -> list[int]:
    """Connector 0 and every connector the CSMS has heard of, from statuses, transactions and profiles."""
    from stations.models import Connector

    known = {0}
    known |= set(Connector.objects.filter(station_id=station_id).values_list("connector_id", flat=True))
    known |= set(InstalledChargingProfile.objects.filter(station_id=station_id).values_list("connector_id", flat=True))
    known |= set(
        Transaction.objects.filter(station_id=station_id, stopped_at__isnull=True).values_list("connector_id", flat=True)
    )
    return sorted(known)


def connector_holds_tx_profiles(station_id: str, connector_id: int | None = None) -> bool:
    """Whether the station (one connector of it) holds TxProfiles in our mirror: one statement, for
    the transaction hooks that run at every start and stop."""
    sql = f"SELECT 1 FROM {InstalledChargingProfile._meta.db_table} WHERE station_id = %s AND purpose = %s"
    params: list = [station_id, "TxProfile"]
    if connector_id is not None:
        sql += " AND connector_id = %s"
        params.append(connector_id)
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT 1", params)
        return cursor.fetchone() is not None
