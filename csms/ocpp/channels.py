"""Reaching the connection that holds a station's socket, on whichever node, from any context."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from csms.db import origin_loop

from . import directory
from .mailbox import ADDRESS_SEPARATOR, ChannelLayerUnavailable, mailbox

__all__ = ["ChannelLayerUnavailable", "channel_send", "station_send"]

# A hand-over to the layer that takes longer than this is treated as the layer being unavailable.
SEND_TIMEOUT = 5


def station_send(station_id: str, message: dict) -> bool:
    """Send an event to the station's connection; False when it is not connected.

    Raises ChannelLayerUnavailable when the station is held by another node and Redis is down.
    """
    address = directory.get().channel(station_id)
    if address is None:
        return False
    return channel_send(address, message)


def channel_send(address: str, message: dict) -> bool:
    """Send an event to the connection at `address` from synchronous code (a database thread, a
    view, a Celery task); False when that connection is gone."""
    loop = origin_loop() or mailbox.loop
    if loop is not None and loop.is_running():
        # On a node (one of its database threads or views): the node's own loop hands it over, so a
        # connection of this node is reached directly, without the layer.
        future = asyncio.run_coroutine_threadsafe(mailbox.send(address, message), loop)
        try:
            return future.result(timeout=SEND_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise ChannelLayerUnavailable("the hand-over to the channel layer timed out") from None
    # A Celery worker or a management command: no connection lives here; a private loop whose pools
    # must not outlive it (channels-redis #332).
    return async_to_sync(_send_and_close)(address, message)


async def _send_and_close(address: str, message: dict) -> bool:
    node_channel, _, connection_id = address.partition(ADDRESS_SEPARATOR)
    layer = get_channel_layer()
    try:
        await layer.send(node_channel, {**message, "connection": connection_id})
    except Exception as exc:
        raise ChannelLayerUnavailable(str(exc)) from exc
    finally:
        close_pools = getattr(layer, "close_pools", None)
        if close_pools is not None:
            await close_pools()
    return True
