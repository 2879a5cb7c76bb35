"""What the OCPP runtime keeps: the Calls the CSMS sends, the answers given to station Calls (so a
retried one is not processed twice) and every frame in and out.

Rows point at the station model named by `CSMS_STATION_MODEL` (like Django's AUTH_USER_MODEL), so
the runtime knows stations only by that name and through the station directory (directory.py).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Direction(models.TextChoices):
    IN = "in", "station → CSMS"
    OUT = "out", "CSMS → station"


class MessageLog(models.Model):
    """Every frame in and out, per station. Written in batches off the station path."""

    # No database constraint: log rows are written in bulk by a background flush and must not
    # fail because a station was deleted meanwhile; retention pruning removes orphans.
    station = models.ForeignKey(
        settings.CSMS_STATION_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=72, blank=True)
    action = models.CharField(max_length=50, blank=True)
    frame = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "-created_at"], name="ocpp_msglog_station_idx")]
        verbose_name = "message log entry"
        verbose_name_plural = "message log"

    def __str__(self) -> str:
        arrow = "→ CSMS" if self.direction == Direction.IN else "→ station"
        return f"{self.station_id} {arrow} {self.action or self.message_id}"


class ProcessedCall(models.Model):
    """The answer given to each station Call, so that a retried Call is not processed twice."""

    station = models.ForeignKey(settings.CSMS_STATION_MODEL, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=36)
    action = models.CharField(max_length=50)
    payload_digest = models.CharField(max_length=64)
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["station", "message_id"], name="uniq_processed_call")]

    def __str__(self) -> str:
        return f"{self.action} {self.message_id} from {self.station_id}"


class CallStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    COMPLETED = "completed"
    ERROR = "error"
    TIMEOUT = "timeout"


class Call(models.Model):
    """A CSMS-initiated Call: who asked, what was sent and what the station answered."""

    FINISHED = (CallStatus.COMPLETED, CallStatus.ERROR, CallStatus.TIMEOUT)

    station = models.ForeignKey(settings.CSMS_STATION_MODEL, on_delete=models.CASCADE, related_name="calls")
    action = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=CallStatus.choices, default=CallStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, default="system", help_text="admin, api or system")
    response = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_description = models.TextField(blank=True)
    error_details = models.JSONField(null=True, blank=True)
    # Free-form link to what the call serves (a reservation, a sync, a profile assignment...).
    context = models.JSONField(default=dict, blank=True)
    # The mailbox of the node that enqueued the call (csms/ocpp/mailbox.py): told when it finishes, so
    # that a request waiting there (?wait) answers at once, whichever node the station is on.
    reply_to = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "status"], name="ocpp_call_station_status_idx")]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk} to {self.station_id} ({self.status})"

    @property
    def message_id(self) -> str:
        return str(self.pk)

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED
