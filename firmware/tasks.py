"""Periodic jobs of this app (their CELERY_BEAT_SCHEDULE entries are in docs/adr/0054-watching-transfers.md)."""

from celery import shared_task

from .services import jobs, rollouts


@shared_task
def send_waiting_firmware_updates() -> int:
    """Every minute: updates for stations that were offline go out once they are connected."""
    return jobs.firmware_updates_send_waiting()


@shared_task
def watch_firmware_updates() -> dict:
    """Every 5 minutes: ask silent stations for their firmware status; mark long-silent updates stuck."""
    return jobs.firmware_updates_watch()


@shared_task
def expire_diagnostics_requests() -> int:
    """Every 5 minutes: diagnostics/log requests with no upload for too long are expired."""
    return jobs.diagnostics_requests_expire()


@shared_task
def prune_diagnostics_files() -> int:
    """Daily: delete uploaded diagnostics/log files past CSMS_DIAGNOSTICS_RETENTION_DAYS."""
    return jobs.diagnostics_files_prune()


@shared_task
def advance_firmware_rollouts() -> int:
    """Every CSMS_ROLLOUT_CHECK_SECONDS: decide the waves of running rollouts, start the next ones."""
    return rollouts.firmware_rollouts_advance()


@shared_task
def advance_firmware_rollout(rollout_id: int) -> None:
    """At once, when a station's report may have decided its rollout's wave."""
    rollouts.firmware_rollout_advance(rollout_id=rollout_id)
