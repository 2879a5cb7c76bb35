"""Periodic jobs of this app."""

from celery import shared_task

from . import services


@shared_task
def sync_outdated_local_lists() -> int:
    return services.local_lists_sync_outdated()
