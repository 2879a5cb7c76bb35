"""Admin: the profile library (periods inline), what each station holds, and composite schedules as
step charts. Actions that need parameters ask for them on an intermediate page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from csms.errors import DomainError
from stations.models import ChargeStation

from . import presentation, selectors
from .services import commands, library
from .models import (
    ChargingProfile,
    ChargingProfileAssignment,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedulePeriod,
    InstalledChargingProfile,
    StationCompositeSchedule,
    StationSmartCharging,
)

ACTION_TEMPLATE = "admin/smartcharging/action_form.html"
STATION_PAGE_HOURS = 24


def _intermediate(modeladmin, request, queryset, *, form, action: str, title: str, submit: str):
    return render(request, ACTION_TEMPLATE, {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "form": form,
        "action": action,
        "submit_label": submit,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    })


def _report_call(modeladmin, request, what: str, send) -> None:
    try:
        call = send()
    except DomainError as exc:
        modeladmin.message_user(request, f"{what}: refused, nothing sent — {exc.message}", messages.ERROR)
        return
    try:
        link = reverse("admin:ocpp_call_change", args=[call.pk])
    except NoReverseMatch:
        modeladmin.message_user(request, f"{what}: sent as call #{call.pk}")
        return
    modeladmin.message_user(request, format_html('{}: sent as <a href="{}">call #{}</a>', what, link, call.pk))


# --- Action forms ------------------------------------------------------------------------------------


class AssignForm(forms.Form):
    station = forms.ModelChoiceField(queryset=ChargeStation.objects.order_by("id"))
    connector_id = forms.IntegerField(min_value=0, help_text="0: the whole station (ChargePointMaxProfile, shared TxDefaultProfile).")
    transaction_id = forms.IntegerField(required=False, help_text="TxProfile only; empty: the connector's running transaction.")


class RemoteStartForm(forms.Form):
    station = forms.ModelChoiceField(queryset=ChargeStation.objects.order_by("id"))
    id_tag = forms.CharField(max_length=20)
    connector_id = forms.IntegerField(min_value=1, required=False, help_text="Empty: the station chooses.")


class ClearForm(forms.Form):
    id = forms.IntegerField(required=False, label="chargingProfileId")
    connector_id = forms.IntegerField(required=False, min_value=0)
    purpose = forms.ChoiceField(required=False, choices=[("", "any")] + list(ChargingProfilePurpose.choices))
    stack_level = forms.IntegerField(required=False, min_value=0)


class CompositeRequestForm(forms.Form):
    connector_id = forms.IntegerField(min_value=0, initial=0)
    duration = forms.IntegerField(min_value=1, initial=86400, help_text="seconds")
    charging_rate_unit = forms.ChoiceField(required=False, choices=[("", "station's choice")] + list(ChargingRateUnit.choices))


# --- The library ---------------------------------------------------------------------------------


class PeriodInlineFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        periods = sorted(
            (form.cleaned_data for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")),
            key=lambda period: period["start_period"],
        )
        fields = {name: getattr(self.instance, name) for name in library.PROFILE_FIELDS}
        try:
            library.charging_profile_validate(fields=fields, periods=periods)
        except library.ProfileInvalid as exc:
            raise ValidationError([f"{field}: {reason}" for field, reason in exc.errors.items()]) from None


class PeriodInline(admin.TabularInline):
    model = ChargingSchedulePeriod
    formset = PeriodInlineFormSet
    extra = 1
    fields = ["start_period", "limit", "number_phases"]


@admin.register(ChargingProfile)
class ChargingProfileAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "purpose", "kind", "recurrency_kind", "stack_level", "charging_rate_unit",
                    "duration", "partner", "updated_at"]
    list_filter = ["purpose", "kind", "charging_rate_unit", "partner"]
    search_fields = ["name"]
    inlines = [PeriodInline]
    readonly_fields = ["chart", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "partner", "purpose", "stack_level", "kind", "recurrency_kind"]}),
        ("Validity", {"fields": ["valid_from", "valid_to"]}),
        ("Schedule", {"fields": ["charging_rate_unit", "start_schedule", "duration", "min_charging_rate", "chart"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["assign_to_station", "remote_start"]

    @admin.display(description="limit over time")
    def chart(self, obj):
        return presentation.library_profile_chart(obj) if obj.pk else "—"

    @admin.action(description="Send to a station (SetChargingProfile)…", permissions=["change"])
    def assign_to_station(self, request, queryset):
        form = AssignForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            for profile in queryset:
                _report_call(self, request, f"{profile} to {data['station']}#{data['connector_id']}",
                             lambda profile=profile: commands.charging_profile_assign(
                                 station=data["station"], profile=profile, connector_id=data["connector_id"],
                                 transaction_id=data["transaction_id"], requested_by=request.user, source="admin"))
            return None
        return _intermediate(self, request, queryset, form=form, action="assign_to_station",
                             title="Send charging profiles to a station", submit="Send SetChargingProfile")

    @admin.action(description="Remote start with this TxProfile…", permissions=["change"])
    def remote_start(self, request, queryset):
        form = RemoteStartForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            for profile in queryset:
                _report_call(self, request, f"remote start with {profile} on {data['station']}",
                             lambda profile=profile: commands.charging_profile_remote_start(
                                 station=data["station"], profile=profile, id_tag=data["id_tag"],
                                 connector_id=data["connector_id"], requested_by=request.user, source="admin"))
            return None
        return _intermediate(self, request, queryset, form=form, action="remote_start",
                             title="Remote start with a charging profile", submit="Send RemoteStartTransaction")


# --- What stations hold ------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InstalledChargingProfile)
class InstalledChargingProfileAdmin(ReadOnlyAdmin):
    """The mirror: changed only by stations' answers (use ClearChargingProfile to remove)."""

    list_display = ["station", "connector_id", "charging_profile_id", "purpose", "stack_level", "kind",
                    "transaction", "profile", "installed_at"]
    # No station sidebar: a fleet is too long to list; ?station=<chargeBoxId> and search filter.
    list_filter = ["purpose", "kind"]
    search_fields = ["station__id"]
    readonly_fields = ["chart", "station", "charging_profile_id", "connector_id", "purpose", "stack_level", "kind",
                       "transaction", "profile", "assignment", "call", "installed_at", "charging_profile"]

    @admin.display(description="limit over time")
    def chart(self, obj):
        return presentation.ocpp_profile_chart(obj.charging_profile, title=str(obj))


