"""Writes about webhooks: endpoints, queuing an event for the endpoints that want it, and sending
deliveries with retries (docs/adr/0102-webhooks.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from alerts.services import alert_raise, alert_resolve
from csms.errors import Conflict, Invalid
from partners.models import Partner
from stations.models import ChargeStation
from tariffs.selectors import TransactionCostView, transaction_cost, transactions_with_cost
from transactions.models import IdTag, Transaction

from .models import (
    PING,
    DeliveryStatus,
    Event,
    TransactionUpdateMark,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from .pump import hand_over
from .subscriptions import subscriptions

logger = logging.getLogger(__name__)

EXCERPT_BYTES = 500
USER_AGENT = "CSMS-Webhooks/1"


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


# --- Endpoints ---------------------------------------------------------------------------------------


def url_validate(url: str) -> str:
    """http(s) with a host, and no credentials in it (they would show wherever the URL shows)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise Invalid("url: only http and https URLs receive webhooks", details={"field": "url"})
    if not parts.hostname:
        raise Invalid("url: a host is needed", details={"field": "url"})
    if parts.username is not None or parts.password is not None:
        raise Invalid("url: no credentials in the URL; verify the X-CSMS-Signature instead", details={"field": "url"})
    try:
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise Invalid("url: the port is not a number", details={"field": "url"}) from None
    return url.strip()


def events_validate(events) -> list[str]:
    if not isinstance(events, list) or not events:
        raise Invalid("events: at least one event type", details={"field": "events"})
    unknown = [event for event in events if event not in Event.values]
    if unknown:
        raise Invalid(f"events: unknown event type(s) {', '.join(map(str, unknown))}", details={"field": "events"})
    return list(dict.fromkeys(events))


def secret_validate(secret: str) -> str:
    if len(secret) < 16:
        raise Invalid("secret: at least 16 characters", details={"field": "secret"})
    return secret


