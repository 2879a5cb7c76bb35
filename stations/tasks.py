"""Periodic jobs about stations: tasks load by id and call services."""

from celery import shared_task

from . import services


@shared_task
def mark_orphaned_stations_offline() -> int:
    return services.stations_of_dead_nodes_mark_offline()
