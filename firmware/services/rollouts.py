"""Firmware rollouts: one firmware for a set of stations, in waves that must each succeed before the
next one goes, halting themselves when a wave fails (docs/adr/0057-firmware-rollouts.md).

Each wave is one firmware update (updates.firmware_update_create), so sending, offline stations,
retries, reports and stuck detection are the updates' own. A station succeeds when it boots with the
firmware's version after the update was sent. `firmware_rollout_advance` is the engine: it brings
each station's outcome up to date from its update and the station's boots, decides the current wave
and starts the next; the periodic job runs it for every live rollout, and the node runs it soon
after a report that may decide a wave (wakeups.rollout_advance_soon).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from alerts.models import Severity
from alerts.services import alert_raise, alert_resolve
from csms.errors import Conflict, Invalid
from partners.selectors import acting_user, partner_of
from stations.models import ChargeStation

from .. import selectors
from ..models import (
    OPEN_OUTCOMES,
    Firmware,
    FirmwareRollout,
    FirmwareUpdateTarget,
    RolloutOutcome,
    RolloutState,
    RolloutStation,
    RolloutWave,
    TargetState,
    WaveState,
)
from .updates import firmware_update_create
from .wakeups import rollout_advance_soon

logger = logging.getLogger(__name__)

DEFAULT_GROWTH_FACTOR = 2.0
MAX_WAVES = 100


# --- Creating a rollout ------------------------------------------------------------------------------


def rollout_wave_sizes(total: int, *, canary: int | None = None, canary_percent: float | None = None,
                       growth_factor: float | None = None, wave_sizes: list[int] | None = None) -> list[int]:
    """How many stations each wave takes: the canary (N stations, or P % rounded up), then waves
    growing by `growth_factor` (×2 by default) or taking `wave_sizes` in turn (the last one repeated);
    the last wave takes what is left."""
    if total <= 0:
        return []
    if canary is not None:
        first = canary
    elif canary_percent:
        first = max(1, math.ceil(total * canary_percent / 100))
    else:
        first = 1
    sizes = [min(first, total)]
    following = list(wave_sizes or [])
    factor = growth_factor or DEFAULT_GROWTH_FACTOR
    while sum(sizes) < total:
        if following:
            size = following.pop(0) if len(following) > 1 else following[0]
        else:
            size = max(1, math.ceil(sizes[-1] * factor))
        sizes.append(min(size, total - sum(sizes)))
    return sizes


def _rollout_validate(*, firmware: Firmware, canary, canary_percent, growth_factor, wave_sizes,
                      failure_threshold_percent, wave_timeout_minutes) -> None:
    if not firmware.version:
        raise Invalid("the firmware needs its version: a station has succeeded when it boots reporting it")
    if not firmware.file and not firmware.external_location:
        raise Invalid(f"firmware {firmware.pk} has neither a file nor a location")
    if canary is not None and canary_percent is not None:
        raise Invalid("give the canary wave as a number of stations (canary) or a percentage (canary_percent), not both")
    if canary is not None and canary < 1:
        raise Invalid("canary: at least one station")
    if canary_percent is not None and not 0 < canary_percent <= 100:
        raise Invalid("canary_percent: more than 0 and at most 100")
    if growth_factor is not None and wave_sizes:
        raise Invalid("give the waves after the canary as growth_factor or wave_sizes, not both")
    if growth_factor is not None and growth_factor < 1:
        raise Invalid("growth_factor: at least 1 (waves never shrink)")
    if wave_sizes is not None and (len(wave_sizes) > MAX_WAVES or any(size < 1 for size in wave_sizes)):
        raise Invalid(f"wave_sizes: at most {MAX_WAVES} sizes, each at least 1")
    if not 0 <= failure_threshold_percent <= 100:
        raise Invalid("failure_threshold_percent: from 0 to 100")
    if wave_timeout_minutes < 1:
        raise Invalid("wave_timeout_minutes: at least 1")


def _stations_select(candidates: QuerySet[ChargeStation], *, station_ids: list[str] | None, vendor: str, model: str,
                     firmware_versions: list[str] | None, partner) -> list[ChargeStation]:
    """The stations matching every criterion given. A list keeps its order (its first stations make the
    canary); otherwise connected stations come first, so that the canary can be reached."""
    chosen = candidates
    if station_ids is not None:
        found = set(candidates.filter(pk__in=station_ids).values_list("pk", flat=True))
        unknown = [station_id for station_id in dict.fromkeys(station_ids) if station_id not in found]
        if unknown:
            raise Invalid(f"unknown station(s): {', '.join(unknown[:20])}")
        chosen = chosen.filter(pk__in=station_ids)
    if vendor:
        chosen = chosen.filter(vendor__iexact=vendor)
    if model:
        chosen = chosen.filter(model__iexact=model)
    if firmware_versions:
        chosen = chosen.filter(firmware_version__in=firmware_versions)
    if partner is not None:
        chosen = chosen.filter(partner=partner)
    if station_ids is not None:
        by_id = {station.pk: station for station in chosen}
        return [by_id[station_id] for station_id in dict.fromkeys(station_ids) if station_id in by_id]
    return list(chosen.order_by("-online", "pk"))


@dataclass(frozen=True)
class RolloutPlan:
    stations: list[ChargeStation]  # every station chosen
    to_update: list[ChargeStation]  # those not running the version yet, in wave order
    wave_sizes: list[int]


def firmware_rollout_plan(
    *,
    firmware: Firmware,
    candidates: QuerySet[ChargeStation],
    station_ids: list[str] | None = None,
    vendor: str = "",
    model: str = "",
    firmware_versions: list[str] | None = None,
    partner=None,
    canary: int | None = None,
    canary_percent: float | None = None,
    growth_factor: float | None = None,
    wave_sizes: list[int] | None = None,
    failure_threshold_percent: int = 10,
    wave_timeout_minutes: int = 120,
    retries: int | None = None,
    retry_interval: int | None = None,
) -> RolloutPlan:
    """Check a rollout and choose its stations among `candidates` (those the caller may update) and
    its waves, writing nothing (Invalid when it cannot be made)."""
    _rollout_validate(firmware=firmware, canary=canary, canary_percent=canary_percent, growth_factor=growth_factor,
                      wave_sizes=wave_sizes, failure_threshold_percent=failure_threshold_percent,
                      wave_timeout_minutes=wave_timeout_minutes)
    for label, value in (("retries", retries), ("retry_interval", retry_interval)):
        if value is not None and value < 0:
            raise Invalid(f"{label} must not be negative")
    stations = _stations_select(candidates, station_ids=station_ids, vendor=vendor, model=model,
                                firmware_versions=firmware_versions, partner=partner)
    to_update = [station for station in stations if station.firmware_version != firmware.version]
    if not to_update:
        raise Invalid("no station to update: none matches, or all already run this version")
    sizes = rollout_wave_sizes(len(to_update), canary=canary, canary_percent=canary_percent,
                               growth_factor=growth_factor, wave_sizes=wave_sizes)
    if len(sizes) > MAX_WAVES:
        raise Invalid(f"this plan makes {len(sizes)} waves; at most {MAX_WAVES}: let them grow faster")
    return RolloutPlan(stations, to_update, sizes)


@transaction.atomic
def firmware_rollout_create(
    *,
    firmware: Firmware,
    candidates: QuerySet[ChargeStation],
    station_ids: list[str] | None = None,
    vendor: str = "",
    model: str = "",
    firmware_versions: list[str] | None = None,
    partner=None,
    canary: int | None = None,
    canary_percent: float | None = None,
    growth_factor: float | None = None,
    wave_sizes: list[int] | None = None,
    failure_threshold_percent: int = 10,
    wave_timeout_minutes: int = 120,
    retries: int | None = None,
    retry_interval: int | None = None,
    name: str = "",
    base_url: str = "",
    requested_by=None,
    source: str = "system",
) -> FirmwareRollout:
    """Plan the rollout (firmware_rollout_plan) and send its canary wave. Stations already running the
    firmware's version are left out of the waves (skipped)."""
    plan = firmware_rollout_plan(
        firmware=firmware, candidates=candidates, station_ids=station_ids, vendor=vendor, model=model,
        firmware_versions=firmware_versions, partner=partner, canary=canary, canary_percent=canary_percent,
        growth_factor=growth_factor, wave_sizes=wave_sizes, failure_threshold_percent=failure_threshold_percent,
        wave_timeout_minutes=wave_timeout_minutes, retries=retries, retry_interval=retry_interval)
    selection = {key: value for key, value in (
        ("stations", station_ids), ("vendor", vendor), ("model", model), ("firmware_versions", firmware_versions),
        ("partner", partner.name if partner is not None else None)) if value}
    rollout = FirmwareRollout.objects.create(
        name=name, firmware=firmware, selection=selection, failure_threshold_percent=failure_threshold_percent,
        wave_timeout_minutes=wave_timeout_minutes, retries=retries, retry_interval=retry_interval, base_url=base_url,
        partner=partner_of(requested_by) or _owner(plan.stations), requested_by=acting_user(requested_by),
        source=source,
    )
    waves = RolloutWave.objects.bulk_create(
        RolloutWave(rollout=rollout, number=number, size=size) for number, size in enumerate(plan.wave_sizes, start=1))
    entries, start = [], 0
    for wave in waves:
        entries += [RolloutStation(rollout=rollout, wave=wave, station=station, version_before=station.firmware_version)
                    for station in plan.to_update[start:start + wave.size]]
        start += wave.size
    entries += [RolloutStation(rollout=rollout, station=station, outcome=RolloutOutcome.SKIPPED,
                               version_before=station.firmware_version, detail=f"already runs {firmware.version}")
                for station in plan.stations if station.firmware_version == firmware.version]
    RolloutStation.objects.bulk_create(entries)
    _wave_start(rollout, waves[0])
    return rollout


