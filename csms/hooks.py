"""Typed hooks: how one app reacts to what another app did, without either importing the other's edges.

An app that owns an event declares it once (`transaction_started = Hook("transaction_started")`)
and emits it inside the transaction that made the change; other apps register receivers in their
`AppConfig.ready()` with `@transaction_started.connect`.

The failure policy is the same for every hook: each receiver runs inside the emitting transaction,
in a savepoint of its own. A receiver that raises is logged and its writes are rolled back; the
emitter's write and the other receivers' writes stand. What a station reported is never lost
because a reaction to it failed. Receivers that reach beyond the database (a Call to a station, a
webhook) schedule that work with `transaction.on_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)

Event = TypeVar("Event")


class Hook(Generic[Event]):
    def __init__(self, name: str):
        self.name = name
        self._receivers: list[Callable[[Event], None]] = []

    def connect(self, receiver: Callable[[Event], None]) -> Callable[[Event], None]:
        """Register `receiver(event)`; usable as a decorator. Registering twice is a no-op."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[[Event], None]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    @property
    def receivers(self) -> tuple[Callable[[Event], None], ...]:
        return tuple(self._receivers)

    def emit(self, event: Event) -> None:
        for receiver in self._receivers:
            try:
                with transaction.atomic():
                    receiver(event)
            except Exception:
                logger.exception("hook %s: receiver %s.%s failed; its writes were rolled back",
                                 self.name, receiver.__module__, receiver.__qualname__)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._receivers)} receivers)"
