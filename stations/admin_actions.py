"""The Calls an operator sends to selected stations, and registration (accept, reject).

Each action is one call into a service; the framework (parameters page, sending, reporting, the
permission) is csms/admin/actions.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.utils.html import format_html

from csms.admin.actions import SOURCE, AdminAction, Outcome, Refusal, Target, call_links, station_spec

from . import forms, services
from .models import ChargeStation, RegistrationStatus


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


def accept(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    accepted, triggers = [], []
    for station in queryset:
        trigger = services.station_accept(station=station, requested_by=request.user, source=SOURCE)
        accepted.append(station.pk)
        if trigger is not None:
            triggers.append((station.pk, trigger))
    if accepted:
        outcome.tell(f"Accepted: {', '.join(accepted)}.")
    if triggers:
        outcome.tell(format_html("Asked to boot again (TriggerMessage BootNotification): {}",
                                 call_links(modeladmin, triggers)))
    return outcome


def reject(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    rejected = [services.station_reject(station=station).pk for station in queryset]
    if rejected:
        outcome.tell(f"Rejected: {', '.join(rejected)}. They are answered Rejected at their next BootNotification.",
                     messages.WARNING)
    return outcome


# Accepting a connected station that was not accepted yet sends it a TriggerMessage: sending a Call.
ACCEPT_REGISTRATION = AdminAction(name="accept_registration", run=accept, permissions=("change", "send_call"),
                                  description="Accept registration (connected stations are asked to boot again)")
REJECT_REGISTRATION = AdminAction(name="reject_registration", run=reject, permissions=("change",),
                                  description="Reject registration")