def _owner(stations: Iterable[ChargeStation]):
    """The partner owning every station, if one does: that partner sees the rollout."""
    owners = {station.partner_id for station in stations}
    if len(owners) == 1 and None not in owners:
        return next(iter(stations)).partner
    return None


# --- Sending -----------------------------------------------------------------------------------------------


def _entries_send(rollout: FirmwareRollout, entries: list[RolloutStation]) -> None:
    """One firmware update for these stations: connected ones get it now, the others when they connect."""
    if not entries:
        return
    update = firmware_update_create(
        stations=[entry.station for entry in entries], firmware=rollout.firmware, retries=rollout.retries,
        retry_interval=rollout.retry_interval, base_url=rollout.base_url, requested_by=rollout.requested_by,
        source="rollout", rollout=rollout,
    )
    targets = {target.station_id: target for target in update.targets.all()}
    now = timezone.now()
    for entry in entries:
        entry.target = targets[entry.station_id]
        entry.outcome, entry.detail = _outcome_of(entry, rollout.firmware.version)
        entry.updated_at = now
    RolloutStation.objects.bulk_update(entries, ["target", "outcome", "detail", "updated_at"])


def _wave_start(rollout: FirmwareRollout, wave: RolloutWave) -> None:
    """Send the wave's stations that were not sent yet; its deadline runs from now."""
    _entries_send(rollout, list(wave.stations.filter(outcome=RolloutOutcome.PLANNED).select_related("station")))
    wave.state, wave.started_at, wave.detail = WaveState.RUNNING, timezone.now(), ""
    wave.save(update_fields=["state", "started_at", "detail"])
    rollout.current_wave = wave.number
    rollout.save(update_fields=["current_wave", "updated_at"])


