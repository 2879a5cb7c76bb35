"""Celery jobs of OCPI: sending pushes (with a broker), retries, the clock's work, pruning."""

from celery import shared_task

from . import periodic, pushes


@shared_task
def send_pushes(push_ids: list[int]) -> int:
    return sum(1 for push_id in push_ids if pushes.push_send(push_id=push_id) is not None)


@shared_task
def send_due_pushes() -> int:
    return pushes.pushes_send_due()


@shared_task
def run_periodic() -> None:
    periodic.run()


@shared_task
def prune_pushes() -> int:
    return pushes.pushes_prune()
