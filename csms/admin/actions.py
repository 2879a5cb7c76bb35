"""The admin action framework: every admin action that asks for parameters or sends a Call.

An action is declared once, as an `AdminAction`: its form, the permissions it needs and a
`run(modeladmin, request, queryset, form) -> Outcome` that makes the service call(s). The framework
does the rest, the same way for every app: the one parameters page
(templates/admin/csms/call_action.html), the permission check (sending a Call is `send_call`, i.e.
`AdminActionsMixin.has_send_call_permission`, i.e. csms.ocpp.permissions.may_send_calls), domain
refusals (csms.errors) turned into error messages, the report and where the operator lands. The
same actions run from an object's page (`<object_id>/send/<action>/`).

`call_action` builds the common kind, one Call per target through `call_enqueue`: the operator then
lands on the call (one) or on the list of the calls just made (several), pages that update
themselves until every answer is in (docs/adr/0010-admin-call-actions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django import forms
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
from csms.ocpp.permissions import SEND_CALLS_REFUSED, may_send_calls

from .forms import CallForm, ConfirmForm
from .presentation import call_link

SOURCE = "admin"
# Beyond this many, refusals are summed up instead of listed one message each.
MAX_REFUSAL_MESSAGES = 20
# The parameters page lists at most this many targets.
MAX_LISTED_TARGETS = 100
PAGE_TEMPLATE = "admin/csms/call_action.html"
# What the parameters page says of a target whose station is offline, when a Call can only go now.
OFFLINE_NOT_SENT = "offline: it will not be sent"

T = TypeVar("T")


# --- What an action is, and what it did -------------------------------------------------------------


@dataclass(frozen=True)
class TargetLine:
    """One selected object as the parameters page lists it."""

    label: str
    note: str = ""  # flagged after the label, e.g. what happens to an offline station
    detail: str = ""  # HTML shown under it (build it with format_html)


def describe_object(obj) -> TargetLine:
    return TargetLine(str(obj))


def always(obj) -> bool:
    return True


@dataclass(frozen=True)
class Refusal:
    label: str
    reason: str


@dataclass
class Outcome:
    """What an action did: Calls sent, messages for the operator, refusals, where to go next."""

    sent: list[tuple[str, Call]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (level, message)
    refused: list[Refusal] = field(default_factory=list)
    redirect: str | None = None

    def tell(self, message: str, level: int = messages.SUCCESS) -> None:
        self.notes.append((level, message))

    def attempt(self, label: str, work: Callable[[], T]) -> T | None:
        """One service call for one target: a domain refusal is noted for the operator, not raised."""
        try:
            return work()
        except DomainError as exc:
            self.refused.append(Refusal(label, exc.message))
            return None


@dataclass(frozen=True)
class AdminAction:
    name: str
    description: str
    # Makes the service call(s) once the form is valid; a DomainError it raises refuses the whole
    # action (the page is shown again with the reason), `Outcome.attempt` refuses one target.
    run: Callable[[Any, Any, Any, forms.Form], Outcome]
    form_class: type[forms.Form] = ConfirmForm
    # has_<permission>_permission of the ModelAdmin, every one required (AdminActionsMixin.get_actions).
    permissions: tuple[str, ...] = ("send_call",)
    title: str = ""  # of the parameters page; default: the description
    submit_label: str = "Send"
    ocpp_action: str = ""  # shown on the page when the action sends one known OCPP action
    intro: str = ""  # what will happen, said on the page above the form
    describe: Callable[[Any], TargetLine] = describe_object
    # How one refused target reads ({label}, {reason}).
    refusal: str = "{label}: {reason}"
    link_label: str = ""  # on an object's page; default: the description
    applies: Callable[[Any], bool] = always  # offered on this object's page?

    @property
    def page_title(self) -> str:
        return self.title or self.description.rstrip("…")

    @property
    def object_label(self) -> str:
        return self.link_label or self.description.rstrip("…")


# --- Calls, one per target ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One Call to send: to which station, on behalf of which selected object, with what payload."""

    station_id: str
    label: str
    payload: dict
    context: dict = field(default_factory=dict)


def calls_send(*, ocpp_action: str, targets: Iterable[Target | Refusal], requested_by) -> Outcome:
    outcome = Outcome()
    for target in targets:
        if isinstance(target, Refusal):
            outcome.refused.append(target)
            continue
        if requested_by is not None and not may_send_calls(requested_by, target.station_id):
            outcome.refused.append(Refusal(target.label, SEND_CALLS_REFUSED))
            continue
        call = outcome.attempt(target.label, lambda target=target: call_enqueue(
            station=target.station_id, action=ocpp_action, payload=target.payload, requested_by=requested_by,
            source=SOURCE, context=target.context))
        if call is not None:
            outcome.sent.append((target.label, call))
    return outcome


