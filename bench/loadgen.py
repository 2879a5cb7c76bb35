"""The load generator of bench/run.py: simulated charge stations in worker processes.

Each worker process drives a share of the stations on its own asyncio loop; the parent (`Fleet`)
sends every worker the same command (connect, boot, offer load, burst, storm, close) and merges
what they measured. Several processes because one Python loop cannot both offer thousands of
messages a second and read the answers on time on this machine; and the generator's own CPU and
lateness are reported with every figure so that a saturated generator is seen, not mistaken for a
slow CSMS (docs/adr/0040-benchmark-method.md).

What keeps a station cheap (a few KB and tens of µs per message):
- no `ocpp` ChargePoint and no client-side validation; frames are %-formatted from templates
  (MeterValues' sampled values come from a few pre-serialised variants);
- `websockets`' Sans-I/O `ClientProtocol` driven from a plain `asyncio.Protocol`: no reader task,
  no futures per message in the load phase (an answer runs a callback), timeouts by a sweep;
- one Call outstanding per station (OCPP-J 4.1.1), so a station needs no table of pending Calls.

Times are `time.monotonic()` (CLOCK_MONOTONIC on Linux: one clock for every process of the
machine), so the parent can line up the workers' timestamps with its own and the API probe's.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import multiprocessing
import os
import random
import time
import traceback
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from bench.fleet import CSMS_CALL_ANSWERS, DEFAULT_MIX, NEEDS_CHARGING, NEEDS_IDLE, SAMPLE_TEMPLATES

ANSWER_TIMEOUT = 30.0
SUBPROTOCOL = "ocpp1.6"
monotonic = time.monotonic

# Frames as templates: %-formatting is several times cheaper than json.dumps of the payload.
BOOT = ('[2,"%s","BootNotification",{"chargePointVendor":"BenchVendor","chargePointModel":"Bench-22kW",'
        '"chargePointSerialNumber":"%s","firmwareVersion":"1.0.0"}]')
HEARTBEAT = '[2,"%s","Heartbeat",{}]'
STATUS = '[2,"%s","StatusNotification",{"connectorId":%d,"errorCode":"NoError","status":"%s","timestamp":"%s"}]'
AUTHORIZE = '[2,"%s","Authorize",{"idTag":"%s"}]'
START = '[2,"%s","StartTransaction",{"connectorId":1,"idTag":"%s","meterStart":%d,"timestamp":"%s"}]'
STOP = ('[2,"%s","StopTransaction",{"transactionId":%d,"idTag":"%s","meterStop":%d,"timestamp":"%s",'
        '"reason":"Local"}]')
METER = ('[2,"%s","MeterValues",{"connectorId":1,%s"meterValue":[{"timestamp":"%s","sampledValue":['
         '{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh","context":"%s"}%s]}]}]')
METER_VARIANTS = 32


def meter_tails(samples: int, context: str, rng: random.Random) -> list[str]:
    """Pre-serialised sampled values after the energy register: a few variants with random readings."""
    tails = []
    for _ in range(METER_VARIANTS):
        parts = []
        for measurand, phase, unit in SAMPLE_TEMPLATES[1:samples]:
            part = f'{{"value":"{round(rng.uniform(5, 400), 1)}","measurand":"{measurand}","unit":"{unit}","context":"{context}"'
            parts.append(part + (f',"phase":"{phase}"}}' if phase else "}"))
        tails.append("".join("," + part for part in parts))
    return tails


class Refused(Exception):
    """The CSMS answered the handshake with an HTTP status instead of 101."""

    def __init__(self, status: int, retry_after: float):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class Pool:
    """Stations free to send: O(1) add, and pop of a random one (the worker's seeded generator)."""

    __slots__ = ("items", "where", "rng")

    def __init__(self, rng: random.Random):
        self.items: list = []
        self.where: dict = {}
        self.rng = rng

    def add(self, station) -> None:
        if station.index not in self.where:
            self.where[station.index] = len(self.items)
            self.items.append(station)

    def pop_random(self):
        items = self.items
        if not items:
            return None
        position = int(self.rng.random() * len(items))
        station = items[position]
        last = items.pop()
        del self.where[station.index]
        if last is not station:
            items[position] = last
            self.where[last.index] = position
        return station


class ClosedDuringHandshake(ConnectionError):
    """The server closed the connection before answering the handshake (Daphne does so when the
    application has not accepted within its connect timeout, 5 s by default)."""


class Recorder:
    """Answer latencies (ms) per phase and action, errors per phase and 'action: code'."""

    def __init__(self):
        self.latencies = defaultdict(lambda: defaultdict(list))
        self.errors = defaultdict(Counter)
        self.samples_acked = Counter()  # phase -> sampled values of MeterValues answered with a CallResult

    def take(self) -> dict:
        out = {"latencies": {phase: dict(actions) for phase, actions in self.latencies.items()},
               "errors": {phase: dict(counter) for phase, counter in self.errors.items()},
               "samples_acked": dict(self.samples_acked)}
        self.__init__()
        return out


class Link(asyncio.Protocol):
    """One TCP connection of a station; a reconnect gets a new Link, so a late `connection_lost`
    of the old one cannot touch the new connection."""

    __slots__ = ("station", "proto", "transport")

    def __init__(self, station: Station, proto: ClientProtocol):
        self.station = station
        self.proto = proto
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.proto.send_request(self.proto.connect())
        self.flush()

    def data_received(self, data):
        proto = self.proto
        proto.receive_data(data)
        for event in proto.events_received():
            if type(event) is Frame:
                if event.opcode is Opcode.TEXT:
                    self.station.on_text(self, event.data)
            else:  # the handshake's HTTP response
                self.station.on_handshake(self, event)
        self.flush()

    def eof_received(self):
        self.proto.receive_eof()
        self.flush()

    def connection_lost(self, exc):
        self.station.on_lost(self)

    def flush(self):
        for data in self.proto.data_to_send():
            if data:
                self.transport.write(data)
            else:  # end of stream after a closing handshake
                self.transport.close()

    def send(self, text: str):
        self.proto.send_text(text.encode())
        self.flush()


class Station:
    __slots__ = ("w", "index", "sid", "tag", "node", "serial", "link", "open", "opened", "pending",
                 "charging", "transaction_id", "meter_wh", "close_code", "lost")

    def __init__(self, worker: Worker, index: int, sid: str, tag: str, node: int):
        self.w = worker
        self.index, self.sid, self.tag, self.node = index, sid, tag, node
        self.serial = sid[-25:]
        self.link: Link | None = None
        self.open = False
        self.opened: asyncio.Future | None = None
        self.lost: asyncio.Future | None = None
        self.pending = None  # (messageId, action, phase, sent at, done callback, sampled values)
        self.charging = False
        self.transaction_id = None
        self.meter_wh = worker.rng.randint(1_000, 5_000_000)
        self.close_code = None

    # --- connection ---------------------------------------------------------------------------

    async def connect(self, host: str, port: int, timeout: float) -> float:
        """Open the WebSocket; return the handshake's duration. Raises Refused, OSError, TimeoutError."""
        loop = self.w.loop
        proto = ClientProtocol(parse_uri(f"ws://{host}:{port}/ocpp/{self.sid}"), subprotocols=[SUBPROTOCOL],
                               max_size=None)
        link = self.link = Link(self, proto)
        self.opened, self.lost = loop.create_future(), loop.create_future()
        # A handshake that fails after its connect() gave up has nobody to read the exception.
        self.opened.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.close_code = None
        started = monotonic()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: link, host, port)
                await self.opened
        except BaseException:
            if link.transport is not None:
                link.transport.abort()
            raise
        return monotonic() - started

    def on_handshake(self, link: Link, response) -> None:
        if link is not self.link or self.opened.done():
            return
        if link.proto.handshake_exc is None:
            self.open = True
            self.opened.set_result(None)
        else:
            status = getattr(response, "status_code", 0)
            try:
                retry_after = float(response.headers.get("Retry-After", 0))
            except (TypeError, ValueError):
                retry_after = 0.0
            self.opened.set_exception(Refused(status, retry_after))

    def on_lost(self, link: Link) -> None:
        if link is not self.link:
            return
        self.open = False
        self.close_code = link.proto.close_code
        if not self.opened.done():
            self.opened.set_exception(ClosedDuringHandshake("closed before the handshake completed"))
        if not self.lost.done():
            self.lost.set_result(None)
        if self.pending is not None:
            self.fail("Disconnected")

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a power cut, a network outage)."""
        if self.link is not None and self.link.transport is not None:
            self.link.transport.abort()

    async def close(self, timeout: float = 5) -> None:
        if self.open and self.link is not None:
            self.link.proto.send_close(1000)
            self.link.flush()
            try:
                await asyncio.wait_for(asyncio.shield(self.lost), timeout)
            except TimeoutError:
                self.abort()

    # --- Calls ------------------------------------------------------------------------------------

    def send_call(self, mid: str, action: str, text: str, phase: str, done, samples: int = 0) -> None:
        if not self.open:
            self.w.rec.errors[phase][f"{action}: NotConnected"] += 1
            done(self, None)
            return
        self.pending = (mid, action, phase, monotonic(), done, samples)
        self.w.waiting.add(self)
        self.link.send(text)

    def on_text(self, link: Link, data: bytes) -> None:
        if link is not self.link:
            return
        message = json.loads(data)
        if message[0] == 2:
            self.w.answer_inbound(self, message)
            return
        pending = self.pending
        if pending is None or message[1] != pending[0]:
            return  # an answer that arrived after its timeout
        self.pending = None
        self.w.waiting.discard(self)
        mid, action, phase, sent, done, samples = pending
        w = self.w
        if message[0] != 3:
            w.rec.errors[phase][f"{action}: {message[2]}"] += 1
            done(self, None)
            return
        w.rec.latencies[phase][action].append((monotonic() - sent) * 1000)
        payload = message[2]
        if action == "MeterValues":
            w.rec.samples_acked[phase] += samples
        elif action == "StartTransaction":
            self._expect_accepted(payload, phase, action)
            self.transaction_id = payload.get("transactionId")
            self.charging = True
        elif action == "StopTransaction":
            self.charging = False
            self.transaction_id = None
        elif action == "Authorize":
            self._expect_accepted(payload, phase, action)
        elif action == "BootNotification" and payload.get("status") != "Accepted":
            w.rec.errors[phase][f"{action}: status {payload.get('status')}"] += 1
            payload = None
        done(self, payload)

    def fail(self, code: str) -> None:
        mid, action, phase, sent, done, samples = self.pending
        self.pending = None
        self.w.waiting.discard(self)
        self.w.rec.errors[phase][f"{action}: {code}"] += 1
        done(self, None)

    def _expect_accepted(self, payload: dict, phase: str, action: str) -> None:
        status = (payload.get("idTagInfo") or {}).get("status")
        if status != "Accepted":
            self.w.rec.errors[phase][f"{action}: idTagInfo {status}"] += 1

    def acall(self, method, phase: str, *args) -> asyncio.Future:
        """Run one of the action methods below as an awaitable: the CSMS's payload, None on error."""
        future = self.w.loop.create_future()
        method(phase, lambda station, payload: future.done() or future.set_result(payload), *args)
        return future

    # --- what a station says ----------------------------------------------------------------------

    def boot(self, phase, done):
        mid = self.w.next_id()
        self.send_call(mid, "BootNotification", BOOT % (mid, self.serial), phase, done)

    def heartbeat(self, phase, done):
        mid = self.w.next_id()
        self.send_call(mid, "Heartbeat", HEARTBEAT % mid, phase, done)

    def status(self, phase, done, connector: int = 1):
        mid = self.w.next_id()
        state = "Charging" if self.charging and connector == 1 else "Available"
        self.send_call(mid, "StatusNotification", STATUS % (mid, connector, state, self.w.timestamp()), phase, done)

    def authorize(self, phase, done):
        mid = self.w.next_id()
        self.send_call(mid, "Authorize", AUTHORIZE % (mid, self.tag), phase, done)

    def start_transaction(self, phase, done):
        mid = self.w.next_id()
        self.send_call(mid, "StartTransaction", START % (mid, self.tag, self.meter_wh, self.w.timestamp()), phase, done)

    def stop_transaction(self, phase, done):
        mid = self.w.next_id()
        text = STOP % (mid, self.transaction_id or 0, self.tag, self.meter_wh, self.w.timestamp())
        self.send_call(mid, "StopTransaction", text, phase, done)

    def meter_values(self, phase, done, samples: int, clock_aligned: bool = False):
        w = self.w
        mid = w.next_id()
        self.meter_wh += w.rng.randint(50, 500)
        tx = f'"transactionId":{self.transaction_id},' if self.transaction_id is not None and not clock_aligned else ""
        context = "Sample.Clock" if clock_aligned else "Sample.Periodic"
        tail = w.rng.choice(w.tails(samples, context))
        text = METER % (mid, tx, w.timestamp(), self.meter_wh, context, tail)
        self.send_call(mid, "MeterValues", text, phase, done, samples)


