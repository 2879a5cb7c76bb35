"""Admin: certificate requests with their steps (sign with the CA, upload a signed chain, deliver
again, cancel), the CA certificates each station holds, and per station the Calls that manage them
(trigger certificate signing, install, refresh), sent through the stations app's Call actions."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from csms.admin.actions import CallActionsMixin, Refusal, Target, each_station, make_call_action, station_spec
from csms.admin.filters import StationFilter
from csms.admin.presentation import BLUE, GREEN, GREY, ORANGE, RED, admin_link, badge, call_link, online_badge, station_link
from csms.admin.records import StationColumnMixin
from csms.errors import DomainError
from csms.ocpp.permissions import may_send_calls

from . import forms, selectors
from .services import installed, signing
from .models import (
    CANCELLABLE_STATUSES,
    DELIVERABLE_STATUSES,
    OPEN_STATUSES,
    SIGNABLE_STATUSES,
    CertificateInventory,
    CertificateRequest,
    CertificateUse,
    InstalledCertificate,
    RequestStatus,
    StationCertificates,
)

STATUS_COLOURS = {
    RequestStatus.AWAITING_CSR: BLUE, RequestStatus.PENDING: ORANGE, RequestStatus.SIGNED: BLUE,
    RequestStatus.SENT: BLUE, RequestStatus.INSTALLED: GREEN, RequestStatus.REJECTED: RED,
    RequestStatus.SIGNING_FAILED: RED, RequestStatus.STATION_REJECTED: RED, RequestStatus.UNDELIVERED: RED,
    RequestStatus.TRIGGER_REJECTED: RED, RequestStatus.TRIGGER_FAILED: RED,
}
STEP_TEMPLATE = "admin/certificates/request_step.html"
DELETE_TEMPLATE = "admin/certificates/delete_certificates.html"


def status_badge(request: CertificateRequest):
    return badge(request.get_status_display(), STATUS_COLOURS.get(request.status, GREY))


def pem_block(text: str):
    return format_html('<pre style="margin:0;white-space:pre-wrap;font-size:11px">{}</pre>', text) if text else "—"


def report_refusal(modeladmin, request, label: str, exc: DomainError) -> None:
    modeladmin.message_user(request, f"{label}: nothing done — {exc.message}", messages.ERROR)


# --- Certificate requests (A02/A03) -----------------------------------------------------------------------------


# name: (label, the statuses it applies to)
REQUEST_STEPS = {
    "sign": ("Sign with the CA", SIGNABLE_STATUSES),
    "upload": ("Upload a signed chain", signing.UPLOADABLE_STATUSES),
    "deliver": ("Send the certificate again", DELIVERABLE_STATUSES),
    "cancel": ("Cancel", CANCELLABLE_STATUSES),
}


def run_step(step: str, row: CertificateRequest, user, chain: str = "") -> CertificateRequest:
    if step == "sign":
        return signing.certificate_request_sign(request_id=row.pk, requested_by=user, source="admin")
    if step == "upload":
        return signing.certificate_request_upload(request_id=row.pk, certificate_chain=chain, requested_by=user,
                                                   source="admin")
    if step == "deliver":
        return signing.certificate_request_deliver(request_id=row.pk, requested_by=user, source="admin")
    return signing.certificate_request_cancel(request_id=row.pk, requested_by=user)


@admin.register(CertificateRequest)
class CertificateRequestAdmin(StationColumnMixin, admin.ModelAdmin):
    list_display = ["id", "station_id_link", "status_shown", "how", "common_name", "organization", "key_type",
                    "received_at", "certificate_not_after", "updated_at"]
    list_filter = [StationFilter, "status", "key_type"]
    search_fields = ["station__id", "subject", "certificate_serial"]
    actions = ["sign_with_ca", "upload_chain", "deliver_again", "cancel_requests"]
    fieldsets = [
        (None, {"fields": ["station_id_link", "status_shown", "detail", "how", "trigger_call_link", "created_at",
                           "updated_at"]}),
        ("CSR", {"fields": ["received_at", "subject", "key_type", "public_key_sha256", "csr_pem"]}),
        ("Certificate", {"fields": ["signed_by", "signed_at", "certificate_serial", "certificate_not_before",
                                    "certificate_not_after", "chain_pem", "delivery_call_link", "answered_at"]}),
    ]
    readonly_fields = ["station_id_link", "status_shown", "detail", "how", "trigger_call_link", "created_at",
                       "updated_at", "received_at", "subject", "key_type", "public_key_sha256", "csr_pem", "signed_by",
                       "signed_at", "certificate_serial", "certificate_not_before", "certificate_not_after",
                       "chain_pem", "delivery_call_link", "answered_at"]

    def has_add_permission(self, request):
        return False


    @admin.display(description="status", ordering="status")
    def status_shown(self, row):
        return status_badge(row)

    @admin.display(description="initiated by")
    def how(self, row):
        return "CSMS trigger (A02)" if row.trigger_call_id else "station (A03)"

    @admin.display(description="trigger")
    def trigger_call_link(self, row):
        return call_link(row.trigger_call_id)

    @admin.display(description="CertificateSigned")
    def delivery_call_link(self, row):
        return call_link(row.delivery_call_id)

    @admin.display(description="CSR (PEM)")
    def csr_pem(self, row):
        return pem_block(row.csr)

    @admin.display(description="certificate chain (PEM)")
    def chain_pem(self, row):
        return pem_block(row.certificate_chain)

    # --- steps, from the list -----------------------------------------------------------------------------

    def _each(self, request, queryset, step: str):
        label, statuses = REQUEST_STEPS[step]
        done = 0
        for row in queryset:
            if row.status not in statuses:
                self.message_user(request, f"#{row.pk} ({row.station_id}): skipped, it is {row.get_status_display()}",
                                  messages.WARNING)
                continue
            try:
                row = run_step(step, row, request.user)
            except DomainError as exc:
                report_refusal(self, request, f"#{row.pk} ({row.station_id})", exc)
                continue
            done += 1
            level = messages.ERROR if row.status == RequestStatus.SIGNING_FAILED else messages.SUCCESS
            self.message_user(request, format_html("{} #{} ({}): now {}{}", label, row.pk, row.station_id,
                                                   row.get_status_display(), f" — {row.detail}" if row.detail else ""),
                              level)
        return done

    @admin.action(description="Sign with the CA and send (CertificateSigned)", permissions=["change"])
    def sign_with_ca(self, request, queryset):
        self._each(request, queryset, "sign")

    @admin.action(description="Send the signed certificate again", permissions=["change"])
    def deliver_again(self, request, queryset):
        self._each(request, queryset, "deliver")

    @admin.action(description="Cancel (reject) the request", permissions=["change"])
    def cancel_requests(self, request, queryset):
        self._each(request, queryset, "cancel")

    @admin.action(description="Upload a signed chain…", permissions=["change"])
    def upload_chain(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one request to upload its signed chain.", messages.ERROR)
            return None
        return HttpResponseRedirect(self._step_url(queryset.get(), "upload"))

    # --- steps, from a request's page ------------------------------------------------------------------------

    def get_urls(self):
        return [path("<path:object_id>/step/<str:step>/", self.admin_site.admin_view(self.step_view),
                     name="certificates_certificaterequest_step"),
                *super().get_urls()]

    def _step_url(self, row, step: str) -> str:
        return reverse(f"{self.admin_site.name}:certificates_certificaterequest_step", args=[quote(row.pk), step])

    def step_links(self, request, row) -> list[tuple[str, str]]:
        if row is None or not self.has_change_permission(request, row):
            return []
        return [(self._step_url(row, step), label) for step, (label, statuses) in REQUEST_STEPS.items()
                if row.status in statuses]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        row = self.get_object(request, unquote(object_id))
        # Every field is read-only: the request moves only through its steps.
        extra = {**(extra_context or {}), "step_links": self.step_links(request, row), "show_save": False,
                 "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def step_view(self, request, object_id: str, step: str):
        if step not in REQUEST_STEPS:
            raise Http404(f"no step {step!r}")
        row = self.get_object(request, unquote(object_id))
        if row is None:
            raise Http404("no such request")
        if not self.has_change_permission(request, row):
            raise PermissionDenied
        change_url = reverse(f"{self.admin_site.name}:certificates_certificaterequest_change", args=[quote(row.pk)])
        form = forms.UploadChainForm(request.POST or None) if step == "upload" else None
        if request.method == "POST" and (form is None or form.is_valid()):
            chain = form.cleaned_data["certificate_chain"] if form is not None else ""
            try:
                row = run_step(step, row, request.user, chain)
            except DomainError as exc:
                report_refusal(self, request, REQUEST_STEPS[step][0], exc)
                if form is None:
                    return HttpResponseRedirect(change_url)
            else:
                level = messages.ERROR if row.status == RequestStatus.SIGNING_FAILED else messages.SUCCESS
                self.message_user(request, f"{REQUEST_STEPS[step][0]}: the request is now {row.get_status_display()}"
                                           f"{' — ' + row.detail if row.detail else ''}", level)
                return HttpResponseRedirect(change_url)
        return TemplateResponse(request, STEP_TEMPLATE, {
            **self.admin_site.each_context(request),
            "title": f"{REQUEST_STEPS[step][0]}: request #{row.pk} of {row.station_id}",
            "opts": self.model._meta, "original": row, "step": step, "form": form, "change_url": change_url,
            "submit_label": REQUEST_STEPS[step][0],
        })


# --- The CA certificates each station holds (M03-M05) -------------------------------------------------------------


@admin.register(InstalledCertificate)
class InstalledCertificateAdmin(StationColumnMixin, admin.ModelAdmin):
    list_display = ["station_id_link", "certificate_type", "subject", "serial_number", "hash_algorithm", "not_after",
                    "source", "updated_at"]
    list_filter = [StationFilter, "certificate_type", "source", "hash_algorithm"]
    search_fields = ["station__id", "subject", "serial_number"]
    actions = ["delete_from_station"]
    fields = ["station_id_link", "certificate_type", "hash_algorithm", "issuer_name_hash", "issuer_key_hash",
              "serial_number", "subject", "not_after", "source", "install_call_link", "updated_at", "certificate_pem"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # The mirror follows the station: rows go when the station says so, never by hand.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_from_station_permission(self, request) -> bool:
        return may_send_calls(request.user)


    @admin.display(description="installed by")
    def install_call_link(self, entry):
        return call_link(entry.install_call_id)

    @admin.display(description="certificate (PEM)")
    def certificate_pem(self, entry):
        return pem_block(entry.certificate) if entry.certificate else "unknown: reported by the station as hash data"

    @admin.action(description="Delete from the station (DeleteCertificate)…", permissions=["delete_from_station"])
    def delete_from_station(self, request, queryset):
        form = forms.DeleteCertificatesForm(request.POST if "apply" in request.POST else None)
        if "apply" not in request.POST or not form.is_valid():
            return TemplateResponse(request, DELETE_TEMPLATE, {
                **self.admin_site.each_context(request), "title": "Delete certificates from stations",
                "opts": self.model._meta, "queryset": queryset, "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            })
        for entry in queryset.select_related("station"):
            label = f"{entry.certificate_type} {entry.serial_number} on {entry.station_id}"
            try:
                call = installed.certificate_delete(station=entry.station, hash_data=entry.hash_data(),
                                                   force=form.cleaned_data["force"], requested_by=request.user,
                                                   source="admin")
            except DomainError as exc:
                report_refusal(self, request, label, exc)
                continue
            self.message_user(request, format_html("{}: DeleteCertificate sent as {}", label, call_link(call.pk)))
        return None


@admin.register(CertificateInventory)
class CertificateInventoryAdmin(StationColumnMixin, admin.ModelAdmin):
    list_display = ["station_id_link", "certificate_type", "last_status", "reported_at", "uncertain", "note"]
    list_filter = [StationFilter, "certificate_type", "uncertain"]
    readonly_fields = ["station", "certificate_type", "last_status", "reported_at", "uncertain", "note", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False



# --- Per station: the Calls that manage certificates ----------------------------------------------------------------


def install_plan(queryset: Iterable, payload: dict) -> Iterable[Target | Refusal]:
    for station in queryset:
        reason = selectors.install_refusal(station_id=station.pk, certificate_type=payload["certificateType"],
                                           certificate=payload["certificate"])
        yield Refusal(station.pk, reason) if reason else Target(station.pk, station.pk, payload)


def refresh_plan(queryset: Iterable, payload: dict) -> Iterable[Target]:
    types = [payload["certificateType"]] if payload else list(CertificateUse.values)
    for station in queryset:
        for certificate_type in types:
            yield Target(station.pk, f"{station.pk} ({certificate_type})", {"certificateType": certificate_type})


CERTIFICATE_CALL_ACTIONS = [
    station_spec("trigger_certificate_signing", "ExtendedTriggerMessage",
                 "Trigger certificate signing (the station sends a new CSR)", forms.TriggerSigningForm, each_station),
    station_spec("install_certificate", "InstallCertificate", "Install certificate…", forms.InstallCertificateForm,
                 install_plan),
    station_spec("refresh_installed_certificates", "GetInstalledCertificateIds", "Refresh installed certificates…",
                 forms.RefreshCertificatesForm, refresh_plan),
]


@admin.register(StationCertificates)
class StationCertificatesAdmin(CallActionsMixin, admin.ModelAdmin):
    call_action_specs = CERTIFICATE_CALL_ACTIONS
    actions = [make_call_action(spec) for spec in CERTIFICATE_CALL_ACTIONS]
    list_display = ["id", "connection", "security_profile", "installed_count", "open_requests", "vendor", "model"]
    list_filter = ["online", "security_profile"]
    search_fields = ["id"]
    fields = ["id", "security_profile", "online"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            installed_total=Count("installed_certificates", distinct=True),
            open_total=Count("certificate_requests", distinct=True,
                             filter=Q(certificate_requests__status__in=[*OPEN_STATUSES, RequestStatus.SENT])),
        )

    @admin.display(description="connection", ordering="online")
    def connection(self, station):
        return online_badge(station.online)

    @admin.display(description="CA certificates held", ordering="installed_total")
    def installed_count(self, station):
        return station.installed_total

    @admin.display(description="open certificate requests", ordering="open_total")
    def open_requests(self, station):
        return badge(station.open_total, ORANGE) if station.open_total else "0"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        station = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if station is not None:
            extra.update(station_certificates_context(station))
            extra["call_action_links"] = self.call_action_links(request, station)
        return super().change_view(request, object_id, form_url, extra_context=extra)


def station_certificates_context(station) -> dict:
    return {
        "installed": list(selectors.installed_certificates(station.pk)),
        "inventories": selectors.inventories(station.pk),
        "requests": [(row, status_badge(row)) for row in selectors.certificate_requests(station.pk)[:20]],
        "certificate_events": list(selectors.certificate_events(station.pk)),
        "links": {
            "installed": reverse("admin:certificates_installedcertificate_changelist") + "?" + urlencode({"station": station.pk}),
            "requests": reverse("admin:certificates_certificaterequest_changelist") + "?" + urlencode({"station": station.pk}),
        },
    }

