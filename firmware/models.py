"""Firmware files, firmware update jobs (one row per station), rollouts in waves, diagnostics/log
upload requests, the one-time FTP accounts stations use for both, every status notification stations
sent about them and the firmware versions each station booted with (docs/adr/0050-firmware-updates.md,
docs/adr/0052-diagnostics-uploads.md, docs/adr/0056-ftp-server.md, docs/adr/0057-firmware-rollouts.md)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import get_valid_filename


def new_token() -> str:
    """An unguessable path segment: downloads and uploads by stations carry no other credential."""
    return secrets.token_urlsafe(24)


def safe_filename(name: str, fallback: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    try:
        return get_valid_filename(base)[:150] if base else fallback
    except Exception:  # "..", "." or nothing usable left
        return fallback


# --- Firmware files --------------------------------------------------------------------------------


def firmware_upload_to(firmware: "Firmware", filename: str) -> str:
    return f"firmware/{firmware.token}/{safe_filename(filename, 'firmware.bin')}"


class Firmware(models.Model):
    """A firmware image: a file served by the CSMS, or a location elsewhere."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50, blank=True, help_text="The version a station reports once it runs it.")
    vendor = models.CharField(max_length=20, blank=True, help_text="For operators: the stations it is made for.")
    charge_point_model = models.CharField(max_length=20, blank=True)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to=firmware_upload_to, blank=True, max_length=300,
                            help_text="Served to stations by the CSMS, each update under its own unguessable URL.")
    external_location = models.CharField(
        max_length=512, blank=True,
        help_text="Instead of a file: where stations download it (http, https, ftp, ftps, sftp URL).")
    size = models.BigIntegerField(null=True, blank=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # Security Whitepaper L01: sent with SignedUpdateFirmware.
    signing_certificate = models.TextField(blank=True, help_text="PEM X.509 firmware signing certificate (at most 5500 characters).")
    signature = models.TextField(blank=True, help_text="Base64 signature of the firmware file (at most 800 characters).")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="firmware",
                                help_text="Empty: every partner may use it. Set: only this partner (and staff).")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "firmware file"

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def signed(self) -> bool:
        return bool(self.signing_certificate and self.signature)

    @property
    def filename(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""


# --- Firmware updates ------------------------------------------------------------------------------


class FirmwareUpdate(models.Model):
    """One request to update the firmware of one or more stations; each station has its own target."""

    firmware = models.ForeignKey(Firmware, null=True, blank=True, on_delete=models.PROTECT, related_name="updates")
    # The external location as asked, or the firmware's own URL (each station gets its own, see targets).
    location = models.CharField(max_length=2000)
    retrieve_date = models.DateTimeField()
    retries = models.PositiveIntegerField(null=True, blank=True)
    retry_interval = models.PositiveIntegerField(null=True, blank=True, help_text="seconds")
    signed = models.BooleanField(default=False, help_text="SignedUpdateFirmware (Security Whitepaper) instead of UpdateFirmware.")
    install_date = models.DateTimeField(null=True, blank=True, help_text="Signed updates only: when to install.")
    signing_certificate = models.TextField(blank=True)
    signature = models.TextField(blank=True)
    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    source = models.CharField(max_length=20, default="system",
                              help_text="admin, api, call (sent by hand), rollout or system")
    # Set when a rollout sent it: one update per wave (and per retry) of the rollout.
    rollout = models.ForeignKey("FirmwareRollout", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="updates")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"firmware update #{self.pk}"

    @property
    def ocpp_action(self) -> str:
        return "SignedUpdateFirmware" if self.signed else "UpdateFirmware"


class TargetState(models.TextChoices):
    WAITING = "waiting", "waiting to be sent"
    SENT = "sent", "sent, no answer yet"
    ACCEPTED = "accepted", "accepted, nothing reported yet"
    IN_PROGRESS = "in_progress", "in progress"
    STUCK = "stuck", "no progress reported for too long"
    INSTALLED = "installed"
    FAILED = "failed"
    REJECTED = "rejected"
    ERROR = "error", "could not be sent"
    CANCELLED = "cancelled"
    EXPIRED = "expired", "never sent: the station did not connect in time"
    SUPERSEDED = "superseded", "superseded by a newer update"


# The station may still be working on these.
ACTIVE_TARGET_STATES = (TargetState.SENT, TargetState.ACCEPTED, TargetState.IN_PROGRESS, TargetState.STUCK)
OPEN_TARGET_STATES = (TargetState.WAITING, *ACTIVE_TARGET_STATES)


class FirmwareUpdateTarget(models.Model):
    """One station in a firmware update: what was sent and what the station reported."""

    # 32-bit: the requestId of SignedUpdateFirmware, an OCPP integer stations keep as int32.
    id = models.AutoField(primary_key=True)
    update = models.ForeignKey(FirmwareUpdate, on_delete=models.CASCADE, related_name="targets")
    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="firmware_updates")
    # Our own targets use their id; an update sent by hand through the calls API keeps its own.
    request_id = models.IntegerField(null=True, blank=True, db_index=True)
    location = models.CharField(max_length=2000, help_text="The location this station was given.")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    state = models.CharField(max_length=12, choices=TargetState.choices, default=TargetState.WAITING)
    status = models.CharField(max_length=30, blank=True, help_text="The last status the station reported.")
    status_at = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=30, blank=True, help_text="SignedUpdateFirmware.conf status.")
    detail = models.CharField(max_length=300, blank=True)
    call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life of this update (sent, answered, reported): what the watch job measures.
    progress_at = models.DateTimeField(null=True, blank=True)
    probed_at = models.DateTimeField(null=True, blank=True, help_text="When the CSMS last asked for the status.")
    firmware_version_before = models.CharField(max_length=50, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    last_download_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["update_id", "station_id"]
        constraints = [models.UniqueConstraint(fields=["update", "station"], name="uniq_firmware_update_station")]
        indexes = [models.Index(fields=["station", "-sent_at"]), models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.station_id} in firmware update #{self.update_id}"


class FirmwareStatusReport(models.Model):
    """Every FirmwareStatusNotification and SignedFirmwareStatusNotification a station sent."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="firmware_reports")
    status = models.CharField(max_length=30)
    request_id = models.BigIntegerField(null=True, blank=True)
    signed = models.BooleanField(default=False)
    target = models.ForeignKey(FirmwareUpdateTarget, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="reports", help_text="The update it was about, when known.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]


# --- Diagnostics and logs ----------------------------------------------------------------------------


class DiagnosticsKind(models.TextChoices):
    DIAGNOSTICS = "diagnostics", "diagnostics (GetDiagnostics)"
    LOG = "log", "log (GetLog)"


class LogType(models.TextChoices):
    DIAGNOSTICS_LOG = "DiagnosticsLog"
    SECURITY_LOG = "SecurityLog"


class DiagnosticsState(models.TextChoices):
    PENDING = "pending", "sent, no answer yet"
    ACCEPTED = "accepted", "accepted, upload not started"
    NO_FILE = "no_file", "nothing to upload"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    FAILED = "failed", "upload failed"
    REJECTED = "rejected"
    ERROR = "error", "the request failed"
    EXPIRED = "expired", "no upload in time"
    SUPERSEDED = "superseded", "superseded by a newer request"


OPEN_DIAGNOSTICS_STATES = (DiagnosticsState.PENDING, DiagnosticsState.ACCEPTED, DiagnosticsState.UPLOADING)


def diagnostics_upload_to(request: "DiagnosticsRequest", filename: str) -> str:
    station = safe_filename(request.station_id, "station")
    return f"diagnostics/{station}/{request.pk}-{request.token[:8]}/{safe_filename(filename, 'upload.bin')}"


class DiagnosticsRequest(models.Model):
    """A GetDiagnostics or GetLog sent to a station, and the file it uploaded to the CSMS."""

    # 32-bit: the requestId of GetLog.
    id = models.AutoField(primary_key=True)
    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="diagnostics_requests")
    kind = models.CharField(max_length=12, choices=DiagnosticsKind.choices, default=DiagnosticsKind.DIAGNOSTICS)
    log_type = models.CharField(max_length=20, choices=LogType.choices, blank=True)
    request_id = models.IntegerField(null=True, blank=True, db_index=True)
    start_time = models.DateTimeField(null=True, blank=True)
    stop_time = models.DateTimeField(null=True, blank=True)
    retries = models.PositiveIntegerField(null=True, blank=True)
    retry_interval = models.PositiveIntegerField(null=True, blank=True)
    location = models.CharField(max_length=2000)
    # False when the caller gave its own location (an FTP server): the file never reaches the CSMS.
    served_by_csms = models.BooleanField(default=True)
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=12, choices=DiagnosticsState.choices, default=DiagnosticsState.PENDING)
    status = models.CharField(max_length=30, blank=True, help_text="The last status the station reported.")
    status_at = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=30, blank=True, help_text="GetLog.conf status.")
    file_name = models.CharField(max_length=255, blank=True, help_text="The file name the station announced.")
    detail = models.CharField(max_length=300, blank=True)
    file = models.FileField(upload_to=diagnostics_upload_to, blank=True, max_length=400)
    file_size = models.BigIntegerField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_content_type = models.CharField(max_length=100, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    # The station reported Uploaded: from then on the location refuses files (HTTP 410, FTP 530).
    location_closed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    source = models.CharField(max_length=20, default="system")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} from {self.station_id}"

    @property
    def ocpp_action(self) -> str:
        return "GetLog" if self.kind == DiagnosticsKind.LOG else "GetDiagnostics"

    @property
    def stored_name(self) -> str:
        return self.file.name.rsplit("/", 1)[-1] if self.file else ""


class DiagnosticsStatusReport(models.Model):
    """Every DiagnosticsStatusNotification and LogStatusNotification a station sent."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="diagnostics_reports")
    status = models.CharField(max_length=30)
    request_id = models.BigIntegerField(null=True, blank=True)
    # "diagnostics" (GetDiagnostics) or "log" (GetLog, Security Whitepaper)
    kind = models.CharField(max_length=12, default="diagnostics")
    diagnostics_request = models.ForeignKey(DiagnosticsRequest, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="reports", help_text="The request it was about, when known.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]


# --- One-time FTP accounts -------------------------------------------------------------------------------


class FtpAccount(models.Model):
    """The credentials in one FTP location: a station uploads one diagnostics request's file, or
    downloads one firmware update's image, and nothing else (docs/adr/0056-ftp-server.md)."""

    username = models.CharField(max_length=32, unique=True)
    # SHA-256 of a 144-bit random password: a secret that long needs no slow hash; it is in clear
    # only in the Call sent to the station.
    password_hash = models.CharField(max_length=64, editable=False)
    diagnostics_request = models.ForeignKey(DiagnosticsRequest, null=True, blank=True, on_delete=models.CASCADE,
                                            related_name="ftp_accounts")
    firmware_target = models.ForeignKey(FirmwareUpdateTarget, null=True, blank=True, on_delete=models.CASCADE,
                                        related_name="ftp_accounts")
    expires_at = models.DateTimeField()
    logins = models.PositiveIntegerField(default=0)
    last_login_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(
            condition=models.Q(diagnostics_request__isnull=True) ^ models.Q(firmware_target__isnull=True),
            name="ftp_account_for_one_thing")]

    def __str__(self) -> str:
        return self.username

    @property
    def purpose(self) -> str:
        return "upload" if self.diagnostics_request_id else "download"


# --- Firmware versions each station ran ---------------------------------------------------------------


class FirmwareVersionRecord(models.Model):
    """A firmware version a station booted with, from the first BootNotification that reported it."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="firmware_versions")
    version = models.CharField(max_length=50, blank=True)
    booted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-booted_at", "-id"]
        indexes = [models.Index(fields=["station", "-id"])]

    def __str__(self) -> str:
        return f"{self.station_id}: {self.version or '(none)'}"


# --- Rollouts --------------------------------------------------------------------------------------------


class RolloutState(models.TextChoices):
    RUNNING = "running"
    PAUSED = "paused", "paused by an operator"
    HALTED = "halted", "halted: a wave failed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class FirmwareRollout(models.Model):
    """One firmware for a set of stations, sent in waves; each wave must succeed before the next goes
    (docs/adr/0057-firmware-rollouts.md)."""

    name = models.CharField(max_length=100, blank=True)
    firmware = models.ForeignKey(Firmware, on_delete=models.PROTECT, related_name="rollouts")
    selection = models.JSONField(default=dict, blank=True, help_text="What chose the stations, as asked.")
    failure_threshold_percent = models.PositiveSmallIntegerField(
        default=10, help_text="A wave whose failed stations exceed this share of the stations it reached halts the rollout.")
    wave_timeout_minutes = models.PositiveIntegerField(
        default=120, help_text="A station still without an outcome this long after its wave started has failed.")
    retries = models.PositiveIntegerField(null=True, blank=True)
    retry_interval = models.PositiveIntegerField(null=True, blank=True, help_text="seconds")
    # Where stations fetch a stored file, fixed at creation as for an update (a job has no request).
    base_url = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=RolloutState.choices, default=RolloutState.RUNNING)
    current_wave = models.PositiveSmallIntegerField(default=0, help_text="The wave in progress (1 is the canary).")
    detail = models.CharField(max_length=300, blank=True)
    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    source = models.CharField(max_length=20, default="system")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"rollout #{self.pk}"


class WaveState(models.TextChoices):
    PLANNED = "planned"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed", "failed: halted the rollout"
    ACCEPTED = "accepted", "failed, resumed by an operator"
    CANCELLED = "cancelled"


class RolloutWave(models.Model):
    rollout = models.ForeignKey(FirmwareRollout, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveSmallIntegerField()
    size = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=WaveState.choices, default=WaveState.PLANNED)
    started_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["rollout_id", "number"]
        constraints = [models.UniqueConstraint(fields=["rollout", "number"], name="uniq_rollout_wave")]

    def __str__(self) -> str:
        return f"wave {self.number} of {self.rollout}"


class RolloutOutcome(models.TextChoices):
    PLANNED = "planned", "its wave has not come"
    WAITING = "waiting", "offline: updated when it connects"
    UPDATING = "updating"
    INSTALLED = "installed", "installed, not back with the new version yet"
    SUCCEEDED = "succeeded", "back online with the new version"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


# The station may still get there: its outcome follows its update.
OPEN_OUTCOMES = (RolloutOutcome.WAITING, RolloutOutcome.UPDATING, RolloutOutcome.INSTALLED)


class RolloutStation(models.Model):
    """One station of a rollout: its wave, the update it was sent and how it ended."""

    rollout = models.ForeignKey(FirmwareRollout, on_delete=models.CASCADE, related_name="stations")
    # None: left out of the waves (it already ran the firmware's version when the rollout was made).
    wave = models.ForeignKey(RolloutWave, null=True, blank=True, on_delete=models.CASCADE, related_name="stations")
    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="rollout_entries")
    target = models.ForeignKey(FirmwareUpdateTarget, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="rollout_entries")
    outcome = models.CharField(max_length=10, choices=RolloutOutcome.choices, default=RolloutOutcome.PLANNED)
    detail = models.CharField(max_length=300, blank=True)
    version_before = models.CharField(max_length=50, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rollout_id", "wave__number", "station_id"]
        constraints = [models.UniqueConstraint(fields=["rollout", "station"], name="uniq_rollout_station")]
        indexes = [models.Index(fields=["station", "outcome"])]

    def __str__(self) -> str:
        return f"{self.station_id} in {self.rollout}"
