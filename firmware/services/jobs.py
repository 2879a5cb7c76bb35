"""The periodic jobs (firmware/tasks.py): send updates to stations that came back, notice silent
ones, expire diagnostics requests nobody answered, prune old uploads (docs/adr/0054-watching-transfers.md)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csms.errors import DomainError
from csms.ocpp.calls import call_enqueue

from .. import selectors
from ..models import DiagnosticsState, FirmwareUpdateTarget, TargetState
from .files import stored_file_delete
from .updates import firmware_target_moved, firmware_update_target_send

logger = logging.getLogger(__name__)


def firmware_updates_send_waiting(*, station_ids: list[str] | None = None) -> int:
    """Send waiting updates to stations that are connected now (of `station_ids`, when given: those
    that just connected or booted); expire those that waited too long."""
    waiting = selectors.firmware_targets_to_send()
    if station_ids is not None:
        waiting = waiting.filter(station_id__in=station_ids)
    else:
        expired = selectors.firmware_targets_past_send_window().update(
            state=TargetState.EXPIRED, detail="the station did not connect within the send window",
            updated_at=timezone.now())
        if expired:
            logger.info("%s firmware updates expired unsent", expired)
    sent = 0
    for target_id in list(waiting.values_list("pk", flat=True)):
        with transaction.atomic():
            target = (FirmwareUpdateTarget.objects.select_for_update().select_related("update")
                      .filter(pk=target_id, state=TargetState.WAITING).first())
            if target is not None:
                sent += firmware_update_target_send(target=target, requested_by=target.update.requested_by,
                                                    source="system")
    return sent


def firmware_updates_watch() -> dict[str, int]:
    """Confirm updates whose station booted with the firmware's version; ask silent stations for their
    status (TriggerMessage) after half the stuck time; after all of it, call the update stuck. A report
    of any kind brings a stuck update back."""
    confirmed = firmware_updates_confirm_by_version()
    minutes = settings.CSMS_FIRMWARE_STUCK_MINUTES
    threshold = minutes * 60
    now = timezone.now()
    probed = stuck = 0
    for target in selectors.firmware_targets_silent(minutes / 2):
        update = target.update
        silent = (now - max(target.progress_at, update.retrieve_date, update.install_date or update.retrieve_date)).total_seconds()
        if silent < threshold / 2:
            continue  # an install date still ahead
        if target.station.online and (target.probed_at is None or target.probed_at < target.progress_at):
            probed += _target_probe(target)
        if silent >= threshold and target.state != TargetState.STUCK:
            target.state = TargetState.STUCK
            target.detail = f"no status reported for {int(silent // 60)} minutes"
            target.save(update_fields=["state", "detail", "updated_at"])
            firmware_target_moved(target)
            stuck += 1
    return {"confirmed": confirmed, "probed": probed, "stuck": stuck}


def firmware_updates_confirm_by_version() -> int:
    """Some stations never report Installed after rebooting into the new firmware: a BootNotification
    carrying the stored firmware's version, after the update was sent, says it as well."""
    confirmed = 0
    for target in selectors.firmware_targets_running_their_version():
        target.state = TargetState.INSTALLED
        target.detail = f"the station booted with firmware {target.station.firmware_version}"
        target.save(update_fields=["state", "detail", "updated_at"])
        firmware_target_moved(target)
        confirmed += 1
    return confirmed


def _target_probe(target: FirmwareUpdateTarget) -> bool:
    action = "ExtendedTriggerMessage" if target.update.signed else "TriggerMessage"
    try:
        with transaction.atomic():
            call_enqueue(station=target.station_id, action=action, payload={"requestedMessage": "FirmwareStatusNotification"},
                         source="system", context={"firmware_update_target": target.pk, "reason": "probe"})
    except DomainError:
        return False
    target.probed_at = timezone.now()
    target.save(update_fields=["probed_at", "updated_at"])
    return True


def diagnostics_requests_expire() -> int:
    return selectors.diagnostics_requests_to_expire().update(
        state=DiagnosticsState.EXPIRED, detail="no upload arrived in time", updated_at=timezone.now()
    )


def diagnostics_files_prune() -> int:
    """Delete uploaded files past their retention; the request stays, without its file."""
    pruned = 0
    for request in selectors.diagnostics_files_to_prune():
        stored_file_delete(request.file.storage, request.file.name)
        request.file = ""
        request.detail = "file deleted after its retention period"
        request.save(update_fields=["file", "detail", "updated_at"])
        pruned += 1
    return pruned
