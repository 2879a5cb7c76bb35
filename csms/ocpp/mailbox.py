"""The node's one address on the channel layer, and the connections it holds.

Every station connection of a node process shares one channel-layer channel (the node's mailbox);
a station's address, stored by the station directory, is `<node channel>#<connection id>`. One task
per node listens on that channel and hands each message to its connection; a message for a
connection of this very node never touches the layer. So:

- a node holding 10,000 stations has one coroutine waiting on Redis, not 10,000;
- calls to stations held by the node that enqueues them go out even while Redis is down;
- a channel-layer failure costs a retry of the listener (one log line when the outage starts, one
  when it ends), never a station's connection (docs/adr/0080-surviving-outages.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

ADDRESS_SEPARATOR = "#"
# Seconds between attempts to reach the channel layer again while it is down.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


class ChannelLayerUnavailable(Exception):
    """The channel layer (Redis) cannot be reached: a message for another node was not handed over."""


class Recipient(Protocol):
    connection_id: str

    def on_event(self, message: dict) -> None:
        """A channel-layer event for this connection (runs on the node's event loop)."""


# A failure this soon after the layer came back is the same outage going on (Redis restarting answers
# some commands before others): it is not logged again.
FLAP_SECONDS = 10


class LayerHealth:
    """Whether the channel layer answers; logs the start and the end of an outage once each."""

    def __init__(self):
        self.down_since: float | None = None
        self.outages = 0
        self._last_outage: tuple[float, float] | None = None  # (started, ended)
        self._quiet = False  # a flap of an outage already reported

    @property
    def available(self) -> bool:
        return self.down_since is None

    def failed(self, exc: BaseException) -> None:
        from csms import metrics

        metrics.channel_layer_errors.inc()
        if self.down_since is None and self._last_outage and time.monotonic() - self._last_outage[1] < FLAP_SECONDS:
            self.down_since, self._quiet = self._last_outage[0], True
            return
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            logger.error("channel layer unavailable (%s): stations stay connected; calls across nodes fail "
                         "until it is back", exc, extra={"event": "channel_layer_outage_started"})

    def succeeded(self) -> None:
        if self.down_since is not None:
            seconds = round(time.monotonic() - self.down_since, 1)
            if not self._quiet:
                logger.warning("channel layer back after %.1f s", seconds,
                               extra={"event": "channel_layer_outage_ended", "seconds": seconds})
            self._last_outage, self._quiet = (self.down_since, time.monotonic()), False
            self.down_since = None


class Mailbox:
    def __init__(self):
        self.channel: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: dict[str, Recipient] = {}
        self.health = LayerHealth()
        self._listener: asyncio.Task | None = None
        self._starting: asyncio.Lock | None = None
        self._node_handlers: dict = {}

    # --- lifecycle -----------------------------------------------------------------------------

    async def ensure_started(self) -> None:
        """Open the node's channel on the running loop (once); start listening on it."""
        if self.channel is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.channel is not None:
                return
            layer = get_channel_layer()
            # Naming a channel needs no round trip to Redis: this works while Redis is down.
            self.channel = await layer.new_channel()
            self.loop = asyncio.get_running_loop()
            self._listener = self.loop.create_task(self._listen(layer))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass
            self._listener = None

    async def _listen(self, layer) -> None:
        failures = 0
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down, restarting, a timeout: keep every station connected
                self.health.failed(exc)
                await asyncio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])
                failures += 1
                continue
            failures = 0
            self.health.succeeded()
            self.deliver_local(message)

    # --- connections ---------------------------------------------------------------------------

    def address(self, connection_id: str) -> str:
        return f"{self.channel}{ADDRESS_SEPARATOR}{connection_id}"

    def register(self, connection: Recipient) -> str:
        self.connections[connection.connection_id] = connection
        return self.address(connection.connection_id)

    def unregister(self, connection: Recipient) -> None:
        if self.connections.get(connection.connection_id) is connection:
            del self.connections[connection.connection_id]

    def node_address(self) -> str:
        """Where events for this node itself (not one of its connections) go; "" when not serving."""
        return self.address("") if self.channel is not None else ""

    def on_node_event(self, kind: str, handler) -> None:
        """Handle events sent to the node itself (`handler(message)`, on the node's loop)."""
        self._node_handlers[kind] = handler

    def deliver_local(self, message: dict) -> bool:
        if not message.get("connection"):
            handler = self._node_handlers.get(message.get("type", ""))
            if handler is not None:
                handler(message)
            return handler is not None
        connection = self.connections.get(message.get("connection", ""))
        if connection is None:
            return False  # it closed meanwhile; whoever sent it learns from the call's state
        connection.on_event(message)
        return True

    # --- sending -------------------------------------------------------------------------------

    def is_local(self, address: str) -> bool:
        node_channel, _, _ = address.partition(ADDRESS_SEPARATOR)
        return self.channel is not None and node_channel == self.channel

    async def send(self, address: str, message: dict) -> bool:
        """Hand `message` to the connection at `address`; False when that connection is gone.

        Raises ChannelLayerUnavailable when the address is another node's and Redis is down.
        """
        node_channel, _, connection_id = address.partition(ADDRESS_SEPARATOR)
        message = {**message, "connection": connection_id}
        if self.channel is not None and node_channel == self.channel:
            return self.deliver_local(message)
        layer = get_channel_layer()
        try:
            await layer.send(node_channel, message)
        except Exception as exc:
            self.health.failed(exc)
            raise ChannelLayerUnavailable(str(exc)) from exc
        self.health.succeeded()
        return True


mailbox = Mailbox()
