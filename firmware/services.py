"""Writes about firmware updates and diagnostics/log uploads: sending the requests, what stations'
answers and status notifications mean for them, files going in and out, and the periodic jobs
(docs/adr/0050-firmware-updates.md to docs/adr/0054-watching-transfers.md)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from csms.ocpp.schemas import format_datetime, parse_datetime
from partners.selectors import partner_of
from csms.errors import DomainError, Invalid
from csms.ocpp.calls import StationOffline, call_enqueue, call_validate
from csms.ocpp.models import Call
from stations.models import ChargeStation

from . import selectors
from .models import (
    ACTIVE_TARGET_STATES,
    DiagnosticsKind,
    DiagnosticsRequest,
    DiagnosticsState,
    DiagnosticsStatusReport,
    Firmware,
    FirmwareStatusReport,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    LogType,
    TargetState,
)

logger = logging.getLogger(__name__)

# What FirmwareStatus (1.6) and FirmwareStatusEnumType (Security Whitepaper) values mean for an update.
FIRMWARE_INSTALLED = frozenset({"Installed"})
FIRMWARE_FAILED = frozenset({"DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed"})
# Idle is only ever a reply to a trigger: "nothing going on", never news about an update.
IDLE = "Idle"
# SignedUpdateFirmware.conf answers that start nothing.
SIGNED_REFUSALS = frozenset({"Rejected", "InvalidCertificate", "RevokedCertificate"})
# DiagnosticsStatus (1.6) and UploadLogStatusEnumType (whose schema says UploadFailure, its text UploadFailed).
UPLOAD_FAILED = frozenset({"UploadFailed", "UploadFailure", "BadMessage", "PermissionDenied", "NotSupportedOperation"})
# Call failures where the station may simply not have got the request: worth sending again.
TRANSPORT_FAILURES = frozenset({"Timeout", "Disconnected", "StationOffline", "NotDelivered"})
LOCATION_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp"})
# Security Whitepaper field sizes.
SIGNED_LOCATION_MAX = 512
SIGNING_CERTIFICATE_MAX = 5500
SIGNATURE_MAX = 800

UPLOAD_CHUNK = 256 * 1024


class UploadTooLarge(Exception):
    pass


def upload_max_bytes() -> int:
    return settings.CSMS_UPLOAD_MAX_MB * 1024 * 1024


def stored_file_delete(storage, name: str) -> None:
    """Delete a stored file and the directories it leaves empty below its top folder (firmware/, diagnostics/)."""
    storage.delete(name)
    if not hasattr(storage, "path"):
        return
    parts = name.split("/")[:-1]
    while len(parts) > 1:
        try:
            os.rmdir(storage.path("/".join(parts)))
        except OSError:
            return  # not empty, or already gone
        parts.pop()


def public_base_url(request=None) -> str:
    """Where stations reach this CSMS over HTTP(S): CSMS_PUBLIC_URL, else the URL the request came to."""
    if settings.CSMS_PUBLIC_URL:
        return settings.CSMS_PUBLIC_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    raise Invalid("CSMS_PUBLIC_URL is not set and there is no request to derive the CSMS's address from")


def location_validate(location: str, *, max_length: int | None = None) -> str:
    location = (location or "").strip()
    parts = urlsplit(location)
    if parts.scheme.lower() not in LOCATION_SCHEMES or not parts.netloc:
        raise Invalid(f"location must be an absolute {', '.join(sorted(LOCATION_SCHEMES))} URL")
    if any(char.isspace() or ord(char) < 32 for char in location):
        raise Invalid("location must not contain spaces or control characters")
    if max_length is not None and len(location) > max_length:
        raise Invalid(f"location has at most {max_length} characters here")
    return location


def int32_or_none(value) -> int | None:
    """A requestId chosen by someone else, as far as our 32-bit columns (and stations) hold it."""
    return value if isinstance(value, int) and -2**31 <= value < 2**31 else None


def _optional(**values) -> dict:
    return {key: value for key, value in values.items() if value is not None}


# --- Firmware files ------------------------------------------------------------------------------------


def firmware_file_describe(*, firmware: Firmware) -> Firmware:
    """Record the stored file's size and SHA-256 (shown to operators, compared by vendors)."""
    if not firmware.file:
        firmware.size, firmware.sha256 = None, ""
    else:
        digest, size = hashlib.sha256(), 0
        with firmware.file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(UPLOAD_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
        firmware.size, firmware.sha256 = size, digest.hexdigest()
    firmware.save(update_fields=["size", "sha256", "updated_at"])
    return firmware


def firmware_validate(*, has_file: bool, external_location: str, signing_certificate: str, signature: str) -> None:
    """What a firmware entry must be: a file or a location, and a complete signature or none."""
    if has_file == bool(external_location):
        raise Invalid("give either a file or an external location")
    if external_location:
        location_validate(external_location)
    if bool(signing_certificate) != bool(signature):
        raise Invalid("a signed firmware needs both the signing certificate and the signature")
    if len(signing_certificate) > SIGNING_CERTIFICATE_MAX or len(signature) > SIGNATURE_MAX:
        raise Invalid(f"the certificate has at most {SIGNING_CERTIFICATE_MAX} characters, the signature {SIGNATURE_MAX}")


def firmware_download_url(*, base_url: str, token: str, filename: str) -> str:
    return f"{base_url}/firmware/download/{token}/{quote(filename or 'firmware.bin')}"


def firmware_download_record(*, target: FirmwareUpdateTarget) -> None:
    """A station fetched its firmware: a sign of life even when it reports nothing."""
    FirmwareUpdateTarget.objects.filter(pk=target.pk).update(download_count=F("download_count") + 1,
                                                             last_download_at=timezone.now())


# --- Firmware updates ------------------------------------------------------------------------------------


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
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None, source=source,
    )
    for index, station in enumerate(stations):
        target = FirmwareUpdateTarget(update=update, station=station, firmware_version_before=station.firmware_version)
        target.location = _target_location(update, target, base_url)
        target.save()
        target.request_id = target.pk
        target.save(update_fields=["request_id"])
        if index == 0:  # every station gets the same shape of payload: one check refuses the whole job
            action, payload = firmware_update_payload(target)
            call_validate(action=action, payload=payload)
        _targets_cancel_waiting(station_id=station.pk, newer=update)
        if station.online:
            _target_send(target, requested_by=requested_by, source=source)
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