def call_url(modeladmin, call: Call) -> str:
    return reverse(f"{modeladmin.admin_site.name}:ocpp_call_change", args=[call.pk])


def call_links(modeladmin, sent: list[tuple[str, Call]]):
    return format_html_join(", ", '<a href="{}">{} → {} #{}</a>',
                            ((call_url(modeladmin, call), label, call.action, call.pk) for label, call in sent))


def calls_land(modeladmin, outcome: Outcome, ocpp_action: str) -> Outcome:
    """Tell what was sent and open the call(s), whose pages update themselves when the station answers."""
    if not outcome.sent:
        return outcome
    outcome.tell(format_html("{} sent ({}): {}. The page updates itself when the station answers.",
                             ocpp_action, len(outcome.sent), call_links(modeladmin, outcome.sent)))
    if len(outcome.sent) == 1:
        outcome.redirect = call_url(modeladmin, outcome.sent[0][1])
    else:
        ids = ",".join(str(call.pk) for _, call in outcome.sent)
        outcome.redirect = reverse(f"{modeladmin.admin_site.name}:ocpp_call_changelist") + f"?id__in={ids}"
    return outcome


def each_call(*, label: Callable[[Any, dict], str], send: Callable[[Any, dict, Any], Call],
              told: str = "{label}: sent as {call}") -> Callable[..., Outcome]:
    """A run making one service call per selected object, each sending one Call (a service that does
    more than `call_enqueue`): `send(obj, cleaned_data, user)`, reported as `told` ({label}, {call})."""

    def run(modeladmin, request, queryset, form) -> Outcome:
        outcome = Outcome()
        data = form.cleaned_data
        for obj in queryset:
            what = label(obj, data)
            call = outcome.attempt(what, lambda obj=obj: send(obj, data, request.user))
            if call is not None:
                outcome.sent.append((what, call))
                outcome.tell(format_html(told, label=what, call=call_link(call.pk, f"{call.action} #{call.pk}")))
        return outcome

    return run


def call_action(name: str, ocpp_action: str, description: str, form_class=ConfirmForm, *,
                plan: Callable[[Iterable, dict], Iterable[Target | Refusal]],
                describe: Callable[[Any], TargetLine], applies: Callable[[Any], bool] = always) -> AdminAction:
    """An action that sends `ocpp_action` once per target the plan makes of the selection; the form
    (a csms.admin.forms.CallForm) gives the payload."""

    def run(modeladmin, request, queryset, form) -> Outcome:
        outcome = calls_send(ocpp_action=ocpp_action, targets=plan(queryset, form.payload()), requested_by=request.user)
        return calls_land(modeladmin, outcome, ocpp_action)

    return AdminAction(name=name, description=description, run=run, form_class=form_class, ocpp_action=ocpp_action,
                       title=f"Send {ocpp_action}", submit_label=f"Send {ocpp_action}", describe=describe,
                       refusal=f"{ocpp_action} not sent to {{label}}: {{reason}}", applies=applies)


def describe_station(station) -> TargetLine:
    return TargetLine(station.pk, "" if station.online else OFFLINE_NOT_SENT)


def each_station(queryset: Iterable, payload: dict) -> Iterable[Target]:
    for station in queryset:
        yield Target(station.pk, station.pk, payload)


def station_spec(name, ocpp_action, description, form_class=ConfirmForm, plan=each_station) -> AdminAction:
    """An action that sends one Call to each selected station."""
    return call_action(name, ocpp_action, description, form_class, plan=plan, describe=describe_station)


# Admin actions that other apps offer on the charge stations list (firmware updates, diagnostics...):
# the stations admin shows them without those apps reaching into it.
_station_list_actions: list = []


def station_list_action(action):
    """Register an admin action for the charge stations list; usable as a decorator."""
    if action not in _station_list_actions:
        _station_list_actions.append(action)
    return action


def station_list_actions() -> list:
    return list(_station_list_actions)


# --- Running an action: the parameters page, the run, the report ---------------------------------------


def render_action_page(modeladmin, request, queryset, action: AdminAction, form, obj=None) -> TemplateResponse:
    objects = list(queryset[: MAX_LISTED_TARGETS + 1])
    opts = modeladmin.model._meta
    object_url = change_url(modeladmin, obj) if obj is not None else None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": action.page_title,
        "subtitle": None,
        "opts": opts,
        "action": action,
        "form": form,
        "targets": [action.describe(target) for target in objects[:MAX_LISTED_TARGETS]],
        "more_targets": queryset.count() - MAX_LISTED_TARGETS if len(objects) > MAX_LISTED_TARGETS else 0,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "original": obj,
        "object_url": object_url,
        "cancel_url": object_url or reverse(f"{modeladmin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"),
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, PAGE_TEMPLATE, context)


