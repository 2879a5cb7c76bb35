"""Firmware updates: sending (Signed)UpdateFirmware to stations, connected now or later, and what
their answers and status notifications mean for an update (docs/adr/0050-firmware-updates.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from csms.errors import DomainError, Invalid
from csms.ocpp.calls import StationOffline, call_enqueue, call_validate
from csms.ocpp.models import Call
from csms.ocpp.schemas import format_datetime, parse_datetime
from alerts.services import alert_raise, alert_resolve
from partners.selectors import acting_user, partner_of
from stations.models import ChargeStation, FileTransferProtocol

from .. import selectors
from ..hooks import FirmwareStatusReported, firmware_status_reported
from ..models import (
    ACTIVE_TARGET_STATES,
    Firmware,
    FirmwareStatusReport,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    TargetState,
)
from .ftp_accounts import ftp_account_location, ftp_account_open, ftp_location_issue
from .locations import SIGNED_LOCATION_MAX, firmware_download_url, location_validate, public_base_url
from .wakeups import rollout_advance_soon
from .wire import IDLE, count_or_none, int32_or_none, optional

# What FirmwareStatus (1.6) and FirmwareStatusEnumType (Security Whitepaper) values mean for an update.
FIRMWARE_INSTALLED = frozenset({"Installed"})
FIRMWARE_FAILED = frozenset({"DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed"})
# SignedUpdateFirmware.conf answers that start nothing.
SIGNED_REFUSALS = frozenset({"Rejected", "InvalidCertificate", "RevokedCertificate"})
# Call failures where the station may simply not have got the request: worth sending again.
TRANSPORT_FAILURES = frozenset({"Timeout", "Disconnected", "StationOffline", "NotDelivered"})


def _job_partner(requested_by, stations: list[ChargeStation]):
    """Who sees the job: the partner who asked; for staff, the partner owning all its stations, if one."""
    partner = partner_of(requested_by)
    if partner is not None:
        return partner
    owners = {station.partner_id for station in stations}
    return stations[0].partner if len(owners) == 1 and None not in owners else None


@transaction.atomic
def firmware_update_create(
    *,
    stations: Iterable[ChargeStation],
    firmware: Firmware | None = None,
    location: str = "",
    retrieve_date: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    signed: bool | None = None,
    install_date: datetime | None = None,
    signing_certificate: str = "",
    signature: str = "",
    base_url: str = "",
    requested_by=None,
    source: str = "system",
    rollout=None,
) -> FirmwareUpdate:
    """Ask stations to update their firmware; connected ones at once, the others when they connect.

    `signed` None: SignedUpdateFirmware when a signing certificate and signature are known (given
    here or stored with the firmware), UpdateFirmware otherwise.
    """
    stations = list({station.pk: station for station in stations}.values())
    if not stations:
        raise Invalid("stations: name at least one station")
    if (firmware is None) == (not location):
        raise Invalid("give either a location or a stored firmware (one of them)")
    if firmware is not None:
        if not firmware.file and not firmware.external_location:
            raise Invalid(f"firmware {firmware.pk} has neither a file nor a location")
        signing_certificate = signing_certificate or firmware.signing_certificate
        signature = signature or firmware.signature
    if signed is None:
        signed = bool(signing_certificate and signature)
    if signed and not (signing_certificate and signature):
        raise Invalid("a signed update (SignedUpdateFirmware) needs signing_certificate and signature, "
                          "given here or stored with the firmware")
    if install_date is not None and not signed:
        raise Invalid("install_date exists only for signed updates (SignedUpdateFirmware)")
    for name, value in (("retries", retries), ("retry_interval", retry_interval)):
        if value is not None and value < 0:
            raise Invalid(f"{name} must not be negative")
    max_length = SIGNED_LOCATION_MAX if signed else None
    if firmware is None:
        location = location_validate(location, max_length=max_length)
    elif firmware.external_location:
        location = location_validate(firmware.external_location, max_length=max_length)
    else:
        base_url = base_url or public_base_url()
        location = firmware_download_url(base_url=base_url, token=firmware.token, filename=firmware.filename)
    update = FirmwareUpdate.objects.create(
        firmware=firmware, location=location, retrieve_date=retrieve_date or timezone.now(), retries=retries,
        retry_interval=retry_interval, signed=signed, install_date=install_date if signed else None,
        signing_certificate=signing_certificate if signed else "", signature=signature if signed else "",
        partner=_job_partner(requested_by, stations),
        requested_by=acting_user(requested_by), source=source, rollout=rollout,
    )
    for index, station in enumerate(stations):
        target = FirmwareUpdateTarget(update=update, station=station, firmware_version_before=station.firmware_version)
        target.location = _target_location(update, target, base_url)
        target.save()
        target.request_id = target.pk
        if firmware is not None and firmware.file and station.file_transfer_protocol == FileTransferProtocol.FTP:
            account = ftp_account_open(firmware_target=target, expires_at=_ftp_download_expiry(update))
            target.location = ftp_account_location(account=account, base_url=base_url, path=firmware.filename)
        target.save(update_fields=["request_id", "location"])
        if index == 0:  # every station gets the same shape of payload: one check refuses the whole job
            action, payload = firmware_update_payload(target)
            call_validate(action=action, payload=payload)
        _targets_cancel_waiting(station_id=station.pk, newer=update)
        if station.online:
            firmware_update_target_send(target=target, requested_by=requested_by, source=source)
        else:
            target.detail = "the station is not connected: sent when it connects"
            target.save(update_fields=["detail", "updated_at"])
    return update


def _target_location(update: FirmwareUpdate, target: FirmwareUpdateTarget, base_url: str) -> str:
    """A stored file is served to each station under its own token, so its downloads are seen."""
    firmware = update.firmware
    if firmware is None or not firmware.file:
        return update.location
    return firmware_download_url(base_url=base_url, token=target.token, filename=firmware.filename)


def _ftp_download_expiry(update: FirmwareUpdate) -> datetime:
    """An FTP download account lasts as long as the update may wait for its station, from each send."""
    return max(timezone.now(), update.retrieve_date) + timedelta(hours=settings.CSMS_FIRMWARE_SEND_WINDOW_HOURS)


def _location_to_send(target: FirmwareUpdateTarget) -> str:
    """The target's location; over FTP with a password of this send's own (the stored one hides it)."""
    account = target.ftp_accounts.first()
    if account is None:
        return target.location
    return ftp_location_issue(account=account, location=target.location, expires_at=_ftp_download_expiry(target.update))


def firmware_update_payload(target: FirmwareUpdateTarget, *, location: str | None = None) -> tuple[str, dict]:
    """The Call for a target; `location` the one to send when the stored one hides a password."""
    location = location or target.location
    update = target.update
    counts = optional(retries=update.retries, retryInterval=update.retry_interval)
    if not update.signed:
        return "UpdateFirmware", {"location": location, "retrieveDate": format_datetime(update.retrieve_date),
                                  **counts}
    firmware = {
        "location": location,
        "retrieveDateTime": format_datetime(update.retrieve_date),
        **({"installDateTime": format_datetime(update.install_date)} if update.install_date else {}),
        "signingCertificate": update.signing_certificate,
        "signature": update.signature,
    }
    return "SignedUpdateFirmware", {"requestId": target.request_id, "firmware": firmware, **counts}


def firmware_update_target_send(*, target: FirmwareUpdateTarget, requested_by=None, source: str = "system") -> bool:
    """Send the target's (Signed)UpdateFirmware; False when the station is not connected. The target
    is SENT in the transaction that enqueues the Call: the Call leaves after that commit, so nobody
    (a cancel) ever sees a station holding the Call while its target still waits."""
    try:
        with transaction.atomic():
            action, payload = firmware_update_payload(target, location=_location_to_send(target))
            call = call_enqueue(station=target.station_id, action=action, payload=payload, requested_by=requested_by,
                                source=source, context={"firmware_update": target.update_id, "firmware_update_target": target.pk})
            now = timezone.now()
            target.call = call
            target.state = TargetState.SENT
            target.attempts += 1
            target.sent_at = target.progress_at = now
            target.probed_at = None
            target.detail = ""
            target.save()
            _targets_supersede(station_id=target.station_id, newer=target)
    except StationOffline:
        target.state = TargetState.WAITING
        target.detail = "the station is not connected: sent when it connects"
        target.save(update_fields=["state", "detail", "updated_at"])
        return False
    except DomainError as exc:
        target.state = TargetState.ERROR
        target.detail = exc.message[:300]
        target.save(update_fields=["state", "detail", "updated_at"])
        return False
    return True


def _targets_cancel_waiting(*, station_id: str, newer: FirmwareUpdate) -> None:
    """An older update still waiting for this station must never be sent after a newer one."""
    FirmwareUpdateTarget.objects.filter(station_id=station_id, state=TargetState.WAITING).exclude(update=newer).update(
        state=TargetState.CANCELLED, detail=f"replaced by firmware update #{newer.pk} before it was sent",
        updated_at=timezone.now(),
    )


def _targets_supersede(*, station_id: str, newer: FirmwareUpdateTarget) -> None:
    """A station works on the last update it was given: older ones it was working on are over."""
    FirmwareUpdateTarget.objects.filter(station_id=station_id, state__in=ACTIVE_TARGET_STATES).exclude(pk=newer.pk).update(
        state=TargetState.SUPERSEDED, detail=f"replaced on the station by firmware update #{newer.update_id}",
        updated_at=timezone.now(),
    )


def firmware_update_cancel(*, update: FirmwareUpdate) -> int:
    """Stop what has not been sent yet. What a station received cannot be taken back in OCPP 1.6."""
    return update.targets.filter(state=TargetState.WAITING).update(
        state=TargetState.CANCELLED, detail="cancelled before it was sent", updated_at=timezone.now()
    )


RETRYABLE_TARGET_STATES = (TargetState.WAITING, TargetState.STUCK, TargetState.FAILED, TargetState.REJECTED,
                           TargetState.ERROR, TargetState.EXPIRED, TargetState.CANCELLED)


def firmware_update_retry(*, update: FirmwareUpdate, station_ids: list[str] | None = None, requested_by=None,
                          source: str = "system") -> list[FirmwareUpdateTarget]:
    """Send the update again to its stations that did not install it and are not working on it."""
    targets = update.targets.filter(state__in=RETRYABLE_TARGET_STATES).select_related("station", "update")
    if station_ids is not None:
        targets = targets.filter(station_id__in=station_ids)
    retried = []
    for target in targets:
        with transaction.atomic():
            _targets_cancel_waiting(station_id=target.station_id, newer=update)
            target.attempts = 0
            if target.station.online:
                firmware_update_target_send(target=target, requested_by=requested_by, source=source)
            else:
                target.state = TargetState.WAITING
                target.detail = "the station is not connected: sent when it connects"
                target.save(update_fields=["state", "detail", "attempts", "updated_at"])
        retried.append(target)
    return retried


def _target_of_call(call: Call) -> FirmwareUpdateTarget | None:
    target_id = (call.context or {}).get("firmware_update_target")
    if target_id is None:
        return None
    return FirmwareUpdateTarget.objects.select_for_update(of=("self",)).select_related("update").filter(pk=target_id).first()


# What the operator is alerted to: the station will not install this update unless someone acts.
ALERTED_TARGET_STATES = (TargetState.FAILED, TargetState.REJECTED, TargetState.ERROR, TargetState.STUCK)


def firmware_target_moved(target: FirmwareUpdateTarget) -> None:
    """After a target's state changed: alert on a failure (resolved by an install), and let its
    rollout, if any, look at it."""
    key = f"firmware_update_failed:{target.station_id}"
    if target.state in ALERTED_TARGET_STATES:
        alert_raise(kind="firmware_update_failed", station_id=target.station_id, key=key,
                    message=f"Firmware update #{target.update_id} on {target.station_id}: "
                            f"{target.get_state_display()} ({target.detail or target.status})")
    elif target.state == TargetState.INSTALLED:
        alert_resolve(key=key)
    if target.update.rollout_id is not None:
        rollout_advance_soon(target.update.rollout_id)


def firmware_update_answered(*, call: Call, status: str) -> None:
    """The station's answer to (Signed)UpdateFirmware; the reports that follow tell the rest."""
    if "firmware_update_target" not in (call.context or {}):
        firmware_update_adopt(call=call, status=status)
        return
    target = _target_of_call(call)
    if target is None or target.call_id != call.pk:
        return  # the job was deleted, or this answers an older attempt
    answer = status
    target.answer = answer
    target.progress_at = timezone.now()
    if answer in SIGNED_REFUSALS:
        target.state = TargetState.REJECTED
        target.detail = f"the station answered {answer}"
    elif target.state == TargetState.SENT:
        target.state = TargetState.ACCEPTED
        target.detail = "AcceptedCanceled: the station cancelled an update it was running" if answer == "AcceptedCanceled" else ""
    target.save()
    firmware_target_moved(target)


