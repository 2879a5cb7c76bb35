"""Firmware files, firmware updates (per station), rollouts, diagnostics/log uploads, FTP accounts,
firmware versions and what stations reported.

Operators start updates and uploads from the charge stations list ("Update firmware…", "Request
diagnostics / logs…", admin_actions.py; docs/adr/0055-firmware-admin.md) and rollouts here (add,
then pause, resume, cancel, retry the failed; docs/adr/0057-firmware-rollouts.md). Reports and
per-station progress are records: shown, never edited.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from csms.admin.actions import AdminActionsMixin, admin_action
from csms.admin.filters import InputFilter, StationFilter
from csms.admin.presentation import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    RED,
    TEAL,
    admin_link,
    badge,
    call_link,
    changelist_url,
    online_badge,
)
from csms.admin.records import ReadOnlyAdmin, StationColumnMixin
from stations.selectors import stations_visible_to

from . import selectors
from .services import files, locations, rollouts
from .admin_actions import CANCEL_UPDATES, RETRY_UPDATES, ROLLOUT_ACTIONS
from .forms import FirmwareAdminForm, RolloutAdminForm
from .models import (
    DiagnosticsRequest,
    DiagnosticsState,
    DiagnosticsStatusReport,
    Firmware,
    FirmwareRollout,
    FirmwareStatusReport,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    FirmwareVersionRecord,
    FtpAccount,
    RolloutOutcome,
    RolloutState,
    RolloutStation,
    RolloutWave,
    TargetState,
    WaveState,
)
from .views import serve_file

# Statuses of FirmwareStatusNotification, DiagnosticsStatusNotification and their Security Whitepaper
# counterparts, by what they mean for the operator.
SUCCESS = {"Installed", "Uploaded", "Idle", "SignatureVerified"}
FAILURE = {"DownloadFailed", "InstallationFailed", "UploadFailed", "UploadFailure", "InvalidSignature",
           "InstallVerificationFailed", "InvalidCertificate", "RevokedCertificate", "BadMessage", "PermissionDenied",
           "NotSupportedOperation"}
STATE_COLOURS = {
    TargetState.WAITING: GREY, TargetState.SENT: BLUE, TargetState.ACCEPTED: BLUE, TargetState.IN_PROGRESS: BLUE,
    TargetState.STUCK: ORANGE, TargetState.INSTALLED: GREEN, TargetState.FAILED: RED, TargetState.REJECTED: RED,
    TargetState.ERROR: RED, TargetState.CANCELLED: GREY, TargetState.EXPIRED: ORANGE, TargetState.SUPERSEDED: GREY,
    DiagnosticsState.PENDING: GREY, DiagnosticsState.NO_FILE: GREY, DiagnosticsState.UPLOADING: BLUE,
    DiagnosticsState.UPLOADED: GREEN, DiagnosticsState.EXPIRED: ORANGE,
}
REFRESH_SECONDS = 5


def report_badge(status: str):
    colour = GREEN if status in SUCCESS else RED if status in FAILURE else ORANGE if status else GREY
    return badge(status, colour)


def state_badge(state: str, label: str = ""):
    return badge(label or state, STATE_COLOURS.get(state, GREY))


def firmware_update_link(pk: int):
    return admin_link("firmwareupdate", pk, f"update #{pk}", app_label="firmware")


def summary_badges(update: FirmwareUpdate):
    summary = selectors.firmware_update_summary(update)
    return format_html_join(" ", "{}", ((state_badge(state, f"{count} {state.replace('_', ' ')}"),)
                                        for state, count in summary.items())) or "—"


class ProgressColumnsMixin:
    """What a station did with a firmware update or a diagnostics request, as columns."""

    @admin.display(description="state", ordering="state")
    def state_shown(self, row):
        return state_badge(row.state, row.get_state_display())

    @admin.display(description="reported status", ordering="status")
    def status_shown(self, row):
        return report_badge(row.status) if row.status else "—"

    @admin.display(description="call")
    def call_shown(self, row):
        return call_link(row.call_id)

    @admin.display(description="status notifications")
    def reports(self, row):
        rows = row.reports.order_by("received_at", "id")[:50]
        return format_html_join(format_html("<br>"), "{} {}", ((r.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                                                                report_badge(r.status)) for r in rows)) or "—"


# --- Status reports ----------------------------------------------------------------------------------------


class StatusReportAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display_links = ["received_at"]
    date_hierarchy = "received_at"
    search_fields = ["=station__id"]

    @admin.display(description="status", ordering="status")
    def state(self, report):
        return report_badge(report.status)


@admin.register(FirmwareStatusReport)
class FirmwareStatusReportAdmin(StatusReportAdmin):
    list_display = ["received_at", "station_id_link", "state", "signed", "request_id", "update_link"]
    list_filter = [StationFilter, "status", "signed"]

    @admin.display(description="firmware update", ordering="target__update_id")
    def update_link(self, report):
        if report.target_id is None:
            return "—"
        return firmware_update_link(report.target.update_id)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("target")


@admin.register(DiagnosticsStatusReport)
class DiagnosticsStatusReportAdmin(StatusReportAdmin):
    list_display = ["received_at", "station_id_link", "kind", "state", "request_id", "request_link"]
    list_filter = [StationFilter, "kind", "status"]

    @admin.display(description="request", ordering="diagnostics_request_id")
    def request_link(self, report):
        pk = report.diagnostics_request_id
        return admin_link("diagnosticsrequest", pk, f"request #{pk}", app_label="firmware") if pk else "—"


# --- Firmware files -------------------------------------------------------------------------------------


@admin.register(Firmware)
class FirmwareAdmin(admin.ModelAdmin):
    form = FirmwareAdminForm
    list_display = ["name", "version", "vendor", "charge_point_model", "where", "size", "is_signed", "partner", "created_at"]
    list_filter = ["vendor", "partner"]
    search_fields = ["name", "version", "vendor", "charge_point_model", "sha256"]
    readonly_fields = ["size", "sha256", "download_url", "uploaded_by", "created_at", "updated_at", "used_by"]
    fieldsets = [
        (None, {"fields": ["name", "version", "vendor", "charge_point_model", "description", "partner"]}),
        ("The image", {"fields": ["file", "external_location", "size", "sha256", "download_url"],
                       "description": "Upload the file (the CSMS serves it to stations over HTTP(S), each update "
                                      "under its own unguessable URL) or give the location stations download it from."}),
        ("Signature (SignedUpdateFirmware, Security Whitepaper)",
         {"fields": ["signing_certificate", "signature"], "classes": ["collapse"]}),
        ("Record", {"fields": ["uploaded_by", "created_at", "updated_at", "used_by"]}),
    ]

    @admin.display(description="image")
    def where(self, firmware):
        return firmware.filename or Truncator(firmware.external_location).chars(60)

    @admin.display(description="signed", boolean=True)
    def is_signed(self, firmware):
        return firmware.signed

    @admin.display(description="URL served to stations")
    def download_url(self, firmware):
        if not firmware.file:
            return "—"
        url = locations.firmware_download_url(base_url=settings.CSMS_PUBLIC_URL, token=firmware.token, filename=firmware.filename)
        return format_html('<a href="{}"><code>{}</code></a><div class="help">Each update gives every station its own '
                           'URL; this one serves the same file.</div>', url, url)

    @admin.display(description="used by")
    def used_by(self, firmware):
        if not firmware.pk:
            return "—"
        count = firmware.updates.count()
        url = reverse("admin:firmware_firmwareupdate_changelist") + f"?firmware__id__exact={firmware.pk}"
        return format_html('<a href="{}">{} firmware update{}</a>', url, count, "" if count == 1 else "s")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.uploaded_by = request.user
        obj.external_location = obj.external_location.strip()
        obj.signing_certificate, obj.signature = obj.signing_certificate.strip(), obj.signature.strip()
        super().save_model(request, obj, form, change)
        if not change or "file" in form.changed_data:
            files.firmware_file_describe(firmware=obj)


# --- Firmware updates ------------------------------------------------------------------------------------


class TargetInline(ProgressColumnsMixin, StationColumnMixin, admin.TabularInline):
    model = FirmwareUpdateTarget
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["station_id_link", "connection", "state_shown", "status_shown", "detail", "call_shown", "attempts",
              "sent_at", "status_at", "downloads", "versions"]
    readonly_fields = fields
    verbose_name_plural = "stations"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("station")

    @admin.display(description="connection")
    def connection(self, target):
        return online_badge(target.station.online)

    @admin.display(description="downloads")
    def downloads(self, target):
        if not target.download_count:
            return "—"
        return format_html("{} (last {})", target.download_count, target.last_download_at.strftime("%Y-%m-%d %H:%M"))

    @admin.display(description="firmware version: before → now")
    def versions(self, target):
        return f"{target.firmware_version_before or '?'} → {target.station.firmware_version or '?'}"


class TargetStationFilter(InputFilter):
    title = "station (chargeBoxId)"
    parameter_name = "station"
    placeholder = "chargeBoxId"
    lookup = "targets__station_id"


@admin.register(FirmwareUpdate)
class FirmwareUpdateAdmin(AdminActionsMixin, ReadOnlyAdmin):
    """Jobs are started from the charge stations list ("Update firmware…"), never added here."""

    list_display = ["id", "created_at", "what", "action_name", "retrieve_date", "progress", "source", "requested_by"]
    list_filter = [TargetStationFilter, "signed", "source", "firmware", "rollout"]
    date_hierarchy = "created_at"
    list_select_related = ["firmware", "requested_by"]
    actions = [admin_action(RETRY_UPDATES), admin_action(CANCEL_UPDATES)]
    inlines = [TargetInline]
    fields = ["id", "firmware", "location", "action_name", "retrieve_date", "retries", "retry_interval", "install_date",
              "progress", "source", "rollout", "requested_by", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("targets")

    @admin.display(description="firmware")
    def what(self, update):
        if update.firmware_id:
            return admin_link("firmware", update.firmware_id, str(update.firmware), app_label="firmware")
        return Truncator(update.location).chars(60)

    @admin.display(description="request", ordering="signed")
    def action_name(self, update):
        return update.ocpp_action

    @admin.display(description="stations")
    def progress(self, update):
        return summary_badges(update)

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "start_hint": True}
        return super().changelist_view(request, extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        update = self.get_object(request, unquote(object_id))
        active = update is not None and selectors.firmware_update_state(update) == "active"
        extra = {**(extra_context or {}), "refresh_seconds": REFRESH_SECONDS if active else None}
        return super().change_view(request, object_id, form_url, extra)


@admin.register(FirmwareUpdateTarget)
class FirmwareUpdateTargetAdmin(ProgressColumnsMixin, StationColumnMixin, ReadOnlyAdmin):
    """Every station of every firmware update, with what it reported."""

    list_display = ["id", "station_id_link", "update_link", "state_shown", "status_shown", "detail", "call_shown",
                    "sent_at", "status_at"]
    list_filter = [StationFilter, "state", "status"]
    search_fields = ["=station__id", "=request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["update"]
    fields = ["id", "station_id_link", "update_link", "request_id", "location", "state_shown", "status_shown", "detail",
              "answer", "call_shown", "attempts", "sent_at", "progress_at", "probed_at", "status_at",
              "firmware_version_before", "download_count", "last_download_at", "reports", "created_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description="firmware update", ordering="update_id")
    def update_link(self, target):
        return firmware_update_link(target.update_id)


# --- Diagnostics and logs -------------------------------------------------------------------------------


@admin.register(DiagnosticsRequest)
class DiagnosticsRequestAdmin(ProgressColumnsMixin, StationColumnMixin, ReadOnlyAdmin):
    list_display = ["id", "created_at", "station_id_link", "what", "state_shown", "status_shown", "file_link",
                    "file_size", "call_shown"]
    list_filter = [StationFilter, "kind", "log_type", "state"]
    search_fields = ["=station__id", "file_name"]
    date_hierarchy = "created_at"
    fields = ["id", "station_id_link", "what", "start_time", "stop_time", "retries", "retry_interval", "location",
              "served_by_csms", "call_shown", "answer", "file_name", "state_shown", "status_shown", "detail", "file_link",
              "file_size", "file_sha256", "file_content_type", "uploaded_at", "reports", "source", "requested_by",
              "created_at", "updated_at"]
    readonly_fields = fields

    def get_urls(self):
        view = self.admin_site.admin_view(self.download_view)
        return [path("<path:object_id>/download/", view, name="firmware_diagnosticsrequest_download"), *super().get_urls()]

    def download_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = self.get_queryset(request).filter(pk=unquote(object_id)).first()
        if row is None or not row.file:
            raise Http404("no uploaded file")
        return serve_file(request, row.file, row.stored_name)

    @admin.display(description="request", ordering="kind")
    def what(self, row):
        return f"{row.ocpp_action} {row.log_type}".strip()

    @admin.display(description="file")
    def file_link(self, row):
        if not row.file:
            return row.file_name or "—"
        url = reverse("admin:firmware_diagnosticsrequest_download", args=[quote(row.pk)])
        return format_html('<a href="{}">⬇ {}</a>', url, row.stored_name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        row = self.get_object(request, unquote(object_id))
        waiting = row is not None and row.state in (DiagnosticsState.PENDING, DiagnosticsState.ACCEPTED,
                                                    DiagnosticsState.UPLOADING)
        extra = {**(extra_context or {}), "refresh_seconds": REFRESH_SECONDS if waiting else None}
        return super().change_view(request, object_id, form_url, extra)


# --- FTP accounts and firmware versions -------------------------------------------------------------------


@admin.register(FtpAccount)
class FtpAccountAdmin(ReadOnlyAdmin):
    """The one-time accounts in FTP locations (their passwords exist only in the Calls sent)."""

    list_display = ["username", "purpose", "for_what", "expires_at", "logins", "last_login_at", "created_at"]
    search_fields = ["=username", "=diagnostics_request__station__id", "=firmware_target__station__id"]
    date_hierarchy = "created_at"
    fields = ["username", "purpose", "for_what", "expires_at", "logins", "last_login_at", "created_at"]
    readonly_fields = fields

    @admin.display(description="for")
    def for_what(self, account):
        if account.diagnostics_request_id:
            return admin_link("diagnosticsrequest", account.diagnostics_request_id,
                              f"upload of request #{account.diagnostics_request_id}", app_label="firmware")
        return admin_link("firmwareupdatetarget", account.firmware_target_id,
                          f"download of update target #{account.firmware_target_id}", app_label="firmware")


@admin.register(FirmwareVersionRecord)
class FirmwareVersionRecordAdmin(StationColumnMixin, ReadOnlyAdmin):
    """Each firmware version a station booted with, from the BootNotification that first reported it."""

    list_display = ["booted_at", "station_id_link", "version"]
    list_filter = [StationFilter]
    search_fields = ["=station__id", "version"]
    date_hierarchy = "booted_at"


# --- Rollouts ---------------------------------------------------------------------------------------------

OUTCOME_COLOURS = {
    RolloutOutcome.PLANNED: "#cfd8dc", RolloutOutcome.WAITING: GREY, RolloutOutcome.UPDATING: BLUE,
    RolloutOutcome.INSTALLED: TEAL, RolloutOutcome.SUCCEEDED: GREEN, RolloutOutcome.FAILED: RED,
    RolloutOutcome.SKIPPED: ORANGE, RolloutOutcome.CANCELLED: PURPLE,
}
ROLLOUT_STATE_COLOURS = {RolloutState.RUNNING: BLUE, RolloutState.PAUSED: GREY, RolloutState.HALTED: RED,
                         RolloutState.CANCELLED: PURPLE, RolloutState.COMPLETED: GREEN}
WAVE_STATE_COLOURS = {WaveState.PLANNED: GREY, WaveState.RUNNING: BLUE, WaveState.PASSED: GREEN,
                      WaveState.FAILED: RED, WaveState.ACCEPTED: ORANGE, WaveState.CANCELLED: PURPLE}
BAR_STYLE = "display:flex;width:260px;height:14px;background:#eceff1;border-radius:3px;overflow:hidden"


def progress_bar(counts: dict[str, int]):
    """One coloured segment per outcome, as wide as its share, with the counts in words beside it."""
    total = sum(counts.values())
    if not total:
        return "—"
    segments = format_html_join("", '<span title="{}: {}" style="width:{}%;background:{}"></span>', (
        (outcome, count, f"{100 * count / total:.2f}", OUTCOME_COLOURS[outcome])
        for outcome, count in counts.items() if count))
    words = ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
    return format_html('<div class="csms-progress" style="{}">{}</div><div class="help">{}</div>', BAR_STYLE,
                       segments, words)


@admin.register(FirmwareRollout)
class FirmwareRolloutAdmin(AdminActionsMixin, admin.ModelAdmin):
    """Rollouts are added here (the add form chooses stations and waves); after that they are shown,
    and steered with the actions, never edited."""

    form = RolloutAdminForm
    list_display = ["id", "rollout_name", "version", "state_shown", "wave_shown", "progress", "created_at",
                    "requested_by"]
    list_filter = ["state", "firmware"]
    list_select_related = ["firmware", "requested_by"]
    date_hierarchy = "created_at"
    actions = [admin_action(action) for action in ROLLOUT_ACTIONS]
    object_actions = ROLLOUT_ACTIONS
    add_fieldsets = [
        (None, {"fields": ["name", "firmware"]}),
        ("Stations (every criterion given must match)",
         {"fields": ["stations", "vendor", "model", "firmware_versions", "partner"]}),
        ("Waves", {"fields": ["canary", "canary_percent", "growth_factor", "wave_sizes", "failure_threshold_percent",
                              "wave_timeout_minutes"],
                   "description": "A canary wave first; each next wave starts once the last one's stations are back "
                                  "with the new version. A wave with more failures than the threshold halts the "
                                  "rollout."}),
        ("Download", {"fields": ["retries", "retry_interval"]}),
    ]
    shown_fields = ["rollout_name", "firmware", "version", "state_shown", "detail", "wave_shown", "progress",
                    "selection", "failure_threshold_percent", "wave_timeout_minutes", "retries", "retry_interval",
                    "stations_link", "updates_link", "source", "requested_by", "created_at", "updated_at",
                    "finished_at"]

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else [(None, {"fields": self.shown_fields})]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.shown_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return self.has_send_call_permission(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        candidates = stations_visible_to(request.user)

        class WithCandidates(form_class):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, candidates=candidates, **form_kwargs)

        return WithCandidates

    def save_model(self, request, obj, form, change):
        rollout = rollouts.firmware_rollout_create(
            **form.selection_arguments(), candidates=stations_visible_to(request.user), name=form.cleaned_data["name"],
            base_url=locations.public_base_url(request), requested_by=request.user, source="admin")
        obj.pk = rollout.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # the service wrote everything

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"{obj}: wave 1 sent. The page refreshes while the rollout runs.")
        return HttpResponseRedirect(reverse("admin:firmware_firmwarerollout_change", args=[obj.pk]))

    @admin.display(description="rollout", ordering="name")
    def rollout_name(self, rollout):
        return str(rollout)

    @admin.display(description="version", ordering="firmware__version")
    def version(self, rollout):
        return rollout.firmware.version

    @admin.display(description="state", ordering="state")
    def state_shown(self, rollout):
        return badge(rollout.get_state_display(), ROLLOUT_STATE_COLOURS.get(rollout.state, GREY))

    @admin.display(description="wave")
    def wave_shown(self, rollout):
        return f"{rollout.current_wave} of {rollout.waves.count()}"

    @admin.display(description="stations")
    def progress(self, rollout):
        return progress_bar(selectors.rollout_progress(rollout)["counts"])

    @admin.display(description="stations, one by one")
    def stations_link(self, rollout):
        return format_html('<a href="{}">every station of this rollout</a>',
                           changelist_url("rolloutstation", app_label="firmware", rollout__id__exact=rollout.pk))

    @admin.display(description="firmware updates sent")
    def updates_link(self, rollout):
        return format_html('<a href="{}">{} update(s)</a>',
                           changelist_url("firmwareupdate", app_label="firmware", rollout__id__exact=rollout.pk),
                           rollout.updates.count())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rollout = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if rollout is not None:
            waves = selectors.rollout_progress(rollout)["waves"]
            for wave in waves:
                wave["badge"] = badge(WaveState(wave["state"]).label, WAVE_STATE_COLOURS.get(wave["state"], GREY))
                wave["bar"] = progress_bar(wave["counts"])
                wave["stations_url"] = changelist_url("rolloutstation", app_label="firmware",
                                                      rollout__id__exact=rollout.pk, wave__number=wave["number"])
            extra.update(waves=waves, call_action_links=self.object_action_links(request, rollout),
                         refresh_seconds=REFRESH_SECONDS if rollout.state == RolloutState.RUNNING else None)
        return super().change_view(request, object_id, form_url, extra)


@admin.register(RolloutWave)
class RolloutWaveAdmin(ReadOnlyAdmin):
    list_display = ["rollout", "number", "size", "state", "progress", "started_at", "decided_at", "detail"]
    list_filter = ["state"]
    list_select_related = ["rollout"]

    @admin.display(description="stations")
    def progress(self, wave):
        counts = dict.fromkeys(RolloutOutcome.values, 0)
        for outcome in wave.stations.values_list("outcome", flat=True):
            counts[outcome] += 1
        return progress_bar(counts)


@admin.register(RolloutStation)
class RolloutStationAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["station_id_link", "rollout", "wave_number", "outcome_shown", "detail", "version_before",
                    "update_link", "updated_at"]
    list_filter = [StationFilter, "outcome", "rollout", "wave__number"]
    list_select_related = ["rollout", "wave", "target"]
    search_fields = ["=station__id"]

    @admin.display(description="wave", ordering="wave__number")
    def wave_number(self, entry):
        return entry.wave.number if entry.wave_id else "—"

    @admin.display(description="outcome", ordering="outcome")
    def outcome_shown(self, entry):
        return badge(entry.get_outcome_display(), OUTCOME_COLOURS.get(entry.outcome, GREY))

    @admin.display(description="firmware update")
    def update_link(self, entry):
        return firmware_update_link(entry.target.update_id) if entry.target_id else "—"
