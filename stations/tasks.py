"""Periodic jobs about stations: tasks load by id and call services."""

from celery import shared_task

from . import services


@shared_task
def mark_orphaned_stations_offline() -> int:
    """A backstop for when no node is alive to do it (every node releases dead nodes' stations)."""
    return len(services.stations_of_dead_nodes_mark_offline())


@shared_task
def prune_failed_authentications() -> int:
    return services.failed_authentications_prune()
