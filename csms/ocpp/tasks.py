"""Periodic jobs of the OCPP runtime: pruning what it keeps and ending calls nobody will answer."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import calls
from .models import MessageLog, ProcessedCall


@shared_task
def prune_message_log() -> int:
    cutoff = timezone.now() - timedelta(days=settings.CSMS_MESSAGE_LOG_RETENTION_DAYS)
    deleted, _ = MessageLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task
def prune_processed_calls() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.CSMS_DUPLICATE_CALL_WINDOW_HOURS)
    deleted, _ = ProcessedCall.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task
def expire_stale_calls() -> int:
    return calls.calls_expire_stale()
