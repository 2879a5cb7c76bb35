"""Admin: the profile library (periods inline), what each station holds, and composite schedules as
step charts. Actions that need parameters ask for them on an intermediate page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from csms.admin.actions import AdminAction, AdminActionsMixin, admin_action, each_call
from csms.admin.records import MirrorAdmin

from . import presentation, selectors
from .services import commands, library
from .forms import AssignForm, ClearForm, CompositeRequestForm, RemoteStartForm
from .models import (
    ChargingProfile,
    ChargingProfileAssignment,
    ChargingSchedulePeriod,
    InstalledChargingProfile,
    StationCompositeSchedule,
    StationSmartCharging,
)

STATION_PAGE_HOURS = 24
REFUSED = "{label}: refused, nothing sent — {reason}"

# --- Actions: one service call per selected profile or station, each sending one Call --------------------

ASSIGN = AdminAction(
    name="assign_to_station", description="Send to a station (SetChargingProfile)…", form_class=AssignForm,
    title="Send charging profiles to a station", submit_label="Send SetChargingProfile", refusal=REFUSED,
    run=each_call(label=lambda profile, data: f"{profile} to {data['station']}#{data['connector_id']}",
                  send=lambda profile, data, user: commands.charging_profile_assign(
                      station=data["station"], profile=profile, connector_id=data["connector_id"],
                      transaction_id=data["transaction_id"], requested_by=user, source="admin")))
REMOTE_START = AdminAction(
    name="remote_start", description="Remote start with this TxProfile…", form_class=RemoteStartForm,
    title="Remote start with a charging profile", submit_label="Send RemoteStartTransaction", refusal=REFUSED,
    run=each_call(label=lambda profile, data: f"remote start with {profile} on {data['station']}",
                  send=lambda profile, data, user: commands.charging_profile_remote_start(
                      station=data["station"], profile=profile, id_tag=data["id_tag"],
                      connector_id=data["connector_id"], requested_by=user, source="admin")))
CLEAR = AdminAction(
    name="clear_profiles", description="Clear charging profiles (ClearChargingProfile)…", form_class=ClearForm,
    title="Clear charging profiles (empty fields match everything)", submit_label="Send ClearChargingProfile",
    refusal=REFUSED,
    run=each_call(label=lambda station, data: f"clear on {station}",
                  send=lambda station, data, user: commands.charging_profiles_clear(
                      station=station, charging_profile_id=data["id"], connector_id=data["connector_id"],
                      purpose=data["purpose"] or None, stack_level=data["stack_level"], requested_by=user,
                      source="admin")))
COMPOSITE = AdminAction(
    name="request_composite", description="Ask for the station's composite schedule (GetCompositeSchedule)…",
    form_class=CompositeRequestForm, title="Ask stations for their composite schedule",
    submit_label="Send GetCompositeSchedule", refusal=REFUSED,
    run=each_call(label=lambda station, data: f"composite schedule of {station}",
                  send=lambda station, data, user: commands.composite_schedule_request(
                      station=station, connector_id=data["connector_id"], duration=data["duration"],
                      charging_rate_unit=data["charging_rate_unit"] or None, requested_by=user, source="admin")))


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
class ChargingProfileAdmin(AdminActionsMixin, admin.ModelAdmin):
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
    actions = [admin_action(ASSIGN), admin_action(REMOTE_START)]

    @admin.display(description="limit over time")
    def chart(self, obj):
        return presentation.library_profile_chart(obj) if obj.pk else "—"


# --- What stations hold ------------------------------------------------------------------------------


@admin.register(InstalledChargingProfile)
class InstalledChargingProfileAdmin(MirrorAdmin):
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
class ChargingProfileAssignmentAdmin(MirrorAdmin):
    list_display = ["id", "station", "connector_id", "profile", "via", "status", "detail", "transaction", "created_at"]
    list_filter = ["status", "via"]
    search_fields = ["station__id"]
    readonly_fields = [f.name for f in ChargingProfileAssignment._meta.fields]


@admin.register(StationCompositeSchedule)
class StationCompositeScheduleAdmin(MirrorAdmin):
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
class StationSmartChargingAdmin(AdminActionsMixin, MirrorAdmin):
    list_display = ["id", "online", "profile_count", "vendor", "model"]
    list_filter = ["online"]
    search_fields = ["id"]
    fields = ["id", "online", "installed_profiles", "composite_schedules", "station_reports"]
    readonly_fields = fields
    actions = [admin_action(CLEAR), admin_action(COMPOSITE)]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(profile_total=Count("charging_profiles"))

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
