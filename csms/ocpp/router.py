"""One handler per OCPP action, registered by decorator, in each direction.

`handles(action)` registers the handler of a station-initiated Call: a plain function run on a
database thread inside one transaction, taking (ctx, payload) and returning the result payload.
`on_result(action)` registers what persists the meaning of a station's answer to a CSMS Call.
Apps register theirs in AppConfig.ready() by importing their `handlers` module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .schemas import CSMS_ACTIONS, STATION_ACTIONS


@dataclass
class CallContext:
    """What a handler knows about the Call it answers."""

    station_id: str
    message_id: str
    action: str
    # Filled by handlers for the consumer: e.g. BootNotification tells it the new registration.
    effects: dict = field(default_factory=dict)


CallHandler = Callable[[CallContext, dict], dict]
ResultHandler = Callable[..., None]

_call_handlers: dict[str, CallHandler] = {}
_result_handlers: dict[str, list[ResultHandler]] = {}
_failure_handlers: dict[str, list[ResultHandler]] = {}


def handles(action: str):
    if action not in STATION_ACTIONS:
        raise ValueError(f"{action} is not a station-initiated OCPP 1.6 action")

    def register(func: CallHandler) -> CallHandler:
        if action in _call_handlers and _call_handlers[action] is not func:
            raise ValueError(f"{action} already has a handler: {_call_handlers[action]}")
        _call_handlers[action] = func
        return func

    return register


def on_result(action: str):
    """Register a result handler `func(call, response)`; several apps may follow one action."""
    if action not in CSMS_ACTIONS:
        raise ValueError(f"{action} is not a CSMS-initiated OCPP 1.6 action")

    def register(func: ResultHandler) -> ResultHandler:
        handlers = _result_handlers.setdefault(action, [])
        if func not in handlers:
            handlers.append(func)
        return func

    return register


def on_failure(action: str):
    """Register `func(call)`, run when a CSMS Call ends in `error` or `timeout` (call.error_code says
    which: the station's CallError code, Timeout, Disconnected...)."""
    if action not in CSMS_ACTIONS:
        raise ValueError(f"{action} is not a CSMS-initiated OCPP 1.6 action")

    def register(func: ResultHandler) -> ResultHandler:
        handlers = _failure_handlers.setdefault(action, [])
        if func not in handlers:
            handlers.append(func)
        return func

    return register


def call_handler(action: str) -> CallHandler | None:
    return _call_handlers.get(action)


def result_handlers(action: str) -> list[ResultHandler]:
    return _result_handlers.get(action, [])


def failure_handlers(action: str) -> list[ResultHandler]:
    return _failure_handlers.get(action, [])
