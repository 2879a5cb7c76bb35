"""What makes console pages change: the domain's hooks, noted for the node's publisher
(csms.admin.live). Every receiver writes nothing and queries nothing: it only notes, after the
commit, which station, transaction or call changed; the station path pays a set insertion."""

from __future__ import annotations

from alerts.hooks import AlertRaised, alert_raised
from csms.admin.live import FLEET, changed
from csms.ocpp.hooks import CallFinished, call_finished
from stations.hooks import (
    ConnectorStatusChanged,
    StationConnected,
    StationDisconnected,
    connector_status_changed,
    station_connected,
    station_disconnected,
)
from transactions.hooks import (
    MeterValuesStored,
    TransactionStarted,
    TransactionStopped,
    meter_values_stored,
    transaction_started,
    transaction_stopped,
)

FLEET_CHANGED = (FLEET, None)


@connector_status_changed.connect(database=False)
def connector_status(event: ConnectorStatusChanged) -> None:
    changed(("station", event.connector.station_id), FLEET_CHANGED)


@station_connected.connect(database=False)
def connected(event: StationConnected) -> None:
    changed(("station", event.station_id), FLEET_CHANGED)


@station_disconnected.connect(database=False)
def disconnected(event: StationDisconnected) -> None:
    changed(("station", event.station_id), FLEET_CHANGED)


def _transaction_changed(tx) -> None:
    items = [("transaction", tx.pk), ("station", tx.station_id), FLEET_CHANGED]
    if tx.remote_start_call_id is not None:  # the call's page says what it led to
        items.append(("call", tx.remote_start_call_id))
    changed(*items)


@transaction_started.connect(database=False)
def started(event: TransactionStarted) -> None:
    _transaction_changed(event.transaction)


@transaction_stopped.connect(database=False)
def stopped(event: TransactionStopped) -> None:
    _transaction_changed(event.transaction)


@meter_values_stored.connect(database=False)
def meter_values(event: MeterValuesStored) -> None:
    if event.transaction_id is None:
        changed(("station", event.station_id))
    else:
        changed(("transaction", event.transaction_id), ("station", event.station_id), FLEET_CHANGED)


@call_finished.connect(database=False)
def call_done(event: CallFinished) -> None:
    changed(("call", event.call_id), ("station", event.station_id), FLEET_CHANGED)


@alert_raised.connect(database=False)
def alert(event: AlertRaised) -> None:
    items = [FLEET_CHANGED]
    if event.station_id:
        items.append(("station", event.station_id))
    changed(*items)
