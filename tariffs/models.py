"""Tariffs shaped as OCPI 2.2.1's Tariff object, the versions transactions are priced by, which
tariff applies where, and each transaction's priced record (docs/adr/0100-tariff-model.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .currencies import is_currency
from .engine import WEEKDAYS

NOT_NEGATIVE = [MinValueValidator(0)]
VAT_RANGE = [MinValueValidator(0), MaxValueValidator(100)]


class TariffType(models.TextChoices):
    """OCPI TariffType: which sessions a tariff is for (none given: all)."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class ReservationRestriction(models.TextChoices):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


def _price(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=6, null=True, blank=True,
                               validators=NOT_NEGATIVE)


class Tariff(models.Model):
    """A tariff: OCPI's Tariff object plus a name, and whether it is the default."""

    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. EUR.")
    type = models.CharField(max_length=20, choices=TariffType.choices, blank=True,
                            help_text="OCPI tariff type; empty: valid for all sessions.")
    alt_text = models.JSONField(default=list, blank=True,
                                help_text='OCPI tariff_alt_text: [{"language": "en", "text": "..."}]')
    alt_url = models.URLField(max_length=255, blank=True)
    min_price_excl_vat = _price("minimum price excl. VAT")
    min_price_incl_vat = _price("minimum price incl. VAT")
    max_price_excl_vat = _price("maximum price excl. VAT")
    max_price_incl_vat = _price("maximum price incl. VAT")
    start_date_time = models.DateTimeField(null=True, blank=True, help_text="Valid from (UTC).")
    end_date_time = models.DateTimeField(null=True, blank=True, help_text="Valid until (UTC).")
    energy_mix = models.JSONField(null=True, blank=True, help_text="OCPI EnergyMix, as given.")
    is_default = models.BooleanField(default=False, help_text="Prices stations without a tariff of their own.")
    current_version = models.ForeignKey("TariffVersion", null=True, blank=True, editable=False,
                                        on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_tariff",
                                    violation_error_message="Another tariff is already the default."),
            models.CheckConstraint(
                condition=(Q(min_price_excl_vat__isnull=True) | Q(min_price_excl_vat__gte=0))
                & (Q(min_price_incl_vat__isnull=True) | Q(min_price_incl_vat__gte=0))
                & (Q(max_price_excl_vat__isnull=True) | Q(max_price_excl_vat__gte=0))
                & (Q(max_price_incl_vat__isnull=True) | Q(max_price_incl_vat__gte=0)),
                name="tariff_prices_not_negative"),
            models.CheckConstraint(
                condition=Q(start_date_time__isnull=True) | Q(end_date_time__isnull=True)
                | Q(end_date_time__gt=models.F("start_date_time")),
                name="tariff_ends_after_it_starts"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    def clean(self):
        errors = {}
        if self.currency and not is_currency(self.currency):
            errors["currency"] = f"{self.currency!r} is not an ISO 4217 currency code."
        for kind in ("min", "max"):
            if getattr(self, f"{kind}_price_incl_vat") is not None and getattr(self, f"{kind}_price_excl_vat") is None:
                errors[f"{kind}_price_excl_vat"] = "Required when the price incl. VAT is given (OCPI Price)."
        low, high = self.min_price_excl_vat, self.max_price_excl_vat
        if low is not None and high is not None and low > high:
            errors["max_price_excl_vat"] = "Must not be below the minimum price."
        if self.start_date_time and self.end_date_time and self.end_date_time <= self.start_date_time:
            errors["end_date_time"] = "Must be after the start."
        if not isinstance(self.alt_text, list) or not all(
                isinstance(item, dict) and set(item) == {"language", "text"} for item in self.alt_text):
            errors["alt_text"] = 'A list of {"language", "text"} objects.'
        if self.energy_mix is not None and not (isinstance(self.energy_mix, dict)
                                                and isinstance(self.energy_mix.get("is_green_energy"), bool)):
            errors["energy_mix"] = "An OCPI EnergyMix object (is_green_energy at least)."
        if errors:
            raise ValidationError(errors)


class TariffElement(models.Model):
    """One OCPI TariffElement: a price component per dimension, under its restrictions.

    An OCPI element may list several components of one dimension, but only the first can ever
    apply; so an element holds at most one per dimension, one column group each.
    """

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="elements")
    position = models.PositiveSmallIntegerField(default=0, help_text="Elements apply in this order.")

    flat_price = _price("flat fee")
    flat_vat = models.DecimalField("flat VAT %", max_digits=5, decimal_places=2, null=True, blank=True,
                                   validators=VAT_RANGE)
    energy_price = _price("per kWh")
    energy_vat = models.DecimalField("energy VAT %", max_digits=5, decimal_places=2, null=True, blank=True,
                                     validators=VAT_RANGE)
    energy_step = models.PositiveIntegerField("energy step (Wh)", default=1)
    time_price = _price("per hour charging")
    time_vat = models.DecimalField("time VAT %", max_digits=5, decimal_places=2, null=True, blank=True,
                                   validators=VAT_RANGE)
    time_step = models.PositiveIntegerField("time step (s)", default=1)
    parking_price = _price("per hour parking")
    parking_vat = models.DecimalField("parking VAT %", max_digits=5, decimal_places=2, null=True, blank=True,
                                      validators=VAT_RANGE)
    parking_step = models.PositiveIntegerField("parking step (s)", default=1)

    # OCPI TariffRestrictions; times, dates and weekdays in the location's local time.
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True, help_text="Before start_time: wraps past midnight.")
    start_date = models.DateField(null=True, blank=True, help_text="Valid from this day.")
    end_date = models.DateField(null=True, blank=True, help_text="Valid until this day (exclusive).")
    min_kwh = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True, validators=NOT_NEGATIVE)
    max_kwh = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True, validators=NOT_NEGATIVE)
    min_current = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True, validators=NOT_NEGATIVE)
    max_current = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True, validators=NOT_NEGATIVE)
    min_power = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True, validators=NOT_NEGATIVE)
    max_power = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True, validators=NOT_NEGATIVE)
    min_duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    max_duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    day_of_week = models.JSONField(default=list, blank=True, help_text="e.g. [\"MONDAY\", \"TUESDAY\"]; empty: every day.")
    reservation = models.CharField(max_length=20, choices=ReservationRestriction.choices, blank=True)

    class Meta:
        ordering = ["tariff", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(flat_price__isnull=True) | Q(flat_price__gte=0))
                & (Q(energy_price__isnull=True) | Q(energy_price__gte=0))
                & (Q(time_price__isnull=True) | Q(time_price__gte=0))
                & (Q(parking_price__isnull=True) | Q(parking_price__gte=0)),
                name="tariff_element_prices_not_negative"),
            models.CheckConstraint(
                condition=(Q(flat_vat__isnull=True) | Q(flat_vat__gte=0, flat_vat__lte=100))
                & (Q(energy_vat__isnull=True) | Q(energy_vat__gte=0, energy_vat__lte=100))
                & (Q(time_vat__isnull=True) | Q(time_vat__gte=0, time_vat__lte=100))
                & (Q(parking_vat__isnull=True) | Q(parking_vat__gte=0, parking_vat__lte=100)),
                name="tariff_element_vat_in_range"),
        ]

    def __str__(self) -> str:
        return f"element {self.position} of {self.tariff_id}"

    def clean(self):
        errors = {}
        if all(getattr(self, f"{dimension}_price") is None for dimension in ("flat", "energy", "time", "parking")):
            errors["__all__"] = "An element needs at least one price (flat, energy, time or parking)."
        for dimension in ("flat", "energy", "time", "parking"):
            if getattr(self, f"{dimension}_vat") is not None and getattr(self, f"{dimension}_price") is None:
                errors[f"{dimension}_vat"] = "A VAT rate needs its price."
        for low, high in (("min_kwh", "max_kwh"), ("min_current", "max_current"), ("min_power", "max_power"),
                          ("min_duration", "max_duration"), ("start_date", "end_date")):
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, low) > getattr(self, high):
                errors[high] = f"Must not be below {low}."
        if not isinstance(self.day_of_week, list) or any(day not in WEEKDAYS for day in self.day_of_week):
            errors["day_of_week"] = f"A list of {', '.join(WEEKDAYS)}."
        elif len(set(self.day_of_week)) != len(self.day_of_week):
            errors["day_of_week"] = "Each day once."
        if self.reservation and (self.energy_price is not None or self.parking_price is not None):
            errors["reservation"] = "A reservation element prices only a flat fee and time (OCPI)."
        if errors:
            raise ValidationError(errors)


