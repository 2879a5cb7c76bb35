"""What a CSMS Call led to, told by the app that follows its action (a RemoteStartTransaction led to
a transaction...): apps register a describer per action; the Call's page shows it."""

from __future__ import annotations

from collections.abc import Callable

_describers: dict[str, Callable] = {}


def led_to(action: str):
    """Register `func(call) -> html or text` describing what a call of `action` led to."""

    def register(func: Callable) -> Callable:
        _describers[action] = func
        return func

    return register


def call_led_to(call):
    describer = _describers.get(call.action)
    return describer(call) if describer is not None else "—"
