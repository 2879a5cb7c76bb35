"""Writes about stations: admission, connection state, boot, heartbeat, status, data transfers."""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from csms.errors import Invalid
from csms.db import insert_rows
from csms.groupwrite import defer
from csms.ocpp.calls import StationOffline, call_enqueue
from csms.ocpp.channels import channel_send, station_send
from csms.ocpp.directory import Admission
from csms.ocpp.models import Call, MessageLog

from .hooks import (
    ConnectorStatusChanged,
    SecurityEventRecorded,
    StationBooted,
    StationConnected,
    StationDeleting,
    StationDisconnected,
    StationLocationChanged,
    connector_status_changed,
    security_event_recorded,
    station_booted,
    station_connected,
    station_deleting,
    station_disconnected,
    station_location_changed,
)
from .location import STATION_LOCATION_FIELDS, connector_spec_clean, station_location_clean
from .models import (
    CRITICAL_SECURITY_EVENTS,
    ChargeStation,
    Connector,
    ConnectorStatus,
    DataTransferRecord,
    FailedAuthentication,
    FileTransferProtocol,
    Node,
    RegistrationStatus,
    SecurityEvent,
    StatusNotificationRecord,
)

if TYPE_CHECKING:
    from partners.models import Partner

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


def station_admit(*, charge_box_id: str, authorization: str | None = None, client_certificate: str | None = None,
                  client_certificate_verdict: str | None = None, tls: bool = False,
                  remote_address: str = "") -> Admission:
    """Decide at the handshake whether this chargeBoxId may connect (OCPP-J 3.2, Security profiles);
    a refusal for bad credentials is recorded (FailedAuthentication), never the password itself."""
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
    problem = _credentials_problem(station, authorization=authorization, client_certificate=client_certificate,
                                   client_certificate_verdict=client_certificate_verdict, tls=tls)
    if problem:
        FailedAuthentication.objects.create(station=station, remote_address=remote_address[:100],
                                            security_profile=station.security_profile, reason=problem[:500])
        return Admission(refuse_status=401, reason=problem)
    return Admission(station_id=station.pk, registration_status=station.registration_status,
                     security_profile=station.security_profile)


def failed_authentications_prune() -> int:
    """Forget failed authentications older than CSMS_FAILED_AUTH_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.CSMS_FAILED_AUTH_RETENTION_DAYS)
    return FailedAuthentication.objects.filter(occurred_at__lt=cutoff).delete()[0]


def _credentials_problem(station: ChargeStation, *, authorization: str | None, client_certificate: str | None,
                         client_certificate_verdict: str | None, tls: bool) -> str | None:
    """Why these credentials do not admit the station under its security profile (None: they do).
    A station arriving under a weaker profile than its own is refused: no TLS for profiles 2 and 3,
    no client certificate for profile 3."""
    profile = station.security_profile
    if profile >= 2 and not tls:
        return f"security profile {profile} needs TLS; the connection came without it"
    if profile in PASSWORD_PROFILES:
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return "no HTTP Basic credentials"
        if credentials[0] != station.pk:
            return "the Basic username is not the chargeBoxId"
        if not station.check_password(credentials[1]):
            return "wrong password"
    elif profile == 3:
        if not client_certificate:
            verdict = client_certificate_verdict or ""
            refused = f" (the TLS terminator's verification: {verdict})" if verdict.startswith("FAILED") else ""
            return f"no verified TLS client certificate{refused}"
        # Imported here: the certificates app builds on this one's models.
        from certificates.trust import client_certificate_problems

        problems = client_certificate_problems(certificate_pem=client_certificate, station_id=station.pk)
        if problems:
            return "; ".join(problems)
    return None


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
        if previous is None:  # a replacement is no news: the station never left
            station_connected.emit(StationConnected(station_id, node, remote_address[:100]))
    return previous or None


def station_disconnect(*, station_id: str, channel_name: str) -> None:
    """Mark the station offline unless a newer connection has already taken it over."""
    with transaction.atomic():
        if ChargeStation.objects.filter(pk=station_id, channel_name=channel_name).update(
                online=False, channel_name="", disconnected_at=timezone.now()):
            station_disconnected.emit(StationDisconnected(station_id, "closed"))


def node_report(*, name: str, held: dict[str, str], as_of) -> int:
    """The node is alive and holds these sockets ({station_id: address}) as of `as_of`.

    The record is corrected both ways: a held station shown offline (the node looked dead for a
    while, or its connect bookkeeping was lost) is online on it again unless another connection took
    it over; a station shown online on this node that it no longer holds (its disconnect bookkeeping
    could not run) is offline. Connections made after `as_of` are left alone: the snapshot predates
    them. Returns how many stations were corrected.
    """
    Node.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})
    corrected = 0
    for station_id in ChargeStation.objects.filter(pk__in=list(held), online=False).values_list("pk", flat=True):
        corrected += ChargeStation.objects.filter(pk=station_id, online=False).update(
            online=True, node=name, channel_name=held[station_id]
        )
    gone = list(ChargeStation.objects.filter(node=name, online=True, connected_at__lt=as_of)
                .exclude(channel_name__in=list(held.values())).values_list("pk", flat=True))
    if gone:
        with transaction.atomic():
            corrected += ChargeStation.objects.filter(pk__in=gone, node=name, online=True, connected_at__lt=as_of).update(
                online=False, channel_name="", disconnected_at=timezone.now())
            for station_id in gone:
                station_disconnected.emit(StationDisconnected(station_id, "corrected"))
    return corrected


def node_start(*, name: str) -> int:
    """A node (re)starting holds no sockets yet: whatever the database says it held is offline."""
    now = timezone.now()
    Node.objects.update_or_create(name=name, defaults={"started_at": now, "last_seen": now})
    return ChargeStation.objects.filter(node=name, online=True).update(online=False, channel_name="", disconnected_at=now)


def node_stop(*, name: str) -> list[str]:
    """A node stopped: whatever it still held is offline. Returns those stations' ids."""
    held = list(ChargeStation.objects.filter(node=name, online=True).values_list("pk", flat=True))
    if held:
        with transaction.atomic():
            ChargeStation.objects.filter(pk__in=held, node=name, online=True).update(
                online=False, channel_name="", disconnected_at=timezone.now())
            for station_id in held:
                station_disconnected.emit(StationDisconnected(station_id, "node_stopped"))
    Node.objects.filter(name=name).update(last_seen=timezone.now() - timedelta(days=1))
    return held


