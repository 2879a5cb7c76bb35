"""The apps' hooks as webhook events. Each receiver first asks the per-process subscription cache:
when no endpoint wants the event it returns before touching the database, so it is connected
without a savepoint (`database=False`); when one does, it queues the deliveries in a savepoint of its
own, so that a failure here rolls back only this and the emitter's write stands."""

from __future__ import annotations

from django.db import transaction

from alerts.hooks import AlertRaised, alert_raised
from csms.ocpp.hooks import CallFinished, call_finished
from firmware.hooks import FirmwareStatusReported, firmware_status_reported
from stations.hooks import (
    ConnectorStatusChanged,
    SecurityEventRecorded,
    StationConnected,
    StationDisconnected,
    connector_status_changed,
    security_event_recorded,
    station_connected,
    station_disconnected,
)
from transactions.hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped

from . import services
from .models import Event
from .subscriptions import subscriptions


def _publish(event: str, data, *, station_id: str | None, id_tag: str | None = None) -> None:
    if not subscriptions.endpoints_for(event):
        return
    with transaction.atomic():
        services.event_publish(event=event, data=data, station_id=station_id, id_tag=id_tag)


@station_connected.connect(database=False)
def on_station_connected(event: StationConnected) -> None:
    _publish(Event.STATION_CONNECTED, {"station": event.station_id, "node": event.node}, station_id=event.station_id)


@station_disconnected.connect(database=False)
def on_station_disconnected(event: StationDisconnected) -> None:
    _publish(Event.STATION_DISCONNECTED, {"station": event.station_id, "reason": event.reason},
             station_id=event.station_id)


@connector_status_changed.connect(database=False)
def on_connector_status(event: ConnectorStatusChanged) -> None:
    connector = event.connector
    _publish(Event.CONNECTOR_STATUS, lambda: {
        "station": connector.station_id, "connector_id": connector.connector_id,
        "status": connector.status, "previous_status": event.previous_status,
        "reported_status": event.reported_status, "error_code": connector.error_code, "info": connector.info,
        "vendor_id": connector.vendor_id, "vendor_error_code": connector.vendor_error_code,
        "timestamp": connector.status_timestamp,
    }, station_id=connector.station_id)


@transaction_started.connect(database=False)
def on_transaction_started(event: TransactionStarted) -> None:
    tx = event.transaction
    _publish(Event.TRANSACTION_STARTED, lambda: services.transaction_data(tx), station_id=tx.station_id,
             id_tag=tx.id_tag)


@transaction_stopped.connect(database=False)
def on_transaction_stopped(event: TransactionStopped) -> None:
    # The tariffs app (before this one in INSTALLED_APPS) has priced it by now: the cost is final.
    tx = event.transaction
    _publish(Event.TRANSACTION_STOPPED, lambda: services.transaction_stopped_data(tx), station_id=tx.station_id,
             id_tag=tx.id_tag)


@call_finished.connect(database=False)
def on_call_finished(event: CallFinished) -> None:
    _publish(Event.CALL_COMPLETED, {
        "call_id": event.call_id, "station": event.station_id, "action": event.action, "status": event.status,
        "response": event.response, "error_code": event.error_code or None,
    }, station_id=event.station_id)


@firmware_status_reported.connect(database=False)
def on_firmware_status(event: FirmwareStatusReported) -> None:
    _publish(Event.FIRMWARE_STATUS, {"station": event.station_id, "status": event.status,
                                     "request_id": event.request_id, "signed": event.signed},
             station_id=event.station_id)


@security_event_recorded.connect(database=False)
def on_security_event(event: SecurityEventRecorded) -> None:
    _publish(Event.SECURITY_EVENT, {"station": event.station_id, "security_event_id": event.security_event_id,
                                    "type": event.type, "timestamp": event.timestamp, "tech_info": event.tech_info,
                                    "critical": event.critical}, station_id=event.station_id)


@alert_raised.connect(database=False)
def on_alert_raised(event: AlertRaised) -> None:
    _publish(Event.ALERT_RAISED, {"alert_id": event.alert_id, "kind": event.kind, "severity": event.severity,
                                  "station": event.station_id, "message": event.message},
             station_id=event.station_id)
