"""The one way out: every CSMS-initiated Call, whoever asks, goes through `call_enqueue`.

The call row is written first; after commit its id is handed over the channel layer to the consumer
holding the station's socket, on whichever node. That consumer marks it sent, waits for the answer
off its receive loop and completes it here, running the action's result handlers in the same
transaction as the completion.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csms.errors import Conflict, Invalid

from . import directory, router
from .channels import ChannelLayerUnavailable, channel_send, station_send
from .mailbox import mailbox
from .errors import OCPPError
from .hooks import CallFinished, call_finished
from .models import Call, CallStatus
from .schemas import CSMS_ACTIONS, STATION_ACTIONS, validate_request

logger = logging.getLogger(__name__)


SECRET_KEYS = frozenset({"AuthorizationKey"})
REDACTED = "********"


def carries_secret(action: str, payload: dict) -> bool:
    return action == "ChangeConfiguration" and payload.get("key") in SECRET_KEYS


def redacted(action: str, payload: dict) -> dict:
    """The payload as it may be shown or logged: secrets (Basic-auth passwords) masked."""
    return {**payload, "value": REDACTED} if carries_secret(action, payload) else payload


def redact_secret(call: Call) -> None:
    """Mask a secret in a finished call's payload (saved by the caller)."""
    call.payload = redacted(call.action, call.payload)


class StationOffline(Conflict):
    """Nothing was sent: no socket holds the station now."""

    code = "station_offline"

    def __init__(self, station_id: str):
        super().__init__(f"station {station_id} is not connected")


def call_validate(*, action: str, payload) -> None:
    if action not in CSMS_ACTIONS:
        if action in STATION_ACTIONS:
            raise Invalid(f"{action} is sent by charge stations, not by the CSMS")
        raise Invalid(f"{action!r} is not an OCPP 1.6 action")
    if not isinstance(payload, dict):
        raise Invalid("payload must be a JSON object")
    try:
        validate_request(action, payload)
    except OCPPError as exc:
        raise Invalid(f"payload does not satisfy the OCPP 1.6 {action} schema: {exc.description}",
                      details=exc.details | {"code": exc.code}) from None


# Rules apps add for one action's Calls (a connector the station has, a configuration value of the
# key's type): `check(station_id, payload)` raises csms.errors.Invalid, and nothing is stored or sent.
_checks: dict[str, list[Callable[[str, dict], None]]] = {}


def call_check(*actions: str):
    """Register `check(station_id, payload)` for Calls of these actions; usable as a decorator."""

    def register(check: Callable[[str, dict], None]) -> Callable[[str, dict], None]:
        for action in actions:
            checks = _checks.setdefault(action, [])
            if check not in checks:
                checks.append(check)
        return check

    return register


def call_enqueue(
    *,
    station,
    action: str,
    payload: dict,
    requested_by=None,
    source: str = "system",
    context: dict | None = None,
) -> Call:
    """Validate, store and dispatch a Call to a connected station (a station object or its id)."""
    station_id = station if isinstance(station, str) else station.pk
    call_validate(action=action, payload=payload)
    for check in _checks.get(action, ()):
        check(station_id, payload)
    address = directory.get().channel(station_id)
    if address is None:
        raise StationOffline(station_id)
    call = Call.objects.create(
        station_id=station_id,
        action=action,
        payload=payload,
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
        source=source,
        context=context or {},
        reply_to=mailbox.node_address(),
    )
    transaction.on_commit(lambda: _deliver(call.pk, station_id, address))
    return call


def _deliver(call_id: int, station_id: str, address: str) -> None:
    event = {"type": "ocpp.call", "call_id": call_id}
    try:
        # The connection found a moment ago, else (it was just replaced) whichever holds the station now.
        delivered = channel_send(address, event) or station_send(station_id, event)
    except ChannelLayerUnavailable:
        # The station is held by another node and Redis is down: say so at once rather than let
        # the call wait for a hand-over that cannot happen.
        call_finish(call_id=call_id, status=CallStatus.ERROR, error_code="ChannelLayerUnavailable",
                    error_description="the channel layer is unavailable: the call could not reach the node "
                                      "holding the station; try again")
        return
    except Exception:
        logger.exception("could not hand call %s to the station's connection", call_id)
        delivered = False
    if not delivered:
        call_finish(call_id=call_id, status=CallStatus.ERROR, error_code="StationOffline",
                    error_description="the station disconnected before the call could be sent")


# --- Used by the consumer that holds the socket --------------------------------------------------


def call_mark_sent(*, call_id: int) -> tuple[str, dict] | None:
    """Claim a pending call for sending; None when it is no longer pending (expired, failed)."""
    if not Call.objects.filter(pk=call_id, status=CallStatus.PENDING).update(status=CallStatus.SENT, sent_at=timezone.now()):
        return None
    return Call.objects.values_list("action", "payload").get(pk=call_id)


