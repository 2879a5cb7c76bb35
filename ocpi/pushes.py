"""Pushing objects to partners: a queue row written in the transaction that changed the object
(`push_enqueue`), sent after the commit off the station path (ocpi/pump.py or Celery), in order per
object, retried with backoff, every outcome kept on the row (docs/adr/0160-ocpi-partners-and-transport.md).

A newer PUT of an object supersedes its pushes not yet sent (only the latest state matters); a PATCH
never overtakes an earlier push of the same object.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from csms import metrics
from csms.errors import Conflict

from .client import OcpiClientError, ocpi_request
from .models import HandshakeState, OcpiPartner, OcpiPush, PushStatus

logger = logging.getLogger(__name__)

def push_enqueue(*, partner: OcpiPartner, module: str, object_key: str, method: str, path: str,
                 body: dict | list | None) -> OcpiPush:
    """Queue one push (in the caller's transaction); it is sent after the commit. `path` is relative
    to the partner's `module` receiver endpoint, or an absolute URL."""
    if method == "PUT":
        OcpiPush.objects.filter(partner=partner, module=module, object_key=object_key, status=PushStatus.PENDING).update(status=PushStatus.SUPERSEDED)
    push = OcpiPush.objects.create(partner=partner, module=module, object_key=object_key, method=method, path=path,
                                   body=body)
    transaction.on_commit(lambda: _hand_over([push.pk]))
    return push


def _hand_over(push_ids: list[int]) -> None:
    from .pump import hand_over

    hand_over(push_ids)


def push_url(push: OcpiPush) -> str | None:
    if push.path.startswith(("http://", "https://")):
        return push.path
    base = push.partner.endpoint(push.module, "RECEIVER")
    return None if base is None else base.rstrip("/") + push.path


def retry_delay(attempts: int) -> timedelta:
    first = settings.CSMS_OCPI_RETRY_SECONDS
    return timedelta(seconds=min(first * 2 ** min(attempts - 1, 20), max(first, 3600)))


def _claim(push_id: int, now: datetime) -> OcpiPush | None:
    lease = now + timedelta(seconds=settings.CSMS_OCPI_TIMEOUT + 30)
    earlier = OcpiPush.objects.filter(partner=OuterRef("partner"), module=OuterRef("module"),
                                      object_key=OuterRef("object_key"), status=PushStatus.PENDING,
                                      id__lt=OuterRef("id"))
    taken = (OcpiPush.objects.filter(pk=push_id, status=PushStatus.PENDING, next_attempt_at__lte=now)
             .exclude(Exists(earlier)).update(next_attempt_at=lease))
    if not taken:
        return None
    return OcpiPush.objects.select_related("partner").get(pk=push_id)


def push_send(*, push_id: int) -> bool | None:
    """Attempt one push if it is due and first in its object's line: True sent, False failed, None
    not attempted."""
    push = _claim(push_id, timezone.now())
    return None if push is None else _attempt(push)


def pushes_send_due(*, limit: int = 200) -> int:
    """Attempt the due pushes, oldest first; a partner that fails is not tried again in this run."""
    now = timezone.now()
    due = list(OcpiPush.objects.filter(status=PushStatus.PENDING, next_attempt_at__lte=now)
               .order_by("id").values_list("id", "partner_id")[:limit])
    failing: set[int] = set()
    attempted = 0
    for push_id, partner_id in due:
        if partner_id in failing:
            continue
        push = _claim(push_id, timezone.now())
        if push is None:
            continue
        attempted += 1
        if not _attempt(push):
            failing.add(partner_id)
    return attempted


def _attempt(push: OcpiPush) -> bool:
    """Send it (outside any transaction) and record the outcome: delivered, retried later, or failed
    for good after CSMS_OCPI_PUSH_RETRY_HOURS (or at once when the partner is not registered)."""
    partner = push.partner
    now = timezone.now()
    url = push_url(push)
    http_status = ocpi_status = None
    if partner.state != HandshakeState.REGISTERED or not partner.outgoing_token:
        error, final = f"partner not registered ({partner.state})", True
    elif url is None:
        error, final = f"the partner offers no {push.module} receiver endpoint", True
    else:
        final = False
        try:
            answer = ocpi_request(push.method, url, token=partner.outgoing_token, body=push.body)
            http_status, ocpi_status = answer.http_status, answer.status_code
            error = "" if answer.ok else (f"HTTP {answer.http_status}, OCPI {answer.status_code} "
                                          f"{answer.status_message}".strip())
        except OcpiClientError as exc:
            http_status, error = exc.http_status, str(exc)
    done_at = timezone.now()
    push.attempts += 1
    push.last_attempt_at, push.last_http_status, push.last_ocpi_status = now, http_status, ocpi_status
    push.last_error = error[:500]
    if not error:
        push.status, push.delivered_at, push.next_attempt_at = PushStatus.DELIVERED, done_at, None
    elif final or done_at - push.created_at >= timedelta(hours=settings.CSMS_OCPI_PUSH_RETRY_HOURS):
        push.status, push.next_attempt_at = PushStatus.FAILED, None
    else:
        push.next_attempt_at = done_at + retry_delay(push.attempts)
    push.save(update_fields=["attempts", "last_attempt_at", "last_http_status", "last_ocpi_status", "last_error",
                             "status", "delivered_at", "next_attempt_at"])
    metrics.delivery("ocpi", "failed" if error else "delivered")
    if error:
        logger.info("OCPI push %s %s %s to partner %s failed (attempt %s): %s", push.method, push.module,
                    push.object_key, partner.pk, push.attempts, error)
    return not error


def pushes_prune() -> int:
    """Forget finished pushes older than CSMS_OCPI_PUSH_RETENTION_DAYS (0 keeps them)."""
    days = settings.CSMS_OCPI_PUSH_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = OcpiPush.objects.filter(created_at__lt=cutoff).exclude(status=PushStatus.PENDING).delete()
    return deleted


def push_retry(*, push: OcpiPush) -> OcpiPush:
    """An operator's "retry now": a pending or failed push becomes due at once (it keeps its attempts;
    a failed one gets one more try, and more until its retry window closes). Refused when a newer push
    of the same object is waiting or went through: sending this one would put older state on top."""
    if push.status not in (PushStatus.PENDING, PushStatus.FAILED):
        raise Conflict(f"a {push.status} push is not retried")
    newer = OcpiPush.objects.filter(partner_id=push.partner_id, module=push.module, object_key=push.object_key,
                                    id__gt=push.pk, status__in=[PushStatus.PENDING, PushStatus.DELIVERED])
    if newer.exists():
        raise Conflict("a newer push of the same object replaces it")
    push.status, push.next_attempt_at = PushStatus.PENDING, timezone.now()
    push.save(update_fields=["status", "next_attempt_at"])
    transaction.on_commit(lambda: _hand_over([push.pk]))
    return push
