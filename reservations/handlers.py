"""OCPP result handlers and hook receivers of this app (imported by AppConfig.ready)."""

from csms.ocpp.router import on_failure, on_result
from stations.hooks import ConnectorStatusChanged, connector_status_changed
from transactions.hooks import TransactionStarted, transaction_started

from . import selectors, services


@on_result("ReserveNow")
def reserve_now_result(call, response: dict) -> None:
    services.reservation_answer_apply(call=call, status=response["status"])


@on_failure("ReserveNow")
def reserve_now_failed(call) -> None:
    services.reservation_request_failed(call=call)


@on_result("CancelReservation")
def cancel_reservation_result(call, response: dict) -> None:
    services.reservation_cancel_answer_apply(call=call, status=response["status"])


@on_failure("CancelReservation")
def cancel_reservation_failed(call) -> None:
    services.reservation_cancel_failed(call=call)


# Most starts are at stations holding no reservation: one cheap look decides, before any savepoint.
@transaction_started.connect(when=lambda event: selectors.station_has_open_reservations(event.transaction.station_id))
def on_transaction_started(event: TransactionStarted) -> None:
    services.reservation_use_by_transaction(transaction_obj=event.transaction, parent_id_tag=event.parent_id_tag)


# Only a connector that became Faulted or Unavailable ends reservations: every other report (most of
# them, on the station path) skips the receiver and its savepoint.
@connector_status_changed.connect(when=lambda event: event.reported_status in services.ENDING_CONNECTOR_STATES)
def on_connector_status_changed(event: ConnectorStatusChanged) -> None:
    connector = event.connector
    # A status older than the one stored (queued while offline) says nothing about now.
    if connector.status != event.reported_status:
        return
    services.reservations_end_for_connector(
        station_id=connector.station_id, connector_id=connector.connector_id, status=event.reported_status
    )
