"""Reactions of the firmware app to what other apps report.

Station events (stations.hooks): a boot records the station's firmware version when it changed and
lets its rollouts look at it; a connection (or an accepted boot) sends the station, soon and off the
station path, the updates waiting for it (firmware/node.py).

Files go with their rows: a deleted diagnostics request (or its station) leaves no file behind.
This stays a Django signal receiver on purpose: it writes nothing to the database, it only schedules
the file's deletion for after the commit (a rolled-back delete keeps its file). Rows also go by
cascade (deleting a station takes its diagnostics requests), which no service call would see.
"""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from stations.hooks import StationBooted, StationConnected, station_booted, station_connected
from stations.models import RegistrationStatus

from .models import DiagnosticsRequest, Firmware
from .services.files import stored_file_delete
from .services.rollouts import firmware_rollouts_station_booted
from .services.versions import station_firmware_version_record
from .services.wakeups import station_catch_up_soon


@receiver(post_delete, sender=DiagnosticsRequest)
@receiver(post_delete, sender=Firmware)
def delete_stored_file(sender, instance, **kwargs):
    field = instance.file
    if field:
        storage, name = field.storage, field.name
        transaction.on_commit(lambda: stored_file_delete(storage, name))


@station_booted.connect
def firmware_version_booted(event: StationBooted) -> None:
    station_firmware_version_record(station_id=event.station_id, version=event.firmware_version)
    firmware_rollouts_station_booted(station_id=event.station_id)
    if event.registration_status == RegistrationStatus.ACCEPTED:
        station_catch_up_soon(event.station_id)


@station_connected.connect(database=False)
def station_came_back(event: StationConnected) -> None:
    station_catch_up_soon(event.station_id)