def _unsent_hold(rollout: FirmwareRollout, reason: str) -> int:
    """Updates of this rollout still waiting for their station are taken back (it is paused, halted or
    cancelled): those stations go back to planned."""
    targets = list(FirmwareUpdateTarget.objects.select_for_update().filter(
        rollout_entries__rollout=rollout, state=TargetState.WAITING).values_list("pk", flat=True))
    if not targets:
        return 0
    now = timezone.now()
    FirmwareUpdateTarget.objects.filter(pk__in=targets).update(
        state=TargetState.CANCELLED, detail=f"not sent: the rollout was {reason}", updated_at=now)
    return RolloutStation.objects.filter(rollout=rollout, target_id__in=targets).update(
        outcome=RolloutOutcome.PLANNED, target=None, detail=f"held back: the rollout was {reason}", updated_at=now)


# --- What each station's outcome is ------------------------------------------------------------------------


def _outcome_of(entry: RolloutStation, version: str) -> tuple[str, str]:
    """A station's outcome from its update and its boots: succeeded once it booted with the version
    after the update was sent."""
    target, station = entry.target, entry.station
    booted_since_sent = bool(target.sent_at and station.last_boot_at and station.last_boot_at > target.sent_at)
    if booted_since_sent and station.firmware_version == version:
        return RolloutOutcome.SUCCEEDED, f"booted with {version}"
    state = target.state
    if state == TargetState.INSTALLED:
        if booted_since_sent and target.status_at and station.last_boot_at > target.status_at:
            return RolloutOutcome.FAILED, (f"reported Installed, then booted with "
                                           f"{station.firmware_version or 'no version'}")
        return RolloutOutcome.INSTALLED, "installed: waiting for the station to boot with it"
    if state == TargetState.WAITING:
        return RolloutOutcome.WAITING, "offline: sent when it connects"
    if state in (TargetState.SENT, TargetState.ACCEPTED, TargetState.IN_PROGRESS):
        return RolloutOutcome.UPDATING, target.status
    if state in (TargetState.FAILED, TargetState.REJECTED, TargetState.ERROR, TargetState.STUCK):
        return RolloutOutcome.FAILED, target.detail or target.status
    if state == TargetState.EXPIRED:
        return RolloutOutcome.SKIPPED, "the station did not connect within the send window"
    return RolloutOutcome.SKIPPED, target.detail  # superseded or cancelled by another update


