"""Writes about local authorization lists: syncs, what the station's answers mean, and tags changing
(docs/adr/0021-local-list-sync.md, docs/adr/0022-local-list-contents.md).

A sync is a chain of calls. Each step compares what the station holds (as the CSMS knows it) with
what it should hold and sends at most SendLocalListMaxLength entries; the next step runs from the
result handler of the previous call, once the station answered Accepted, so every chunk is built on
the previous one's result.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from csms.errors import DomainError
from csms.ocpp.calls import StationOffline, call_enqueue
from csms.ocpp.models import Call, CallStatus
from partners.selectors import acting_user
from stations.models import ChargeStation
from transactions.models import IdTag

from . import selectors
from .models import LocalList, LocalListEntry, LocalListSync, SyncStatus

logger = logging.getLogger(__name__)

# CallError codes by which a station says it has no local list at all.
NOT_SUPPORTED_CODES = ("NotSupported", "NotImplemented")


def _locked(station_id: str, *, auto_sync: bool = True) -> LocalList:
    LocalList.objects.get_or_create(station_id=station_id, defaults={"auto_sync": auto_sync})
    return LocalList.objects.select_for_update().get(pk=station_id)


# --- Starting a sync -------------------------------------------------------------------------------


@transaction.atomic
def local_list_sync(*, station: ChargeStation, trigger: str, requested_by=None) -> LocalListSync | None:
    """Bring the station's list up to date: a Differential from the version it holds when the CSMS
    knows its entries, a Full otherwise. A sync already under way is returned as is: it reads the
    selection afresh at every step. None when the periodic job finds nothing to change."""
    if not ChargeStation.objects.filter(pk=station.pk, online=True).exists():
        raise StationOffline(station.pk)
    local_list = _locked(station.pk)
    running = selectors.running_sync(local_list)
    if running is not None:
        if _in_flight(running):
            return running
        _finish(local_list, running, SyncStatus.ERROR, "its last call ended without a usable answer")
    if trigger == "beat" and _nothing_to_change(local_list):
        local_list.outdated = False
        local_list.save()
        return None
    sync = LocalListSync.objects.create(
        local_list=local_list, trigger=trigger,
        requested_by=acting_user(requested_by),
    )
    # Chunk size and capacity as last read (GetConfiguration); unknown limits apply none. The first
    # call of a sync is the SendLocalList itself, as a station (and its test suite) expects.
    _step(local_list, sync)
    local_list.save()
    return sync


def _in_flight(sync: LocalListSync) -> bool:
    return Call.objects.filter(pk=sync.current_call_id, status__in=[CallStatus.PENDING, CallStatus.SENT]).exists()


def _can_build_on(local_list: LocalList) -> bool:
    """A Differential needs a version the CSMS itself established, with the entries it holds."""
    return local_list.entries_known and (local_list.version or 0) >= 1


def _nothing_to_change(local_list: LocalList) -> bool:
    if not _can_build_on(local_list):
        return False
    desired, local_list.omitted = selectors.desired_entries(local_list)
    return not selectors.list_changes(selectors.held_entries(local_list), desired)


def _step(local_list: LocalList, sync: LocalListSync, *, force_full: bool = False) -> None:
    """Send the next call of the sync, or finish it when the station holds what it should."""
    desired, local_list.omitted = selectors.desired_entries(local_list)
    size = selectors.chunk_size(local_list.station_id)
    if force_full or not _can_build_on(local_list):
        entries = selectors.full_entries(desired)
        _send(local_list, sync, "Full", entries[:size] if size else entries)
        return
    changes = selectors.list_changes(selectors.held_entries(local_list), desired)
    if changes:
        _send(local_list, sync, "Differential", changes[:size] if size else changes)
    elif sync.updates_sent == 0:
        # Nothing to send by the CSMS's account: make sure the station agrees about its version.
        _enqueue(local_list, sync, "GetLocalListVersion", {})
    else:
        _finish(local_list, sync, SyncStatus.DONE,
                f"the station holds version {local_list.version} with {len(desired)} entries")


def _send(local_list: LocalList, sync: LocalListSync, update_type: str, entries: list[dict]) -> None:
    # Versions only grow and are never 0 or -1 (errata 3.52), even past failed or hand-sent updates.
    version = max(local_list.version or 0, local_list.last_version_sent) + 1
    payload = {"listVersion": version, "updateType": update_type, "localAuthorizationList": entries}
    _enqueue(local_list, sync, "SendLocalList", payload)
    local_list.last_version_sent = version
    sync.updates_sent += 1
    sync.save(update_fields=["updates_sent"])


def _enqueue(local_list: LocalList, sync: LocalListSync, action: str, payload: dict) -> None:
    sync.current_call = call_enqueue(
        station=local_list.station_id, action=action, payload=payload, requested_by=sync.requested_by,
        source=sync.trigger if sync.trigger in ("api", "admin") else "system",
        context={"local_list_sync": sync.pk},
    )
    sync.calls_sent += 1
    sync.save(update_fields=["current_call", "calls_sent"])


def _finish(local_list: LocalList, sync: LocalListSync, status: str, detail: str) -> None:
    sync.status = status
    sync.detail = detail[:300]
    sync.finished_at = timezone.now()
    sync.save(update_fields=["status", "detail", "finished_at"])
    if status == SyncStatus.DONE:
        local_list.outdated = False


def _continue(local_list: LocalList, sync: LocalListSync, *, force_full: bool = False) -> None:
    """Run the next step from a result handler; a station gone meanwhile ends the sync."""
    try:
        with transaction.atomic():
            _step(local_list, sync, force_full=force_full)
    except DomainError as exc:
        _finish(local_list, sync, SyncStatus.ERROR, f"could not send the next update: {exc.message}")


def local_list_reconcile(*, station: ChargeStation, requested_by=None, source: str = "system") -> Call:
    """Ask the station which list version it holds (GetLocalListVersion); the answer reconciles."""
    return call_enqueue(station=station, action="GetLocalListVersion", payload={}, requested_by=requested_by, source=source)


# --- What the station's answers mean ------------------------------------------------------------


def _sync_of(call: Call) -> LocalListSync | None:
    """The running sync this call is the current step of; None for calls sent by hand."""
    sync_id = call.context.get("local_list_sync")
    if sync_id is None:
        return None
    return LocalListSync.objects.filter(pk=sync_id, finished_at__isnull=True, current_call_id=call.pk).first()


def _apply(local_list: LocalList, payload: dict) -> None:
    """The station accepted this update: it now holds that version with these entries."""
    if payload["updateType"] == "Full":
        local_list.entries.all().delete()
        LocalListEntry.objects.bulk_create(
            LocalListEntry(local_list=local_list, id_tag=item["idTag"], id_tag_info=item["idTagInfo"])
            for item in payload.get("localAuthorizationList", [])
        )
        local_list.entries_known = True
    else:
        for item in payload.get("localAuthorizationList", []):
            # One entry per tag whatever its case: the station replaced `abc` when it was sent `ABC`.
            LocalListEntry.objects.filter(local_list=local_list, id_tag__iexact=item["idTag"]).delete()
            if "idTagInfo" in item:
                LocalListEntry.objects.create(local_list=local_list, id_tag=item["idTag"], id_tag_info=item["idTagInfo"])
    local_list.version = payload["listVersion"]
    local_list.last_version_sent = max(local_list.last_version_sent, payload["listVersion"])
    local_list.supported = True


def local_list_update_answer_apply(*, call: Call, status: str) -> None:
    """SendLocalList answered. What the station holds changes only on Accepted; a sync goes on with
    the next chunk, retries a failed Differential as a Full once, or ends."""
    local_list = _locked(call.station_id, auto_sync=False)
    if status == "Accepted":
        _apply(local_list, call.payload)
    sync = _sync_of(call)
    if sync is None:
        # Sent by hand through the calls API: not part of a sync, but the station's list changed.
        if status == "Accepted":
            local_list.outdated = True
        elif status == "NotSupported":
            local_list.supported = False
        local_list.save()
        return
    update_type = call.payload["updateType"]
    local_list.last_sync_status = status
    local_list.last_sync_at = timezone.now()
    local_list.last_sync_detail = f"{update_type} update to version {call.payload['listVersion']}: {status}"
    if status == "Accepted":
        _continue(local_list, sync)
    elif status in ("VersionMismatch", "Failed") and update_type == "Differential" and not sync.full_retry:
        local_list.entries_known = False
        sync.full_retry = True
        sync.save(update_fields=["full_retry"])
        _continue(local_list, sync, force_full=True)
    elif status == "NotSupported":
        local_list.supported = False
        _finish(local_list, sync, SyncStatus.NOT_SUPPORTED, "the station does not support local lists")
    else:
        local_list.entries_known = False  # whatever a failed update left behind, the next sync replaces it
        _finish(local_list, sync, SyncStatus.FAILED, f"the station answered {status} to a {update_type} update")
    local_list.save()


def local_list_update_failed(*, call: Call) -> None:
    """SendLocalList got a CallError, no answer, or the station went away."""
    sync = _sync_of(call)
    local_list = _locked(call.station_id, auto_sync=False)
    not_supported = call.error_code in NOT_SUPPORTED_CODES
    if not_supported:
        local_list.supported = False
    else:
        local_list.entries_known = False  # the station may or may not have applied it
    if sync is not None:
        local_list.last_sync_status = "NotSupported" if not_supported else call.error_code[:20]
        local_list.last_sync_at = timezone.now()
        local_list.last_sync_detail = f"{call.error_code}: {call.error_description}"[:300]
        _finish(local_list, sync, SyncStatus.NOT_SUPPORTED if not_supported else SyncStatus.ERROR,
                local_list.last_sync_detail)
    local_list.save()


def local_list_version_apply(*, call: Call, list_version: int) -> None:
    """GetLocalListVersion answered (whoever sent it): reconcile what the CSMS believes."""
    local_list = _locked(call.station_id, auto_sync=False)
    reported = list_version
    agrees = _reconcile(local_list, reported)
    sync = _sync_of(call)
    if sync is not None:
        if reported < 0:
            local_list.last_sync_status = "NotSupported"
            local_list.last_sync_at = timezone.now()
            _finish(local_list, sync, SyncStatus.NOT_SUPPORTED, "the station reports list version -1: no local list")
        elif agrees:
            _finish(local_list, sync, SyncStatus.DONE, f"the station confirmed it holds version {reported}")
        else:
            _continue(local_list, sync, force_full=True)
    local_list.save()


def _reconcile(local_list: LocalList, reported: int) -> bool:
    """True when the station holds the version the CSMS believes, with entries it knows."""
    if reported < 0:
        local_list.supported = False
        local_list.last_sync_detail = "the station reports list version -1: it does not support local lists"
        return False
    if reported == local_list.version:
        return local_list.entries_known
    # Someone else changed the list, or the station lost it: the entries are no longer known.
    local_list.version = reported
    local_list.entries.all().delete()
    local_list.entries_known = reported == 0
    local_list.outdated = True
    local_list.last_sync_detail = f"the station reported list version {reported}"
    return False


def local_list_version_failed(*, call: Call) -> None:
    """The station could not confirm its version: a Full settles it."""
    sync = _sync_of(call)
    if sync is None:
        return
    local_list = _locked(call.station_id, auto_sync=False)
    _continue(local_list, sync, force_full=True)
    local_list.save()


# --- Selection and tags changing -------------------------------------------------------------------


@transaction.atomic
def local_list_configure(
    *, station: ChargeStation, selection: str | None = None, id_tags: list[IdTag] | None = None,
    auto_sync: bool | None = None,
) -> LocalList:
    """Choose which tags belong on the station's list; a changed selection makes it out of date."""
    local_list = _locked(station.pk)
    if selection is not None and selection != local_list.selection:
        local_list.selection = selection
        local_list.outdated = True
    if auto_sync is not None:
        local_list.auto_sync = auto_sync
    if id_tags is not None:
        chosen = {tag.pk for tag in id_tags}
        if chosen != set(local_list.id_tags.values_list("pk", flat=True)):
            local_list.id_tags.set(id_tags)
            local_list.outdated = True
    local_list.save()
    return local_list


