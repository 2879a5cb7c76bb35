"""Which firmware versions each station ran: one row each time a BootNotification reports a version
other than the last one recorded."""

from __future__ import annotations

from ..models import FirmwareVersionRecord


def station_firmware_version_record(*, station_id: str, version: str) -> FirmwareVersionRecord | None:
    """Record the version a station booted with, when it changed; None when it did not."""
    last = (FirmwareVersionRecord.objects.filter(station_id=station_id).order_by("-id")
            .values_list("version", flat=True).first())
    if last == version:
        return None
    return FirmwareVersionRecord.objects.create(station_id=station_id, version=version)
