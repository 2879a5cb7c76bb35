"""Admin actions that send OCPP Calls to stations, and how their outcome reaches the operator.

Every action is thin: for each selected object it makes one call into a service (`call_enqueue`,
or `station_accept` / `station_reject` below) and reports what happened. Parameters come from an
intermediate page (templates/admin/stations/call_action.html) validated by a form of
stations/forms.py; the OCPP schema is checked by `call_enqueue` itself, and its refusals
(CallRefused, StationOffline) become error messages. The operator then lands on the call (one) or
on the list of the calls just made (several), pages that refresh themselves until every answer is
in (docs/adr/0010-admin-call-actions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from . import forms
from .calls import CallRefused, StationOffline, call_enqueue
from .models import Call, ChargeStation, RegistrationStatus
from .services import station_registration_set

SOURCE = "admin"
# Beyond this many, refusals are summed up instead of listed one message each.
MAX_REFUSAL_MESSAGES = 20
# The intermediate page lists at most this many targets.
MAX_LISTED_TARGETS = 100


# --- What one action does to each selected object -------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One Call to send: to which station, on behalf of which selected object, with what payload."""

    station_id: str
    label: str
    payload: dict
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    label: str
    reason: str


@dataclass
class Outcome:
    sent: list[tuple[str, Call]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


@dataclass(frozen=True)
class CallActionSpec:
    name: str
    ocpp_action: str
    description: str
    form_class: type[forms.CallForm]
    # The Calls (or refusals) for the selected objects, given the payload the form produced.
    plan: Callable[[Iterable, dict], Iterable[Target | Refusal]]
    # What the intermediate page lists: label and whether its station is connected.
    describe: Callable[[object], tuple[str, bool]]


def calls_send(*, ocpp_action: str, targets: Iterable[Target | Refusal], requested_by) -> Outcome:
    outcome = Outcome()
    for target in targets:
        if isinstance(target, Refusal):
            outcome.refused.append(target)
            continue
        try:
            call = call_enqueue(
                station=target.station_id,
                action=ocpp_action,
                payload=target.payload,
                requested_by=requested_by,
                source=SOURCE,
                context=target.context,
            )
        except CallRefused as exc:
            outcome.refused.append(Refusal(target.label, exc.reason))
        else:
            outcome.sent.append((target.label, call))
    return outcome


# --- Stations -------------------------------------------------------------------------------------


def describe_station(station: ChargeStation) -> tuple[str, bool]:
    return station.pk, station.online


def each_station(queryset: Iterable[ChargeStation], payload: dict) -> Iterable[Target]:
    for station in queryset:
        yield Target(station.pk, station.pk, payload)


def boot_trigger_refusal(station: ChargeStation) -> str | None:
    # OCPP 1.6 errata 3.40: once a station was answered Accepted, no TriggerMessage(BootNotification)
    # until it boots again. A station still Pending/Rejected may be asked (that is how acceptance works).
    if station.registration_status == RegistrationStatus.ACCEPTED and station.last_boot_at is not None:
        return ("an accepted station must not be asked for a BootNotification until it boots again "
                "(OCPP 1.6 errata 3.40)")
    return None


def trigger_message_plan(queryset: Iterable[ChargeStation], payload: dict) -> Iterable[Target | Refusal]:
    for station in queryset:
        reason = boot_trigger_refusal(station) if payload["requestedMessage"] == "BootNotification" else None
        yield Refusal(station.pk, reason) if reason else Target(station.pk, station.pk, payload)


def station_spec(name, ocpp_action, description, form_class=forms.ConfirmForm, plan=each_station) -> CallActionSpec:
    return CallActionSpec(name, ocpp_action, description, form_class, plan, describe_station)


STATION_CALL_ACTIONS = [
    station_spec("reset", "Reset", "Reset (Soft or Hard)…", forms.ResetForm),
    station_spec("unlock_connector", "UnlockConnector", "Unlock a connector…", forms.UnlockConnectorForm),
    station_spec("clear_cache", "ClearCache", "Clear the authorization cache"),
    station_spec("change_availability", "ChangeAvailability", "Change availability…", forms.ChangeAvailabilityForm),
    station_spec("change_configuration", "ChangeConfiguration", "Change a configuration key…",
                 forms.ChangeConfigurationForm),
    station_spec("get_configuration", "GetConfiguration", "Read the configuration…", forms.GetConfigurationForm),
    station_spec("remote_start_transaction", "RemoteStartTransaction", "Start a transaction remotely…",
                 forms.RemoteStartTransactionForm),
    station_spec("trigger_message", "TriggerMessage", "Trigger a message…", forms.TriggerMessageForm,
                 trigger_message_plan),
    station_spec("data_transfer", "DataTransfer", "Send a DataTransfer…", forms.DataTransferForm),
]


def station_boot_request(*, station: ChargeStation, requested_by) -> Call | None:
    """Ask a connected station to boot again (TriggerMessage BootNotification); None when offline."""
    try:
        return call_enqueue(
            station=station,
            action="TriggerMessage",
            payload={"requestedMessage": "BootNotification"},
            requested_by=requested_by,
            source=SOURCE,
            context={"reason": "registration accepted"},
        )
    except StationOffline:
        return None  # it is answered Accepted at its next BootNotification anyway


@transaction.atomic
def station_accept(*, station: ChargeStation, requested_by) -> Call | None:
    """Accept a station; one that is connected and was not accepted yet is asked to boot again.

    Until a station boots into Accepted it may send nothing but BootNotification (errata), so
    waiting for its next boot interval would leave it idle. An already accepted station is not
    asked: OCPP 1.6 errata 3.40 forbids that trigger after an Accepted boot. Returns the trigger.
    """
    was_accepted = station.registration_status == RegistrationStatus.ACCEPTED
    station_registration_set(station=station, status=RegistrationStatus.ACCEPTED)
    if was_accepted:
        return None
    return station_boot_request(station=station, requested_by=requested_by)


def station_reject(*, station: ChargeStation) -> ChargeStation:
    return station_registration_set(station=station, status=RegistrationStatus.REJECTED)


@admin.action(description="Accept registration (connected stations are asked to boot again)", permissions=["change"])
def accept_registration(modeladmin, request, queryset):
    accepted, triggers = [], []
    for station in queryset:
        trigger = station_accept(station=station, requested_by=request.user)
        accepted.append(station.pk)
        if trigger is not None:
            triggers.append((station.pk, trigger))
    if accepted:
        modeladmin.message_user(request, f"Accepted: {', '.join(accepted)}.", messages.SUCCESS)
    if triggers:
        modeladmin.message_user(
            request,
            format_html("Asked to boot again (TriggerMessage BootNotification): {}", call_links(modeladmin, triggers)),
            messages.SUCCESS,
        )


@admin.action(description="Reject registration", permissions=["change"])
def reject_registration(modeladmin, request, queryset):
    rejected = [station_reject(station=station).pk for station in queryset]
    if rejected:
        modeladmin.message_user(request, f"Rejected: {', '.join(rejected)}. They are answered Rejected at their next "
                                         "BootNotification.", messages.WARNING)


# --- Running an action: intermediate page, sending, reporting ------------------------------------


def call_url(modeladmin, call: Call) -> str:
    return reverse(f"{modeladmin.admin_site.name}:stations_call_change", args=[call.pk])


def call_links(modeladmin, sent: list[tuple[str, Call]]):
    return format_html_join(
        ", ", '<a href="{}">{} → {} #{}</a>', ((call_url(modeladmin, call), label, call.action, call.pk) for label, call in sent)
    )


def is_applying(request, spec: CallActionSpec) -> bool:
    """The intermediate page was submitted (or there is nothing to ask: the action runs at once)."""
    if request.method != "POST":
        return False
    return "apply" in request.POST or not spec.form_class.base_fields


def render_call_form(modeladmin, request, queryset, spec: CallActionSpec, form) -> TemplateResponse:
    objects = list(queryset[: MAX_LISTED_TARGETS + 1])
    targets = [spec.describe(obj) for obj in objects[:MAX_LISTED_TARGETS]]
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Send {spec.ocpp_action}",
        "subtitle": None,
        "opts": opts,
        "spec": spec,
        "form": form,
        "targets": targets,
        "more_targets": queryset.count() - len(targets) if len(objects) > MAX_LISTED_TARGETS else 0,
        "offline_count": sum(1 for _, online in targets if not online),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "from_changelist": request.method == "POST" and "action" in request.POST,
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, "admin/stations/call_action.html", context)


