"""Tariffs in the operator's console: elements edited in place, where each tariff applies, its
versions, and a preview of what a session would cost."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils import timezone

from csms.admin.presentation import GREEN, GREY, badge, pretty_json
from csms.admin.records import ReadOnlyAdmin

from .engine import WEEKDAYS, Usage, cost_compute
from .models import Tariff, TariffAssignment, TariffElement, TariffVersion
from .selectors import tariff_summary, tariff_zone
from .services import tariff_delete, tariff_version_record


class TariffElementForm(forms.ModelForm):
    day_of_week = forms.MultipleChoiceField(choices=[(day, day.title()) for day in WEEKDAYS], required=False,
                                            widget=forms.CheckboxSelectMultiple, help_text="None ticked: every day.")

    class Meta:
        model = TariffElement
        fields = "__all__"


class TariffElementInline(admin.StackedInline):
    model = TariffElement
    form = TariffElementForm
    extra = 0
    min_num = 1
    fieldsets = [
        (None, {"fields": ["position"]}),
        ("Prices (excl. VAT; leave empty where this element prices nothing)", {"fields": [
            ("flat_price", "flat_vat"), ("energy_price", "energy_vat", "energy_step"),
            ("time_price", "time_vat", "time_step"), ("parking_price", "parking_vat", "parking_step")]}),
        ("Restrictions (all must hold; times, dates and weekdays in the tariff time zone)", {"fields": [
            ("start_time", "end_time"), ("start_date", "end_date"), "day_of_week", ("min_kwh", "max_kwh"),
            ("min_power", "max_power"), ("min_current", "max_current"), ("min_duration", "max_duration"),
            "reservation"]}),
    ]


class TariffAssignmentInline(admin.TabularInline):
    model = TariffAssignment
    extra = 0
    autocomplete_fields = ["station", "partner"]
    verbose_name = "where it applies"
    verbose_name_plural = "where it applies (a station, one connector of it, or every station of a partner)"


class PreviewForm(forms.Form):
    minutes = forms.IntegerField(min_value=0, initial=45, label="charging (min)")
    kwh = forms.DecimalField(min_value=0, initial=Decimal("22"), decimal_places=3, label="energy (kWh)")
    parked_minutes = forms.IntegerField(min_value=0, initial=0, label="parked after (min)")
    start = forms.DateTimeField(required=False, label="starting at", help_text="Empty: now.")


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "summary", "default_badge", "validity", "version", "last_updated"]
    list_filter = ["is_default", "currency", "type"]
    search_fields = ["name"]
    inlines = [TariffElementInline, TariffAssignmentInline]
    readonly_fields = ["version", "last_updated", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "currency", "is_default", "type"]}),
        ("Price limits (OCPI min_price / max_price)", {"fields": [
            ("min_price_excl_vat", "min_price_incl_vat"), ("max_price_excl_vat", "max_price_incl_vat")]}),
        ("Validity", {"fields": [("start_date_time", "end_date_time")]}),
        ("For drivers", {"fields": ["alt_text", "alt_url", "energy_mix"], "classes": ["collapse"]}),
        ("Versions", {"fields": ["version", "last_updated", "created_at"]}),
    ]
    change_form_template = "admin/tariffs/tariff/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("current_version")

    @admin.display(description="prices")
    def summary(self, tariff):
        return tariff_summary(tariff.current_version.document) if tariff.current_version else "—"

    @admin.display(description="default", ordering="is_default", boolean=False)
    def default_badge(self, tariff):
        return badge("default", GREEN) if tariff.is_default else ""

    @admin.display(description="valid")
    def validity(self, tariff):
        if not tariff.start_date_time and not tariff.end_date_time:
            return "always"
        start = tariff.start_date_time.date().isoformat() if tariff.start_date_time else "…"
        end = tariff.end_date_time.date().isoformat() if tariff.end_date_time else "…"
        return f"{start} to {end}"

    @admin.display(description="version")
    def version(self, tariff):
        return tariff.current_version.number if tariff.current_version else "—"

    def save_related(self, request, form, formsets, change):
        # The elements are saved with the tariff; what sessions are priced by is the version
        # written from both together.
        super().save_related(request, form, formsets, change)
        version = tariff_version_record(tariff=form.instance)
        self.message_user(request, f"{form.instance.name} is at version {version.number}; sessions already running "
                                   "keep the version they started with.", messages.INFO)

    # Deleting goes through the service: partners that were sent the tariff are told (tariff_changed).
    def delete_model(self, request, obj):
        tariff_delete(tariff=obj)

    def delete_queryset(self, request, queryset):
        for tariff in queryset:
            tariff_delete(tariff=tariff)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tariff = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if tariff is not None and tariff.current_version is not None:
            extra.update(self._preview(request, tariff.current_version.document))
            extra["versions_url"] = f"../../tariffversion/?tariff__id__exact={tariff.pk}"
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @staticmethod
    def _preview(request, document: dict) -> dict:
        """What a session of the operator's choosing costs under the current version."""
        form = PreviewForm(request.GET if "minutes" in request.GET else None)
        if form.is_bound and not form.is_valid():
            return {"preview_form": form}
        values = form.cleaned_data if form.is_bound else {name: field.initial for name, field in form.fields.items()}
        start = values.get("start") or timezone.now().replace(second=0, microsecond=0)
        charging_end = start + timedelta(minutes=values["minutes"])
        end = charging_end + timedelta(minutes=values["parked_minutes"])
        usage = Usage(start=start, end=end, energy_wh=Decimal(values["kwh"]) * 1000,
                      readings=((charging_end, Decimal(values["kwh"]) * 1000),),
                      parked=((charging_end, end),) if end > charging_end else ())
        cost = cost_compute(document, usage, tariff_zone())
        return {"preview_form": form, "preview": cost, "preview_dimensions": cost.dimensions(),
                "preview_values": values, "preview_start": start}


@admin.register(TariffVersion)
class TariffVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "tariff", "number", "created_at"]
    list_filter = ["tariff"]
    fields = ["tariff", "number", "created_at", "document_pretty"]
    readonly_fields = fields

    @admin.display(description="OCPI document")
    def document_pretty(self, version):
        return pretty_json(version.document)


@admin.register(TariffAssignment)
class TariffAssignmentAdmin(admin.ModelAdmin):
    list_display = ["tariff", "station", "connector_id", "partner", "scope"]
    list_filter = ["tariff"]
    search_fields = ["station__id", "partner__name", "tariff__name"]
    autocomplete_fields = ["station", "partner"]

    @admin.display(description="scope")
    def scope(self, assignment):
        if assignment.partner_id:
            return badge("partner", GREY)
        return badge("connector" if assignment.connector_id else "station", GREY)
