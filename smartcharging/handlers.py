"""What smart charging persists from stations' answers and from transactions (AppConfig.ready).

Every SetChargingProfile, ClearChargingProfile and GetCompositeSchedule counts, whoever sent it
(library assignment, admin, or by hand through POST /api/v1/stations/{id}/calls/).
"""

from csms.ocpp.router import on_failure, on_result
from csms.ocpp.schemas import parse_datetime
from transactions.hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped

from . import selectors
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


# Only a start answering a remote start (its TxProfile becomes installed) or on a connector still
# holding TxProfiles has anything to change: one cheap look decides, before any savepoint.
@transaction_started.connect(when=lambda event: event.transaction.remote_start_call_id is not None
                             or selectors.connector_holds_tx_profiles(event.transaction.station_id,
                                                                      event.transaction.connector_id))
def on_transaction_started(event: TransactionStarted) -> None:
    mirror.installed_profiles_on_transaction_start(transaction=event.transaction)


@transaction_stopped.connect(when=lambda event: selectors.connector_holds_tx_profiles(event.transaction.station_id))
def on_transaction_stopped(event: TransactionStopped) -> None:
    mirror.installed_tx_profiles_end(transaction=event.transaction)