def endpoint_create(*, url: str, events: list[str], partner: Partner | None, secret: str | None = None,
                    description: str = "", active: bool = True, created_by=None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (generated when not given; shown to its creator once)."""
    secret = secret_validate(secret) if secret else secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(partner=partner, url=url_validate(url), events=events_validate(events),
                                              secret=secret, description=description, active=active,
                                              created_by=created_by)
    transaction.on_commit(subscriptions.invalidate)
    return endpoint, secret


def endpoint_update(*, endpoint: WebhookEndpoint, url: str | _Keep = KEEP, events: list[str] | _Keep = KEEP,
                    description: str | _Keep = KEEP, active: bool | _Keep = KEEP, secret: str | _Keep = KEEP,
                    partner: Partner | None | _Keep = KEEP) -> WebhookEndpoint:
    """Change an endpoint; enabling it again clears its failure record (and the alert about it)."""
    if partner is not KEEP:
        endpoint.partner = partner
    if url is not KEEP:
        endpoint.url = url_validate(url)
    if events is not KEEP:
        endpoint.events = events_validate(events)
    if description is not KEEP:
        endpoint.description = description
    if secret is not KEEP:
        endpoint.secret = secret_validate(secret)
    if active is not KEEP:
        if active and not endpoint.active:
            endpoint.failing_since = endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            alert_resolve(key=_disabled_alert_key(endpoint))
        endpoint.active = active
    endpoint.save()
    transaction.on_commit(subscriptions.invalidate)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()
    transaction.on_commit(subscriptions.invalidate)


def _disabled_alert_key(endpoint: WebhookEndpoint) -> str:
    return f"webhook_disabled:{endpoint.pk}"


# --- Queuing events ------------------------------------------------------------------------------------


def _partners_of(station_id: str | None, id_tag: str | None) -> set[int]:
    """The partners an event is about: the station's, and the id tag's for a transaction."""
    partners = set()
    if station_id is not None:
        partners.update(ChargeStation.objects.filter(pk=station_id).exclude(partner=None)
                        .values_list("partner_id", flat=True))
    if id_tag:
        partners.update(IdTag.objects.filter(id_tag=id_tag).exclude(partner=None).values_list("partner_id", flat=True))
    return partners


def event_publish(*, event: str, data: dict | Callable[[], dict], station_id: str | None = None,
                  id_tag: str | None = None, partners: set[int] | None = None,
                  occurred_at: datetime | None = None) -> list[WebhookDelivery]:
    """Queue `event` for every active endpoint subscribed to it that may see it (staff endpoints: all;
    a partner's: events about its stations and tags), inside the caller's transaction; they are sent
    after it commits. Costs nothing but a cache lookup when nobody subscribes; `data` may be a
    function, called only when someone does. `partners` (ids) spares the lookup when known."""
    endpoints = subscriptions.endpoints_for(event)
    if not endpoints:
        return []
    if any(partner_id is not None for _, partner_id in endpoints) and partners is None:
        partners = _partners_of(station_id, id_tag)
    chosen = [endpoint_id for endpoint_id, partner_id in endpoints if partner_id is None or partner_id in partners]
    if not chosen:
        return []
    payload = json.loads(json.dumps(data() if callable(data) else data, cls=DjangoJSONEncoder))
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint_id=endpoint_id, event=event, payload=payload, occurred_at=occurred_at or now,
                        next_attempt_at=now, created_at=now)
        for endpoint_id in chosen
    ])
    _send_after_commit(deliveries)
    return deliveries


def _send_after_commit(deliveries: Iterable[WebhookDelivery]) -> None:
    """Hand the deliveries over once the transaction commits (webhooks/pump.py): never sent, nor even
    handed to a broker, from here, which may be the station path."""
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: hand_over(ids))


def endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `ping` delivery to this endpoint alone: how a receiver checks its signature verification."""
    if not endpoint.active:
        raise Conflict("The endpoint is disabled; enable it first.")
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=PING, payload={"endpoint": endpoint.pk},
                                              occurred_at=now, next_attempt_at=now, created_at=now)
    _send_after_commit([delivery])
    return delivery


def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery (its own id, attempts and retries)."""
    if not delivery.endpoint.active:
        raise Conflict("The endpoint is disabled; enable it first.")
    now = timezone.now()
    again = WebhookDelivery.objects.create(endpoint=delivery.endpoint, event=delivery.event, payload=delivery.payload,
                                           occurred_at=delivery.occurred_at, redelivery_of=delivery,
                                           next_attempt_at=now, created_at=now)
    _send_after_commit([again])
    return again


# --- Sending ------------------------------------------------------------------------------------------------


def body_of(delivery: WebhookDelivery, sent_at: datetime) -> bytes:
    """The exact bytes POSTed and signed: the event, its data, and when it was sent (for receivers to
    refuse replays)."""
    return json.dumps({
        "id": str(delivery.uuid),
        "event": delivery.event,
        "occurred_at": delivery.occurred_at.isoformat(),
        "timestamp": sent_at.isoformat(),
        "attempt": delivery.attempts + 1,
        "data": delivery.payload,
    }, separators=(",", ":"), ensure_ascii=False).encode()


def signature_of(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> timedelta:
    """After the n-th failed attempt: the first retry delay, doubling, at most an hour."""
    first = settings.CSMS_WEBHOOK_RETRY_SECONDS
    return timedelta(seconds=min(first * 2 ** min(attempts - 1, 20), max(first, 3600)))


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take a due delivery for one attempt; whoever else looks at it meanwhile finds it not due."""
    lease = now + timedelta(seconds=settings.CSMS_WEBHOOK_TIMEOUT + 30)
    taken = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                                           endpoint__active=True).update(next_attempt_at=lease)
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def delivery_send(*, delivery_id: int) -> bool | None:
    """Attempt one delivery if it is due: True delivered, False failed, None not due (or taken)."""
    delivery = _claim(delivery_id, timezone.now())
    return None if delivery is None else _attempt(delivery)


