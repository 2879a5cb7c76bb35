"""Typed hooks: how one app reacts to what another app did, without either importing the other's edges.

An app that owns an event declares it once (`transaction_started = Hook("transaction_started")`)
and emits it inside the transaction that made the change; other apps register receivers in their
`AppConfig.ready()` with `@transaction_started.connect`.

The failure policy is the same for every hook: each receiver runs inside the emitting transaction,
in a savepoint of its own. A receiver that raises is logged and its writes are rolled back; the
emitter's write and the other receivers' writes stand. What a station reported is never lost
because a reaction to it failed. Receivers that reach beyond the database (a Call to a station, a
webhook) schedule that work with `transaction.on_commit`.

A receiver that never touches the database (it only notes something in memory, or only registers
an on_commit callback) is connected with `database=False`: it runs without a savepoint, which saves
two statements per event on the station path; its failures are logged all the same.
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
        self._receivers: list[tuple[Callable[[Event], None], bool, Callable[[Event], bool] | None]] = []

    def connect(self, receiver: Callable[[Event], None] | None = None, *, database: bool = True,
                when: Callable[[Event], bool] | None = None):
        """Register `receiver(event)`; usable as a decorator, bare or with options: `database=False`
        for a receiver that writes nothing (no savepoint), `when` for a cheap test of the event that
        decides whether the receiver runs at all (no savepoint either when it does not). Registering
        twice is a no-op."""
        def register(func: Callable[[Event], None]) -> Callable[[Event], None]:
            if all(existing is not func for existing, _, _ in self._receivers):
                self._receivers.append((func, database, when))
            return func

        return register if receiver is None else register(receiver)

    def disconnect(self, receiver: Callable[[Event], None]) -> None:
        self._receivers = [entry for entry in self._receivers if entry[0] is not receiver]

    @property
    def receivers(self) -> tuple[Callable[[Event], None], ...]:
        return tuple(func for func, _, _ in self._receivers)

    def emit(self, event: Event) -> None:
        for receiver, database, when in self._receivers:
            if when is not None and not when(event):
                continue
            try:
                if database:
                    with transaction.atomic():
                        receiver(event)
                else:
                    receiver(event)
            except Exception:
                logger.exception("hook %s: receiver %s.%s failed; its writes were rolled back",
                                 self.name, receiver.__module__, receiver.__qualname__)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._receivers)} receivers)"
