"""What operators start from admin: "Update firmware…" and "Request diagnostics / logs…" on the
charge stations list (registered there through csms.admin.actions.station_list_action), the
firmware update jobs' "send again" and "cancel", and a rollout's pause, resume, cancel and retry.
Each is one service call per job, rollout or station; the framework (parameters page, permission,
refusals, report) is csms/admin/actions.py.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from csms.admin.actions import SOURCE, AdminAction, Outcome, TargetLine, admin_action, station_list_action

from . import selectors
from .services import diagnostics, locations, rollouts, updates
from stations.services import station_update

from .forms import DiagnosticsForm, FileTransferProtocolForm, UpdateFirmwareForm
from .models import RolloutState, TargetState


def describe_update_target(station) -> TargetLine:
    label = f"{station.pk} (firmware {station.firmware_version})" if station.firmware_version else station.pk
    return TargetLine(label, "" if station.online else "offline: sent when it connects")


def describe_diagnostics_target(station) -> TargetLine:
    return TargetLine(station.pk, "" if station.online else "offline: it will not be asked")


def update_firmware(modeladmin, request, queryset, form) -> Outcome:
    update = updates.firmware_update_create(
        stations=list(queryset), **form.service_arguments(), base_url=locations.public_base_url(request),
        requested_by=request.user, source=SOURCE,
    )
    summary = selectors.firmware_update_summary(update)
    outcome = Outcome(redirect=reverse("admin:firmware_firmwareupdate_change", args=[update.pk]))
    outcome.tell(format_html("{} sent: {} station(s) now, {} waiting for their connection.", update.ocpp_action,
                             summary.get(TargetState.SENT, 0), summary.get(TargetState.WAITING, 0)))
    return outcome


def request_diagnostics(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    base_url = locations.public_base_url(request)
    created = [row for row in (
        outcome.attempt(station.pk, lambda station=station: diagnostics.diagnostics_request_create(
            station=station, **form.service_arguments(), base_url=base_url, requested_by=request.user, source=SOURCE))
        for station in queryset) if row is not None]
    if not created:
        return outcome
    outcome.tell(f"{created[0].ocpp_action} sent to {len(created)} station(s). The page refreshes until the files "
                 "are in.")
    if len(created) == 1:
        outcome.redirect = reverse("admin:firmware_diagnosticsrequest_change", args=[created[0].pk])
    else:
        ids = ",".join(str(row.pk) for row in created)
        outcome.redirect = reverse("admin:firmware_diagnosticsrequest_changelist") + f"?id__in={ids}"
    return outcome


def set_file_transfer_protocol(modeladmin, request, queryset, form) -> Outcome:
    """Per station, or per model: filter the list by model and select them all."""
    protocol = form.cleaned_data["protocol"]
    stations = list(queryset)
    for station in stations:
        station_update(station=station, file_transfer_protocol=protocol, requested_by=request.user, source=SOURCE)
    outcome = Outcome()
    outcome.tell(f"{len(stations)} station(s) now use {protocol.upper()} for file transfers.")
    return outcome


UPDATE_FIRMWARE = AdminAction(name="update_firmware", description="Update firmware…", run=update_firmware,
                              form_class=UpdateFirmwareForm, submit_label="Send the update",
                              describe=describe_update_target)
REQUEST_DIAGNOSTICS = AdminAction(name="request_diagnostics", description="Request diagnostics / logs…",
                                  run=request_diagnostics, form_class=DiagnosticsForm, submit_label="Send the request",
                                  describe=describe_diagnostics_target, refusal="Not requested from {label}: {reason}")
SET_FILE_TRANSFER_PROTOCOL = AdminAction(name="set_file_transfer_protocol", description="Set file transfer protocol…",
                                         run=set_file_transfer_protocol, form_class=FileTransferProtocolForm,
                                         permissions=("change",), submit_label="Set it")
station_list_action(admin_action(UPDATE_FIRMWARE))
station_list_action(admin_action(REQUEST_DIAGNOSTICS))
station_list_action(admin_action(SET_FILE_TRANSFER_PROTOCOL))


# --- Firmware update jobs ---------------------------------------------------------------------------------


def retry(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    for update in queryset:
        retried = updates.firmware_update_retry(update=update, requested_by=request.user, source=SOURCE)
        sent = sum(1 for target in retried if target.state == TargetState.SENT)
        outcome.tell(f"Firmware update #{update.pk}: sent again to {sent} station(s), "
                     f"{len(retried) - sent} waiting for their connection.")
    return outcome


def cancel(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    cancelled = sum(updates.firmware_update_cancel(update=update) for update in queryset)
    outcome.tell(f"Cancelled for {cancelled} station(s) not reached yet.")
    return outcome


RETRY_UPDATES = AdminAction(name="retry_updates", run=retry,
                            description="Send again to stations that did not install it")
CANCEL_UPDATES = AdminAction(name="cancel_updates", run=cancel,
                             description="Cancel for stations it was not sent to yet")


# --- Rollouts ---------------------------------------------------------------------------------------------


def rollout_operation(service, told: str):
    """A run calling `service(rollout=...)` on each selected rollout; a refusal (a rollout in the wrong
    state) is reported for that rollout."""

    def run(modeladmin, request, queryset, form) -> Outcome:
        outcome = Outcome()
        for rollout in queryset:
            result = outcome.attempt(str(rollout), lambda rollout=rollout: service(rollout=rollout))
            if result is not None:
                outcome.tell(told.format(rollout=rollout, result=result))
        return outcome

    return run


PAUSE_ROLLOUTS = AdminAction(
    name="pause_rollouts", description="Pause: no further wave, hold back what was not sent",
    run=rollout_operation(rollouts.firmware_rollout_pause, "{rollout}: paused."), link_label="Pause",
    applies=lambda rollout: rollout.state == RolloutState.RUNNING)
RESUME_ROLLOUTS = AdminAction(
    name="resume_rollouts", description="Resume (a halted rollout goes on with its next wave)",
    run=rollout_operation(rollouts.firmware_rollout_resume, "{rollout}: running again."), link_label="Resume",
    applies=lambda rollout: rollout.state in (RolloutState.PAUSED, RolloutState.HALTED))
CANCEL_ROLLOUTS = AdminAction(
    name="cancel_rollouts", description="Cancel: nothing more is sent",
    run=rollout_operation(rollouts.firmware_rollout_cancel, "{rollout}: cancelled."), link_label="Cancel",
    applies=lambda rollout: rollout.state not in (RolloutState.CANCELLED, RolloutState.COMPLETED))
RETRY_FAILED_ROLLOUTS = AdminAction(
    name="retry_failed_rollouts", description="Send again to the stations that failed",
    run=rollout_operation(rollouts.firmware_rollout_retry_failed, "{rollout}: sent again to {result} station(s)."),
    link_label="Retry failed", applies=lambda rollout: rollout.state != RolloutState.CANCELLED)
ROLLOUT_ACTIONS = [PAUSE_ROLLOUTS, RESUME_ROLLOUTS, CANCEL_ROLLOUTS, RETRY_FAILED_ROLLOUTS]