def firmware_update_call_failed(*, call: Call) -> None:
    target = _target_of_call(call)
    if target is None or target.call_id != call.pk or target.state != TargetState.SENT:
        return
    reason = f"{call.error_code}: {call.error_description}".strip(": ")
    if call.error_code in TRANSPORT_FAILURES:
        if target.attempts < settings.CSMS_FIRMWARE_SEND_ATTEMPTS:
            target.state = TargetState.WAITING
            target.detail = f"not answered ({reason}); sent again when the station is connected"
        else:
            target.state = TargetState.ERROR
            target.detail = f"not answered after {target.attempts} attempts ({reason})"[:300]
    else:
        target.state = TargetState.REJECTED
        hint = ""
        if call.action == "UpdateFirmware" and call.error_code in ("NotSupported", "NotImplemented"):
            hint = "; a station implementing the Security Whitepaper accepts only signed updates"
        target.detail = f"the station answered {reason}{hint}"[:300]
    target.save()
    firmware_target_moved(target)


def firmware_update_adopt(*, call: Call, status: str) -> FirmwareUpdateTarget:
    """An update sent by hand through the calls API becomes a job too, so its reports have a home."""
    payload = call.payload
    signed = call.action == "SignedUpdateFirmware"
    details = payload["firmware"] if signed else payload
    station = ChargeStation.objects.get(pk=call.station_id)

    update = FirmwareUpdate.objects.create(
        location=details["location"], retrieve_date=parse_datetime(details["retrieveDateTime" if signed else "retrieveDate"]),
        retries=count_or_none(payload.get("retries")), retry_interval=count_or_none(payload.get("retryInterval")),
        signed=signed,
        install_date=parse_datetime(details["installDateTime"]) if signed and details.get("installDateTime") else None,
        signing_certificate=details.get("signingCertificate", ""), signature=details.get("signature", ""),
        partner=station.partner, requested_by=call.requested_by, source="call",
    )
    answer = status
    refused = answer in SIGNED_REFUSALS
    now = timezone.now()
    target = FirmwareUpdateTarget.objects.create(
        update=update, station=station, request_id=int32_or_none(payload.get("requestId")) if signed else None,
        location=details["location"], state=TargetState.REJECTED if refused else TargetState.ACCEPTED, answer=answer,
        detail=f"the station answered {answer}" if refused else "", call=call, attempts=1,
        sent_at=call.sent_at or now, progress_at=now, firmware_version_before=station.firmware_version,
    )
    if not refused:
        _targets_supersede(station_id=station.pk, newer=target)
    return target