def firmware_update_payload(target: FirmwareUpdateTarget) -> tuple[str, dict]:
    update = target.update
    optional = _optional(retries=update.retries, retryInterval=update.retry_interval)
    if not update.signed:
        return "UpdateFirmware", {"location": target.location, "retrieveDate": format_datetime(update.retrieve_date),
                                  **optional}
    firmware = {
        "location": target.location,
        "retrieveDateTime": format_datetime(update.retrieve_date),
        **({"installDateTime": format_datetime(update.install_date)} if update.install_date else {}),
        "signingCertificate": update.signing_certificate,
        "signature": update.signature,
    }
    return "SignedUpdateFirmware", {"requestId": target.request_id, "firmware": firmware, **optional}


def _target_send(target: FirmwareUpdateTarget, *, requested_by=None, source: str = "system") -> bool:
    """Send the target's (Signed)UpdateFirmware; False when the station is not connected."""
    action, payload = firmware_update_payload(target)
    try:
        with transaction.atomic():
            call = call_enqueue(station=target.station_id, action=action, payload=payload, requested_by=requested_by,
                                source=source, context={"firmware_update": target.update_id, "firmware_update_target": target.pk})
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
    now = timezone.now()
    target.call = call
    target.state = TargetState.SENT
    target.attempts += 1
    target.sent_at = target.progress_at = now
    target.probed_at = None
    target.detail = ""
    target.save()
    _targets_supersede(station_id=target.station_id, newer=target)
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
                _target_send(target, requested_by=requested_by, source=source)
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
    return FirmwareUpdateTarget.objects.select_for_update().filter(pk=target_id).first()


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


