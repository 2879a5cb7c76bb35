"""Webhook endpoints of partners (and staff), the deliveries queued for them and every attempt made
(docs/adr/0102-webhooks.md)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Event(models.TextChoices):
    STATION_CONNECTED = "station.connected"
    STATION_DISCONNECTED = "station.disconnected"
    CONNECTOR_STATUS = "connector.status"
    TRANSACTION_STARTED = "transaction.started"
    TRANSACTION_UPDATED = "transaction.updated"
    TRANSACTION_STOPPED = "transaction.stopped"
    CALL_COMPLETED = "call.completed"
    FIRMWARE_STATUS = "firmware.status"
    SECURITY_EVENT = "security.event"
    ALERT_RAISED = "alert.raised"


# Sent only when asked for (POST .../ping/), to check a receiver's signature verification.
PING = "ping"


class WebhookEndpoint(models.Model):
    """Where a partner (or staff, with no partner: every event) wants to be told what happened."""

    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="webhook_endpoints",
                                help_text="Receives events about this partner's stations, tags and transactions "
                                          "only; empty: a staff endpoint receiving every event.")
    url = models.URLField(max_length=500, help_text="http or https, without credentials.")
    events = models.JSONField(default=list, help_text="The event types delivered here.")
    # Kept as given: every delivery is signed with it (HMAC-SHA256), so it cannot be hashed.
    secret = models.CharField(max_length=128)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    failing_since = models.DateTimeField(null=True, blank=True,
                                         help_text="First failed attempt since the last success.")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return f"#{self.pk} {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # retried for CSMS_WEBHOOK_RETRY_HOURS without success: given up


class WebhookDelivery(models.Model):
    """One event for one endpoint: the queue row, written in the transaction that made the event."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="X-CSMS-Delivery")
    # No database constraint: an endpoint deleted while another process still had it cached must not
    # fail the station Call whose event queued this row (the check would come at its COMMIT). Such a
    # row matches no endpoint, is never sent, and is pruned.
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 db_constraint=False)
    event = models.CharField(max_length=40)
    payload = models.JSONField(help_text="The event's data, as sent in the body's `data`.")
    occurred_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to #{self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery and how the receiver answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class TransactionUpdateMark(models.Model):
    """What the last transaction.updated said about a running transaction, and when: at most one a
    minute, and none while nothing changed."""

    transaction = models.OneToOneField("transactions.Transaction", primary_key=True, on_delete=models.CASCADE,
                                       related_name="+")
    energy_wh = models.DecimalField(max_digits=16, decimal_places=3)
    cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    sent_at = models.DateTimeField()