class TariffVersion(models.Model):
    """A tariff as it was between two changes: the OCPI Tariff object a transaction is priced by.

    Never changed once written, and kept when its tariff is deleted, so that a change to a tariff
    never changes what past sessions cost.
    """

    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField(help_text="The OCPI Tariff object, with the tariff's name.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tariff", "number"], name="uniq_tariff_version")]

    def __str__(self) -> str:
        return f"{self.document.get('name', self.tariff_id)} v{self.number}"


class TariffAssignment(models.Model):
    """Which tariff prices a station's sessions: per connector, per station, or for all stations of a
    partner; the default tariff for the rest (docs/adr/0100-tariff-model.md)."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="assignments")
    station = models.ForeignKey("stations.ChargeStation", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="tariff_assignments")
    connector_id = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the whole station.")
    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="tariff_assignments", help_text="All stations of this partner.")

    class Meta:
        ordering = ["tariff", "station", "connector_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(station__isnull=False, partner__isnull=True)
                | Q(station__isnull=True, partner__isnull=False, connector_id__isnull=True),
                name="tariff_assignment_one_scope",
                violation_error_message="Assign to a station (perhaps one connector of it) or to a partner."),
            models.UniqueConstraint(fields=["station", "connector_id"], condition=Q(connector_id__isnull=False),
                                    name="one_tariff_per_connector",
                                    violation_error_message="This connector already has a tariff."),
            models.UniqueConstraint(fields=["station"], condition=Q(station__isnull=False, connector_id__isnull=True),
                                    name="one_tariff_per_station",
                                    violation_error_message="This station already has a tariff."),
            models.UniqueConstraint(fields=["partner"], condition=Q(partner__isnull=False),
                                    name="one_tariff_per_partner",
                                    violation_error_message="This partner already has a tariff."),
        ]

    def __str__(self) -> str:
        if self.partner_id:
            return f"{self.tariff} for partner {self.partner}"
        where = self.station_id if self.connector_id is None else f"{self.station_id}#{self.connector_id}"
        return f"{self.tariff} at {where}"


class TransactionCost(models.Model):
    """What a transaction costs: the tariff version pinned at its start, and once it has stopped the
    usage it was priced on and the final breakdown (the charge detail record's figures)."""

    transaction = models.OneToOneField("transactions.Transaction", primary_key=True, on_delete=models.CASCADE,
                                       related_name="cost_record")
    tariff_version = models.ForeignKey(TariffVersion, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    # No database constraint: a tariff deleted while a StartTransaction pins it must not fail that
    # station Call at its COMMIT; the id then names a deleted tariff, whose version stays.
    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               db_constraint=False,
                               help_text="The tariff the version belongs to (empty once that tariff is deleted).")
    currency = models.CharField(max_length=3, blank=True)
    final = models.BooleanField(default=False, help_text="Priced at StopTransaction; never recomputed.")
    energy_wh = models.DecimalField(max_digits=16, decimal_places=3, null=True, blank=True)
    duration_s = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    parking_s = models.DecimalField("idle time (s)", max_digits=14, decimal_places=3, null=True, blank=True)
    cost_excl_vat = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    cost_incl_vat = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    breakdown = models.JSONField(null=True, blank=True)
    priced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "transaction cost"

    def __str__(self) -> str:
        return f"cost of transaction #{self.transaction_id}"