def stations_of_dead_nodes_mark_offline(*, silent_for: float | None = None) -> list[str]:
    """Stations held by a node that stopped reporting are offline (its sockets died with it).
    Returns their ids."""
    seconds = settings.CSMS_NODE_TIMEOUT if silent_for is None else silent_for
    cutoff = timezone.now() - timedelta(seconds=seconds)
    dead = list(Node.objects.filter(last_seen__lt=cutoff).values_list("name", flat=True))
    if not dead:
        return []
    released = list(ChargeStation.objects.filter(online=True, node__in=dead).values_list("pk", flat=True))
    if released:
        with transaction.atomic():
            ChargeStation.objects.filter(pk__in=released, online=True, node__in=dead).update(
                online=False, channel_name="", disconnected_at=timezone.now())
            for station_id in released:
                station_disconnected.emit(StationDisconnected(station_id, "node_lost"))
    return released


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
        station_deleting.emit(StationDeleting(station_id))
        MessageLog.objects.filter(station_id=station_id).delete()
        station.delete()
        if channel:
            # A deleted station is unknown: hang up rather than fail each of its next Calls.
            transaction.on_commit(lambda: channel_send(channel, {"type": "station.deleted"}))


# --- Stations an operator registers and changes (admin, API) ----------------------------------------

CHARGE_BOX_ID_RULE = ("A chargeBoxId must be non-empty, at most 128 characters, without '/' or control "
                      "characters.")
# Security profiles whose stations authenticate with a Basic-auth password.
PASSWORD_PROFILES = (1, 2)
# The Basic-auth password (the station's AuthorizationKey): at least 16 and at most 40 characters
# (Security Whitepaper 7.2: at least 16 bytes, up to 40 hexadecimal digits), made of the characters
# OCPP allows in a password (passwordString: letters, digits and * - _ = : + | @ .).
PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH = 16, 40
PASSWORD_CHARACTERS = frozenset(string.ascii_letters + string.digits + "*-_=:+|@.")
PASSWORD_RULE = (f"A station password has {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters: letters, "
                 "digits and * - _ = : + | @ .")
# What the API takes as `password` to have one generated (and shown once).
GENERATE_PASSWORD = "generate"