def _outcomes_refresh(rollout: FirmwareRollout, decided_waves: set[int]) -> None:
    """Bring every sent station's outcome up to date. In a decided wave a failed station stays failed
    unless it succeeds after all (a station that timed out does not come back to life as updating)."""
    version = rollout.firmware.version
    changed, now = [], timezone.now()
    entries = (rollout.stations.filter(target__isnull=False).exclude(outcome=RolloutOutcome.CANCELLED)
               .select_related("target", "station"))
    for entry in entries:
        outcome, detail = _outcome_of(entry, version)
        if entry.outcome == RolloutOutcome.FAILED and outcome in OPEN_OUTCOMES and entry.wave_id in decided_waves:
            continue
        if (outcome, detail[:300]) != (entry.outcome, entry.detail):
            entry.outcome, entry.detail, entry.updated_at = outcome, detail[:300], now
            changed.append(entry)
    RolloutStation.objects.bulk_update(changed, ["outcome", "detail", "updated_at"])


# --- The engine -------------------------------------------------------------------------------------------


def firmware_rollout_advance(*, rollout_id: int) -> FirmwareRollout | None:
    """Look at a rollout: outcomes up to date, the current wave decided once its stations have their
    outcome (or its time is up), then the next wave started, the rollout halted or completed."""
    with transaction.atomic():
        rollout = FirmwareRollout.objects.select_for_update().select_related("firmware").filter(pk=rollout_id).first()
        if rollout is None:
            return None
        decided = set(rollout.waves.exclude(state__in=(WaveState.PLANNED, WaveState.RUNNING)).values_list("pk", flat=True))
        _outcomes_refresh(rollout, decided)
        if rollout.state == RolloutState.RUNNING:
            wave = rollout.waves.filter(number=rollout.current_wave).first()
            if wave is not None and wave.state == WaveState.RUNNING:
                _wave_decide(rollout, wave, timezone.now())
        return rollout