def firmware_update_adopt(*, call: Call, status: str) -> FirmwareUpdateTarget:
    """An update sent by hand through the calls API becomes a job too, so its reports have a home."""
    payload = call.payload
    signed = call.action == "SignedUpdateFirmware"
    details = payload["firmware"] if signed else payload
    station = ChargeStation.objects.get(pk=call.station_id)

    def count(name):
        value = payload.get(name)
        return value if isinstance(value, int) and value >= 0 else None

    update = FirmwareUpdate.objects.create(
        location=details["location"], retrieve_date=parse_datetime(details["retrieveDateTime" if signed else "retrieveDate"]),
        retries=count("retries"), retry_interval=count("retryInterval"), signed=signed,
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


# --- Periodic jobs: send to stations that came back, notice silence ---------------------------------------


def firmware_updates_send_waiting() -> int:
    """Send waiting updates to stations that are connected now; expire those that waited too long."""
    expired = selectors.firmware_targets_past_send_window().update(
        state=TargetState.EXPIRED, detail="the station did not connect within the send window", updated_at=timezone.now()
    )
    if expired:
        logger.info("%s firmware updates expired unsent", expired)
    sent = 0
    for target_id in list(selectors.firmware_targets_to_send().values_list("pk", flat=True)):
        with transaction.atomic():
            target = (FirmwareUpdateTarget.objects.select_for_update().select_related("update")
                      .filter(pk=target_id, state=TargetState.WAITING).first())
            if target is not None:
                sent += _target_send(target, requested_by=target.update.requested_by, source="system")
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


# --- Diagnostics and logs ----------------------------------------------------------------------------------


def diagnostics_upload_url(*, base_url: str, token: str) -> str:
    return f"{base_url}/diagnostics/upload/{token}/"


@transaction.atomic
def diagnostics_request_create(
    *,
    station: ChargeStation,
    log_type: str = "",
    start_time: datetime | None = None,
    stop_time: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    location: str = "",
    base_url: str = "",
    requested_by=None,
    source: str = "system",
) -> DiagnosticsRequest:
    """Send GetDiagnostics (no log type) or GetLog; the station uploads to a location the CSMS serves
    unless the caller names its own (an FTP server, for stations that upload nothing else)."""
    if log_type and log_type not in LogType.values:
        raise Invalid(f"log_type must be one of {', '.join(LogType.values)} (or absent for GetDiagnostics)")
    if start_time and stop_time and stop_time < start_time:
        raise Invalid("stop_time must not be before start_time")
    for name, value in (("retries", retries), ("retry_interval", retry_interval)):
        if value is not None and value < 0:
            raise Invalid(f"{name} must not be negative")
    kind = DiagnosticsKind.LOG if log_type else DiagnosticsKind.DIAGNOSTICS
    if location:
        location = location_validate(location, max_length=SIGNED_LOCATION_MAX if log_type else None)
    request = DiagnosticsRequest(
        station=station, kind=kind, log_type=log_type, start_time=start_time, stop_time=stop_time, retries=retries,
        retry_interval=retry_interval, served_by_csms=not location, source=source,
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
    )
    request.location = location or diagnostics_upload_url(base_url=base_url or public_base_url(), token=request.token)
    request.save()
    request.request_id = request.pk
    action, payload = diagnostics_payload(request)
    request.call = call_enqueue(station=station, action=action, payload=payload, requested_by=requested_by, source=source,
                                context={"diagnostics_request": request.pk})
    request.save(update_fields=["request_id", "call", "updated_at"])
    return request


def diagnostics_payload(request: DiagnosticsRequest) -> tuple[str, dict]:
    optional = _optional(retries=request.retries, retryInterval=request.retry_interval)
    start = format_datetime(request.start_time) if request.start_time else None
    stop = format_datetime(request.stop_time) if request.stop_time else None
    if request.kind == DiagnosticsKind.LOG:
        log = {"remoteLocation": request.location, **_optional(oldestTimestamp=start, latestTimestamp=stop)}
        return "GetLog", {"logType": request.log_type, "requestId": request.request_id, "log": log, **optional}
    return "GetDiagnostics", {"location": request.location, **optional, **_optional(startTime=start, stopTime=stop)}


def _request_of_call(call: Call) -> DiagnosticsRequest | None:
    request_id = (call.context or {}).get("diagnostics_request")
    if request_id is None:
        return None
    return DiagnosticsRequest.objects.select_for_update().filter(pk=request_id).first()


def diagnostics_answered(*, call: Call, status: str, file_name: str) -> None:
    """GetDiagnostics.conf names the file that will come (none: nothing to upload); GetLog.conf says
    whether the station will upload (`status`) and may name the file."""
    if "diagnostics_request" not in (call.context or {}):
        diagnostics_adopt(call=call, status=status, file_name=file_name)
        return
    request = _request_of_call(call)
    if request is None or request.call_id != call.pk:
        return
    _request_apply_answer(request, call.action, status, file_name)
    request.save()
    if request.state in (DiagnosticsState.ACCEPTED, DiagnosticsState.UPLOADING, DiagnosticsState.UPLOADED):
        _requests_supersede(request)


def _request_apply_answer(request: DiagnosticsRequest, action: str, status: str, file_name: str) -> None:
    request.file_name = file_name
    if action == "GetLog":
        request.answer = status
        if request.answer == "Rejected":
            request.state, request.detail = DiagnosticsState.REJECTED, "the station answered Rejected"
            return
    if request.state != DiagnosticsState.PENDING:
        return  # a status notification came first and said more
    if action == "GetDiagnostics" and not request.file_name:
        request.state, request.detail = DiagnosticsState.NO_FILE, "the station has no diagnostics to upload"
    else:
        request.state = DiagnosticsState.ACCEPTED


def _requests_supersede(request: DiagnosticsRequest) -> None:
    """A station uploads one file at a time; a new request replaces an unfinished older one."""
    selectors.older_open_requests(request).filter(file="").update(
        state=DiagnosticsState.SUPERSEDED, detail=f"replaced by request #{request.pk}", updated_at=timezone.now()
    )


def diagnostics_call_failed(*, call: Call) -> None:
    request = _request_of_call(call)
    if request is None or request.call_id != call.pk or request.state != DiagnosticsState.PENDING:
        return
    request.state = DiagnosticsState.ERROR
    request.detail = f"{call.error_code}: {call.error_description}".strip(": ")[:300]
    request.save(update_fields=["state", "detail", "updated_at"])


def diagnostics_adopt(*, call: Call, status: str, file_name: str) -> DiagnosticsRequest:
    """A GetDiagnostics/GetLog sent by hand through the calls API is tracked like one of ours."""
    payload = call.payload
    is_log = call.action == "GetLog"
    log = payload.get("log", {}) if is_log else {}
    station = ChargeStation.objects.get(pk=call.station_id)

    def when(value):
        return parse_datetime(value) if value else None

    def count(name):
        value = payload.get(name)
        return value if isinstance(value, int) and value >= 0 else None

    request = DiagnosticsRequest(
        station=station, kind=DiagnosticsKind.LOG if is_log else DiagnosticsKind.DIAGNOSTICS,
        log_type=payload.get("logType", ""), request_id=int32_or_none(payload.get("requestId")),
        start_time=when(log.get("oldestTimestamp") if is_log else payload.get("startTime")),
        stop_time=when(log.get("latestTimestamp") if is_log else payload.get("stopTime")),
        retries=count("retries"), retry_interval=count("retryInterval"),
        location=log.get("remoteLocation", "") if is_log else payload.get("location", ""),
        served_by_csms=False, call=call, requested_by=call.requested_by, source="call",
    )
    _request_apply_answer(request, call.action, status, file_name)
    request.save()
    return request


def diagnostics_status_record(*, station_id: str, status: str, kind: str, request_id: int | None = None) -> DiagnosticsStatusReport:
    """Store a DiagnosticsStatusNotification / LogStatusNotification and move the request it is about."""
    request = selectors.diagnostics_request_for_report(station_id=station_id, kind=kind, request_id=request_id)
    report = DiagnosticsStatusReport.objects.create(station_id=station_id, status=status, request_id=request_id,
                                                    kind=kind, diagnostics_request=request)
    if request is not None and status != IDLE:
        _request_apply_status(request, status)
    return report


def _request_apply_status(request: DiagnosticsRequest, status: str) -> None:
    request.status = status
    request.status_at = timezone.now()
    if request.file:
        pass  # the file is here: whatever the station says about a later attempt, we have it
    elif status == "Uploaded":
        request.state = DiagnosticsState.UPLOADED
        request.detail = "the station reports it uploaded, but no file reached the CSMS" if request.served_by_csms else ""
    elif status in UPLOAD_FAILED:
        request.state, request.detail = DiagnosticsState.FAILED, f"the station reported {status}"
    else:
        request.state, request.detail = DiagnosticsState.UPLOADING, ""
    request.save(update_fields=["status", "status_at", "state", "detail", "updated_at"])


def diagnostics_upload_store(*, request: DiagnosticsRequest, chunks: Iterable[bytes], filename: str,
                             content_type: str = "") -> DiagnosticsRequest:
    """Keep a file a station uploaded (a later upload for the same request replaces it)."""
    limit = upload_max_bytes()
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(f"uploads are limited to {limit} bytes")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        with transaction.atomic():
            request = DiagnosticsRequest.objects.select_for_update().get(pk=request.pk)
            previous = request.file.name if request.file else ""
            request.file.save(filename, File(spool), save=False)
            request.file_size = size
            request.file_sha256 = digest.hexdigest()
            request.file_content_type = (content_type or "")[:100]
            request.uploaded_at = timezone.now()
            request.state = DiagnosticsState.UPLOADED
            request.detail = ""
            request.save()
            if previous and previous != request.file.name:
                storage = request.file.storage
                transaction.on_commit(lambda: stored_file_delete(storage, previous))
    return request


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