def station_password_check(password: str) -> None:
    """Invalid (field `password`) unless the password follows PASSWORD_RULE."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH or not set(password) <= PASSWORD_CHARACTERS:
        raise Invalid(PASSWORD_RULE, details={"field": "password"})


def station_password_generate() -> str:
    """A strong password as the whitepaper advises: 20 random bytes as 40 hexadecimal digits."""
    return secrets.token_hex(PASSWORD_MAX_LENGTH // 2)


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


# "Leave it as it is", for an argument where None is a value of its own (no partner).
KEEP = _Keep()


@dataclass(frozen=True)
class StationUpdated:
    station: ChargeStation
    boot_trigger: Call | None = None  # the TriggerMessage sent when the change accepted a connected station


def station_validate(*, station: ChargeStation | None, security_profile: int, password: str | None = None) -> None:
    """Refuse settings a station could not connect with (Invalid, naming the field in `details`).

    `station` is the stored station being changed (None: a new one); `password` None keeps its
    password, "" removes it.
    """
    if password:
        station_password_check(password)
    has_password = bool(password) if password is not None else bool(station is not None and station.password_hash)
    if security_profile in PASSWORD_PROFILES and not has_password:
        raise Invalid("Security profiles 1 and 2 need a password.", details={"field": "password"})


def _registration_validate(status: str) -> None:
    if status not in RegistrationStatus.values:
        raise Invalid(f"{status!r} is not a registration status", details={"field": "registration_status"})


def _protocol_validate(protocol: str) -> None:
    if protocol not in FileTransferProtocol.values:
        raise Invalid(f"file_transfer_protocol must be one of {', '.join(FileTransferProtocol.values)}",
                      details={"field": "file_transfer_protocol"})


@transaction.atomic
def station_create(
    *,
    charge_box_id: str,
    description: str = "",
    partner: Partner | None = None,
    registration_status: str = RegistrationStatus.ACCEPTED,
    security_profile: int = 0,
    password: str | None = None,
    file_transfer_protocol: str = FileTransferProtocol.HTTP,
    location: dict | None = None,
) -> ChargeStation:
    """`location`: where the station is, for roaming (stations.location.STATION_LOCATION_FIELDS)."""
    if not charge_box_id_valid(charge_box_id):
        raise Invalid(CHARGE_BOX_ID_RULE, details={"field": "id"})
    if ChargeStation.objects.filter(pk=charge_box_id).exists():
        raise Invalid("A station with this chargeBoxId already exists.", details={"field": "id"})
    _registration_validate(registration_status)
    _protocol_validate(file_transfer_protocol)
    station_validate(station=None, security_profile=security_profile, password=password)
    station = ChargeStation(id=charge_box_id, description=description, partner=partner,
                            registration_status=registration_status, security_profile=security_profile,
                            file_transfer_protocol=file_transfer_protocol)
    _location_apply(station, location or {})
    station.set_password(password)
    station.save(force_insert=True)
    if location:
        station_location_changed.emit(StationLocationChanged(station.pk))
    return station


def station_update_sends_call(*, station: ChargeStation, registration_status: str | None) -> bool:
    """Whether this change may send the station a Call (accepting one not accepted yet asks it to
    boot again): the edge then asks whether its user may send Calls."""
    return registration_status == RegistrationStatus.ACCEPTED and station.registration_status != RegistrationStatus.ACCEPTED


@transaction.atomic
def station_update(
    *,
    station: ChargeStation,
    description: str | None = None,
    partner: Partner | None | _Keep = KEEP,
    registration_status: str | None = None,
    security_profile: int | None = None,
    password: str | None = None,
    file_transfer_protocol: str | None = None,
    location: dict | None = None,
    requested_by=None,
    source: str = "system",
) -> StationUpdated:
    """Change what an operator sets on a station; an argument left out (None, KEEP) stays as it is.

    `password`: None keeps it, "" removes it. A new registration status goes through
    station_accept / station_reject, so that accepting a connected station here asks it to boot
    again exactly as the "Accept registration" action does. The consumer holding the station
    reloads it after commit. `location` holds the location fields to change (the others stay).
    """
    # The stored row, not the caller's instance: a form may already have copied its values onto it.
    stored = ChargeStation.objects.select_for_update().get(pk=station.pk)
    profile = stored.security_profile if security_profile is None else security_profile
    station_validate(station=stored, security_profile=profile, password=password)
    if registration_status is not None:
        _registration_validate(registration_status)
    if file_transfer_protocol is not None:
        _protocol_validate(file_transfer_protocol)
        stored.file_transfer_protocol = file_transfer_protocol
    if description is not None:
        stored.description = description
    if partner is not KEEP:
        stored.partner = partner
    _location_apply(stored, location or {})
    stored.security_profile = profile
    if password is not None:
        stored.set_password(password)
    stored.save()
    trigger = None
    if registration_status is None or registration_status == stored.registration_status:
        station_notify_changed(station_id=stored.pk)
    elif registration_status == RegistrationStatus.ACCEPTED:
        trigger = station_accept(station=stored, requested_by=requested_by, source=source)
    elif registration_status == RegistrationStatus.REJECTED:
        station_reject(station=stored)
    else:
        station_registration_set(station=stored, status=registration_status)
    if location or partner is not KEEP:
        station_location_changed.emit(StationLocationChanged(stored.pk))
    return StationUpdated(stored, trigger)


def _location_apply(station: ChargeStation, values: dict) -> None:
    """Check the given location fields (Invalid naming the field) and set them on `station`."""
    current = {name: getattr(station, name) for name in STATION_LOCATION_FIELDS}
    for name, value in station_location_clean(values, current=current).items():
        setattr(station, name, value)


@transaction.atomic
def connector_specs_set(*, station: ChargeStation, connector_id: int, values: dict) -> Connector:
    """Set what a connector is (stations.location.CONNECTOR_SPEC_FIELDS; those left out stay).

    The connector row is created when the station has not reported it yet: an operator may describe
    its connectors before it first connects. Connector 0 is the station as a whole and has none.
    """
    if isinstance(connector_id, bool) or not isinstance(connector_id, int) or connector_id < 1:
        raise Invalid("Only connectors 1 and above have a plug: connector 0 is the whole station.",
                      details={"field": "connector_id"})
    clean = connector_spec_clean(values)
    connector, _ = Connector.objects.select_for_update().get_or_create(station_id=station.pk, connector_id=connector_id)
    for name, value in clean.items():
        setattr(connector, name, value)
    connector.updated_at = timezone.now()
    connector.save()
    station_location_changed.emit(StationLocationChanged(station.pk))
    return connector


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
    station_booted.emit(StationBooted(station_id, firmware_version, station.registration_status))
    return station.registration_status


def station_heartbeat(*, station_id: str) -> None:
    """The station is alive: one UPDATE for every Heartbeat of the writer's group (csms.groupwrite)."""
    defer(_heartbeats_record, station_id)


