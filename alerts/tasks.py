"""Periodic jobs of the alerts app."""

from celery import shared_task

from .watch import stations_watch


@shared_task
def watch_stations() -> dict:
    return stations_watch()
