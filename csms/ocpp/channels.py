"""Reaching the consumer that holds a station's socket, on whichever node, from any context."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

from csms.db import origin_loop

from . import directory

logger = logging.getLogger(__name__)


def station_send(station_id: str, message: dict) -> bool:
    """Send a channel-layer message to the station's consumer; False when it is not connected."""
    channel = directory.get().channel(station_id)
    if channel is None:
        return False
    channel_send(channel, message)
    return True


def channel_send(channel: str, message: dict) -> None:
    layer = get_channel_layer()
    loop = origin_loop()
    if loop is not None:
        # On a consumer's database thread: hand the send to the consumer's own loop.
        asyncio.run_coroutine_threadsafe(layer.send(channel, message), loop).result(timeout=10)
    elif getattr(SyncToAsync.threadlocal, "main_event_loop", None) is not None:
        # In a sync view under ASGI: asgiref runs this on the server's loop.
        async_to_sync(layer.send)(channel, message)
    else:
        # Celery worker, management command: a private loop whose pools must not outlive it
        # (channels-redis #332).
        async_to_sync(_send_and_close)(layer, channel, message)


async def _send_and_close(layer, channel: str, message: dict) -> None:
    try:
        await layer.send(channel, message)
    finally:
        close_pools = getattr(layer, "close_pools", None)
        if close_pools is not None:
            await close_pools()