def local_lists_mark_outdated_for_tag(*, id_tag: str, deleted: bool = False) -> int:
    """A tag changed (blocked, expiry, parent, partner) or went: lists holding or selecting it are
    out of date."""
    partner_id = None
    if not deleted:
        tag = IdTag.objects.filter(id_tag__iexact=id_tag).values("partner_id").first()
        deleted = tag is None
        partner_id = tag["partner_id"] if tag else None
    concerned = selectors.lists_concerned_by_tag(id_tag=id_tag, partner_id=partner_id, deleted=deleted)
    ids = list(concerned.filter(outdated=False).values_list("pk", flat=True).distinct())
    if not ids:
        return 0
    return LocalList.objects.filter(pk__in=ids).update(outdated=True, updated_at=timezone.now())


def local_lists_sync_outdated() -> int:
    """The periodic job: start a sync for every out-of-date list of a connected station."""
    started = 0
    for station_id in list(selectors.lists_to_sync().values_list("station_id", flat=True)):
        station = ChargeStation.objects.filter(pk=station_id).first()
        if station is None:
            continue
        try:
            if local_list_sync(station=station, trigger="beat") is not None:
                started += 1
        except DomainError as exc:  # went offline meanwhile: the next run tries again
            logger.info("local list of %s not synced: %s", station_id, exc.message)
        except Exception:
            logger.exception("local list sync of %s failed to start", station_id)
    return started
