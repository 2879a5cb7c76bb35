"""What smart charging persists from stations' answers and from transactions (AppConfig.ready).

Every SetChargingProfile, ClearChargingProfile and GetCompositeSchedule counts, whoever sent it
(library assignment, admin, or by hand through POST /api/v1/stations/{id}/calls/).
"""

from csms.ocpp.router import on_failure, on_result
from csms.ocpp.schemas import parse_datetime
from transactions.hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped

from .services import commands, mirror


@on_result("SetChargingProfile")
def set_charging_profile_result(call, response: dict) -> None:
    commands.assignment_answered(call=call, status=response["status"])
    if response["status"] == "Accepted":
        mirror.installed_profile_apply(
            station_id=call.station_id,
            connector_id=call.payload["connectorId"],
            cs_profile=call.payload["csChargingProfiles"],
            call=call,
        )


@on_result("ClearChargingProfile")
def clear_charging_profile_result(call, response: dict) -> None:
    # Unknown means the station holds nothing that matches: the mirror must not either (ADR 0031).
    if response["status"] in ("Accepted", "Unknown"):
        request = call.payload
        mirror.installed_profiles_clear(
            station_id=call.station_id,
            charging_profile_id=request.get("id"),
            connector_id=request.get("connectorId"),
            purpose=request.get("chargingProfilePurpose"),
            stack_level=request.get("stackLevel"),
        )


@on_result("GetCompositeSchedule")
def get_composite_schedule_result(call, response: dict) -> None:
    start = response.get("scheduleStart")
    mirror.composite_report_record(
        call=call,
        status=response["status"],
        schedule_start=parse_datetime(start) if start else None,
        station_schedule=response.get("chargingSchedule"),
    )


@on_result("RemoteStartTransaction")
def remote_start_result(call, response: dict) -> None:
    commands.assignment_answered(call=call, status=response["status"])


@on_failure("SetChargingProfile")
@on_failure("RemoteStartTransaction")
def assignment_failed(call) -> None:
    commands.assignment_answered(call=call)


@on_failure("GetCompositeSchedule")
def get_composite_schedule_failed(call) -> None:
    mirror.composite_report_record(call=call, status=None)


@transaction_started.connect
def on_transaction_started(event: TransactionStarted) -> None:
    mirror.installed_profiles_on_transaction_start(transaction=event.transaction)


@transaction_stopped.connect
def on_transaction_stopped(event: TransactionStopped) -> None:
    mirror.installed_tx_profiles_end(transaction=event.transaction)
