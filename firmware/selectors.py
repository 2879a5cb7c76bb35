"""Reads: what a user may see, which update or request a station's notification is about, and what
the periodic jobs have to look at."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from partners.selectors import is_staff, partner_of
from stations.selectors import stations_visible_to

from .models import (
    ACTIVE_TARGET_STATES,
    OPEN_DIAGNOSTICS_STATES,
    OPEN_TARGET_STATES,
    DiagnosticsRequest,
    Firmware,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    TargetState,
)


# --- Visibility ------------------------------------------------------------------------------------


def firmware_files_visible_to(user) -> QuerySet[Firmware]:
    """Staff see every file; a partner the shared ones and its own."""
    queryset = Firmware.objects.all()
    if is_staff(user):
        return queryset
    partner = partner_of(user)
    return queryset.filter(Q(partner__isnull=True) | Q(partner=partner)) if partner else queryset.none()


def firmware_updates_visible_to(user) -> QuerySet[FirmwareUpdate]:
    queryset = FirmwareUpdate.objects.all()
    if is_staff(user):
        return queryset
    partner = partner_of(user)
    return queryset.filter(partner=partner) if partner else queryset.none()


def diagnostics_visible_to(user) -> QuerySet[DiagnosticsRequest]:
    return DiagnosticsRequest.objects.filter(station__in=stations_visible_to(user))


# --- Which job a notification belongs to --------------------------------------------------------------


def firmware_target_for_report(*, station_id: str, request_id: int | None) -> FirmwareUpdateTarget | None:
    """The update a status is about: by requestId when given, else the latest one sent to the station
    (a station works on the last update it was given; a newer one replaces an older one)."""
    sent = FirmwareUpdateTarget.objects.filter(station_id=station_id, sent_at__isnull=False)
    if request_id is not None:
        sent = sent.filter(request_id=request_id)
    return sent.order_by("-sent_at", "-pk").first()


def diagnostics_request_for_report(*, station_id: str, kind: str, request_id: int | None) -> DiagnosticsRequest | None:
    requests = DiagnosticsRequest.objects.filter(station_id=station_id, kind=kind)
    if request_id is not None:
        requests = requests.filter(request_id=request_id)
    return requests.order_by("-created_at", "-pk").first()


def diagnostics_request_for_upload(*, token: str) -> DiagnosticsRequest | None:
    since = timezone.now() - timedelta(days=settings.CSMS_DIAGNOSTICS_UPLOAD_DAYS)
    return DiagnosticsRequest.objects.filter(token=token, served_by_csms=True, created_at__gte=since).first()


def firmware_for_download(*, token: str) -> tuple[Firmware | None, FirmwareUpdateTarget | None]:
    """The stored firmware behind a download token: a station's own (target) or the file's."""
    target = FirmwareUpdateTarget.objects.select_related("update__firmware").filter(token=token).first()
    if target is not None:
        return target.update.firmware, target
    return Firmware.objects.filter(token=token).first(), None


# --- Summaries ---------------------------------------------------------------------------------------


def firmware_update_summary(update: FirmwareUpdate) -> dict[str, int]:
    targets = getattr(update, "_prefetched_objects_cache", {}).get("targets")
    states = [t.state for t in targets] if targets is not None else update.targets.values_list("state", flat=True)
    return dict(sorted(Counter(states).items()))


def firmware_update_state(update: FirmwareUpdate) -> str:
    """`active` while a station may still act on it, else `finished`."""
    summary = firmware_update_summary(update)
    return "active" if any(summary.get(state) for state in OPEN_TARGET_STATES) else "finished"


# --- What the periodic jobs look at ----------------------------------------------------------------------


def firmware_targets_to_send() -> QuerySet[FirmwareUpdateTarget]:
    return FirmwareUpdateTarget.objects.filter(state=TargetState.WAITING, station__online=True).select_related("update")


def firmware_targets_past_send_window() -> QuerySet[FirmwareUpdateTarget]:
    cutoff = timezone.now() - timedelta(hours=settings.CSMS_FIRMWARE_SEND_WINDOW_HOURS)
    return FirmwareUpdateTarget.objects.filter(state=TargetState.WAITING, created_at__lt=cutoff,
                                               update__retrieve_date__lt=cutoff)


def firmware_targets_silent(minutes: float) -> QuerySet[FirmwareUpdateTarget]:
    """Targets a station may still work on whose last sign of life, and retrieve date, are older."""
    cutoff = timezone.now() - timedelta(minutes=minutes)
    return FirmwareUpdateTarget.objects.filter(
        state__in=ACTIVE_TARGET_STATES, progress_at__lt=cutoff, update__retrieve_date__lt=cutoff,
    ).select_related("update", "station")


def firmware_targets_running_their_version() -> QuerySet[FirmwareUpdateTarget]:
    return FirmwareUpdateTarget.objects.filter(
        state__in=ACTIVE_TARGET_STATES, update__firmware__isnull=False, station__last_boot_at__gt=F("sent_at"),
        station__firmware_version=F("update__firmware__version"),
    ).exclude(update__firmware__version="").select_related("station")


def diagnostics_requests_to_expire() -> QuerySet[DiagnosticsRequest]:
    cutoff = timezone.now() - timedelta(minutes=settings.CSMS_DIAGNOSTICS_TIMEOUT_MINUTES)
    return DiagnosticsRequest.objects.filter(state__in=OPEN_DIAGNOSTICS_STATES, updated_at__lt=cutoff)


def diagnostics_files_to_prune() -> QuerySet[DiagnosticsRequest]:
    days = settings.CSMS_DIAGNOSTICS_RETENTION_DAYS
    if days <= 0:
        return DiagnosticsRequest.objects.none()
    return DiagnosticsRequest.objects.exclude(file="").filter(uploaded_at__lt=timezone.now() - timedelta(days=days))


def older_open_requests(request: DiagnosticsRequest) -> QuerySet[DiagnosticsRequest]:
    return DiagnosticsRequest.objects.filter(
        station_id=request.station_id, kind=request.kind, state__in=OPEN_DIAGNOSTICS_STATES, created_at__lt=request.created_at,
    ).exclude(pk=request.pk)

