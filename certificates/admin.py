"""Admin: certificate requests with their steps (sign with the CA, upload a signed chain, deliver
again, cancel), the CA certificates each station holds, and per station the Calls that manage them
(trigger certificate signing, install, refresh). Every step and Call is an action of the framework
in csms/admin/actions.py: one service call per selected object."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from csms.admin.actions import (
    AdminAction,
    AdminActionsMixin,
    Outcome,
    Refusal,
    Target,
    TargetLine,
    admin_action,
    station_spec,
)
from csms.admin.filters import StationFilter
from csms.admin.presentation import BLUE, GREEN, GREY, ORANGE, RED, badge, call_link
from csms.admin.records import ConnectionColumnMixin, MirrorAdmin, ReadOnlyAdmin, StationColumnMixin

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
REFUSED = "{label}: nothing done — {reason}"


def status_badge(request: CertificateRequest):
    return badge(request.get_status_display(), STATUS_COLOURS.get(request.status, GREY))


def pem_block(text: str):
    return format_html('<pre style="margin:0;white-space:pre-wrap;font-size:11px">{}</pre>', text) if text else "—"


# --- Certificate requests (A02/A03): their steps --------------------------------------------------------------


def request_label(row: CertificateRequest) -> str:
    return f"#{row.pk} ({row.station_id})"


def describe_request(row: CertificateRequest) -> TargetLine:
    parts = [request_label(row), row.get_status_display(), row.detail,
             f"CSR subject {row.subject}, key {row.key_type}" if row.subject else ""]
    return TargetLine(" · ".join(part for part in parts if part))


def describe_request_to_sign(row: CertificateRequest) -> TargetLine:
    csr = format_html('<details><summary>The CSR to have signed</summary><pre style="white-space:pre-wrap;'
                      'font-size:11px">{}</pre></details>', row.csr) if row.csr else ""
    return TargetLine(describe_request(row).label, detail=csr)


def step_done(outcome: Outcome, label: str, row: CertificateRequest) -> None:
    outcome.tell(format_html("{} {}: now {}{}", label, request_label(row), row.get_status_display(),
                             f" — {row.detail}" if row.detail else ""),
                 messages.ERROR if row.status == RequestStatus.SIGNING_FAILED else messages.SUCCESS)


def request_step(label: str, statuses, work: Callable) -> Callable:
    """A step on each selected request: `work(row, user)` is its one service call."""

    def run(modeladmin, request, queryset, form) -> Outcome:
        outcome = Outcome()
        for row in queryset:
            if row.status not in statuses:
                outcome.tell(f"{request_label(row)}: skipped, it is {row.get_status_display()}", messages.WARNING)
                continue
            row = outcome.attempt(request_label(row), lambda row=row: work(row, request.user))
            if row is not None:
                step_done(outcome, label, row)
        return outcome

    return run


def upload(modeladmin, request, queryset, form) -> Outcome:
    # One request, from its page: a refusal escapes, and the page shows again with the chain as pasted.
    row = signing.certificate_request_upload(request_id=queryset.get().pk, requested_by=request.user,
                                              certificate_chain=form.cleaned_data["certificate_chain"], source="admin")
    outcome = Outcome()
    step_done(outcome, "Upload a signed chain", row)
    return outcome


SENDS = ("change", "send_call")  # a step that sends CertificateSigned changes the request and sends a Call
SIGN = AdminAction(
    name="sign_with_ca", description="Sign with the CA and send (CertificateSigned)", link_label="Sign with the CA",
    permissions=SENDS, submit_label="Sign with the CA", describe=describe_request, refusal=REFUSED,
    applies=lambda row: row.status in SIGNABLE_STATUSES,
    intro="The configured CA signs the CSR and the chain is sent to the station (CertificateSigned).",
    run=request_step("Sign with the CA", SIGNABLE_STATUSES, lambda row, user: signing.certificate_request_sign(
        request_id=row.pk, requested_by=user, source="admin")))
UPLOAD = AdminAction(
    name="upload", description="Upload a signed chain…", permissions=SENDS, form_class=forms.UploadChainForm,
    submit_label="Upload a signed chain", describe=describe_request_to_sign, refusal=REFUSED, run=upload,
    applies=lambda row: row.status in signing.UPLOADABLE_STATUSES,
    intro="Paste the chain your CA signed for this CSR: the station's certificate first, then the sub-CA "
          "certificates. It must certify the CSR's public key; it is sent to the station at once (CertificateSigned).")
DELIVER = AdminAction(
    name="deliver_again", description="Send the signed certificate again", link_label="Send the certificate again",
    permissions=SENDS, submit_label="Send the certificate again", describe=describe_request, refusal=REFUSED,
    applies=lambda row: row.status in DELIVERABLE_STATUSES,
    intro="The stored certificate chain is sent to the station again (CertificateSigned).",
    run=request_step("Send the certificate again", DELIVERABLE_STATUSES, lambda row, user: (
        signing.certificate_request_deliver(request_id=row.pk, requested_by=user, source="admin"))))
CANCEL = AdminAction(
    name="cancel_requests", description="Cancel (reject) the request", link_label="Cancel", permissions=("change",),
    submit_label="Cancel the request", describe=describe_request, refusal=REFUSED,
    applies=lambda row: row.status in CANCELLABLE_STATUSES,
    intro="The request is closed; the station keeps its current certificate. Trigger certificate signing to start again.",
    run=request_step("Cancel", CANCELLABLE_STATUSES, lambda row, user: (
        signing.certificate_request_cancel(request_id=row.pk, requested_by=user))))
# The steps' own URLs, <object_id>/step/<step>/ (linked from each request's page).
STEPS = {"sign": SIGN, "upload": UPLOAD, "deliver": DELIVER, "cancel": CANCEL}


@admin.register(CertificateRequest)
class CertificateRequestAdmin(StationColumnMixin, AdminActionsMixin, admin.ModelAdmin):
    list_display = ["id", "station_id_link", "status_shown", "how", "common_name", "organization", "key_type",
                    "received_at", "certificate_not_after", "updated_at"]
    list_filter = [StationFilter, "status", "key_type"]
    search_fields = ["station__id", "subject", "certificate_serial"]
    object_actions = list(STEPS.values())
    actions = [admin_action(SIGN), "upload_chain", admin_action(DELIVER), admin_action(CANCEL)]
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

    @admin.action(description="Upload a signed chain…", permissions=["send_call"])
    def upload_chain(self, request, queryset):
        """Opens the step's page (which needs "change" too) for the one selected request."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one request to upload its signed chain.", messages.ERROR)
            return None
        return HttpResponseRedirect(self.object_action_url(queryset.get(), UPLOAD))

    def get_urls(self):
        return [path("<path:object_id>/step/<str:step>/", self.admin_site.admin_view(self.step_view),
                     name="certificates_certificaterequest_step"),
                *super().get_urls()]

    def step_view(self, request, object_id: str, step: str):
        return self.object_action_view(request, object_id, STEPS[step].name if step in STEPS else "")

    def object_action_url(self, obj, action: AdminAction) -> str:
        step = next(step for step, each in STEPS.items() if each is action)
        return reverse(f"{self.admin_site.name}:certificates_certificaterequest_step", args=[quote(obj.pk), step])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        row = self.get_object(request, unquote(object_id))
        # Every field is read-only: the request moves only through its steps.
        extra = {**(extra_context or {}), "step_links": self.object_action_links(request, row), "show_save": False,
                 "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context=extra)


# --- The CA certificates each station holds (M03-M05) -------------------------------------------------------------


def describe_installed(entry: InstalledCertificate) -> TargetLine:
    return TargetLine(f"{entry.station_id}: {entry.certificate_type} {entry.subject or entry.serial_number}")


def certificates_delete(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    for entry in queryset.select_related("station"):
        label = f"{entry.certificate_type} {entry.serial_number} on {entry.station_id}"
        call = outcome.attempt(label, lambda entry=entry: installed.certificate_delete(
            station=entry.station, hash_data=entry.hash_data(), force=form.cleaned_data["force"],
            requested_by=request.user, source="admin"))
        if call is not None:
            outcome.tell(format_html("{}: DeleteCertificate sent as {}", label, call_link(call.pk)))
    return outcome


DELETE_FROM_STATION = AdminAction(
    name="delete_from_station", description="Delete from the station (DeleteCertificate)…", run=certificates_delete,
    form_class=forms.DeleteCertificatesForm, title="Delete certificates from stations",
    submit_label="Send DeleteCertificate", describe=describe_installed, refusal=REFUSED,
    intro="The mirror changes once each station answers (Accepted or NotFound).")


@admin.register(InstalledCertificate)
class InstalledCertificateAdmin(StationColumnMixin, AdminActionsMixin, ReadOnlyAdmin):
    list_display = ["station_id_link", "certificate_type", "subject", "serial_number", "hash_algorithm", "not_after",
                    "source", "updated_at"]
    list_filter = [StationFilter, "certificate_type", "source", "hash_algorithm"]
    search_fields = ["station__id", "subject", "serial_number"]
    actions = [admin_action(DELETE_FROM_STATION)]
    fields = ["station_id_link", "certificate_type", "hash_algorithm", "issuer_name_hash", "issuer_key_hash",
              "serial_number", "subject", "not_after", "source", "install_call_link", "updated_at", "certificate_pem"]
    readonly_fields = fields

    def get_actions(self, request):
        # The mirror follows the station: rows go when the station says so, never by hand.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="installed by")
    def install_call_link(self, entry):
        return call_link(entry.install_call_id)

    @admin.display(description="certificate (PEM)")
    def certificate_pem(self, entry):
        return pem_block(entry.certificate) if entry.certificate else "unknown: reported by the station as hash data"


@admin.register(CertificateInventory)
class CertificateInventoryAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["station_id_link", "certificate_type", "last_status", "reported_at", "uncertain", "note"]
    list_filter = [StationFilter, "certificate_type", "uncertain"]
    readonly_fields = ["station", "certificate_type", "last_status", "reported_at", "uncertain", "note", "updated_at"]


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
                 "Trigger certificate signing (the station sends a new CSR)", forms.TriggerSigningForm),
    station_spec("install_certificate", "InstallCertificate", "Install certificate…", forms.InstallCertificateForm,
                 install_plan),
    station_spec("refresh_installed_certificates", "GetInstalledCertificateIds", "Refresh installed certificates…",
                 forms.RefreshCertificatesForm, refresh_plan),
]


@admin.register(StationCertificates)
class StationCertificatesAdmin(ConnectionColumnMixin, AdminActionsMixin, MirrorAdmin):
    object_actions = CERTIFICATE_CALL_ACTIONS
    actions = [admin_action(action) for action in CERTIFICATE_CALL_ACTIONS]
    list_display = ["id", "connection", "security_profile", "installed_count", "open_requests", "vendor", "model"]
    list_filter = ["online", "security_profile"]
    search_fields = ["id"]
    fields = ["id", "security_profile", "online"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            installed_total=Count("installed_certificates", distinct=True),
            open_total=Count("certificate_requests", distinct=True,
                             filter=Q(certificate_requests__status__in=[*OPEN_STATUSES, RequestStatus.SENT])),
        )

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
            extra["call_action_links"] = self.object_action_links(request, station)
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

