"""What the stations app tells other apps, inside the transaction that made the change
(csms.hooks: each receiver in a savepoint of its own; a failing one is logged and rolled back)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.hooks import Hook

from .models import Connector


@dataclass(frozen=True)
class ConnectorStatusChanged:
    connector: Connector  # as stored after the report
    previous_status: str | None  # None: the connector was new
    # What this StatusNotification said. It differs from connector.status when the report was
    # older (station time) than the status already stored, and so was not applied.
    reported_status: str


connector_status_changed: Hook[ConnectorStatusChanged] = Hook("connector_status_changed")


@dataclass(frozen=True)
class StationConnected:
    station_id: str
    node: str
    remote_address: str


@dataclass(frozen=True)
class StationDisconnected:
    station_id: str
    # closed: its socket closed; node_stopped: its node drained; node_lost: the node holding it
    # stopped reporting; corrected: the node's report found it no longer held it (its own
    # bookkeeping could not run).
    reason: str


station_connected: Hook[StationConnected] = Hook("station_connected")
station_disconnected: Hook[StationDisconnected] = Hook("station_disconnected")


@dataclass(frozen=True)
class StationLocationChanged:
    """What a roaming partner is told about the station may have changed: its location fields, a
    connector's description, or its partner (whose tariff may price it). Emitted by the services
    that write them (station_create, station_update, connector_specs_set)."""

    station_id: str


station_location_changed: Hook[StationLocationChanged] = Hook("station_location_changed")


@dataclass(frozen=True)
class StationDeleting:
    """The station is being deleted (emitted before the delete, in its transaction: what it was is
    still readable)."""

    station_id: str


station_deleting: Hook[StationDeleting] = Hook("station_deleting")


@dataclass(frozen=True)
class StationBooted:
    station_id: str
    firmware_version: str
    registration_status: str  # what the BootNotification was answered


@dataclass(frozen=True)
class SecurityEventRecorded:
    station_id: str
    security_event_id: int
    type: str
    timestamp: datetime
    tech_info: str
    critical: bool = False


station_booted: Hook[StationBooted] = Hook("station_booted")
security_event_recorded: Hook[SecurityEventRecorded] = Hook("security_event_recorded")
