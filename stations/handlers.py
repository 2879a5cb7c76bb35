"""Station-initiated Core Calls about the station itself: one handler per action."""

from django.conf import settings
from django.utils import timezone

from csms.ocpp.router import CallContext, handles

from . import datatransfer, services
from .models import Direction


def now_iso() -> str:
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


@handles("BootNotification")
def boot_notification(ctx: CallContext, payload: dict) -> dict:
    status = services.station_boot(station_id=ctx.station_id, payload=payload)
    ctx.effects["registration_status"] = status
    return {"status": status, "currentTime": now_iso(), "interval": settings.CSMS_HEARTBEAT_INTERVAL}


@handles("Heartbeat")
def heartbeat(ctx: CallContext, payload: dict) -> dict:
    services.station_heartbeat(station_id=ctx.station_id)
    return {"currentTime": now_iso()}


@handles("StatusNotification")
def status_notification(ctx: CallContext, payload: dict) -> dict:
    services.connector_status_update(station_id=ctx.station_id, payload=payload)
    return {}


@handles("DataTransfer")
def data_transfer(ctx: CallContext, payload: dict) -> dict:
    status, data = datatransfer.dispatch(ctx.station_id, payload["vendorId"], payload.get("messageId"), payload.get("data"))
    services.data_transfer_record(
        station_id=ctx.station_id,
        direction=Direction.IN,
        vendor_id=payload["vendorId"],
        message_id=payload.get("messageId", ""),
        data=payload.get("data"),
        status=status,
        response_data=data,
    )
    response = {"status": status}
    if data is not None:
        response["data"] = data
    return response


@handles("SecurityEventNotification")
def security_event_notification(ctx: CallContext, payload: dict) -> dict:
    services.security_event_record(station_id=ctx.station_id, payload=payload)
    return {}