def report(modeladmin, request, action: AdminAction, outcome: Outcome):
    for level, message in outcome.notes:
        modeladmin.message_user(request, message, level)
    for refusal in outcome.refused[:MAX_REFUSAL_MESSAGES]:
        modeladmin.message_user(request, action.refusal.format(label=refusal.label, reason=refusal.reason),
                                messages.ERROR)
    if len(outcome.refused) > MAX_REFUSAL_MESSAGES:
        modeladmin.message_user(request, f"…and {len(outcome.refused) - MAX_REFUSAL_MESSAGES} more refused.",
                                messages.ERROR)
    return HttpResponseRedirect(outcome.redirect) if outcome.redirect else None


def run_action(modeladmin, request, queryset, action: AdminAction, obj=None):
    """The page until its form is valid, then the run. From the changelist the first POST only selects
    (an action without parameters runs at once); on an object's own URL, a POST submits."""
    applying = request.method == "POST" and (
        obj is not None or "apply" in request.POST or not action.form_class.base_fields)
    data = request.POST if applying else None
    # A Call form knows what it is for (the stations' connectors...); other forms take data only.
    form = (action.form_class(data, targets=queryset) if issubclass(action.form_class, CallForm)
            else action.form_class(data))
    if form.is_bound and form.is_valid():
        try:
            outcome = action.run(modeladmin, request, queryset, form)
        except DomainError as exc:
            modeladmin.message_user(request, f"{action.page_title}: nothing done — {exc.message}", messages.ERROR)
        else:
            return report(modeladmin, request, action, outcome)
    return render_action_page(modeladmin, request, queryset, action, form, obj)


def admin_action(action: AdminAction):
    """The Django admin action (for `ModelAdmin.actions`) that runs `action` on the selection."""

    def run(modeladmin, request, queryset):
        return run_action(modeladmin, request, queryset, action)

    run.__name__ = action.name
    run.admin_action = action
    return admin.action(description=action.description, permissions=list(action.permissions))(run)


def change_url(modeladmin, obj) -> str:
    opts = modeladmin.model._meta
    return reverse(f"{modeladmin.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])


class AdminActionsMixin:
    """ModelAdmin support for the framework: the one permission to send Calls, and actions run from
    an object's page.

    `<object_id>/send/<action>/` shows the page of one of `object_actions` for that one object (a
    confirmation for actions without parameters) and runs it on POST; an admin may route older URLs
    to the same view (`object_action_view`).
    """

    object_actions: Sequence[AdminAction] = ()

    def has_send_call_permission(self, request) -> bool:
        return may_send_calls(request.user)

    def has_action_permission(self, request, action: AdminAction) -> bool:
        return all(getattr(self, f"has_{name}_permission")(request) for name in action.permissions)

    def get_actions(self, request):
        # Django offers an action to whoever has any one of its permissions; ours need them all.
        return {name: entry for name, entry in super().get_actions(request).items()
                if not hasattr(entry[0], "admin_action") or self.has_action_permission(request, entry[0].admin_action)}

    def get_urls(self):
        if not self.object_actions:
            return super().get_urls()
        opts = self.model._meta
        return [
            path("<path:object_id>/send/<str:action_name>/", self.admin_site.admin_view(self.object_action_view),
                 name=f"{opts.app_label}_{opts.model_name}_send_call"),
            *super().get_urls(),
        ]

    def object_action_url(self, obj, action: AdminAction) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_send_call",
                       args=[quote(obj.pk), action.name])

    def object_action_links(self, request, obj) -> list[tuple[str, str]]:
        """(url, label) of the actions the operator may run from this object's page."""
        if obj is None:
            return []
        return [(self.object_action_url(obj, action), action.object_label) for action in self.object_actions
                if action.applies(obj) and self.has_action_permission(request, action)]

    def object_action_view(self, request, object_id, action_name: str):
        action = next((action for action in self.object_actions if action.name == action_name), None)
        if action is None:
            raise Http404(f"no action {action_name!r}")
        if not self.has_action_permission(request, action):
            raise PermissionDenied
        queryset = self.get_queryset(request).filter(pk=unquote(str(object_id)))
        obj = queryset.first()
        if obj is None:
            raise Http404("no such object")
        # Everything refused, or nothing to open: back to the object, where the messages show.
        return run_action(self, request, queryset, action, obj) or HttpResponseRedirect(change_url(self, obj))
