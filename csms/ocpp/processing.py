"""Processing one station Call: its handler (and, for transaction messages, the stored answer) in
one database transaction.

A transaction message (StartTransaction, StopTransaction, MeterValues) repeating a messageId, action
and payload answered in the last 24 hours gets the stored answer and is not processed again: a
station retries these with the same id until it is answered, and processing one twice would
corrupt data (docs/adr/0005-station-path-writes.md). Every other action is processed afresh,
whatever its messageId: many stations restart their counter on every connection, and a Heartbeat,
BootNotification or StatusNotification answered from memory would set a clock back or leave a
status unapplied (docs/adr/0014-replayed-transaction-messages-only.md).

Repeats are rare, so they are detected by the unique (station, messageId) constraint when the answer
is stored, not by a lookup before every Call: the repeat's writes roll back with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from psycopg.types.json import Jsonb
from django.utils import timezone

from csms.db import insert_rows
from csms.errors import Conflict, DomainError, Invalid, NotFound
from csms.groupwrite import collecting, defer

from . import router
from .errors import ErrorCode, OCPPError
from .models import ProcessedCall

# How each domain refusal is answered on the wire (CONTRACT.md's table): a value the domain cannot
# take is a value outside its range; anything else the domain refuses is a generic error.
_DOMAIN_ERROR_CODES = (
    (Invalid, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (NotFound, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (Conflict, ErrorCode.GENERIC_ERROR),
)


def call_error_for(exc: DomainError) -> OCPPError:
    code = next((code for kind, code in _DOMAIN_ERROR_CODES if isinstance(exc, kind)), ErrorCode.GENERIC_ERROR)
    return OCPPError(code, exc.message, exc.details)


# The messages a station queues and retries until answered, and whose double processing would
# store a transaction or its meter values twice.
REPLAYABLE_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Outcome:
    response: dict
    duplicate: bool
    effects: dict


def inbound_call_process(*, station_id: str, message_id: str, action: str, payload: dict) -> Outcome:
    """Run the action's handler in one transaction and remember the answer."""
    handler = router.call_handler(action)
    if handler is None:
        raise OCPPError(ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this CSMS")
    if action not in REPLAYABLE_ACTIONS:
        return _process_once(handler, station_id, message_id, action, payload, digest=None)
    digest = _digest(payload)
    try:
        return _process_once(handler, station_id, message_id, action, payload, digest)
    except IntegrityError:
        previous = ProcessedCall.objects.filter(station_id=station_id, message_id=message_id).first()
        if previous is None:
            raise  # the handler's own integrity failure, not a repeat
        window = timedelta(hours=settings.CSMS_DUPLICATE_CALL_WINDOW_HOURS)
        if previous.action == action and previous.payload_digest == digest and previous.created_at >= timezone.now() - window:
            return Outcome(previous.response, True, {})
        # The id was reused for another message (a station restarting its counter), or the answer
        # is too old to count: forget it and process this Call as new.
        return _process_once(handler, station_id, message_id, action, payload, digest, replacing=previous)


def process_in_group(*, station_id: str, message_id: str, action: str, payload: dict) -> Outcome:
    """The same as `inbound_call_process`, inside a transaction the writer holds for a group of Calls.

    Anything unusual raises and spoils the group, which the writer then runs Call by Call through
    `inbound_call_process`: a refusal, a value the database refuses, and a retried transaction
    message (its stored answer makes the insert below fail).
    """
    handler = router.call_handler(action)
    if handler is None:
        raise OCPPError(ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this CSMS")
    ctx = router.CallContext(station_id=station_id, message_id=message_id, action=action)
    response = handler(ctx, payload)
    if action in REPLAYABLE_ACTIONS:
        # With the group's other rows; a repeat makes this insert fail, which spoils the group.
        defer(_answers_store, (station_id, message_id, action, _digest(payload), Jsonb(response), timezone.now()))
    return Outcome(response, False, ctx.effects)


ANSWER_COLUMNS = ("station_id", "message_id", "action", "payload_digest", "response", "created_at")


def _answers_store(rows: list[tuple]) -> None:
    insert_rows(ProcessedCall, ANSWER_COLUMNS, rows if connection.vendor == "postgresql"
                else [(*row[:4], row[4].obj, row[5]) for row in rows])


def _process_once(handler, station_id, message_id, action, payload, digest: str | None, replacing=None) -> Outcome:
    """Run the handler in one transaction; with a digest, store the answer for retries in it too."""
    ctx = router.CallContext(station_id=station_id, message_id=message_id, action=action)
    try:
        with transaction.atomic(), collecting():
            if replacing is not None:
                replacing.delete()
            response = handler(ctx, payload)
            if digest is not None:
                ProcessedCall.objects.create(station_id=station_id, message_id=message_id, action=action,
                                             payload_digest=digest, response=response)
    except DomainError as exc:
        raise call_error_for(exc) from None
    except (DataError, OverflowError) as exc:
        # Schema-valid but beyond what the database holds (an integer past its range, a string past
        # its column): a value outside its range, not a failure of ours.
        raise OCPPError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"a value is out of range: {type(exc).__name__}") from None
    return Outcome(response, False, ctx.effects)
