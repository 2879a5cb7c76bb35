"""Reads: what a user may see, which update or request a station's notification is about, and what
the periodic jobs have to look at."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from partners.selectors import is_staff, partner_of
from stations.selectors import stations_visible_to

from .models import (
    ACTIVE_TARGET_STATES,
    OPEN_DIAGNOSTICS_STATES,
    OPEN_TARGET_STATES,
    OPEN_OUTCOMES,
    DiagnosticsRequest,
    Firmware,
    FirmwareRollout,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    FtpAccount,
    RolloutOutcome,
    RolloutState,
    RolloutStation,
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


def firmware_rollouts_visible_to(user) -> QuerySet[FirmwareRollout]:
    """Staff see every rollout; a partner those it made, and staff ones over its own stations only."""
    queryset = FirmwareRollout.objects.all()
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
    sent = FirmwareUpdateTarget.objects.filter(station_id=station_id, sent_at__isnull=False).select_related("update")
    if request_id is not None:
        sent = sent.filter(request_id=request_id)
    return sent.order_by("-sent_at", "-pk").first()


def diagnostics_request_for_report(*, station_id: str, kind: str, request_id: int | None) -> DiagnosticsRequest | None:
    requests = DiagnosticsRequest.objects.filter(station_id=station_id, kind=kind)
    if request_id is not None:
        requests = requests.filter(request_id=request_id)
    return requests.order_by("-created_at", "-pk").first()


def diagnostics_request_for_upload(*, token: str) -> DiagnosticsRequest | None:
    return DiagnosticsRequest.objects.filter(token=token, served_by_csms=True).first()


def diagnostics_upload_refusal(request: DiagnosticsRequest) -> str:
    """Why a request's upload location takes no more files ("" while it takes them): the station
    reported the upload done, or the location expired. Nobody holding an old location can replace a
    file an operator has seen."""
    if request.location_closed_at is not None:
        return "the station reported this upload done: the location is closed"
    if request.created_at < timezone.now() - timedelta(days=settings.CSMS_DIAGNOSTICS_UPLOAD_DAYS):
        return "this upload location has expired"
    return ""


# A station given one of these has nothing left to download.
FTP_DOWNLOAD_CLOSED_STATES = (TargetState.INSTALLED, TargetState.CANCELLED, TargetState.SUPERSEDED,
                              TargetState.EXPIRED, TargetState.REJECTED, TargetState.ERROR)


def ftp_account_refusal(account: FtpAccount) -> str:
    """Why an FTP account may no longer be used ("" while it may)."""
    if account.expires_at <= timezone.now():
        return "this location has expired"
    if account.diagnostics_request_id is not None:
        return diagnostics_upload_refusal(account.diagnostics_request)
    target = account.firmware_target
    if target.state in FTP_DOWNLOAD_CLOSED_STATES:
        return f"this firmware update is over for the station ({target.get_state_display()})"
    firmware = target.update.firmware
    if firmware is None or not firmware.file:
        return "no firmware file is served for this update"
    return ""


def ftp_account_by_username(username: str) -> FtpAccount | None:
    return (FtpAccount.objects.select_related("diagnostics_request", "firmware_target__update__firmware")
            .filter(username=username).first())


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
    ).exclude(update__firmware__version="").select_related("station", "update")


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



# --- Rollouts ------------------------------------------------------------------------------------------


def firmware_rollouts_live() -> QuerySet[FirmwareRollout]:
    """Rollouts the engine looks at: running ones, and any with stations that may still report."""
    return FirmwareRollout.objects.filter(
        Q(state=RolloutState.RUNNING) | Q(stations__outcome__in=OPEN_OUTCOMES)).distinct().order_by("pk")


def rollouts_waiting_for_station(station_id: str) -> list[int]:
    return list(RolloutStation.objects.filter(station_id=station_id, outcome__in=OPEN_OUTCOMES)
                .values_list("rollout_id", flat=True).distinct())


def rollout_progress(rollout: FirmwareRollout) -> dict:
    """Counts per outcome, overall and per wave, and how much is done (stations with a final outcome)."""
    outcomes = list(RolloutOutcome.values)
    per_wave: dict[int | None, dict[str, int]] = {}
    for row in rollout.stations.values("wave_id", "outcome").annotate(count=Count("id")):
        per_wave.setdefault(row["wave_id"], dict.fromkeys(outcomes, 0))[row["outcome"]] = row["count"]
    overall = dict.fromkeys(outcomes, 0)
    for counts in per_wave.values():
        for outcome, count in counts.items():
            overall[outcome] += count
    waves = []
    for wave in rollout.waves.order_by("number"):
        counts = per_wave.get(wave.pk, dict.fromkeys(outcomes, 0))
        waves.append({"number": wave.number, "size": wave.size, "state": wave.state, "started_at": wave.started_at,
                      "decided_at": wave.decided_at, "detail": wave.detail, "counts": counts,
                      "done_percent": _done_percent(counts)})
    return {"total": sum(overall.values()), "counts": overall, "done_percent": _done_percent(overall), "waves": waves}


FINAL_OUTCOMES = (RolloutOutcome.SUCCEEDED, RolloutOutcome.FAILED, RolloutOutcome.SKIPPED, RolloutOutcome.CANCELLED)


def _done_percent(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    return round(100 * sum(counts[outcome] for outcome in FINAL_OUTCOMES) / total, 1) if total else 0.0
