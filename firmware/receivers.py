"""Files go with their rows: a deleted diagnostics request (or its station) leaves no file behind.

This stays a Django signal receiver on purpose: it writes nothing to the database, it only schedules
the file's deletion for after the commit (a rolled-back delete keeps its file). Rows also go by
cascade (deleting a station takes its diagnostics requests), which no service call would see.
"""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import DiagnosticsRequest, Firmware
from .services.files import stored_file_delete


@receiver(post_delete, sender=DiagnosticsRequest)
@receiver(post_delete, sender=Firmware)
def delete_stored_file(sender, instance, **kwargs):
    field = instance.file
    if field:
        storage, name = field.storage, field.name
        transaction.on_commit(lambda: stored_file_delete(storage, name))
