"""Writes about stations: admission, connection state, boot, heartbeat, status, data transfers."""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csms.errors import Invalid
from csms.ocpp.calls import StationOffline, call_enqueue
from csms.ocpp.channels import channel_send, station_send
from csms.ocpp.directory import Admission
from csms.ocpp.models import Call, MessageLog

from .hooks import ConnectorStatusChanged, connector_status_changed
from .models import (
    ChargeStation,
    Connector,
    ConnectorStatus,
    DataTransferRecord,
    Node,
    RegistrationStatus,
    SecurityEvent,
    StatusNotificationRecord,
)

logger = logging.getLogger(__name__)


# --- Admission and connection state ---------------------------------------------------------------


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def charge_box_id_valid(value: str) -> bool:
    max_length = ChargeStation._meta.get_field("id").max_length
    return bool(value.strip()) and len(value) <= max_length and "/" not in value and all(
        32 <= ord(char) != 127 for char in value
    )


def station_admit(*, charge_box_id: str, authorization: str | None = None, client_cert_cn: str | None = None) -> Admission:
    """Decide at the handshake whether this chargeBoxId may connect (OCPP-J 3.2, Security profiles)."""
    if not charge_box_id_valid(charge_box_id):
        # Could never be stored (too long, control characters): unknown, and no query may choke on it.
        return Admission(refuse_status=404, reason="invalid chargeBoxId")
    station = ChargeStation.objects.filter(pk=charge_box_id).first()
    if station is None:
        if not settings.CSMS_AUTO_REGISTER:
            return Admission(refuse_status=404, reason="unknown chargeBoxId")
        station, _ = ChargeStation.objects.get_or_create(
            pk=charge_box_id, defaults={"registration_status": RegistrationStatus.PENDING}
        )
        logger.info("auto-registered station %s (Pending)", charge_box_id)
    if station.security_profile in (1, 2):
        credentials = _basic_credentials(authorization)
        if credentials is None or credentials[0] != charge_box_id or not station.check_password(credentials[1]):
            return Admission(refuse_status=401, reason="bad or missing Basic credentials")
    elif station.security_profile == 3:
        if not client_cert_cn or client_cert_cn != charge_box_id:
            return Admission(refuse_status=401, reason="no client certificate for this chargeBoxId")
    return Admission(station_id=station.pk, registration_status=station.registration_status)


def station_connect(*, station_id: str, channel_name: str, node: str, subprotocol: str, remote_address: str) -> str | None:
    """Record the new socket; return the channel of the connection it replaces, if any."""
    now = timezone.now()
    with transaction.atomic():
        station = ChargeStation.objects.select_for_update().get(pk=station_id)
        previous = station.channel_name if station.online and station.channel_name != channel_name else None
        ChargeStation.objects.filter(pk=station_id).update(
            online=True,
            node=node,
            channel_name=channel_name,
            connected_at=now,
            last_seen=now,
            subprotocol=subprotocol,
            remote_address=remote_address[:100],
        )
    return previous or None


def station_disconnect(*, station_id: str, channel_name: str) -> None:
    """Mark the station offline unless a newer connection has already taken it over."""
    ChargeStation.objects.filter(pk=station_id, channel_name=channel_name).update(
        online=False, channel_name="", disconnected_at=timezone.now()
    )


def node_report(*, name: str, held: dict[str, str]) -> int:
    """The node is alive and holds these sockets ({station_id: channel_name}).

    Stations it holds that were marked offline meanwhile (the node looked dead for a while) are
    online again, unless another connection has taken them over since.
    """
    Node.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})
    reasserted = 0
    for station_id in ChargeStation.objects.filter(pk__in=list(held), online=False).values_list("pk", flat=True):
        reasserted += ChargeStation.objects.filter(pk=station_id, online=False).update(
            online=True, node=name, channel_name=held[station_id]
        )
    return reasserted


def node_start(*, name: str) -> int:
    """A node (re)starting holds no sockets yet: whatever the database says it held is offline."""
    now = timezone.now()
    Node.objects.update_or_create(name=name, defaults={"started_at": now, "last_seen": now})
    return ChargeStation.objects.filter(node=name, online=True).update(online=False, channel_name="", disconnected_at=now)


def stations_of_dead_nodes_mark_offline() -> int:
    """Stations held by a node that has stopped reporting are offline (its sockets died with it)."""
    cutoff = timezone.now() - timedelta(seconds=settings.CSMS_NODE_TIMEOUT)
    dead = list(Node.objects.filter(last_seen__lt=cutoff).values_list("name", flat=True))
    if not dead:
        return 0
    return ChargeStation.objects.filter(online=True, node__in=dead).update(
        online=False, channel_name="", disconnected_at=timezone.now()
    )


def station_registration_set(*, station: ChargeStation, status: str) -> ChargeStation:
    station.registration_status = status
    station.save(update_fields=["registration_status", "updated_at"])
    station_notify_changed(station_id=station.pk)
    return station


def station_boot_request(*, station: ChargeStation, requested_by=None, source: str = "system") -> Call | None:
    """Ask a connected station to boot again (TriggerMessage BootNotification); None when offline."""
    try:
        return call_enqueue(
            station=station,
            action="TriggerMessage",
            payload={"requestedMessage": "BootNotification"},
            requested_by=requested_by,
            source=source,
            context={"reason": "registration accepted"},
        )
    except StationOffline:
        return None  # it is answered Accepted at its next BootNotification anyway


