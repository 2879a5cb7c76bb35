from django.conf import settings
from django.db import models
from django.utils import timezone


class ReservationStatus(models.TextChoices):
    REQUESTED = "requested"  # ReserveNow sent, no answer yet
    # The station's answer to ReserveNow, as it gave it
    ACCEPTED = "accepted"
    FAULTED = "faulted"
    OCCUPIED = "occupied"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    # ReserveNow ended without an answer (CallError, timeout, disconnect): nothing is known to be held
    FAILED = "failed"
    # How a held reservation ends
    USED = "used"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# A reservation the station holds, or may hold once it answers.
ACTIVE_STATUSES = (ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED)
# Answers to ReserveNow, lowercased from OCPP's ReservationStatus.
ANSWER_STATUSES = {
    "Accepted": ReservationStatus.ACCEPTED,
    "Faulted": ReservationStatus.FAULTED,
    "Occupied": ReservationStatus.OCCUPIED,
    "Rejected": ReservationStatus.REJECTED,
    "Unavailable": ReservationStatus.UNAVAILABLE,
}


class Reservation(models.Model):
    """A ReserveNow and what became of it; its primary key is the OCPP reservationId."""

    # OCPP integers are 32-bit on most stations: never a BigAutoField here.
    id = models.AutoField("reservationId", primary_key=True)
    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="reservations")
    connector_id = models.PositiveIntegerField(help_text="0: any connector of the station.")
    id_tag = models.CharField("idTag", max_length=20)
    parent_id_tag = models.CharField(
        "parent idTag", max_length=20, blank=True, help_text="Sent with ReserveNow so that the tag's whole group may use it."
    )
    expiry_date = models.DateTimeField()
    status = models.CharField(max_length=12, choices=ReservationStatus.choices, default=ReservationStatus.REQUESTED)
    detail = models.CharField(max_length=300, blank=True, help_text="Why it ended, or what the station said.")

    reserve_call = models.ForeignKey(
        "ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The ReserveNow whose answer decides the status (the latest, after a replacement).",
    )
    cancel_call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    transaction = models.ForeignKey(
        "transactions.Transaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The transaction that used it.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, default="system", help_text="admin, api or system")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["station", "status"]),
            models.Index(fields=["status", "expiry_date"]),
        ]

    def __str__(self) -> str:
        return f"reservation {self.pk} on {self.station_id}/{self.connector_id} for {self.id_tag} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES
