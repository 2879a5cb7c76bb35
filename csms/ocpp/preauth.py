"""Pre-authorization: work an app must do before a station's Authorize or StartTransaction reaches the
writer, because it may wait on the network (an OCPI eMSP asked in real time). The writer commits many
stations' Calls in one transaction: nothing slow may run there (docs/adr/0162-ocpi-tokens-and-realtime-authorization.md).

An app registers `async fn(station_id, action, payload) -> None` in AppConfig.ready(); it records what
it learnt in the database (on its own, short transactions), where the handler then reads it. The
consumer awaits every preauthorizer, each bounded by its own timeout; a failing or late one is logged
and the Call goes on as if it had not been asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

# The Calls whose idTag may need asking about before they are answered.
ACTIONS = frozenset({"Authorize", "StartTransaction"})

Preauthorizer = Callable[[str, str, dict], Awaitable[None]]

_preauthorizers: list[tuple[Preauthorizer, Callable[[], float]]] = []


def register_preauthorizer(func: Preauthorizer, *, timeout: Callable[[], float]) -> Preauthorizer:
    """Register `func`; `timeout()` (read at each use, so settings apply) bounds one run of it."""
    if all(registered is not func for registered, _ in _preauthorizers):
        _preauthorizers.append((func, timeout))
    return func


def needed(action: str) -> bool:
    return bool(_preauthorizers) and action in ACTIONS


async def preauthorize(station_id: str, action: str, payload: dict) -> None:
    """Run every registered preauthorizer for this Call, concurrently; never raises."""
    if not needed(action):
        return
    await asyncio.gather(*(_run(func, timeout(), station_id, action, payload) for func, timeout in _preauthorizers))


async def _run(func: Preauthorizer, timeout: float, station_id: str, action: str, payload: dict) -> None:
    try:
        await asyncio.wait_for(func(station_id, action, payload), timeout)
    except TimeoutError:
        logger.warning("preauthorizer %s took over %s s for %s of %s", func.__qualname__, timeout, action, station_id)
    except Exception:
        logger.exception("preauthorizer %s failed for %s of %s", func.__qualname__, action, station_id)