def firmware_status_record(*, station_id: str, status: str, request_id: int | None = None,
                           signed: bool = False) -> FirmwareStatusReport:
    """Store a (Signed)FirmwareStatusNotification and move the update it is about."""
    target = selectors.firmware_target_for_report(station_id=station_id, request_id=request_id)
    report = FirmwareStatusReport.objects.create(station_id=station_id, status=status, request_id=request_id,
                                                 signed=signed, target=target)
    if target is not None and status != IDLE:
        _target_apply_status(target, status)
    firmware_status_reported.emit(FirmwareStatusReported(station_id, status, request_id, signed))
    return report


def _target_apply_status(target: FirmwareUpdateTarget, status: str) -> None:
    now = timezone.now()
    target.status = status
    target.status_at = target.progress_at = now
    if status in FIRMWARE_INSTALLED:
        target.state, target.detail = TargetState.INSTALLED, ""
    elif status in FIRMWARE_FAILED:
        target.state, target.detail = TargetState.FAILED, f"the station reported {status}"
    else:
        target.state, target.detail = TargetState.IN_PROGRESS, ""
    target.save(update_fields=["status", "status_at", "progress_at", "state", "detail", "updated_at"])
    firmware_target_moved(target)


def firmware_download_record(*, target_id: int) -> None:
    """A station fetched its firmware (HTTP or FTP): a sign of life even when it reports nothing."""
    FirmwareUpdateTarget.objects.filter(pk=target_id).update(download_count=F("download_count") + 1,
                                                             last_download_at=timezone.now())