async def sleep_until(moment: float) -> None:
    delay = moment - monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class Worker:
    """One generator process: its share of the stations and the commands the parent sends."""

    def __init__(self, conn, index: int, seed: int | None):
        self.conn = conn
        self.index = index
        self.rng = random.Random(None if seed is None else seed * 1000 + index)
        self.prefix = f"{index}{os.urandom(2).hex()}-"
        self._ids = itertools.count(1)
        self.stations: list[Station] = []
        self.targets: list[tuple[str, int]] = []
        self.rec = Recorder()
        self.waiting: set[Station] = set()
        self.inbound: dict[str, tuple[float, float]] = {}
        self._tails: dict = {}
        self._stamp, self._stamp_at = "", 0.0
        self.loop: asyncio.AbstractEventLoop | None = None

    def next_id(self) -> str:
        return f"{self.prefix}{next(self._ids)}"

    def timestamp(self) -> str:
        # Re-rendered at most every 10 ms: a timestamp costs more than the rest of a small frame.
        now = monotonic()
        if now - self._stamp_at > 0.01:
            self._stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            self._stamp_at = now
        return self._stamp

    def tails(self, samples: int, context: str) -> list[str]:
        key = (samples, context)
        if key not in self._tails:
            self._tails[key] = meter_tails(samples, context, self.rng)
        return self._tails[key]

    def answer_inbound(self, station: Station, message: list) -> None:
        """A CSMS-initiated Call (the API probe's): answer at once, note when it came and went."""
        received = monotonic()
        answer = CSMS_CALL_ANSWERS.get(message[2])
        reply = [3, message[1], answer] if answer is not None else [4, message[1], "NotSupported", "", {}]
        station.link.send(json.dumps(reply))
        self.inbound[str(message[1])] = (received, monotonic())

    async def sweep(self) -> None:
        """Time out Calls unanswered for ANSWER_TIMEOUT (one sweep a second, not a timer per Call)."""
        while True:
            await asyncio.sleep(1)
            limit = monotonic() - ANSWER_TIMEOUT
            for station in [s for s in self.waiting if s.pending is not None and s.pending[3] < limit]:
                station.fail("Timeout")

    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        commands: asyncio.Queue = asyncio.Queue()
        self.loop.add_reader(self.conn.fileno(), lambda: commands.put_nowait(self.conn.recv()))
        sweeper = self.loop.create_task(self.sweep())
        while True:
            command, params = await commands.get()
            if command == "quit":
                break
            try:
                result = await getattr(self, f"cmd_{command}")(**params)
            except Exception:  # noqa: BLE001 - the parent raises it with the worker's traceback
                result = {"error": traceback.format_exc()}
            self.conn.send(result)
        sweeper.cancel()
        for station in self.stations:
            station.abort()

    # --- commands -------------------------------------------------------------------------------

    async def cmd_setup(self, stations: list, targets: list) -> dict:
        """Replace the station set: [(global index, chargeBoxId, idTag, node index)]."""
        for station in self.stations:
            station.abort()
        self.targets = [tuple(t) for t in targets]
        self.stations = [Station(self, i, sid, tag, node) for i, sid, tag, node in stations]
        self.inbound.clear()
        self.rec.take()
        return {"stations": len(self.stations)}

    async def cmd_connect(self, concurrency: int, timeout: float = 30) -> dict:
        semaphore = asyncio.Semaphore(max(1, concurrency))
        handshakes, errors = [], Counter()

        async def one(station: Station):
            async with semaphore:
                host, port = self.targets[station.node]
                try:
                    handshakes.append(await station.connect(host, port, timeout) * 1000)
                except Refused as exc:
                    errors[f"HTTP {exc.status}"] += 1
                except (OSError, TimeoutError) as exc:
                    errors[type(exc).__name__] += 1

        started = monotonic()
        await asyncio.gather(*(one(s) for s in self.stations if not s.open))
        return {"handshake_ms": handshakes, "errors": dict(errors), "seconds": monotonic() - started,
                "connected": sum(s.open for s in self.stations)}

    async def cmd_boot(self, phase: str, concurrency: int, transactions: bool) -> dict:
        """BootNotification and StatusNotification; with `transactions`, every second station (by
        global index) then Authorize, StartTransaction and StatusNotification Charging."""
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def one(station: Station):
            async with semaphore:
                if await station.acall(station.boot, phase) is None:
                    return
                await station.acall(station.status, phase)
                if transactions and station.index % 2 == 0:
                    await station.acall(station.authorize, phase)
                    await station.acall(station.start_transaction, phase)
                    await station.acall(station.status, phase)

        started = monotonic()
        await asyncio.gather(*(one(s) for s in self.stations if s.open))
        return {"seconds": monotonic() - started, **self.rec.take()}

    async def cmd_load(self, rate: float, duration: float, start_at: float, samples: int, phase: str,
                       mix: dict | None = None, drain_timeout: float = ANSWER_TIMEOUT) -> dict:
        """Open loop: Calls leave on schedule whether or not earlier ones were answered; a station
        never has two Calls outstanding; with no eligible station free the Call is *skipped*."""
        mix = mix or DEFAULT_MIX
        actions, weights = list(mix), list(mix.values())
        cumulative = list(itertools.accumulate(weights))
        idle, charging = Pool(self.rng), Pool(self.rng)
        for station in self.stations:
            if station.open and station.pending is None:
                (charging if station.charging else idle).add(station)
        sent, late = Counter(), []
        state = {"skipped": 0, "outstanding": 0, "answered_in_window": 0}
        window_end = start_at + duration
        drained = asyncio.Event()
        rng = self.rng

        def done(station: Station, payload) -> None:
            state["outstanding"] -= 1
            if payload is not None and monotonic() <= window_end:
                state["answered_in_window"] += 1
            if station.open:
                (charging if station.charging else idle).add(station)
            if state["outstanding"] == 0:
                drained.set()

        def pick(action: str):
            if action in NEEDS_CHARGING:
                pools = (charging,)
            elif action in NEEDS_IDLE:
                pools = (idle,)
            else:
                pools = (idle, charging) if rng.random() < 0.5 else (charging, idle)
            for pool in pools:
                station = pool.pop_random()
                if station is not None:
                    return action, station
            for pool in (idle, charging):  # no eligible station free: a Heartbeat keeps the rate
                station = pool.pop_random()
                if station is not None:
                    return "Heartbeat", station
            return action, None

        await sleep_until(start_at)
        total = cumulative[-1]
        count = 0
        while True:
            now = monotonic()
            if now >= window_end:
                break
            due = int((now - start_at) * rate) + 1
            while count < due:
                late.append((now - (start_at + count / rate)) * 1000)
                count += 1
                draw = rng.random() * total
                action, station = pick(actions[bisect.bisect_right(cumulative, draw)])
                if station is None:
                    state["skipped"] += 1
                    continue
                sent[action] += 1
                state["outstanding"] += 1
                drained.clear()
                if action == "MeterValues":
                    station.meter_values(phase, done, samples)
                elif action == "Heartbeat":
                    station.heartbeat(phase, done)
                elif action == "StatusNotification":
                    station.status(phase, done)
                elif action == "Authorize":
                    station.authorize(phase, done)
                elif action == "StartTransaction":
                    station.start_transaction(phase, done)
                else:
                    station.stop_transaction(phase, done)
            await asyncio.sleep(max(0.0, start_at + count / rate - monotonic()))
        unanswered = 0
        if state["outstanding"]:
            try:
                await asyncio.wait_for(drained.wait(), drain_timeout)
            except TimeoutError:
                unanswered = state["outstanding"]
        return {"sent": dict(sent), "skipped": state["skipped"], "answered_in_window": state["answered_in_window"],
                "unanswered_at_end": unanswered, "lateness_ms": late, **self.rec.take()}

    async def cmd_burst(self, at: float, samples: int, spread: float, phase: str) -> dict:
        """Every connected station sends MeterValues at `at` (clock-aligned), spread over `spread` s."""
        stations = [s for s in self.stations if s.open and s.pending is None]
        state = {"outstanding": len(stations), "answered": 0, "last_answer": None}
        drained = asyncio.Event()
        if not stations:
            drained.set()

        def done(station, payload):
            state["outstanding"] -= 1
            if payload is not None:
                state["answered"] += 1
                state["last_answer"] = monotonic()
            if state["outstanding"] == 0:
                drained.set()

        await sleep_until(at)
        first_send = monotonic()
        for position, station in enumerate(stations):
            if spread > 0:
                await sleep_until(at + spread * position / len(stations))
            station.meter_values(phase, done, samples, clock_aligned=True)
        last_send = monotonic()
        try:
            await asyncio.wait_for(drained.wait(), ANSWER_TIMEOUT + 5)
        except TimeoutError:
            pass
        return {"sent": len(stations), "answered": state["answered"], "first_send": first_send,
                "last_send": last_send, "last_answer": state["last_answer"], **self.rec.take()}

    async def cmd_storm(self, at: float, deadline: float, spread: float, concurrency: int,
                        connect_timeout: float, statuses: int, phase: str) -> dict:
        """Drop every connection at `at` (no closing handshake), then each station reconnects (round
        robin over the nodes, the next node after a failure, as a load balancer would), sends
        BootNotification and `statuses` StatusNotifications (connectors 0, 1, ...). After a failure
        a station backs off as firmware does, so that the bench does not feed the storm itself:
        exponential from 1 s, capped at 16 s, with full jitter; a refusal's Retry-After when longer.
        A Call answered with a CallError or not at all is sent again after the same backoff. A
        station not done by `deadline` is left behind."""
        stations = list(self.stations)
        semaphore = asyncio.Semaphore(max(1, concurrency))
        refused, connect_errors, retried = Counter(), Counter(), Counter()
        finished: list[float] = []
        per_node = Counter()
        attempts = Counter()
        order = list(range(len(stations)))
        self.rng.shuffle(order)
        n_nodes = len(self.targets)

        def backoff(failures: int) -> float:
            return self.rng.uniform(0, min(16.0, 2.0 ** (failures - 1)))

        async def call_until_answered(station: Station, method, *args) -> bool:
            failures = 0
            while monotonic() < deadline and station.open:
                if await station.acall(method, phase, *args) is not None:
                    return True
                if station.open:
                    retried[method.__name__] += 1
                    failures += 1
                    await asyncio.sleep(backoff(failures))
            return False

        async def one(station: Station, position: int):
            if spread > 0:
                await asyncio.sleep(self.rng.uniform(0, spread))
            node = (self.index + position) % n_nodes
            tries = 0
            while monotonic() < deadline:
                tries += 1
                host, port = self.targets[node]
                try:
                    async with semaphore:
                        await station.connect(host, port, min(connect_timeout, max(0.1, deadline - monotonic())))
                except Refused as exc:
                    refused[f"HTTP {exc.status}"] += 1
                    node = (node + 1) % n_nodes
                    await asyncio.sleep(max(exc.retry_after, backoff(tries)))
                    continue
                except (OSError, TimeoutError) as exc:
                    connect_errors[type(exc).__name__] += 1
                    node = (node + 1) % n_nodes
                    await asyncio.sleep(backoff(tries))
                    continue
                ok = await call_until_answered(station, station.boot)
                for connector in range(statuses):
                    ok = ok and await call_until_answered(station, station.status, connector)
                if ok:
                    finished.append(monotonic() - at)
                    per_node[node] += 1
                    station.node = node
                    attempts[tries] += 1
                    return
                station.abort()  # dropped meanwhile, or out of time: start again

        await sleep_until(at)
        for station in stations:
            station.abort()
        await asyncio.sleep(0)  # let the transports report their loss before reconnecting
        await asyncio.gather(*(one(stations[p], i) for i, p in enumerate(order)))
        return {"stations": len(stations), "finished_s": finished, "left_behind": len(stations) - len(finished),
                "refused": dict(refused), "connect_errors": dict(connect_errors), "retried_calls": dict(retried),
                "per_node": dict(per_node), "attempts": dict(attempts), **self.rec.take()}

    async def cmd_status(self) -> dict:
        closed = Counter(str(s.close_code) for s in self.stations if not s.open and s.link is not None)
        return {"connected": sum(s.open for s in self.stations), "close_codes": dict(closed)}

    async def cmd_inbound(self) -> dict:
        inbound, self.inbound = self.inbound, {}
        return {"inbound": inbound}

    async def cmd_close(self) -> dict:
        await asyncio.gather(*(s.close() for s in self.stations if s.open))
        return {"connected": sum(s.open for s in self.stations)}