def call_complete(*, call_id: int, response: dict) -> None:
    """Record the station's answer and persist what it means, in one transaction."""
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call_id, status=CallStatus.SENT).first()
        if call is None:
            return
        call.response = response
        call.status = CallStatus.COMPLETED
        call.completed_at = timezone.now()
        try:
            with transaction.atomic():
                for handler in router.result_handlers(call.action):
                    handler(call, response)
        except Exception as exc:
            logger.exception("result handler of %s failed", call)
            call.status = CallStatus.ERROR
            call.error_code = "InternalError"
            call.error_description = f"the answer was received but could not be applied: {exc}"
        call.save()
        _announce(call)


def call_finish(
    *, call_id: int, status: str, error_code: str = "", error_description: str = "", error_details: dict | None = None
) -> bool:
    """End an unfinished call as `error` or `timeout`, and let its failure handlers react."""
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call_id, status__in=[CallStatus.PENDING, CallStatus.SENT]).first()
        if call is None:
            return False
        call.status = status
        call.error_code = error_code
        call.error_description = error_description
        call.error_details = error_details or {}
        call.completed_at = timezone.now()
        call.save()
        for handler in router.failure_handlers(call.action):
            handler(call)
        _announce(call)
    return True


def _announce(call: Call) -> None:
    call_finished.emit(CallFinished(call.pk, call.station_id, call.action, call.status, call.response,
                                    call.error_code))
    call_id, reply_to = call.pk, call.reply_to
    transaction.on_commit(lambda: _tell_waiters(call_id, reply_to))


def _tell_waiters(call_id: int, reply_to: str) -> None:
    _wake(call_id)
    if reply_to and not mailbox.is_local(reply_to):
        try:
            channel_send(reply_to, {"type": "call.finished", "call_id": call_id})
        except Exception:  # the waiter looks at the database now and then all the same
            logger.debug("could not tell %s that call %s finished", reply_to, call_id)


# Threads of this process waiting for a call to finish (an API request with ?wait): woken as soon as
# the call's end is committed here, instead of at their next look at the database.
_waiters: dict[int, set[threading.Event]] = {}
_waiters_lock = threading.Lock()


def call_wait_register(call_id: int) -> threading.Event:
    event = threading.Event()
    with _waiters_lock:
        _waiters.setdefault(call_id, set()).add(event)
    return event


def call_wait_unregister(call_id: int, event: threading.Event) -> None:
    with _waiters_lock:
        waiting = _waiters.get(call_id)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                del _waiters[call_id]


def _wake(call_id: int) -> None:
    with _waiters_lock:
        waiting = list(_waiters.get(call_id, ()))
    for event in waiting:
        event.set()


mailbox.on_node_event("call.finished", lambda message: _wake(message["call_id"]))


def calls_fail_disconnected(*, call_ids: list[int]) -> None:
    for call_id in call_ids:
        call_finish(call_id=call_id, status=CallStatus.ERROR, error_code="Disconnected",
                    error_description="the station disconnected before answering")


def calls_fail_for_stations(*, station_ids: list[str], error_code: str, error_description: str) -> int:
    """End every unfinished call of these stations (their node stopped or died): nobody will send or
    answer them."""
    unfinished = Call.objects.filter(station_id__in=station_ids, status__in=[CallStatus.PENDING, CallStatus.SENT])
    ended = 0
    for call_id in unfinished.values_list("pk", flat=True):
        ended += call_finish(call_id=call_id, status=CallStatus.ERROR, error_code=error_code,
                             error_description=error_description)
    return ended


def calls_expire_stale() -> int:
    """Calls whose consumer vanished (node crash, lost hand-over) must not stay open forever."""
    timeout = timedelta(seconds=settings.CSMS_CALL_TIMEOUT)
    now = timezone.now()
    expired = 0
    stale_sent = Call.objects.filter(status=CallStatus.SENT, sent_at__lt=now - timeout - timedelta(seconds=30))
    for call_id in stale_sent.values_list("pk", flat=True):
        expired += call_finish(call_id=call_id, status=CallStatus.TIMEOUT, error_code="Timeout",
                               error_description="no answer from the station")
    # Pending calls may legitimately queue behind others for a while; only long-forgotten ones go.
    stale_pending = Call.objects.filter(status=CallStatus.PENDING, created_at__lt=now - max(10 * timeout, timedelta(minutes=10)))
    for call_id in stale_pending.values_list("pk", flat=True):
        expired += call_finish(call_id=call_id, status=CallStatus.ERROR, error_code="NotDelivered",
                               error_description="the connection holding the station never took the call")
    return expired