def report(modeladmin, request, spec: CallActionSpec, outcome: Outcome):
    """Tell the operator what was sent and refused; open the call(s) so answers show as they come."""
    if outcome.sent:
        modeladmin.message_user(
            request,
            format_html("{} sent ({}): {}. The page refreshes until the station answers.",
                        spec.ocpp_action, len(outcome.sent), call_links(modeladmin, outcome.sent)),
            messages.SUCCESS,
        )
    for refusal in outcome.refused[:MAX_REFUSAL_MESSAGES]:
        modeladmin.message_user(request, f"{spec.ocpp_action} not sent to {refusal.label}: {refusal.reason}",
                                messages.ERROR)
    if len(outcome.refused) > MAX_REFUSAL_MESSAGES:
        modeladmin.message_user(request, f"…and {len(outcome.refused) - MAX_REFUSAL_MESSAGES} more not sent.",
                                messages.ERROR)
    if not outcome.sent:
        return None
    if len(outcome.sent) == 1:
        return HttpResponseRedirect(call_url(modeladmin, outcome.sent[0][1]))
    ids = ",".join(str(call.pk) for _, call in outcome.sent)
    return HttpResponseRedirect(reverse(f"{modeladmin.admin_site.name}:stations_call_changelist") + f"?id__in={ids}")