@transaction.atomic
def station_accept(*, station: ChargeStation, requested_by=None, source: str = "system") -> Call | None:
    """Accept a station; one that is connected and was not accepted yet is asked to boot again.

    Until a station boots into Accepted it may send nothing but BootNotification (errata), so
    waiting for its next boot interval would leave it idle. An already accepted station is not
    asked: OCPP 1.6 errata 3.40 forbids that trigger after an Accepted boot. Returns the trigger.
    """
    was_accepted = station.registration_status == RegistrationStatus.ACCEPTED
    station_registration_set(station=station, status=RegistrationStatus.ACCEPTED)
    if was_accepted:
        return None
    return station_boot_request(station=station, requested_by=requested_by, source=source)


def station_reject(*, station: ChargeStation) -> ChargeStation:
    return station_registration_set(station=station, status=RegistrationStatus.REJECTED)


def station_notify_changed(*, station_id: str) -> None:
    """Tell the consumer holding the station to reload what it caches (after commit)."""
    transaction.on_commit(lambda: station_send(station_id, {"type": "station.refresh"}))


def station_delete(*, station: ChargeStation) -> None:
    station_id = station.pk
    channel = ChargeStation.objects.filter(pk=station_id, online=True).values_list("channel_name", flat=True).first()
    with transaction.atomic():
        MessageLog.objects.filter(station_id=station_id).delete()
        station.delete()
        if channel:
            # A deleted station is unknown: hang up rather than fail each of its next Calls.
            transaction.on_commit(lambda: channel_send(channel, {"type": "station.deleted"}))


# --- What station-initiated Calls mean ---------------------------------------------------------------

def station_boot(
    *,
    station_id: str,
    vendor: str,
    model: str,
    serial_number: str = "",
    charge_box_serial_number: str = "",
    firmware_version: str = "",
    iccid: str = "",
    imsi: str = "",
    meter_type: str = "",
    meter_serial_number: str = "",
) -> str:
    """Store every boot field (one left out is stored empty); answer the station's registration status."""
    station = ChargeStation.objects.get(pk=station_id)
    station.vendor, station.model, station.serial_number = vendor, model, serial_number
    station.charge_box_serial_number, station.firmware_version = charge_box_serial_number, firmware_version
    station.iccid, station.imsi = iccid, imsi
    station.meter_type, station.meter_serial_number = meter_type, meter_serial_number
    now = timezone.now()
    station.last_boot_at = now
    station.last_seen = now
    # A boot is the reset that a RebootRequired configuration change was waiting for.
    station.reset_required = False
    station.save()
    return station.registration_status


def station_heartbeat(*, station_id: str) -> None:
    now = timezone.now()
    ChargeStation.objects.filter(pk=station_id).update(last_heartbeat=now, last_seen=now)


def connector_status_update(
    *,
    station_id: str,
    connector_id: int,
    status: str,
    error_code: str,
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
    timestamp: datetime | None = None,
) -> Connector:
    if connector_id < 0:
        raise Invalid("connectorId must not be negative", details={"field": "connectorId"})
    now = timezone.now()
    fields = {
        "status": status,
        "error_code": error_code,
        "info": info,
        "vendor_id": vendor_id,
        "vendor_error_code": vendor_error_code,
    }
    StatusNotificationRecord.objects.create(
        station_id=station_id, connector_id=connector_id, timestamp=timestamp, received_at=now, **fields
    )
    connector, created = Connector.objects.get_or_create(
        station_id=station_id,
        connector_id=connector_id,
        defaults={**fields, "status_timestamp": timestamp, "updated_at": now},
    )
    previous_status = None if created else connector.status
    # A status queued while offline may arrive after a newer one: the newest station time wins.
    if not created and (timestamp is None or connector.status_timestamp is None or timestamp >= connector.status_timestamp):
        for name, value in fields.items():
            setattr(connector, name, value)
        connector.status_timestamp = timestamp
        connector.updated_at = now
        if connector.availability_status == "Scheduled" and _availability_reached(connector):
            connector.availability_status = "Accepted"
        connector.save()
    connector_status_changed.emit(ConnectorStatusChanged(connector, previous_status, status))
    return connector


def _availability_reached(connector: Connector) -> bool:
    """Whether the connector's reported state shows the availability the CSMS scheduled."""
    unavailable = connector.status == ConnectorStatus.UNAVAILABLE
    return unavailable if connector.availability == "Inoperative" else not unavailable


def data_transfer_record(
    *, station_id: str, direction: str, vendor_id: str, message_id: str = "", data=None, status: str = "", response_data=None
) -> DataTransferRecord:
    return DataTransferRecord.objects.create(
        station_id=station_id,
        direction=direction,
        vendor_id=vendor_id,
        message_id=message_id or "",
        data=data,
        status=status,
        response_data=response_data,
    )


def security_event_record(*, station_id: str, event_type: str, timestamp: datetime, tech_info: str = "") -> SecurityEvent:
    return SecurityEvent.objects.create(station_id=station_id, type=event_type, timestamp=timestamp, tech_info=tech_info)
