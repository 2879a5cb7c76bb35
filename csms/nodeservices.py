"""Services an app runs inside each node process, on the node's event loop (a live-update publisher,
an embedded FTP server for `make run`...): registered in AppConfig.ready(), started by csms.node."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_starters: list[Callable[[asyncio.AbstractEventLoop], None]] = []


def on_node_start(starter: Callable[[asyncio.AbstractEventLoop], None]):
    """Register `starter(loop)`, called once when a node starts serving; usable as a decorator.
    It must return quickly (start a task or a thread)."""
    if starter not in _starters:
        _starters.append(starter)
    return starter


def start_all(loop: asyncio.AbstractEventLoop) -> None:
    for starter in _starters:
        try:
            starter(loop)
        except Exception:
            logger.exception("node service %s.%s did not start", starter.__module__, starter.__qualname__)
