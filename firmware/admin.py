"""Firmware files, firmware updates (per station), diagnostics/log uploads and what stations reported.

Operators start updates and uploads from the charge stations list ("Update firmware…", "Request
diagnostics / logs…"): this module adds both actions to the stations' admin
(docs/adr/0055-firmware-admin.md). Reports and per-station progress are records: shown, never edited.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from csms.admin.actions import station_list_action
from csms.admin.filters import InputFilter, StationFilter
from csms.admin.presentation import BLUE, GREEN, GREY, ORANGE, RED, admin_link, badge, call_link, online_badge, station_link
from csms.admin.records import ReadOnlyAdmin, StationColumnMixin
from csms.errors import DomainError
from csms.ocpp.permissions import may_send_calls

from . import selectors
from .services import diagnostics, files, locations, updates
from .forms import DiagnosticsForm, FirmwareAdminForm, UpdateFirmwareForm
from .models import (
    DiagnosticsRequest,
    DiagnosticsState,
    DiagnosticsStatusReport,
    Firmware,
    FirmwareStatusReport,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    TargetState,
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
ACTION_TEMPLATE = "admin/firmware/station_action.html"
REFRESH_SECONDS = 5
MAX_LISTED = 100


def report_badge(status: str):
    colour = GREEN if status in SUCCESS else RED if status in FAILURE else ORANGE if status else GREY
    return badge(status, colour)


def state_badge(state: str, label: str = ""):
    return badge(label or state, STATE_COLOURS.get(state, GREY))


def has_send_call_permission(request) -> bool:
    return may_send_calls(request.user)


def summary_badges(update: FirmwareUpdate):
    summary = selectors.firmware_update_summary(update)
    return format_html_join(" ", "{}", ((state_badge(state, f"{count} {state.replace('_', ' ')}"),)
                                        for state, count in summary.items())) or "—"


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
        return admin_link("firmwareupdate", report.target.update_id, f"update #{report.target.update_id}", app_label="firmware")

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


class TargetInline(admin.TabularInline):
    model = FirmwareUpdateTarget
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["station_link", "connection", "state_shown", "status_shown", "detail", "call_shown", "attempts", "sent_at",
              "status_at", "downloads", "versions"]
    readonly_fields = fields
    verbose_name_plural = "stations"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("station")

    @admin.display(description="station")
    def station_link(self, target):
        return station_link(target.station_id)

    @admin.display(description="connection")
    def connection(self, target):
        return online_badge(target.station.online)

    @admin.display(description="state")
    def state_shown(self, target):
        return state_badge(target.state, target.get_state_display())

    @admin.display(description="reported status")
    def status_shown(self, target):
        return report_badge(target.status) if target.status else "—"

    @admin.display(description="call")
    def call_shown(self, target):
        return call_link(target.call_id)

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


@admin.action(description="Send again to stations that did not install it", permissions=["send_call"])
def retry_updates(modeladmin, request, queryset):
    for update in queryset:
        retried = updates.firmware_update_retry(update=update, requested_by=request.user, source="admin")
        sent = sum(1 for target in retried if target.state == TargetState.SENT)
        modeladmin.message_user(request, f"Firmware update #{update.pk}: sent again to {sent} station(s), "
                                         f"{len(retried) - sent} waiting for their connection.", messages.SUCCESS)


@admin.action(description="Cancel for stations it was not sent to yet", permissions=["send_call"])
def cancel_updates(modeladmin, request, queryset):
    cancelled = sum(updates.firmware_update_cancel(update=update) for update in queryset)
    modeladmin.message_user(request, f"Cancelled for {cancelled} station(s) not reached yet.", messages.SUCCESS)


@admin.register(FirmwareUpdate)
class FirmwareUpdateAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "what", "action_name", "retrieve_date", "progress", "source", "requested_by"]
    list_filter = [TargetStationFilter, "signed", "source", "firmware"]
    date_hierarchy = "created_at"
    list_select_related = ["firmware", "requested_by"]
    actions = [retry_updates, cancel_updates]
    inlines = [TargetInline]
    fields = ["id", "firmware", "location", "action_name", "retrieve_date", "retries", "retry_interval", "install_date",
              "progress", "source", "requested_by", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # started from the charge stations list: "Update firmware…"

    def has_change_permission(self, request, obj=None):
        return False

    def has_send_call_permission(self, request) -> bool:
        return has_send_call_permission(request)

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
class FirmwareUpdateTargetAdmin(StationColumnMixin, ReadOnlyAdmin):
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
        return admin_link("firmwareupdate", target.update_id, f"update #{target.update_id}", app_label="firmware")

    @admin.display(description="state", ordering="state")
    def state_shown(self, target):
        return state_badge(target.state, target.get_state_display())

    @admin.display(description="reported status", ordering="status")
    def status_shown(self, target):
        return report_badge(target.status) if target.status else "—"

    @admin.display(description="call")
    def call_shown(self, target):
        return call_link(target.call_id)

    @admin.display(description="status notifications")
    def reports(self, target):
        rows = target.reports.order_by("received_at", "id")[:50]
        return format_html_join(format_html("<br>"), "{} {}", ((r.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                                                                report_badge(r.status)) for r in rows)) or "—"


# --- Diagnostics and logs -------------------------------------------------------------------------------


@admin.register(DiagnosticsRequest)
class DiagnosticsRequestAdmin(StationColumnMixin, ReadOnlyAdmin):
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

    @admin.display(description="state", ordering="state")
    def state_shown(self, row):
        return state_badge(row.state, row.get_state_display())

    @admin.display(description="reported status", ordering="status")
    def status_shown(self, row):
        return report_badge(row.status) if row.status else "—"

    @admin.display(description="call")
    def call_shown(self, row):
        return call_link(row.call_id)

    @admin.display(description="file")
    def file_link(self, row):
        if not row.file:
            return row.file_name or "—"
        url = reverse("admin:firmware_diagnosticsrequest_download", args=[quote(row.pk)])
        return format_html('<a href="{}">⬇ {}</a>', url, row.stored_name)

    @admin.display(description="status notifications")
    def reports(self, row):
        rows = row.reports.order_by("received_at", "id")[:50]
        return format_html_join(format_html("<br>"), "{} {}", ((r.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                                                                report_badge(r.status)) for r in rows)) or "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        row = self.get_object(request, unquote(object_id))
        waiting = row is not None and row.state in (DiagnosticsState.PENDING, DiagnosticsState.ACCEPTED,
                                                    DiagnosticsState.UPLOADING)
        extra = {**(extra_context or {}), "refresh_seconds": REFRESH_SECONDS if waiting else None}
        return super().change_view(request, object_id, form_url, extra)


# --- Actions on charge stations ---------------------------------------------------------------------------


def render_station_action(modeladmin, request, queryset, *, form, action: str, title: str, submit: str,
                          offline_note: str) -> TemplateResponse:
    stations = list(queryset[: MAX_LISTED + 1])
    return TemplateResponse(request, ACTION_TEMPLATE, {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "form": form,
        "action": action,
        "submit_label": submit,
        "stations": stations[:MAX_LISTED],
        "more_stations": queryset.count() - MAX_LISTED if len(stations) > MAX_LISTED else 0,
        "offline_note": offline_note,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    })


@station_list_action
@admin.action(description="Update firmware…", permissions=["send_call"])
def update_firmware(modeladmin, request, queryset):
    form = UpdateFirmwareForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            update = updates.firmware_update_create(
                stations=list(queryset), **form.service_arguments(), base_url=locations.public_base_url(request),
                requested_by=request.user, source="admin",
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            summary = selectors.firmware_update_summary(update)
            modeladmin.message_user(request, format_html(
                "{} sent: {} station(s) now, {} waiting for their connection.", update.ocpp_action,
                summary.get(TargetState.SENT, 0), summary.get(TargetState.WAITING, 0)), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:firmware_firmwareupdate_change", args=[update.pk]))
    return render_station_action(modeladmin, request, queryset, form=form, action="update_firmware",
                                 title="Update firmware", submit="Send the update",
                                 offline_note="offline: sent when it connects")


@station_list_action
@admin.action(description="Request diagnostics / logs…", permissions=["send_call"])
def request_diagnostics(modeladmin, request, queryset):
    form = DiagnosticsForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        created, refused = [], []
        for station in queryset:
            try:
                created.append(diagnostics.diagnostics_request_create(
                    station=station, **form.service_arguments(), base_url=locations.public_base_url(request),
                    requested_by=request.user, source="admin"))
            except DomainError as exc:
                refused.append((station.pk, exc.message))
        for station_id, reason in refused[:20]:
            modeladmin.message_user(request, f"Not requested from {station_id}: {reason}", messages.ERROR)
        if not created:
            return None
        modeladmin.message_user(request, f"{created[0].ocpp_action} sent to {len(created)} station(s). The page refreshes "
                                         "until the files are in.", messages.SUCCESS)
        if len(created) == 1:
            return HttpResponseRedirect(reverse("admin:firmware_diagnosticsrequest_change", args=[created[0].pk]))
        ids = ",".join(str(row.pk) for row in created)
        return HttpResponseRedirect(reverse("admin:firmware_diagnosticsrequest_changelist") + f"?id__in={ids}")
    return render_station_action(modeladmin, request, queryset, form=form, action="request_diagnostics",
                                 title="Request diagnostics / logs", submit="Send the request",
                                 offline_note="offline: it will not be asked")

