"""Firmware, diagnostics and log messages in both directions: the station's status notifications move
the update or upload they are about; the answers to our requests start them (or refuse them)."""

from csms.ocpp.router import CallContext, handles, on_failure, on_result

from .services import diagnostics, updates
from .models import DiagnosticsKind

# --- Station-initiated -----------------------------------------------------------------------------


@handles("FirmwareStatusNotification")
def firmware_status_notification(ctx: CallContext, payload: dict) -> dict:
    updates.firmware_status_record(station_id=ctx.station_id, status=payload["status"])
    return {}


@handles("SignedFirmwareStatusNotification")
def signed_firmware_status_notification(ctx: CallContext, payload: dict) -> dict:
    updates.firmware_status_record(station_id=ctx.station_id, status=payload["status"],
                                    request_id=payload.get("requestId"), signed=True)
    return {}


@handles("DiagnosticsStatusNotification")
def diagnostics_status_notification(ctx: CallContext, payload: dict) -> dict:
    diagnostics.diagnostics_status_record(station_id=ctx.station_id, status=payload["status"],
                                       kind=DiagnosticsKind.DIAGNOSTICS)
    return {}


@handles("LogStatusNotification")
def log_status_notification(ctx: CallContext, payload: dict) -> dict:
    diagnostics.diagnostics_status_record(station_id=ctx.station_id, status=payload["status"],
                                       request_id=payload.get("requestId"), kind=DiagnosticsKind.LOG)
    return {}


# --- Answers to the CSMS's requests ---------------------------------------------------------------------


@on_result("UpdateFirmware")
@on_result("SignedUpdateFirmware")
def update_firmware_result(call, response: dict) -> None:
    updates.firmware_update_answered(call=call, status=response.get("status", ""))


@on_failure("UpdateFirmware")
@on_failure("SignedUpdateFirmware")
def update_firmware_failed(call) -> None:
    updates.firmware_update_call_failed(call=call)


@on_result("GetDiagnostics")
@on_result("GetLog")
def get_diagnostics_result(call, response: dict) -> None:
    # GetLog.conf: a status and perhaps a filename; GetDiagnostics.conf: perhaps a fileName.
    file_name = response.get("filename" if call.action == "GetLog" else "fileName", "")
    diagnostics.diagnostics_answered(call=call, status=response.get("status", ""), file_name=file_name)


@on_failure("GetDiagnostics")
@on_failure("GetLog")
def get_diagnostics_failed(call) -> None:
    diagnostics.diagnostics_call_failed(call=call)