def deliveries_send_due(*, limit: int = 200) -> int:
    """Attempt the deliveries that are due, oldest first; an endpoint that fails is not tried again in
    this run. Returns how many were attempted."""
    now = timezone.now()
    due = list(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                                              endpoint__active=True)
               .order_by("next_attempt_at", "id").values_list("id", "endpoint_id")[:limit])
    failing: set[int] = set()
    attempted = 0
    for delivery_id, endpoint_id in due:
        if endpoint_id in failing:
            continue
        delivery = _claim(delivery_id, timezone.now())
        if delivery is None:
            continue
        attempted += 1
        if not _attempt(delivery):
            failing.add(endpoint_id)
    return attempted


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    """(status code, response excerpt, error) of one POST; no exception escapes."""
    try:
        with requests.post(url, data=body, headers=headers, timeout=settings.CSMS_WEBHOOK_TIMEOUT,
                           allow_redirects=False, stream=True) as response:
            excerpt = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
            code = response.status_code
    except requests.Timeout:
        return None, "", f"timed out after {settings.CSMS_WEBHOOK_TIMEOUT} s"
    except requests.RequestException as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:300]
    text = excerpt.decode("utf-8", "replace")
    return code, text, "" if 200 <= code < 300 else f"HTTP {code}"


def _attempt(delivery: WebhookDelivery) -> bool:
    """POST it (outside any transaction), record the attempt, then deliver, retry later or give up."""
    endpoint = delivery.endpoint
    sent_at = timezone.now()
    body = body_of(delivery, sent_at)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-CSMS-Event": delivery.event,
        "X-CSMS-Delivery": str(delivery.uuid),
        "X-CSMS-Signature": signature_of(body, endpoint.secret),
    }
    started = time.monotonic()
    code, excerpt, error = _post(endpoint.url, body, headers)
    latency_ms = int((time.monotonic() - started) * 1000)
    succeeded = not error
    now = timezone.now()
    with transaction.atomic():
        delivery.attempts += 1
        WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts, attempted_at=sent_at,
                                      status_code=code, latency_ms=latency_ms, response_excerpt=excerpt[:500],
                                      error=error, succeeded=succeeded)
        delivery.last_attempt_at, delivery.last_status_code, delivery.last_error = sent_at, code, error
        window = timedelta(hours=settings.CSMS_WEBHOOK_RETRY_HOURS)
        if succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, now, None
        elif now - delivery.created_at >= window:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.next_attempt_at = min(now + retry_delay(delivery.attempts), delivery.created_at + window)
        delivery.save(update_fields=["attempts", "last_attempt_at", "last_status_code", "last_error", "status",
                                     "delivered_at", "next_attempt_at"])
        _endpoint_health(endpoint, succeeded, now)
    if not succeeded:
        logger.info("webhook %s to endpoint #%s failed (attempt %s): %s", delivery.event, endpoint.pk,
                    delivery.attempts, error)
    return succeeded


def _endpoint_health(endpoint: WebhookEndpoint, succeeded: bool, now: datetime) -> None:
    """A success clears the failure record; failing for CSMS_WEBHOOK_RETRY_HOURS disables the endpoint
    and raises an alert."""
    if succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        return
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    since = WebhookEndpoint.objects.filter(pk=endpoint.pk).values_list("failing_since", flat=True).first()
    if since is None or now - since < timedelta(hours=settings.CSMS_WEBHOOK_RETRY_HOURS):
        return
    reason = f"failing since {since.isoformat(timespec='seconds')}"
    if WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
            active=False, disabled_at=now, disabled_reason=reason):
        alert_raise(kind="webhook_disabled", message=f"Webhook endpoint #{endpoint.pk} ({endpoint.url}) failed for "
                    f"{settings.CSMS_WEBHOOK_RETRY_HOURS} h and was disabled ({reason}).",
                    key=_disabled_alert_key(endpoint))
        transaction.on_commit(subscriptions.invalidate)