def _wave_decide(rollout: FirmwareRollout, wave: RolloutWave, now: datetime) -> None:
    deadline = wave.started_at + timedelta(minutes=rollout.wave_timeout_minutes)
    counts = Counter(wave.stations.values_list("outcome", flat=True))
    unfinished = counts[RolloutOutcome.UPDATING] + counts[RolloutOutcome.INSTALLED]
    if unfinished and now < deadline:
        return
    if unfinished:
        wave.stations.filter(outcome__in=(RolloutOutcome.UPDATING, RolloutOutcome.INSTALLED)).update(
            outcome=RolloutOutcome.FAILED, updated_at=now,
            detail=f"no outcome within {rollout.wave_timeout_minutes} minutes of the wave's start")
        counts = Counter(wave.stations.values_list("outcome", flat=True))
    reached = counts[RolloutOutcome.SUCCEEDED] + counts[RolloutOutcome.FAILED]
    failed = counts[RolloutOutcome.FAILED]
    if reached == 0 and counts[RolloutOutcome.WAITING]:
        if now < deadline:
            return  # nobody reached yet: the wave proves nothing so far
        _halt(rollout, wave, f"wave {wave.number}: no station could be reached within "
                             f"{rollout.wave_timeout_minutes} minutes")
        return
    if failed * 100 > rollout.failure_threshold_percent * reached:
        _halt(rollout, wave, f"wave {wave.number}: {failed} of {reached} stations failed, more than "
                             f"{rollout.failure_threshold_percent} %")
        return
    wave.state, wave.decided_at = WaveState.PASSED, now
    wave.detail = f"{counts[RolloutOutcome.SUCCEEDED]} succeeded, {failed} failed"
    wave.save(update_fields=["state", "decided_at", "detail"])
    _next_wave_or_complete(rollout, wave)


def _next_wave_or_complete(rollout: FirmwareRollout, wave: RolloutWave) -> None:
    following = rollout.waves.filter(number=wave.number + 1).first()
    if following is not None:
        _wave_start(rollout, following)
        return
    rollout.state, rollout.finished_at, rollout.detail = RolloutState.COMPLETED, timezone.now(), ""
    rollout.save(update_fields=["state", "finished_at", "detail", "updated_at"])


def _halt_key(rollout: FirmwareRollout) -> str:
    return f"firmware_rollout_halted:{rollout.pk}"


def _halt(rollout: FirmwareRollout, wave: RolloutWave, reason: str) -> None:
    wave.state, wave.decided_at, wave.detail = WaveState.FAILED, timezone.now(), reason[:300]
    wave.save(update_fields=["state", "decided_at", "detail"])
    rollout.state, rollout.detail = RolloutState.HALTED, reason[:300]
    rollout.save(update_fields=["state", "detail", "updated_at"])
    _unsent_hold(rollout, "halted")
    alert_raise(kind="firmware_rollout_halted", severity=Severity.CRITICAL, key=_halt_key(rollout),
                message=f"Firmware rollout #{rollout.pk} ({rollout.firmware.version}) halted: {reason}")


def firmware_rollouts_advance() -> int:
    """The periodic job: every rollout that runs, or has stations that may still report."""
    advanced = 0
    for rollout_id in selectors.firmware_rollouts_live().values_list("pk", flat=True):
        try:
            firmware_rollout_advance(rollout_id=rollout_id)
            advanced += 1
        except Exception:
            logger.exception("firmware rollout %s could not advance", rollout_id)
    return advanced


def firmware_rollouts_station_booted(*, station_id: str) -> None:
    """A boot may decide a station's outcome: its rollouts look at it soon."""
    for rollout_id in selectors.rollouts_waiting_for_station(station_id):
        rollout_advance_soon(rollout_id)