def _heartbeats_record(station_ids: list[str]) -> None:
    now = timezone.now()
    ChargeStation.objects.filter(pk__in=station_ids).update(last_heartbeat=now, last_seen=now)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One StatusNotification, as the connectors' batched update takes it."""

    station_id: str
    connector_id: int
    status: str
    error_code: str
    info: str
    vendor_id: str
    vendor_error_code: str
    timestamp: datetime | None
    received_at: datetime

    def history_row(self) -> tuple:
        return (self.station_id, self.connector_id, self.status, self.error_code, self.info, self.vendor_id,
                self.vendor_error_code, self.timestamp, self.received_at)


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
) -> None:
    """Record a StatusNotification: its history row, and the connector's state unless the report is
    older (station time) than the state stored. Both are written with the writer's group
    (csms.groupwrite): one statement for every connector of the group on PostgreSQL; the
    `connector_status_changed` hook runs then, still inside the transaction."""
    if connector_id < 0:
        raise Invalid("connectorId must not be negative", details={"field": "connectorId"})
    report = StatusReport(station_id, connector_id, status, error_code, info, vendor_id, vendor_error_code,
                          timestamp, timezone.now())
    defer(_status_history_insert, report.history_row())
    defer(_connectors_apply, report)


STATUS_HISTORY_COLUMNS = ("station_id", "connector_id", "status", "error_code", "info", "vendor_id",
                          "vendor_error_code", "timestamp", "received_at")
REPORTED_COLUMNS = ("status", "error_code", "info", "vendor_id", "vendor_error_code")


def _status_history_insert(rows: list[tuple]) -> None:
    insert_rows(StatusNotificationRecord, STATUS_HISTORY_COLUMNS, rows)


def _connectors_apply(reports: list[StatusReport]) -> None:
    applied = _connectors_upsert(reports) if connection.vendor == "postgresql" else [
        _connector_apply(report) for report in reports]
    for report, (connector, previous_status) in zip(reports, applied):
        connector_status_changed.emit(ConnectorStatusChanged(connector, previous_status, report.status))


