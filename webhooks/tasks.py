"""Celery jobs of the webhooks app: sending (with a broker), the periodic retries and
transaction.updated, and pruning."""

from celery import shared_task

from . import services


@shared_task
def send_deliveries(delivery_ids: list[int]) -> int:
    """Queued after the commit that wrote them: attempt each (if still due)."""
    return sum(1 for delivery_id in delivery_ids if services.delivery_send(delivery_id=delivery_id) is not None)


@shared_task
def send_due_deliveries() -> int:
    return services.deliveries_send_due()


@shared_task
def publish_transaction_updates() -> int:
    return services.transaction_updates_publish()


@shared_task
def prune_deliveries() -> int:
    return services.deliveries_prune()
