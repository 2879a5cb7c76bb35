"""What the stations app persists from stations' answers to CSMS Calls (one handler per action)."""

from django.utils import timezone

from csms.ocpp.router import on_result

from .models import ChargeStation, ConfigurationKey
from .selectors import requested_keys


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
    if response["status"] not in ("Accepted", "RebootRequired"):
        return
    key, value = call.payload["key"], call.payload["value"]
    ConfigurationKey.objects.update_or_create(
        station_id=call.station_id, key=key,
        defaults={"value": value, "known": True, "updated_at": timezone.now()},
    )
    if response["status"] == "RebootRequired":
        ChargeStation.objects.filter(pk=call.station_id).update(reset_required=True)
