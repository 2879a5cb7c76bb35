"""The call-action framework: admin actions that send OCPP Calls, and how their outcome reaches the
operator.

Every action is thin: for each selected object it makes one call into a service (`call_enqueue`)
and reports what happened. Parameters come from one intermediate page
(templates/admin/csms/call_action.html) validated by a `CallForm`; the OCPP schema is checked by
`call_enqueue` itself, and domain refusals (csms.errors) become error messages. The operator then
lands on the call (one) or on the list of the calls just made (several), pages that refresh
themselves until every answer is in (docs/adr/0010-admin-call-actions.md). Sending needs the one
permission of csms.ocpp.permissions, whatever the path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from csms.errors import DomainError
from csms.ocpp.calls import call_enqueue
from csms.ocpp.models import Call
from csms.ocpp.permissions import may_send_calls

from .forms import CallForm, ConfirmForm

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
    form_class: type[CallForm]
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
        except DomainError as exc:
            outcome.refused.append(Refusal(target.label, exc.message))
        else:
            outcome.sent.append((target.label, call))
    return outcome


# --- Actions on stations ---------------------------------------------------------------------------------


def describe_station(station) -> tuple[str, bool]:
    return station.pk, station.online


def each_station(queryset: Iterable, payload: dict) -> Iterable[Target]:
    for station in queryset:
        yield Target(station.pk, station.pk, payload)


def station_spec(name, ocpp_action, description, form_class=ConfirmForm, plan=each_station) -> CallActionSpec:
    """An action that sends one Call to each selected station."""
    return CallActionSpec(name, ocpp_action, description, form_class, plan, describe_station)


# Admin actions that other apps offer on the charge stations list (firmware updates, diagnostics,
# certificates...): the stations admin shows them without those apps reaching into it.
_station_list_actions: list = []


def station_list_action(action):
    """Register an admin action for the charge stations list; usable as a decorator."""
    if action not in _station_list_actions:
        _station_list_actions.append(action)
    return action


def station_list_actions() -> list:
    return list(_station_list_actions)


# --- Running an action: intermediate page, sending, reporting ------------------------------------


def call_url(modeladmin, call: Call) -> str:
    return reverse(f"{modeladmin.admin_site.name}:ocpp_call_change", args=[call.pk])


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
    return TemplateResponse(request, "admin/csms/call_action.html", context)


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
    return HttpResponseRedirect(reverse(f"{modeladmin.admin_site.name}:ocpp_call_changelist") + f"?id__in={ids}")


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
        return may_send_calls(request.user)

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
