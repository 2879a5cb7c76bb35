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


# While waiting for a call, the database is looked at this often (a call finished on another node
# is seen there); one finished on this node wakes the waiter at once.
CALL_POLL_INTERVAL = 0.025


def wait_for_call(call, seconds: float):
    from csms.ocpp.calls import call_wait_register, call_wait_unregister

    if call.finished:
        return call
    woken = call_wait_register(call.pk)
    try:
        deadline = time.monotonic() + seconds
        while True:
            call.refresh_from_db()
            remaining = deadline - time.monotonic()
            if call.finished or remaining <= 0:
                return call
            if not connection.in_atomic_block:
                connection.close()  # the pool gets it back while we wait
            woken.wait(min(CALL_POLL_INTERVAL, remaining))
    finally:
        call_wait_unregister(call.pk, woken)
