import hashlib
import hmac
import secrets

from django.db import models
from django.utils import timezone

from csms.ocpp.models import Direction

from .location import ConnectorFormat, ConnectorStandard, ParkingType, PowerType


class RegistrationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class FileTransferProtocol(models.TextChoices):
    """How a station uploads diagnostics and logs and downloads firmware served by the CSMS."""

    HTTP = "http", "HTTP(S)"
    FTP = "ftp", "FTP (one-time credentials in the location)"


class ChargeStation(models.Model):
    """A charge point, identified by the chargeBoxId in its connection URL."""

    id = models.CharField("chargeBoxId", max_length=128, primary_key=True)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="stations"
    )
    description = models.CharField(max_length=200, blank=True)
    registration_status = models.CharField(
        max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED
    )
    security_profile = models.PositiveSmallIntegerField(
        default=0, choices=[(0, "0: none"), (1, "1: basic auth"), (2, "2: TLS + basic auth"), (3, "3: TLS client certificate")]
    )
    # Salted SHA-256 of the Basic-auth password. Station passwords are random machine secrets
    # checked on every reconnect; a slow hash would turn a reconnect storm into a CPU storm.
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
    file_transfer_protocol = models.CharField(
        max_length=4, choices=FileTransferProtocol.choices, default=FileTransferProtocol.HTTP,
        help_text="How the station uploads diagnostics and logs and downloads firmware served by the CSMS.")

    # BootNotification, every field as last reported
    vendor = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=20, blank=True)
    serial_number = models.CharField("charge point serial number", max_length=25, blank=True)
    charge_box_serial_number = models.CharField(max_length=25, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField("ICCID", max_length=20, blank=True)
    imsi = models.CharField("IMSI", max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial_number = models.CharField(max_length=25, blank=True)
    last_boot_at = models.DateTimeField(null=True, blank=True)

    # Connection state
    online = models.BooleanField(default=False)
    node = models.CharField(max_length=200, blank=True, help_text="The CSMS node holding the socket.")
    channel_name = models.CharField(max_length=200, blank=True, editable=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    subprotocol = models.CharField(max_length=20, blank=True)
    remote_address = models.CharField(max_length=100, blank=True)

    # Set when a ChangeConfiguration answered RebootRequired; cleared by the next boot.
    reset_required = models.BooleanField(default=False)

    # Where the station is, for roaming partners (OCPI Location; stations.location checks it).
    location_name = models.CharField("location name", max_length=255, blank=True,
                                     help_text="The name drivers see (e.g. \"Gent Zuid\").")
    address = models.CharField(max_length=255, blank=True, help_text="Street and house number.")
    city = models.CharField(max_length=45, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField("state or province", max_length=45, blank=True)
    country = models.CharField(max_length=3, blank=True, help_text="ISO 3166-1 alpha-3, e.g. BEL, NLD, DEU.")
    latitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True,
                                   help_text="WGS 84 degrees, -90 to 90; with the longitude.")
    longitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True,
                                    help_text="WGS 84 degrees, -180 to 180; with the latitude.")
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA time zone, e.g. Europe/Brussels.")
    opening_hours = models.JSONField(
        null=True, blank=True,
        help_text="Empty: open 24/7. Otherwise OCPI Hours: {\"twentyfourseven\": false, \"regular_hours\": "
                  "[{\"weekday\": 1, \"period_begin\": \"08:00\", \"period_end\": \"20:00\"}], "
                  "\"exceptional_openings\": [], \"exceptional_closings\": []}.")
    parking_type = models.CharField(max_length=20, choices=ParkingType.choices, blank=True)
    facilities = models.JSONField(default=list, blank=True,
                                  help_text="OCPI Facility values, e.g. [\"SUPERMARKET\", \"WIFI\"].")
    capabilities = models.JSONField(default=list, blank=True,
                                    help_text="OCPI Capability values of its EVSEs, e.g. [\"RFID_READER\", "
                                              "\"REMOTE_START_STOP_CAPABLE\"].")
    ocpi_publish = models.BooleanField("publish to roaming partners", default=True, help_text="Shown to roaming partners that see all public stations.")
    physical_reference = models.CharField(max_length=16, blank=True,
                                          help_text="What is printed on the station for drivers to name it.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id

    def set_password(self, raw: str | None) -> None:
        if not raw:
            self.password_hash = ""
            return
        salt = secrets.token_hex(8)
        digest = hashlib.sha256((salt + raw).encode()).hexdigest()
        self.password_hash = f"sha256${salt}${digest}"

    def check_password(self, raw: str) -> bool:
        if not self.password_hash:
            return False
        _, salt, digest = self.password_hash.split("$", 2)
        candidate = hashlib.sha256((salt + raw).encode()).hexdigest()
        return hmac.compare_digest(candidate, digest)


class ConnectorStatus(models.TextChoices):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class Connector(models.Model):
    """Current state of one connector (0 is the station as a whole)."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=ConnectorStatus.choices, blank=True)
    error_code = models.CharField(max_length=30, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    status_timestamp = models.DateTimeField(null=True, blank=True, help_text="The station's own time of the status.")
    updated_at = models.DateTimeField(default=timezone.now)
    # What the CSMS last asked through ChangeAvailability, and how far the station went with it:
    # Accepted (in effect), Scheduled (after the running transaction; becomes Accepted when the
    # connector reports the matching state), Rejected.
    availability = models.CharField(max_length=12, blank=True, choices=[("Operative", "Operative"), ("Inoperative", "Inoperative")])
    availability_status = models.CharField(max_length=10, blank=True)
    availability_requested_at = models.DateTimeField(null=True, blank=True)

    # What the connector is (set by the operator; connector_id >= 1), for roaming partners (OCPI Connector).
    standard = models.CharField(max_length=24, choices=ConnectorStandard.choices, blank=True)
    format = models.CharField(max_length=6, choices=ConnectorFormat.choices, blank=True)
    power_type = models.CharField(max_length=16, choices=PowerType.choices, blank=True)
    max_voltage = models.PositiveIntegerField(null=True, blank=True, help_text="V (line to neutral for three-phase AC).")
    max_amperage = models.PositiveIntegerField(null=True, blank=True, help_text="A.")
    max_electric_power = models.PositiveIntegerField(null=True, blank=True,
                                                     help_text="W, when lower than voltage and amperage give.")

    class Meta:
        ordering = ["station_id", "connector_id"]
        constraints = [models.UniqueConstraint(fields=["station", "connector_id"], name="uniq_connector")]

    def __str__(self) -> str:
        return f"{self.station_id}#{self.connector_id}"


class StatusNotificationRecord(models.Model):
    """Every StatusNotification, as history."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="status_history")
    connector_id = models.PositiveIntegerField()
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=30)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["station", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.station_id}#{self.connector_id} {self.status} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class ConfigurationKey(models.Model):
    """A configuration key as last read from (or successfully written to) the station."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="configuration")
    key = models.CharField(max_length=50)
    value = models.CharField(max_length=500, null=True, blank=True)
    readonly = models.BooleanField(default=False)
    # False for keys the station listed as unknownKey.
    known = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["station_id", "key"]
        constraints = [models.UniqueConstraint(fields=["station", "key"], name="uniq_configuration_key")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class DataTransferRecord(models.Model):
    """Every DataTransfer, in both directions."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="data_transfers")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    vendor_id = models.CharField(max_length=255)
    message_id = models.CharField(max_length=50, blank=True)
    data = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=20, blank=True)
    response_data = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"DataTransfer {self.vendor_id} {self.message_id or ''} ({self.direction}, {self.station_id})"


# The events the Security Whitepaper (edition 3, section 8) marks critical. Any other type, the
# whitepaper's non-critical ones and vendors' own, is not critical.
CRITICAL_SECURITY_EVENTS = frozenset({
    "FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared",
    "MemoryExhaustion", "TamperDetectionActivated",
})


class SecurityEvent(models.Model):
    """A SecurityEventNotification, or something the CSMS itself saw a station do (OversizedMessage)."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="security_events")
    type = models.CharField(max_length=50)
    timestamp = models.DateTimeField()
    tech_info = models.CharField(max_length=255, blank=True)
    critical = models.BooleanField(default=False, help_text="Critical in the Security Whitepaper's table of events.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-timestamp", "-id"]

    def __str__(self) -> str:
        return f"{self.type} on {self.station_id} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class FailedAuthentication(models.Model):
    """A handshake refused for bad credentials (HTTP 401): what was wrong and from where, never the
    password. Each remote address may fail only so often (CSMS_AUTH_FAILURE_*) before it is refused
    without being looked at."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="failed_authentications")
    remote_address = models.CharField(max_length=100, blank=True)
    security_profile = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["station", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.station_id} from {self.remote_address or '?'}: {self.reason}"


class Node(models.Model):
    """A running CSMS process; stations held by a node that stopped reporting are offline."""

    name = models.CharField(max_length=200, primary_key=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