@admin.register(ChargingProfileAssignment)
class ChargingProfileAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "station", "connector_id", "profile", "via", "status", "detail", "transaction", "created_at"]
    list_filter = ["status", "via"]
    search_fields = ["station__id"]
    readonly_fields = [f.name for f in ChargingProfileAssignment._meta.fields]


@admin.register(StationCompositeSchedule)
class StationCompositeScheduleAdmin(ReadOnlyAdmin):
    list_display = ["station", "connector_id", "duration", "status", "agrees", "schedule_start", "received_at"]
    list_filter = ["agrees"]
    search_fields = ["station__id"]
    readonly_fields = ["charts", "station", "call", "connector_id", "duration", "requested_unit", "status",
                       "schedule_start", "agrees", "received_at", "charging_schedule", "csms_schedule"]

    @admin.display(description="station ↔ CSMS")
    def charts(self, obj):
        return side_by_side(obj)


def side_by_side(report: StationCompositeSchedule):
    station_side = (
        presentation.station_schedule_chart(report.charging_schedule, duration=report.duration,
                                            schedule_start=report.schedule_start, title="the station says")
        if report.charging_schedule else format_html("<p>The station sent no schedule ({}).</p>", report.status)
    )
    csms_side = (presentation.composite_chart(report.csms_schedule, title="the CSMS computes")
                 if report.csms_schedule else "—")
    verdict = {True: "they agree", False: "THEY DISAGREE", None: "nothing to compare"}[report.agrees]
    return format_html('<div style="display:flex;gap:12px;flex-wrap:wrap"><div>{}</div><div>{}</div></div><p><b>{}</b></p>',
                       station_side, csms_side, verdict)


# --- One station's smart charging ------------------------------------------------------------------


