from django.db import models
from django.utils import timezone


class FirmwareStatusReport(models.Model):
    """Every FirmwareStatusNotification and SignedFirmwareStatusNotification a station sent."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="firmware_reports")
    status = models.CharField(max_length=30)
    request_id = models.IntegerField(null=True, blank=True)
    signed = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]


class DiagnosticsStatusReport(models.Model):
    """Every DiagnosticsStatusNotification and LogStatusNotification a station sent."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="diagnostics_reports")
    status = models.CharField(max_length=30)
    request_id = models.IntegerField(null=True, blank=True)
    # "diagnostics" (GetDiagnostics) or "log" (GetLog, Security Whitepaper)
    kind = models.CharField(max_length=12, default="diagnostics")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