def worker_main(conn, index: int, seed: int | None) -> None:
    asyncio.run(Worker(conn, index, seed).serve())


class Fleet:
    """The parent's handle on the generator processes (spawned: they never carry Django along)."""

    def __init__(self, workers: int, seed: int | None = None):
        context = multiprocessing.get_context("spawn")
        self.conns, self.processes = [], []
        for index in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(child, index, seed), daemon=True,
                                      name=f"bench-loadgen-{index}")
            process.start()
            child.close()
            self.conns.append(parent)
            self.processes.append(process)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet")
        self.station_nodes: list[tuple[str, int]] = []

    @property
    def size(self) -> int:
        return len(self.conns)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    async def ask(self, command: str, params=None) -> list[dict]:
        """Send a command to every worker (params: a dict, or a function of the worker index) and
        return their answers."""
        loop = asyncio.get_running_loop()
        for index, conn in enumerate(self.conns):
            conn.send((command, params(index) if callable(params) else dict(params or {})))
        results = await asyncio.gather(*(loop.run_in_executor(self.executor, conn.recv) for conn in self.conns))
        for index, result in enumerate(results):
            if "error" in result:
                raise RuntimeError(f"load generator {index} failed:\n{result['error']}")
        return results

    async def setup(self, stations: list[tuple[str, str]], targets: list[tuple[str, int]]) -> None:
        """Stations [(chargeBoxId, idTag)], spread over the workers and round robin over the nodes."""
        rows = [(i, sid, tag, i % len(targets)) for i, (sid, tag) in enumerate(stations)]
        self.station_nodes = [(sid, node) for _, sid, _, node in rows]
        await self.ask("setup", lambda w: {"stations": rows[w::self.size], "targets": targets})

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("quit", {}))
            except OSError:
                pass
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(2)
        self.executor.shutdown(wait=False)


# --- merging the workers' answers -----------------------------------------------------------------


def merge_recorded(results: list[dict]) -> dict:
    latencies = defaultdict(lambda: defaultdict(list))
    errors = defaultdict(Counter)
    samples = Counter()
    for result in results:
        for phase, actions in result.get("latencies", {}).items():
            for action, values in actions.items():
                latencies[phase][action].extend(values)
        for phase, counter in result.get("errors", {}).items():
            errors[phase].update(counter)
        samples.update(result.get("samples_acked", {}))
    return {"latencies": latencies, "errors": errors, "samples_acked": samples}


def merge_counters(results: list[dict], key: str) -> Counter:
    total = Counter()
    for result in results:
        total.update(result.get(key, {}))
    return total
