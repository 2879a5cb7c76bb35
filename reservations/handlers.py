"""OCPP result handlers and signal receivers of this app (imported by AppConfig.ready)."""

from django.dispatch import receiver

from csms.ocpp.router import on_failure, on_result
from stations.signals import connector_status_changed
from transactions.signals import transaction_started

from . import services


@on_result("ReserveNow")
def reserve_now_result(call, response: dict) -> None:
    services.reservation_answer_apply(call=call, response=response)


@on_failure("ReserveNow")
def reserve_now_failed(call) -> None:
    services.reservation_request_failed(call=call)


@on_result("CancelReservation")
def cancel_reservation_result(call, response: dict) -> None:
    services.reservation_cancel_answer_apply(call=call, response=response)


@on_failure("CancelReservation")
def cancel_reservation_failed(call) -> None:
    services.reservation_cancel_failed(call=call)


@receiver(transaction_started, dispatch_uid="reservations.transaction_started")
def on_transaction_started(sender, transaction, id_tag_info, **kwargs) -> None:
    services.reservation_use_by_transaction(transaction_obj=transaction, id_tag_info=id_tag_info)


@receiver(connector_status_changed, dispatch_uid="reservations.connector_status_changed")
def on_connector_status_changed(sender, connector, previous_status, reported_status, **kwargs) -> None:
    # A status older than the one stored (queued while offline) says nothing about now.
    if connector.status != reported_status:
        return
    services.reservations_end_for_connector(
        station_id=connector.station_id, connector_id=connector.connector_id, status=reported_status
    )
