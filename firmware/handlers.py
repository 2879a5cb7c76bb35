"""Station-initiated firmware, diagnostics and log status notifications: stored as reported."""

from csms.ocpp.router import CallContext, handles

from .models import DiagnosticsStatusReport, FirmwareStatusReport


@handles("FirmwareStatusNotification")
def firmware_status_notification(ctx: CallContext, payload: dict) -> dict:
    FirmwareStatusReport.objects.create(station_id=ctx.station_id, status=payload["status"])
    return {}


@handles("SignedFirmwareStatusNotification")
def signed_firmware_status_notification(ctx: CallContext, payload: dict) -> dict:
    FirmwareStatusReport.objects.create(
        station_id=ctx.station_id, status=payload["status"], request_id=payload.get("requestId"), signed=True
    )
    return {}


@handles("DiagnosticsStatusNotification")
def diagnostics_status_notification(ctx: CallContext, payload: dict) -> dict:
    DiagnosticsStatusReport.objects.create(station_id=ctx.station_id, status=payload["status"])
    return {}


@handles("LogStatusNotification")
def log_status_notification(ctx: CallContext, payload: dict) -> dict:
    DiagnosticsStatusReport.objects.create(
        station_id=ctx.station_id, status=payload["status"], request_id=payload.get("requestId"), kind="log"
    )
    return {}
