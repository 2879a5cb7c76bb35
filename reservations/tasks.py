"""Periodic jobs of this app."""

from celery import shared_task

from . import services


@shared_task
def expire_reservations() -> int:
    return services.reservations_expire()