def _connector_apply(report: StatusReport) -> tuple[Connector, str | None]:
    """One report, through the ORM (SQLite)."""
    fields = {name: getattr(report, name) for name in REPORTED_COLUMNS}
    connector, created = Connector.objects.get_or_create(
        station_id=report.station_id, connector_id=report.connector_id,
        defaults={**fields, "status_timestamp": report.timestamp, "updated_at": report.received_at},
    )
    if created:
        return connector, None
    previous_status = connector.status
    # A status queued while offline may arrive after a newer one: the newest station time wins.
    if report.timestamp is None or connector.status_timestamp is None or report.timestamp >= connector.status_timestamp:
        for name, value in fields.items():
            setattr(connector, name, value)
        connector.status_timestamp, connector.updated_at = report.timestamp, report.received_at
        if connector.availability_status == "Scheduled" and _availability_reached(connector):
            connector.availability_status = "Accepted"
        connector.save(update_fields=[*fields, "status_timestamp", "updated_at", "availability_status"])
    return connector, previous_status


def _connectors_upsert(reports: list[StatusReport]) -> list[tuple[Connector, str | None]]:
    """Every report of the group in one statement (PostgreSQL): insert new connectors, update the
    others unless the report is older than what is stored, and read back each connector's state with
    the status it had before (a data-modifying CTE sees the table as it was)."""
    table = Connector._meta.db_table
    columns = [field.column for field in Connector._meta.concrete_fields if not field.primary_key]
    given = {"station_id", "connector_id", *REPORTED_COLUMNS, "status_timestamp", "updated_at"}
    # Columns the report says nothing about take their model default (new columns included).
    defaults = {field.column: field.get_db_prep_value(field.get_default(), connection)
                for field in Connector._meta.concrete_fields if not field.primary_key and field.column not in given}
    incoming = ", ".join(["(%s::varchar, %s::integer, %s::varchar, %s::varchar, %s::varchar, %s::varchar, "
                          "%s::varchar, %s::timestamptz, %s::timestamptz)"] * len(reports))
    params: list = [value for r in reports for value in (r.station_id, r.connector_id, r.status, r.error_code, r.info,
                                                         r.vendor_id, r.vendor_error_code, r.timestamp, r.received_at)]
    select_new = ", ".join(f"i.{column}" if column in given else "%s" for column in columns)
    params += [defaults[column] for column in columns if column not in given]
    updated = ", ".join(f"{column} = EXCLUDED.{column}" for column in (*REPORTED_COLUMNS, "status_timestamp", "updated_at"))
    after = ", ".join(f"COALESCE(u.{column}, o.{column})" if column not in ("station_id", "connector_id")
                      else f"i.{column}" for column in ["id", *columns])
    sql = f"""
        WITH i (station_id, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_timestamp,
                updated_at) AS (VALUES {incoming}),
        o AS (SELECT c.* FROM {table} c JOIN i ON c.station_id = i.station_id AND c.connector_id = i.connector_id),
        u AS (
            INSERT INTO {table} AS c ({", ".join(columns)}) SELECT {select_new} FROM i
            ON CONFLICT (station_id, connector_id) DO UPDATE SET {updated},
                availability_status = CASE WHEN c.availability_status = 'Scheduled'
                    AND ((c.availability = 'Inoperative') = (EXCLUDED.status = 'Unavailable')) THEN 'Accepted'
                    ELSE c.availability_status END
            WHERE EXCLUDED.status_timestamp IS NULL OR c.status_timestamp IS NULL
                OR EXCLUDED.status_timestamp >= c.status_timestamp
            RETURNING c.*)
        SELECT o.status, {after} FROM i
        LEFT JOIN o ON o.station_id = i.station_id AND o.connector_id = i.connector_id
        LEFT JOIN u ON u.station_id = i.station_id AND u.connector_id = i.connector_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    names = ["id", *(field.attname for field in Connector._meta.concrete_fields if not field.primary_key)]
    connectors = [(Connector(**dict(zip(names, row[1:]))), row[0]) for row in rows]
    by_key = {(connector.station_id, connector.connector_id): (connector, previous) for connector, previous in connectors}
    return [by_key[(report.station_id, report.connector_id)] for report in reports]


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
    """Store a security event, critical when the whitepaper's table says so (the alerts app raises an
    alert for those through the hook)."""
    event = SecurityEvent.objects.create(station_id=station_id, type=event_type, timestamp=timestamp,
                                         tech_info=tech_info[:255], critical=event_type in CRITICAL_SECURITY_EVENTS)
    security_event_recorded.emit(SecurityEventRecorded(station_id, event.pk, event_type, timestamp, event.tech_info,
                                                       event.critical))
    return event
