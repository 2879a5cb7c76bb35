"""Smart charging: the profile library, what each station holds, and composite schedules."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from stations.models import ChargeStation


class ChargingProfilePurpose(models.TextChoices):
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class ChargingProfileKind(models.TextChoices):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class RecurrencyKind(models.TextChoices):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class ChargingRateUnit(models.TextChoices):
    A = "A", "A (amperes per phase)"
    W = "W", "W (watts, all phases)"


class ChargingProfile(models.Model):
    """A library profile, designed once by staff (or a partner) and sent to any number of stations."""

    name = models.CharField(max_length=100, blank=True)
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.CASCADE, related_name="charging_profiles",
        help_text="Empty: a CSMS-wide profile every partner may use.",
    )
    stack_level = models.PositiveIntegerField(default=0)
    purpose = models.CharField(max_length=25, choices=ChargingProfilePurpose.choices)
    kind = models.CharField(max_length=10, choices=ChargingProfileKind.choices, default=ChargingProfileKind.ABSOLUTE)
    recurrency_kind = models.CharField(max_length=10, choices=RecurrencyKind.choices, null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds; empty: the last period lasts.")
    start_schedule = models.DateTimeField(null=True, blank=True)
    charging_rate_unit = models.CharField(max_length=1, choices=ChargingRateUnit.choices)
    min_charging_rate = models.DecimalField(max_digits=12, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        label = self.name or f"{self.purpose} level {self.stack_level}"
        return f"#{self.pk} {label}"


class ChargingSchedulePeriod(models.Model):
    profile = models.ForeignKey(ChargingProfile, on_delete=models.CASCADE, related_name="periods")
    start_period = models.PositiveIntegerField(help_text="Seconds from the start of the schedule.")
    limit = models.DecimalField(max_digits=12, decimal_places=1, help_text="In the profile's unit; steps of 0.1.")
    number_phases = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )

    class Meta:
        ordering = ["profile_id", "start_period"]
        constraints = [models.UniqueConstraint(fields=["profile", "start_period"], name="uniq_profile_period_start")]

    def __str__(self) -> str:
        return f"{self.start_period}s: {self.limit}"


class AssignmentStatus(models.TextChoices):
    REQUESTED = "requested"
    INSTALLED = "installed"
    AWAITING_TRANSACTION = "awaiting_transaction", "remote start accepted, awaiting its transaction"
    REJECTED = "rejected"
    NOT_SUPPORTED = "not_supported"
    FAILED = "failed", "failed (no answer or an error)"


class ChargingProfileAssignment(models.Model):
    """One request to install a library profile on a station. Its id is the chargingProfileId sent,
    so every installation has its own (docs/adr/0030-charging-profile-ids.md)."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="charging_profile_assignments")
    profile = models.ForeignKey(ChargingProfile, null=True, on_delete=models.SET_NULL, related_name="assignments")
    connector_id = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: a remote start's choice.")
    transaction = models.ForeignKey(
        "transactions.Transaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=30, help_text="SetChargingProfile or RemoteStartTransaction")
    call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=25, choices=AssignmentStatus.choices, default=AssignmentStatus.REQUESTED)
    detail = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"chargingProfileId {self.pk} → {self.station_id} ({self.status})"


class InstalledChargingProfile(models.Model):
    """A profile the station accepted, as the CSMS believes the station holds it now."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="charging_profiles")
    charging_profile_id = models.IntegerField("chargingProfileId")
    connector_id = models.PositiveIntegerField()
    purpose = models.CharField(max_length=25, choices=ChargingProfilePurpose.choices)
    stack_level = models.IntegerField()
    kind = models.CharField(max_length=10, choices=ChargingProfileKind.choices)
    transaction = models.ForeignKey(
        "transactions.Transaction", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # csChargingProfiles exactly as sent (transactionId filled in for a remote start's profile).
    charging_profile = models.JSONField()
    profile = models.ForeignKey(
        ChargingProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="installations",
        help_text="The library profile it came from, when it came from the library.",
    )
    assignment = models.ForeignKey(
        ChargingProfileAssignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    installed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["station_id", "connector_id", "purpose", "-stack_level"]
        constraints = [
            models.UniqueConstraint(fields=["station", "charging_profile_id"], name="uniq_installed_profile_id")
        ]

    def __str__(self) -> str:
        return f"{self.station_id}#{self.connector_id} {self.purpose} level {self.stack_level} (id {self.charging_profile_id})"


class StationCompositeSchedule(models.Model):
    """A station's answer to GetCompositeSchedule, beside what the CSMS computed for the same window."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="composite_schedules")
    call = models.OneToOneField("ocpp.Call", null=True, on_delete=models.SET_NULL, related_name="+")
    connector_id = models.PositiveIntegerField()
    duration = models.PositiveIntegerField()
    requested_unit = models.CharField(max_length=1, blank=True)
    status = models.CharField(max_length=50, help_text="Accepted, Rejected, or why no answer came.")
    schedule_start = models.DateTimeField(null=True, blank=True)
    # The station's chargingSchedule, as answered.
    charging_schedule = models.JSONField(null=True, blank=True)
    # The CSMS's own composite for the same start, duration and unit.
    csms_schedule = models.JSONField(null=True, blank=True)
    agrees = models.BooleanField(null=True, help_text="Whether the station's periods equal the CSMS's.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id}#{self.connector_id} composite ({self.status})"


class StationSmartCharging(ChargeStation):
    """A station seen through smart charging in admin: its profiles and composite schedules."""

    class Meta:
        proxy = True
        verbose_name = "station smart charging"
        verbose_name_plural = "stations' smart charging"
