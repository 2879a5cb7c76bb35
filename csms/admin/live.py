"""Live console pages: what changed reaches the browsers watching it, without costing the station path.

1. Noting (any thread, inside the writing transaction): hook receivers call `changed(("station",
   "CP-1"), ("fleet", None))`; after the commit the pairs land in a per-process set. No query, no I/O.
   A process that runs no publisher (a test process, a management command) notes nothing.
2. Publishing (one task per node, `start_publisher`; one thread per Celery worker process): every
   `CSMS_CONSOLE_PUBLISH_SECONDS` the set is flushed as ONE group message per changed thing that
   somebody watches (`console.station.<id>`, `console.transaction.<id>`, `console.call.<id>`,
   `console.fleet`, the fleet at most once a second). What is watched comes from a per-node cache,
   refreshed every `WATCHED_REFRESH` seconds from a Redis sorted set in which every console socket
   registers its groups with an expiry (process memory with the in-memory channel layer).
3. Watching (`ConsoleConsumer`, /ws/console/): the socket needs an active staff session; each
   subscription needs the view permission of its concern (`concern(...)`); the rest is refused
   and never joined. An event says only "this changed": the page fetches its fragments again with
   the user's session (static/console/live.js), so the data itself goes through the admin's own
   permission checks.

docs/adr/0131-live-console.md says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# concern -> the permission a user needs to watch it ("fleet" is every station).
_concerns: dict[str, str] = {}
FLEET = "fleet"
# The fleet's figures are aggregates over every station: recomputed at most this often per page.
FLEET_INTERVAL = 1.0
# How often a node re-reads what is watched, and how long a socket's registration lives unrenewed.
WATCHED_REFRESH = 2.0
WATCH_TTL = 60.0
WATCHED_KEY = "csms:console:watched"
# Subscriptions one socket may hold (a list page watches each of its rows).
MAX_SUBSCRIPTIONS = 300
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def concern(name: str, *, permission: str) -> None:
    """Declare a concern the console socket serves and the permission needed to watch it."""
    _concerns[name] = permission


def concern_permission(name: str) -> str | None:
    return _concerns.get(name)


def group_name(concern_name: str, key=None) -> str:
    """The channel-layer group of one watched thing. Group names allow few characters and 100 of
    them; a chargeBoxId may hold anything else, so such keys are hashed."""
    if key is None:
        return f"console.{concern_name}"
    text = str(key)
    if not _SAFE_KEY.fullmatch(text):
        text = "h" + hashlib.sha1(text.encode()).hexdigest()[:24]
    return f"console.{concern_name}.{text}"


# --- 1. Noting what changed ------------------------------------------------------------------------------

_pending: set[tuple[str, object]] = set()
_publisher_pid: int | None = None


def publishing() -> bool:
    return _publisher_pid == os.getpid()


def changed(*items: tuple[str, object]) -> None:
    """Note that these (concern, key) things changed, once the current transaction commits."""
    if publishing():
        transaction.on_commit(partial(_pending.update, items))


def _take_pending() -> set[tuple[str, object]]:
    taken = set()
    while True:
        try:
            taken.add(_pending.pop())  # atomic: receivers on database threads add meanwhile
        except KeyError:
            return taken


# --- 2. What is watched --------------------------------------------------------------------------------


class MemoryWatches:
    """The in-memory channel layer reaches this process only: its own sockets are all that watch."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    async def add(self, channel_name: str, groups: set[str]) -> None:
        for group in groups:
            self.counts[group] = self.counts.get(group, 0) + 1

    async def remove(self, channel_name: str, groups: set[str]) -> None:
        for group in groups:
            left = self.counts.get(group, 0) - 1
            if left > 0:
                self.counts[group] = left
            else:
                self.counts.pop(group, None)

    async def renew(self, channel_name: str, groups: set[str]) -> None:
        pass

    async def watched(self) -> set[str]:
        return set(self.counts)


class RedisWatches:
    """Every node's sockets register `group <channel>` members scored with their expiry; a socket that
    died without saying so (its node was killed) drops out when its registration expires."""

    def __init__(self, url: str):
        import redis.asyncio

        self.redis = redis.asyncio.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.cache: set[str] = set()
        self.cached_at = 0.0

    @staticmethod
    def _members(channel_name: str, groups: set[str]) -> list[str]:
        return [f"{group} {channel_name}" for group in groups]

    async def add(self, channel_name: str, groups: set[str]) -> None:
        if groups:
            expiry = time.time() + WATCH_TTL
            await self.redis.zadd(WATCHED_KEY, {member: expiry for member in self._members(channel_name, groups)})
            self.cache |= groups  # this node publishes to them at once

    async def renew(self, channel_name: str, groups: set[str]) -> None:
        await self.add(channel_name, groups)

    async def remove(self, channel_name: str, groups: set[str]) -> None:
        if groups:
            await self.redis.zrem(WATCHED_KEY, *self._members(channel_name, groups))

    async def watched(self) -> set[str]:
        if time.monotonic() - self.cached_at >= WATCHED_REFRESH:
            self.cached_at = time.monotonic()
            try:
                await self.redis.zremrangebyscore(WATCHED_KEY, "-inf", time.time())
                members = await self.redis.zrange(WATCHED_KEY, 0, -1)
                self.cache = {member.decode().split(" ", 1)[0] for member in members}
            except Exception as exc:  # Redis away: keep the last view, try again later
                logger.warning("console: could not read the watched set: %s", exc)
        return self.cache


_watches_by_loop: dict[int, MemoryWatches | RedisWatches] = {}