# --- What operators do -------------------------------------------------------------------------------------


def _locked(rollout: FirmwareRollout) -> FirmwareRollout:
    return FirmwareRollout.objects.select_for_update().select_related("firmware").get(pk=rollout.pk)


@transaction.atomic
def firmware_rollout_pause(*, rollout: FirmwareRollout) -> FirmwareRollout:
    """No new wave, and updates not sent yet are held back; what stations received goes on."""
    rollout = _locked(rollout)
    if rollout.state != RolloutState.RUNNING:
        raise Conflict(f"only a running rollout can be paused; this one is {rollout.state}")
    rollout.state, rollout.detail = RolloutState.PAUSED, "paused by an operator"
    rollout.save(update_fields=["state", "detail", "updated_at"])
    _unsent_hold(rollout, "paused")
    return rollout


@transaction.atomic
def firmware_rollout_resume(*, rollout: FirmwareRollout) -> FirmwareRollout:
    """Go on: stations held back are sent their update again; a halted rollout goes on with the next
    wave, the failures of the halted one accepted by the operator (retry those with retry-failed)."""
    rollout = _locked(rollout)
    if rollout.state not in (RolloutState.PAUSED, RolloutState.HALTED):
        raise Conflict(f"only a paused or halted rollout can be resumed; this one is {rollout.state}")
    halted = rollout.state == RolloutState.HALTED
    rollout.state, rollout.detail = RolloutState.RUNNING, ""
    rollout.save(update_fields=["state", "detail", "updated_at"])
    wave = rollout.waves.get(number=rollout.current_wave)
    earlier = rollout.stations.filter(outcome=RolloutOutcome.PLANNED, wave__number__lt=wave.number)
    _entries_send(rollout, list(earlier.select_related("station")))
    if halted:
        alert_resolve(key=_halt_key(rollout))
        _entries_send(rollout, list(wave.stations.filter(outcome=RolloutOutcome.PLANNED).select_related("station")))
        wave.state = WaveState.ACCEPTED
        wave.save(update_fields=["state"])
        _next_wave_or_complete(rollout, wave)
    else:
        _wave_start(rollout, wave)
    return rollout


@transaction.atomic
def firmware_rollout_cancel(*, rollout: FirmwareRollout) -> FirmwareRollout:
    """Stop for good: no further wave, nothing more sent. Stations that received the update are still
    followed (OCPP 1.6 cannot take an update back)."""
    rollout = _locked(rollout)
    if rollout.state in (RolloutState.CANCELLED, RolloutState.COMPLETED):
        raise Conflict(f"this rollout is {rollout.state} already")
    _unsent_hold(rollout, "cancelled")
    now = timezone.now()
    rollout.stations.filter(outcome=RolloutOutcome.PLANNED).update(
        outcome=RolloutOutcome.CANCELLED, detail="the rollout was cancelled", updated_at=now)
    rollout.waves.filter(state__in=(WaveState.PLANNED, WaveState.RUNNING)).update(
        state=WaveState.CANCELLED, decided_at=now)
    rollout.state, rollout.finished_at, rollout.detail = RolloutState.CANCELLED, now, "cancelled by an operator"
    rollout.save(update_fields=["state", "finished_at", "detail", "updated_at"])
    alert_resolve(key=_halt_key(rollout))
    return rollout


@transaction.atomic
def firmware_rollout_retry_failed(*, rollout: FirmwareRollout) -> int:
    """Send the update again to the rollout's failed stations (in a wave of its own; they count in the
    wave they belong to while that wave is undecided). Returns how many."""
    rollout = _locked(rollout)
    if rollout.state == RolloutState.CANCELLED:
        raise Conflict("this rollout is cancelled")
    failed = list(rollout.stations.filter(outcome=RolloutOutcome.FAILED).select_related("station"))
    _entries_send(rollout, failed)
    return len(failed)