def deliveries_prune() -> int:
    """Forget finished deliveries older than CSMS_WEBHOOK_RETENTION_DAYS (0 keeps them)."""
    days = settings.CSMS_WEBHOOK_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    finished = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(status=DeliveryStatus.PENDING)
    # Queued from a stale cache for an endpoint deleted meanwhile (models.WebhookDelivery.endpoint).
    orphans = WebhookDelivery.objects.exclude(endpoint_id__in=WebhookEndpoint.objects.values("pk"))
    return finished.delete()[0] + orphans.delete()[0]


# --- transaction.updated ---------------------------------------------------------------------------------

UPDATE_EVERY = timedelta(minutes=1)


def transaction_updates_publish(*, now: datetime | None = None) -> int:
    """A periodic job, never the MeterValues handler: transaction.updated for each running transaction
    whose energy or cost changed since its last one, at most once a minute each. Returns how many."""
    TransactionUpdateMark.objects.filter(transaction__stopped_at__isnull=False).delete()  # their sessions ended
    if not subscriptions.endpoints_for(Event.TRANSACTION_UPDATED):
        return 0
    now = now or timezone.now()
    marks = {mark.transaction_id: mark for mark in TransactionUpdateMark.objects.all()}
    running = list(transactions_with_cost(Transaction.objects.filter(stopped_at__isnull=True)
                                          .select_related("station")))
    tag_partners = dict(IdTag.objects.filter(id_tag__in={tx.id_tag for tx in running}).exclude(partner=None)
                        .values_list("id_tag", "partner_id"))
    published = 0
    for tx in running:
        mark = marks.get(tx.pk)
        if mark is not None and now - mark.sent_at < UPDATE_EVERY:
            continue
        cost = transaction_cost(tx, now=now)
        energy = Decimal(tx.energy_wh)
        if mark is None and not energy and not cost.cost_incl_vat:
            continue  # nothing happened yet beyond transaction.started
        if mark is not None and (mark.energy_wh, mark.cost) == (energy, cost.cost_incl_vat):
            continue
        partners = {tx.station.partner_id, tag_partners.get(tx.id_tag)} - {None}
        with transaction.atomic():
            event_publish(event=Event.TRANSACTION_UPDATED, data=transaction_data(tx, cost), partners=partners,
                          occurred_at=now)
            TransactionUpdateMark.objects.update_or_create(
                transaction=tx, defaults={"energy_wh": energy, "cost": cost.cost_incl_vat, "sent_at": now})
        published += 1
    return published


def _number(value) -> float | int | None:
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def transaction_data(tx: Transaction, cost: TransactionCostView | None = None) -> dict:
    """What the transaction.* events say about a transaction (cost: incl. VAT, as the API's `cost`)."""
    cost = cost or transaction_cost(tx)
    return {
        "transaction_id": tx.pk, "station": tx.station_id, "connector_id": tx.connector_id, "id_tag": tx.id_tag,
        "id_tag_status": tx.id_tag_status, "meter_start": tx.meter_start, "started_at": tx.started_at,
        "meter_stop": tx.meter_stop, "stopped_at": tx.stopped_at, "stop_reason": tx.stop_reason or None,
        "energy_wh": _number(tx.energy_wh), "meter_last_at": tx.meter_last_at,
        "tariff": cost.tariff_id, "tariff_version": cost.tariff_version, "currency": cost.currency,
        "cost": _number(cost.cost_incl_vat), "cost_excl_vat": _number(cost.cost_excl_vat), "cost_final": cost.final,
    }


def transaction_stopped_data(tx: Transaction) -> dict:
    """transaction.stopped: the transaction with its final cost, duration, idle time and breakdown."""
    cost = transaction_cost(tx)
    data = transaction_data(tx, cost)
    duration = (tx.stopped_at - tx.started_at).total_seconds() if tx.stopped_at else None
    data.update(duration_s=duration, idle_s=_number(cost.parking_s),
                cost_breakdown=(cost.breakdown or {}).get("dimensions"))
    return data
