"""Alerts: what an operator must look at (a station offline too long, a failed firmware update, a
critical security event...), raised by whichever app notices it, acknowledged by an operator."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Severity(models.TextChoices):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Alert(models.Model):
    kind = models.CharField(max_length=40, db_index=True,
                            help_text="What happened, e.g. station_offline, firmware_failed, security_event.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    station = models.ForeignKey("stations.ChargeStation", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="alerts")
    message = models.CharField(max_length=500)
    # The condition an alert stands for (e.g. "station_offline:CP-1"): while one is open, raising the
    # same key again counts it instead of adding another alert.
    key = models.CharField(max_length=200)
    raised_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    occurrences = models.PositiveIntegerField(default=1)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="When the condition cleared by itself.")

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(resolved_at__isnull=True),
                                               name="uniq_open_alert_key")]
        indexes = [models.Index(fields=["resolved_at", "acknowledged_at"])]

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"

    @property
    def open(self) -> bool:
        return self.resolved_at is None and self.acknowledged_at is None
