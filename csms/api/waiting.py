"""`?wait=N`: answering once a call has finished, whichever node holds its station."""

from __future__ import annotations

import time

from django.db import connection
from rest_framework import serializers

MAX_WAIT_SECONDS = 30


def parse_wait(request) -> float:
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return 0
    try:
        value = float(raw)
    except ValueError:
        raise serializers.ValidationError({"wait": "must be a number of seconds"}) from None
    if value < 0:
        raise serializers.ValidationError({"wait": "must not be negative"})
    return min(value, MAX_WAIT_SECONDS)


def poll_until(done, seconds: float) -> bool:
    """Poll `done()` until it is true or `seconds` pass; works whichever node holds the station.

    Between polls the request's database connection goes back to the pool, so that partners
    waiting on slow stations never starve the station path of connections.
    """
    deadline = time.monotonic() + seconds
    delay = 0.01  # most answers come within tens of milliseconds; back off from there
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if not connection.in_atomic_block:
            connection.close()
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.5)
    return True


# A waiting request is woken as soon as its call finishes, on this node or on another (csms.ocpp.calls
# tells the node that enqueued it); it looks at the database this often all the same, in case the
# word got lost (the channel layer away).
CALL_POLL_INTERVAL = 0.25


def wait_for_call(call, seconds: float):
    from csms.ocpp.calls import call_wait_register, call_wait_unregister

    if call.finished:
        return call
    from csms.ocpp.models import Call

    woken = call_wait_register(call.pk)
    try:
        deadline = time.monotonic() + seconds
        while not Call.objects.filter(pk=call.pk, status__in=Call.FINISHED).exists():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not connection.in_atomic_block:
                connection.close()  # the pool gets it back while we wait
            woken.wait(min(CALL_POLL_INTERVAL, remaining))
            woken.clear()
    finally:
        call_wait_unregister(call.pk, woken)
    call.refresh_from_db()
    return call
