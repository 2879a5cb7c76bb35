"""Diagnostics and logs: sending GetDiagnostics or GetLog, and what the answers and status
notifications mean for a request (docs/adr/0052-diagnostics-uploads.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csms.errors import Invalid
from csms.ocpp.calls import call_enqueue
from csms.ocpp.models import Call
from csms.ocpp.schemas import format_datetime, parse_datetime
from partners.selectors import acting_user
from stations.models import ChargeStation, FileTransferProtocol

from .. import selectors
from ..models import DiagnosticsKind, DiagnosticsRequest, DiagnosticsState, DiagnosticsStatusReport, LogType
from .ftp_accounts import ftp_account_location, ftp_account_open, ftp_location_issue
from .locations import SIGNED_LOCATION_MAX, diagnostics_upload_url, location_validate, public_base_url
from .wire import IDLE, count_or_none, int32_or_none, optional

# DiagnosticsStatus (1.6) and UploadLogStatusEnumType (whose schema says UploadFailure, its text UploadFailed).
UPLOAD_FAILED = frozenset({"UploadFailed", "UploadFailure", "BadMessage", "PermissionDenied", "NotSupportedOperation"})


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
    protocol: str = "",
    base_url: str = "",
    requested_by=None,
    source: str = "system",
) -> DiagnosticsRequest:
    """Send GetDiagnostics (no log type) or GetLog; the station uploads to a location the CSMS serves
    over `protocol` (default: the station's file transfer protocol; FTP with one-time credentials),
    unless the caller names a location of its own."""
    if protocol and protocol not in FileTransferProtocol.values:
        raise Invalid(f"protocol must be one of {', '.join(FileTransferProtocol.values)}")
    if protocol and location:
        raise Invalid("give a location of your own or a protocol for the CSMS's location, not both")
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
        requested_by=acting_user(requested_by),
    )
    if not location:
        base_url = base_url or public_base_url()
    request.location = location or diagnostics_upload_url(base_url=base_url, token=request.token)
    request.save()
    request.request_id = request.pk
    sent_location = None
    if not location and (protocol or station.file_transfer_protocol) == FileTransferProtocol.FTP:
        account = ftp_account_open(diagnostics_request=request, expires_at=request.created_at + timedelta(
            days=settings.CSMS_DIAGNOSTICS_UPLOAD_DAYS))
        request.location = ftp_account_location(account=account, base_url=base_url)
        sent_location = ftp_location_issue(account=account, location=request.location)
    action, payload = diagnostics_payload(request, location=sent_location)
    request.call = call_enqueue(station=station, action=action, payload=payload, requested_by=requested_by, source=source,
                                context={"diagnostics_request": request.pk})
    request.save(update_fields=["request_id", "location", "call", "updated_at"])
    return request


def diagnostics_payload(request: DiagnosticsRequest, *, location: str | None = None) -> tuple[str, dict]:
    """The Call for a request; `location` the one to send when the stored one hides a password."""
    location = location or request.location
    counts = optional(retries=request.retries, retryInterval=request.retry_interval)
    start = format_datetime(request.start_time) if request.start_time else None
    stop = format_datetime(request.stop_time) if request.stop_time else None
    if request.kind == DiagnosticsKind.LOG:
        log = {"remoteLocation": location, **optional(oldestTimestamp=start, latestTimestamp=stop)}
        return "GetLog", {"logType": request.log_type, "requestId": request.request_id, "log": log, **counts}
    return "GetDiagnostics", {"location": location, **counts, **optional(startTime=start, stopTime=stop)}


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

    request = DiagnosticsRequest(
        station=station, kind=DiagnosticsKind.LOG if is_log else DiagnosticsKind.DIAGNOSTICS,
        log_type=payload.get("logType", ""), request_id=int32_or_none(payload.get("requestId")),
        start_time=when(log.get("oldestTimestamp") if is_log else payload.get("startTime")),
        stop_time=when(log.get("latestTimestamp") if is_log else payload.get("stopTime")),
        retries=count_or_none(payload.get("retries")), retry_interval=count_or_none(payload.get("retryInterval")),
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
    if status == "Uploaded" and request.location_closed_at is None:
        request.location_closed_at = request.status_at  # the upload location takes no more files
    if request.file:
        pass  # the file is here: whatever the station says about a later attempt, we have it
    elif status == "Uploaded":
        request.state = DiagnosticsState.UPLOADED
        request.detail = "the station reports it uploaded, but no file reached the CSMS" if request.served_by_csms else ""
    elif status in UPLOAD_FAILED:
        request.state, request.detail = DiagnosticsState.FAILED, f"the station reported {status}"
    else:
        request.state, request.detail = DiagnosticsState.UPLOADING, ""
    request.save(update_fields=["status", "status_at", "state", "detail", "location_closed_at", "updated_at"])
