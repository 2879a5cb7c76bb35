"""What smart charging persists from stations' answers and from transactions (AppConfig.ready).

Every SetChargingProfile, ClearChargingProfile and GetCompositeSchedule counts, whoever sent it
(library assignment, admin, or by hand through POST /api/v1/stations/{id}/calls/).
"""

import logging

from django.db import transaction as db_transaction
from django.dispatch import receiver

from csms.ocpp.router import on_failure, on_result
from transactions.signals import transaction_started, transaction_stopped

from . import services

logger = logging.getLogger(__name__)


@on_result("SetChargingProfile")
def set_charging_profile_result(call, response: dict) -> None:
    services.assignment_answered(call=call, status=response["status"])
    if response["status"] == "Accepted":
        services.installed_profile_apply(
            station_id=call.station_id,
            connector_id=call.payload["connectorId"],
            cs_profile=call.payload["csChargingProfiles"],
            call=call,
        )


@on_result("ClearChargingProfile")
def clear_charging_profile_result(call, response: dict) -> None:
    # Unknown means the station holds nothing that matches: the mirror must not either (ADR 0031).
    if response["status"] in ("Accepted", "Unknown"):
        services.installed_profiles_clear(station_id=call.station_id, request=call.payload)


@on_result("GetCompositeSchedule")
def get_composite_schedule_result(call, response: dict) -> None:
    services.composite_report_record(call=call, response=response)


@on_result("RemoteStartTransaction")
def remote_start_result(call, response: dict) -> None:
    services.assignment_answered(call=call, status=response["status"])


@on_failure("SetChargingProfile")
@on_failure("RemoteStartTransaction")
def assignment_failed(call) -> None:
    services.assignment_answered(call=call)


@on_failure("GetCompositeSchedule")
def get_composite_schedule_failed(call) -> None:
    services.composite_report_record(call=call, response=None)


@receiver(transaction_started, dispatch_uid="smartcharging.transaction_started")
def on_transaction_started(sender, transaction, **kwargs) -> None:
    # A savepoint: a failure here must not cost the station its StartTransaction answer.
    try:
        with db_transaction.atomic():
            services.installed_profiles_on_transaction_start(transaction=transaction)
    except Exception:
        logger.exception("could not update the charging profiles of transaction %s", transaction.pk)


@receiver(transaction_stopped, dispatch_uid="smartcharging.transaction_stopped")
def on_transaction_stopped(sender, transaction, **kwargs) -> None:
    try:
        with db_transaction.atomic():
            services.installed_tx_profiles_end(transaction=transaction)
    except Exception:
        logger.exception("could not remove the TxProfiles of transaction %s", transaction.pk)
