"""OCPP handlers of the stations app: station-initiated Calls about the station itself, and what the
stations app persists from stations' answers to CSMS Calls (one handler per action)."""

from django.conf import settings
from django.utils import timezone

from csms.ocpp.calls import redact_secret
from csms.ocpp.router import CallContext, handles, on_failure, on_result
from csms.ocpp.schemas import format_datetime, parse_datetime

from . import datatransfer, services
from .models import ChargeStation, ConfigurationKey, Connector, Direction
from .selectors import requested_keys


@handles("BootNotification")
def boot_notification(ctx: CallContext, payload: dict) -> dict:
    get = payload.get
    status = services.station_boot(
        station_id=ctx.station_id,
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial_number=get("chargePointSerialNumber", ""),
        charge_box_serial_number=get("chargeBoxSerialNumber", ""),
        firmware_version=get("firmwareVersion", ""),
        iccid=get("iccid", ""),
        imsi=get("imsi", ""),
        meter_type=get("meterType", ""),
        meter_serial_number=get("meterSerialNumber", ""),
    )
    ctx.effects["registration_status"] = status
    return {"status": status, "currentTime": format_datetime(timezone.now()), "interval": settings.CSMS_HEARTBEAT_INTERVAL}


@handles("Heartbeat")
def heartbeat(ctx: CallContext, payload: dict) -> dict:
    services.station_heartbeat(station_id=ctx.station_id)
    return {"currentTime": format_datetime(timezone.now())}


@handles("StatusNotification")
def status_notification(ctx: CallContext, payload: dict) -> dict:
    services.connector_status_update(
        station_id=ctx.station_id,
        connector_id=payload["connectorId"],
        status=payload["status"],
        error_code=payload["errorCode"],
        info=payload.get("info", ""),
        vendor_id=payload.get("vendorId", ""),
        vendor_error_code=payload.get("vendorErrorCode", ""),
        timestamp=parse_datetime(payload["timestamp"]) if payload.get("timestamp") else None,
    )
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
    services.security_event_record(
        station_id=ctx.station_id,
        event_type=payload["type"],
        timestamp=parse_datetime(payload["timestamp"]),
        tech_info=payload.get("techInfo", ""),
    )
    return {}


# --- Answers to CSMS Calls ------------------------------------------------------------------------


@on_result("GetConfiguration")
def get_configuration_result(call, response: dict) -> None:
    """Store every key the station reported; keys it does not know are kept as unknown."""
    now = timezone.now()
    for entry in response.get("configurationKey", []):
        ConfigurationKey.objects.update_or_create(
            station_id=call.station_id,
            key=entry["key"],
            defaults={"value": entry.get("value"), "readonly": entry["readonly"], "known": True, "updated_at": now},
        )
    for key in response.get("unknownKey", []):
        ConfigurationKey.objects.update_or_create(
            station_id=call.station_id, key=key, defaults={"value": None, "known": False, "updated_at": now}
        )
    # A full read (no keys asked) is the whole truth: keys the station no longer lists go.
    if not requested_keys(call.payload):
        reported = {entry["key"] for entry in response.get("configurationKey", [])}
        ConfigurationKey.objects.filter(station_id=call.station_id, known=True).exclude(key__in=reported).delete()


@on_result("ChangeConfiguration")
def change_configuration_result(call, response: dict) -> None:
    """Accepted and RebootRequired change the stored value; RebootRequired also flags a reset."""
    key, value = call.payload["key"], call.payload["value"]
    changed = response["status"] in ("Accepted", "RebootRequired")
    if key == "AuthorizationKey":
        # Security Whitepaper A01: once accepted, only the new password opens the door; the key
        # itself is write-only and never kept in clear text (the call row is redacted).
        if changed:
            station = ChargeStation.objects.get(pk=call.station_id)
            station.set_password(value)
            station.save(update_fields=["password_hash", "updated_at"])
        redact_secret(call)
        return
    if not changed:
        return
    if key == "SecurityProfile" and value.strip() in ("0", "1", "2", "3"):
        # The station reconnects with the new profile (Security Whitepaper A05): expect it.
        ChargeStation.objects.filter(pk=call.station_id).update(security_profile=int(value))
    ConfigurationKey.objects.update_or_create(
        station_id=call.station_id, key=key,
        defaults={"value": value, "known": True, "updated_at": timezone.now()},
    )
    if response["status"] == "RebootRequired":
        ChargeStation.objects.filter(pk=call.station_id).update(reset_required=True)


@on_result("ChangeAvailability")
def change_availability_result(call, response: dict) -> None:
    """Remember the requested availability per connector; connector 0 speaks for the station."""
    connector_id = call.payload["connectorId"]
    status = response["status"]
    now = timezone.now()
    targets = Connector.objects.filter(station_id=call.station_id)
    if connector_id != 0:
        targets = targets.filter(connector_id=connector_id)
    Connector.objects.get_or_create(station_id=call.station_id, connector_id=connector_id)
    if status == "Rejected":
        targets.update(availability_status=status, availability_requested_at=now)
        return
    targets.update(availability=call.payload["type"], availability_status=status, availability_requested_at=now)


@on_result("DataTransfer")
def data_transfer_result(call, response: dict) -> None:
    services.data_transfer_record(
        station_id=call.station_id,
        direction=Direction.OUT,
        vendor_id=call.payload["vendorId"],
        message_id=call.payload.get("messageId", ""),
        data=call.payload.get("data"),
        status=response["status"],
        response_data=response.get("data"),
    )


@on_failure("ChangeConfiguration")
def change_configuration_failed(call) -> None:
    if call.payload.get("key") == "AuthorizationKey":
        redact_secret(call)
        call.save(update_fields=["payload"])