@admin.register(StationSmartCharging)
class StationSmartChargingAdmin(admin.ModelAdmin):
    list_display = ["id", "online", "profile_count", "vendor", "model"]
    list_filter = ["online"]
    search_fields = ["id"]
    fields = ["id", "online", "installed_profiles", "composite_schedules", "station_reports"]
    readonly_fields = fields
    actions = ["clear_profiles", "request_composite"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(profile_total=Count("charging_profiles"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False, "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="installed profiles", ordering="profile_total")
    def profile_count(self, obj):
        return obj.profile_total

    @admin.display(description="profiles the station holds")
    def installed_profiles(self, obj):
        rows = list(selectors.installed_profiles(obj.pk).select_related("transaction", "profile"))
        links = format_html(
            '<p><a href="{}?station={}">as a list</a> · <a href="{}?station={}">requests and their answers</a></p>',
            reverse("admin:smartcharging_installedchargingprofile_changelist"), obj.pk,
            reverse("admin:smartcharging_chargingprofileassignment_changelist"), obj.pk,
        )
        if not rows:
            return format_html("{}<p>None.</p>", links)
        return links + format_html_join("", "<div style='margin-bottom:10px'><p>{}</p>{}</div>", (
            (f"connector {row.connector_id} · id {row.charging_profile_id} · {row.purpose} level {row.stack_level}"
             + (f" · transaction {row.transaction_id}" if row.transaction_id else "")
             + (f" · from library {row.profile}" if row.profile_id else ""),
             presentation.ocpp_profile_chart(row.charging_profile))
            for row in rows
        ))

    @admin.display(description=f"composite schedules, next {STATION_PAGE_HOURS} h (computed by the CSMS)")
    def composite_schedules(self, obj):
        charts = []
        for connector_id in selectors.station_connector_ids(obj.pk):
            schedule = selectors.composite_schedule(station_id=obj.pk, connector_id=connector_id,
                                                    duration=STATION_PAGE_HOURS * 3600)
            title = "connector 0 (station cap)" if connector_id == 0 else f"connector {connector_id}"
            charts.append(presentation.composite_chart(selectors.schedule_as_dict(schedule), title=title))
        return format_html_join("", "<div style='margin-bottom:10px'>{}</div>", ((chart,) for chart in charts))

    @admin.display(description="the station's own answers (GetCompositeSchedule)")
    def station_reports(self, obj):
        reports = StationCompositeSchedule.objects.filter(station=obj).order_by("-received_at")[:5]
        if not reports:
            return "None yet: use the action “Ask for the station's composite schedule”."
        return mark_safe("".join(  # noqa: S308 - every piece is built by format_html
            format_html('<p><a href="{}">connector {} · {} s · {} · {}</a></p>{}',
                        reverse("admin:smartcharging_stationcompositeschedule_change", args=[r.pk]),
                        r.connector_id, r.duration, r.status, r.received_at, side_by_side(r))
            for r in reports
        ))

    @admin.action(description="Clear charging profiles (ClearChargingProfile)…", permissions=["change"])
    def clear_profiles(self, request, queryset):
        form = ClearForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            for station in queryset:
                _report_call(self, request, f"clear on {station}", lambda station=station: commands.charging_profiles_clear(
                    station=station, charging_profile_id=data["id"], connector_id=data["connector_id"],
                    purpose=data["purpose"] or None, stack_level=data["stack_level"],
                    requested_by=request.user, source="admin"))
            return None
        return _intermediate(self, request, queryset, form=form, action="clear_profiles",
                             title="Clear charging profiles (empty fields match everything)",
                             submit="Send ClearChargingProfile")

    @admin.action(description="Ask for the station's composite schedule (GetCompositeSchedule)…", permissions=["change"])
    def request_composite(self, request, queryset):
        form = CompositeRequestForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            for station in queryset:
                _report_call(self, request, f"composite schedule of {station}", lambda station=station: commands.composite_schedule_request(
                    station=station, connector_id=data["connector_id"], duration=data["duration"],
                    charging_rate_unit=data["charging_rate_unit"] or None, requested_by=request.user, source="admin"))
            return None
        return _intermediate(self, request, queryset, form=form, action="request_composite",
                             title="Ask stations for their composite schedule", submit="Send GetCompositeSchedule")