def watches() -> MemoryWatches | RedisWatches:
    """The registry of this event loop (a Redis client belongs to the loop that made it)."""
    loop_id = id(asyncio.get_running_loop())
    registry = _watches_by_loop.get(loop_id)
    if registry is None:
        registry = RedisWatches(settings.REDIS_URL) if settings.REDIS_URL else MemoryWatches()
        _watches_by_loop[loop_id] = registry
    return registry


# --- 3. Publishing ---------------------------------------------------------------------------------------


@dataclass
class Publisher:
    layer: object
    registry: MemoryWatches | RedisWatches
    last_fleet: float = field(default=0.0)
    sent: int = 0

    async def publish_once(self) -> int:
        """Send one message per changed thing somebody watches; returns how many were sent."""
        items = _take_pending()
        if not items:
            return 0
        if (FLEET, None) in items and time.monotonic() - self.last_fleet < FLEET_INTERVAL:
            items.discard((FLEET, None))
            _pending.add((FLEET, None))  # next round: the fleet's figures at most once a second
        watched = await self.registry.watched()
        count = 0
        for concern_name, key in items:
            group = group_name(concern_name, key)
            if group not in watched:
                continue
            if concern_name == FLEET:
                self.last_fleet = time.monotonic()
            try:
                await self.layer.group_send(group, {"type": "console.changed", "concern": concern_name,
                                                    "key": None if key is None else str(key)})
                count += 1
            except Exception as exc:  # the layer is away: the next change tells the page again
                logger.warning("console: could not publish to %s: %s", group, exc)
        self.sent += count
        return count


async def publish_forever(interval: float | None = None) -> None:
    publisher = Publisher(get_channel_layer(), watches())
    pause = interval or settings.CSMS_CONSOLE_PUBLISH_SECONDS
    while True:
        await asyncio.sleep(pause)
        try:
            await publisher.publish_once()
        except Exception:
            logger.exception("console publisher failed a round")


def start_publisher(loop: asyncio.AbstractEventLoop) -> None:
    """Run the publisher on a node's event loop (csms.nodeservices)."""
    global _publisher_pid
    _publisher_pid = os.getpid()
    loop.create_task(publish_forever())


def start_publisher_thread(**_) -> None:
    """Run the publisher in a thread of its own: a Celery worker process, whose jobs (marking
    stations of dead nodes offline, alerts) change what consoles show."""
    global _publisher_pid
    if publishing():
        return
    _publisher_pid = os.getpid()
    threading.Thread(target=asyncio.run, args=(publish_forever(),), name="console-publisher", daemon=True).start()


# --- 4. The console socket --------------------------------------------------------------------------------


def may_watch_console(user) -> bool:
    """Who may open the socket at all: whoever may use the admin (an active staff session)."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def subscriptions_check(user, requested) -> tuple[list[tuple[str, str | None]], list[dict]]:
    """Split requested subscriptions ({"concern", "key"}) into the allowed (concern, key) pairs and
    the refused ones (with why). Nothing is allowed to a user who may not use the console."""
    allowed, denied = [], []
    console = may_watch_console(user)
    for item in requested if isinstance(requested, list) else []:
        name = item.get("concern") if isinstance(item, dict) else None
        key = item.get("key") if isinstance(item, dict) else None
        permission = concern_permission(name) if isinstance(name, str) else None
        if permission is None:
            denied.append({"concern": name, "key": key, "reason": "unknown concern"})
        elif (name == FLEET) != (key is None) or (key is not None and not isinstance(key, (str, int))):
            denied.append({"concern": name, "key": key, "reason": "bad key"})
        elif not console or not user.has_perm(permission):
            denied.append({"concern": name, "key": key, "reason": "permission denied"})
        else:
            allowed.append((name, None if key is None else str(key)))
    for name, key in allowed[MAX_SUBSCRIPTIONS:]:
        denied.append({"concern": name, "key": key, "reason": "too many subscriptions"})
    return allowed[:MAX_SUBSCRIPTIONS], denied


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """One browser tab of the console. It sends {"subscribe": [{"concern": "station", "key": "CP-1"},
    {"concern": "fleet"}]} and receives {"concern", "key"} whenever one of them changed."""

    async def connect(self):
        self.joined: set[str] = set()
        self.renewer: asyncio.Task | None = None
        if not may_watch_console(self.scope.get("user")):
            await self.close(code=4403)
            return
        await self.accept()

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or "subscribe" not in content:
            await self.send_json({"error": 'expected {"subscribe": [...]}'})
            return
        allowed, denied = await database_sync_to_async(subscriptions_check)(self.scope["user"], content["subscribe"])
        groups = {group_name(name, key) for name, key in allowed} - self.joined
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await watches().add(self.channel_name, groups)
        self.joined |= groups
        if self.renewer is None and self.joined:
            self.renewer = asyncio.create_task(self._renew_forever())
        await self.send_json({"subscribed": [{"concern": name, "key": key} for name, key in allowed], "denied": denied})

    async def _renew_forever(self):
        while True:
            await asyncio.sleep(WATCH_TTL / 3)
            try:
                await watches().renew(self.channel_name, self.joined)
            except Exception as exc:
                logger.warning("console: could not renew watches: %s", exc)

    async def console_changed(self, event):
        await self.send_json({"concern": event["concern"], "key": event["key"]})

    async def disconnect(self, code):
        if self.renewer is not None:
            self.renewer.cancel()
        for group in self.joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                pass  # the layer's own expiry forgets the membership
        try:
            await watches().remove(self.channel_name, self.joined)
        except Exception as exc:
            logger.warning("console: could not unregister watches: %s", exc)