def run_call_action(modeladmin, request, queryset, spec: CallActionSpec):
    form = spec.form_class(request.POST if is_applying(request, spec) else None)
    if not form.is_bound or not form.is_valid():
        return render_call_form(modeladmin, request, queryset, spec, form)
    outcome = calls_send(ocpp_action=spec.ocpp_action, targets=spec.plan(queryset, form.payload()),
                         requested_by=request.user)
    return report(modeladmin, request, spec, outcome)


def make_call_action(spec: CallActionSpec):
    def action(modeladmin, request, queryset):
        return run_call_action(modeladmin, request, queryset, spec)

    action.__name__ = spec.name
    action.call_action_spec = spec
    return admin.action(description=spec.description, permissions=["send_call"])(action)


class CallActionsMixin:
    """ModelAdmin support for Call actions: the permission, and the same actions from an object's page.

    `<object_id>/send/<action>/` shows the action's page for that one object (a confirmation for
    actions without parameters) and runs it on POST.
    """

    call_action_specs: list[CallActionSpec] = []

    def has_send_call_permission(self, request) -> bool:
        return request.user.has_perm("stations.add_call")

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.send_call_view)
        return [
            path("<path:object_id>/send/<str:action_name>/", view,
                 name=f"{opts.app_label}_{opts.model_name}_send_call"),
            *super().get_urls(),
        ]

    def call_action_links(self, request, obj) -> list[tuple[str, str]]:
        """(url, label) of the Call actions the operator may run from this object's page."""
        if obj is None or not self.has_send_call_permission(request):
            return []
        opts = self.model._meta
        return [
            (reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_send_call",
                     args=[quote(obj.pk), spec.name]), spec.description.rstrip("…"))
            for spec in self.call_action_specs
            if self.call_action_applies(spec, obj)
        ]

    def call_action_applies(self, spec: CallActionSpec, obj) -> bool:
        return True

    def send_call_view(self, request, object_id: str, action_name: str):
        spec = next((spec for spec in self.call_action_specs if spec.name == action_name), None)
        if spec is None:
            raise Http404(f"no action {action_name!r}")
        if not self.has_send_call_permission(request):
            raise PermissionDenied
        queryset = self.get_queryset(request).filter(pk=unquote(object_id))
        obj = queryset.first()
        if obj is None:
            raise Http404("no such object")
        response = run_call_action(self, request, queryset, spec)
        if response is None:  # everything refused: back to the object, where the errors show
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
            )
        return response
