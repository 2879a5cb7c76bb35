from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

# idTags are case-insensitive: one tag whatever its case (transactions/id_tags.py).
ID_TAG_CASE_INSENSITIVE_UNIQUE = "uniq_id_tag_case_insensitive"


class AuthorizationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class IdTag(models.Model):
    """An RFID card or app token, as OCPP's idTag; tags sharing a parent form a group."""

    id_tag = models.CharField("idTag", max_length=20, unique=True)
    parent_id_tag = models.CharField("parent idTag", max_length=20, blank=True)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="id_tags"
    )
    expiry_date = models.DateTimeField(null=True, blank=True)
    blocked = models.BooleanField(default=False)
    max_active_transactions = models.IntegerField(
        default=1, help_text="Open Accepted transactions allowed at once: 0 blocks the tag, negative is unlimited."
    )
    description = models.CharField(max_length=200, blank=True)
    # False for a tag that must be checked online at every use (an OCPI token whose whitelist is NEVER):
    # kept off local lists, and its idTagInfo expires at once so the station does not cache it.
    offline_allowed = models.BooleanField(
        default=True, help_text="Off: checked online at every use, never cached by the station nor put in local lists.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id_tag"]
        verbose_name = "id tag"
        constraints = [models.UniqueConstraint(Upper("id_tag"), name=ID_TAG_CASE_INSENSITIVE_UNIQUE)]

    def __str__(self) -> str:
        return self.id_tag


class Transaction(models.Model):
    """A charging session; its primary key is the OCPP transactionId."""

    id = models.AutoField("transactionId", primary_key=True)
    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="transactions")
    connector_id = models.PositiveIntegerField()
    id_tag = models.CharField("idTag", max_length=20)
    # The status answered in StartTransaction.conf; only Accepted sessions count toward limits.
    id_tag_status = models.CharField(max_length=20, choices=AuthorizationStatus.choices)
    meter_start = models.IntegerField(help_text="Wh")
    started_at = models.DateTimeField(help_text="The station's timestamp.")
    reservation_id = models.IntegerField(null=True, blank=True)
    # Latest Energy.Active.Import.Register reading in Wh, kept current by MeterValues.
    meter_last = models.DecimalField(max_digits=16, decimal_places=3, null=True, blank=True)
    meter_last_at = models.DateTimeField(null=True, blank=True)

    meter_stop = models.IntegerField(null=True, blank=True, help_text="Wh")
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="The station's timestamp.")
    stop_reason = models.CharField(max_length=20, blank=True)
    stop_id_tag = models.CharField(max_length=20, blank=True)
    # Stopped by a tag that is neither the starter nor of its group: kept for the operator.
    stop_tag_mismatch = models.BooleanField(default=False)

    remote_start_call = models.ForeignKey(
        "ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["station", "connector_id", "stopped_at"]),
            models.Index(fields=["id_tag", "stopped_at"]),
            # A tag's open transactions, whatever the case it was presented in (ConcurrentTx).
            models.Index(Upper("id_tag"), "stopped_at", name="tx_id_tag_ci_open_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.station_id}/{self.connector_id}"

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    @property
    def energy_wh(self):
        if self.meter_stop is not None:
            return self.meter_stop - self.meter_start
        if self.meter_last is not None:
            value = self.meter_last - self.meter_start
            return int(value) if value == value.to_integral_value() else value
        return 0


class MeterValue(models.Model):
    """One sampled value, with everything OCPP says about it."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="meter_values")
    connector_id = models.PositiveIntegerField()
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.CASCADE, related_name="meter_values"
    )
    # The transactionId as the station sent it (kept when it matches no transaction).
    reported_transaction_id = models.IntegerField(null=True, blank=True)
    timestamp = models.DateTimeField()
    value = models.CharField(max_length=2500, help_text="As sent; SignedData can be long.")
    numeric_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    measurand = models.CharField(max_length=40, default="Energy.Active.Import.Register")
    phase = models.CharField(max_length=10, blank=True)
    unit = models.CharField(max_length=12, default="Wh")
    context = models.CharField(max_length=25, default="Sample.Periodic")
    location = models.CharField(max_length=10, default="Outlet")
    format = models.CharField(max_length=12, default="Raw")
    # MeterValues, or the transactionData of StopTransaction
    source = models.CharField(max_length=20, default="MeterValues")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [
            models.Index(fields=["transaction", "timestamp"]),
            models.Index(fields=["station", "connector_id", "timestamp"]),
        ]

    def __str__(self) -> str:
        measurand = f"{self.measurand}.{self.phase}" if self.phase else self.measurand
        return f"{measurand} {self.value} {self.unit} at {self.timestamp:%Y-%m-%d %H:%M:%S} ({self.station_id}#{self.connector_id})"


class UnmatchedStopTransaction(models.Model):
    """A StopTransaction for a transactionId the CSMS does not know (or -1): answered, kept here."""

    station = models.ForeignKey("stations.ChargeStation", on_delete=models.CASCADE, related_name="+")
    transaction_id = models.IntegerField()
    id_tag = models.CharField(max_length=20, blank=True)
    meter_stop = models.IntegerField()
    timestamp = models.DateTimeField()
    reason = models.CharField(max_length=20)
    transaction_data = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"StopTransaction for unknown transaction {self.transaction_id} from {self.station_id}"
