"""A fleet of simulated charge stations on raw `websockets` clients, and the open-loop load driver.

Raw clients (no `ocpp` ChargePoint, no schema validation on our side) keep the simulator cheap
enough to run hundreds of stations next to the node on a 2-core machine: what we measure should be
the CSMS, not the station simulator (docs/adr/0040-benchmark-method.md).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import websockets

ANSWER_TIMEOUT = 30.0
_message_ids = itertools.count(1)

# What each simulated station answers to CSMS-initiated Calls.
CSMS_CALL_ANSWERS = {
    "GetConfiguration": {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": [],
    },
    "ChangeConfiguration": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
}

# Sampled values of one MeterValues frame: the energy register plus what a 3-phase AC charger
# typically reports every interval (power, current and voltage per phase, SoC).
SAMPLE_TEMPLATES = [
    ("Energy.Active.Import.Register", "", "Wh"),
    ("Power.Active.Import", "", "W"),
    ("Current.Import", "L1", "A"),
    ("Current.Import", "L2", "A"),
    ("Current.Import", "L3", "A"),
    ("Voltage", "L1-N", "V"),
    ("Voltage", "L2-N", "V"),
    ("Voltage", "L3-N", "V"),
    ("SoC", "", "Percent"),
    ("Temperature", "", "Celsius"),
]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Stats:
    """Answer latencies (ms) per phase and action, and errors per action and code."""

    def __init__(self):
        self.latencies: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.errors: dict[str, Counter] = defaultdict(Counter)
        self.answered_at: list[float] = []  # monotonic times of every answer received

    def ok(self, phase: str, action: str, seconds: float) -> None:
        self.latencies[phase][action].append(seconds * 1000)
        self.answered_at.append(time.monotonic())

    def error(self, phase: str, action: str, code: str) -> None:
        self.errors[phase][f"{action}: {code}"] += 1


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of already collected values (0 when none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(share * len(ordered) + 0.5)) - 1))
    return ordered[index]


class CallFailed(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass
class InboundCall:
    """A CSMS-initiated Call as the station saw it."""

    station_id: str
    action: str
    received: float  # perf_counter
    answered: float = 0.0


@dataclass
class SimStation:
    station_id: str
    url: str
    id_tag: str
    stats: Stats
    inbound: dict  # shared by the fleet: messageId -> InboundCall
    connected: bool = False
    charging: bool = False
    transaction_id: int | None = None
    meter_wh: int = field(default_factory=lambda: random.randint(1_000, 5_000_000))
    ws: object = None
    _pending: dict = field(default_factory=dict)
    _reader: asyncio.Task | None = None
    close_code: int | None = None

    async def connect(self, open_timeout: float = 30, compression: str | None = None) -> float:
        started = time.perf_counter()
        self.ws = await websockets.connect(
            self.url, subprotocols=["ocpp1.6"], open_timeout=open_timeout, compression=compression,
            ping_interval=None, max_queue=64,
        )
        self.connected = True
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return time.perf_counter() - started

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._dispatch(raw)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connected = False
            self.close_code = getattr(self.ws, "close_code", None)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CallFailed("Disconnected"))

    def _dispatch(self, raw) -> None:
        frame = json.loads(raw)
        kind, message_id = frame[0], frame[1]
        if kind == 2:
            self.inbound[message_id] = call = InboundCall(self.station_id, frame[2], time.perf_counter())
            answer = CSMS_CALL_ANSWERS.get(frame[2])
            reply = [3, message_id, answer] if answer is not None else [4, message_id, "NotSupported", "", {}]
            asyncio.get_running_loop().create_task(self._answer(call, json.dumps(reply)))
            return
        future = self._pending.pop(message_id, None)
        if future is None or future.done():
            return
        if kind == 3:
            future.set_result(frame[2])
        else:
            future.set_exception(CallFailed(frame[2]))

    async def _answer(self, call: InboundCall, text: str) -> None:
        await self.ws.send(text)
        call.answered = time.perf_counter()

    async def call(self, action: str, payload: dict, phase: str, timeout: float = ANSWER_TIMEOUT) -> dict | None:
        """Send one Call and await its answer; record the latency or the error. None on error."""
        if not self.connected:
            self.stats.error(phase, action, "NotConnected")
            return None
        message_id = str(next(_message_ids))
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        started = time.perf_counter()
        try:
            await self.ws.send(json.dumps([2, message_id, action, payload]))
            result = await asyncio.wait_for(future, timeout)
        except CallFailed as exc:
            self.stats.error(phase, action, exc.code)
            return None
        except TimeoutError:
            self.stats.error(phase, action, "Timeout")
            return None
        except websockets.ConnectionClosed:
            self.stats.error(phase, action, "Disconnected")
            return None
        finally:
            self._pending.pop(message_id, None)
        self.stats.ok(phase, action, time.perf_counter() - started)
        return result

    # --- what a station says --------------------------------------------------------------------

    async def boot(self, phase: str) -> bool:
        result = await self.call("BootNotification", {
            "chargePointVendor": "BenchVendor", "chargePointModel": "Bench-22kW",
            "chargePointSerialNumber": self.station_id[-25:], "firmwareVersion": "1.0.0",
        }, phase)
        if result is not None and result.get("status") != "Accepted":
            self.stats.error(phase, "BootNotification", f"status {result.get('status')}")
            return False
        return result is not None

    async def heartbeat(self, phase: str) -> None:
        await self.call("Heartbeat", {}, phase)

    async def status(self, phase: str) -> None:
        status = "Charging" if self.charging else "Available"
        await self.call("StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": now_iso(),
        }, phase)

    async def authorize(self, phase: str) -> None:
        result = await self.call("Authorize", {"idTag": self.id_tag}, phase)
        self._expect_accepted(result, phase, "Authorize")

    async def start_transaction(self, phase: str) -> None:
        result = await self.call("StartTransaction", {
            "connectorId": 1, "idTag": self.id_tag, "meterStart": self.meter_wh, "timestamp": now_iso(),
        }, phase)
        if result is None:
            return
        self._expect_accepted(result, phase, "StartTransaction")
        self.transaction_id = result["transactionId"]
        self.charging = True

    async def meter_values(self, phase: str, samples: int) -> int:
        """Send one MeterValues frame; return how many sampled values the CSMS acknowledged."""
        self.meter_wh += random.randint(50, 500)
        values = []
        for measurand, phase_name, unit in SAMPLE_TEMPLATES[:samples]:
            value = self.meter_wh if measurand.startswith("Energy") else round(random.uniform(5, 400), 1)
            sample = {"value": str(value), "measurand": measurand, "unit": unit, "context": "Sample.Periodic"}
            if phase_name:
                sample["phase"] = phase_name
            values.append(sample)
        payload = {"connectorId": 1, "meterValue": [{"timestamp": now_iso(), "sampledValue": values}]}
        if self.transaction_id is not None:
            payload["transactionId"] = self.transaction_id
        result = await self.call("MeterValues", payload, phase)
        return 0 if result is None else len(values)

    async def stop_transaction(self, phase: str) -> None:
        result = await self.call("StopTransaction", {
            "transactionId": self.transaction_id, "idTag": self.id_tag, "meterStop": self.meter_wh,
            "timestamp": now_iso(), "reason": "Local",
        }, phase)
        if result is not None:
            self.charging = False
            self.transaction_id = None

    def _expect_accepted(self, result: dict | None, phase: str, action: str) -> None:
        status = (result or {}).get("idTagInfo", {}).get("status")
        if result is not None and status != "Accepted":
            self.stats.error(phase, action, f"idTagInfo {status}")


class StationPool:
    """A set with O(1) add, remove and random pick."""

    def __init__(self):
        self._items: list[SimStation] = []
        self._index: dict[str, int] = {}

    def __len__(self):
        return len(self._items)

    def add(self, station: SimStation) -> None:
        if station.station_id not in self._index:
            self._index[station.station_id] = len(self._items)
            self._items.append(station)

    def pop_random(self) -> SimStation | None:
        if not self._items:
            return None
        position = random.randrange(len(self._items))
        station = self._items[position]
        last = self._items.pop()
        del self._index[station.station_id]
        if last is not station:
            self._items[position] = last
            self._index[last.station_id] = position
        return station


# Default mix of station Calls in the load phase (shares of all messages). MeterValues dominate
# real fleets; starts and stops balance so that about half the connectors stay charging.
DEFAULT_MIX = {
    "MeterValues": 50,
    "Heartbeat": 15,
    "StatusNotification": 15,
    "Authorize": 8,
    "StartTransaction": 6,
    "StopTransaction": 6,
}
NEEDS_CHARGING = {"MeterValues", "StopTransaction"}
NEEDS_IDLE = {"StartTransaction", "Authorize"}


@dataclass
class LoadResult:
    sent: Counter = field(default_factory=Counter)
    skipped_busy: int = 0
    samples_acknowledged: int = 0
    window: float = 0.0
    answered_in_window: int = 0
    unanswered_at_end: int = 0


class LoadDriver:
    """Open loop: Calls leave at the target rate whether or not earlier ones were answered, so a
    slow CSMS shows up as latency instead of silently lowering the offered load. A station never
    has two Calls of its own outstanding (OCPP-J 4.1.1); when every eligible station is waiting
    for an answer, the message is counted as skipped (the CSMS is saturated)."""

    def __init__(self, stations: list[SimStation], *, rate: float, duration: float, samples: int,
                 mix: dict[str, float] | None = None, phase: str = "load"):
        self.rate = rate
        self.duration = duration
        self.samples = samples
        self.phase = phase
        mix = mix or DEFAULT_MIX
        self.actions = list(mix)
        self.weights = [mix[action] for action in self.actions]
        self.idle, self.charging = StationPool(), StationPool()
        for station in stations:
            if station.connected:
                self._release(station)
        self.result = LoadResult()
        self.tasks: set[asyncio.Task] = set()

    def _release(self, station: SimStation) -> None:
        if station.connected:
            (self.charging if station.charging else self.idle).add(station)

    def _pick(self, action: str) -> tuple[str, SimStation | None]:
        if action in NEEDS_CHARGING:
            pools = [self.charging]
        elif action in NEEDS_IDLE:
            pools = [self.idle]
        else:
            pools = random.sample([self.idle, self.charging], 2)
        for pool in pools:
            station = pool.pop_random()
            if station is not None:
                return action, station
        # No eligible station free: a Heartbeat from any free one keeps the offered rate.
        for pool in (self.idle, self.charging):
            station = pool.pop_random()
            if station is not None:
                return "Heartbeat", station
        return action, None

    async def _one(self, action: str, station: SimStation) -> None:
        try:
            if action == "MeterValues":
                acknowledged = await station.meter_values(self.phase, self.samples)
                self.result.samples_acknowledged += acknowledged  # not `+= await`: that reads before awaiting
            elif action == "Heartbeat":
                await station.heartbeat(self.phase)
            elif action == "StatusNotification":
                await station.status(self.phase)
            elif action == "Authorize":
                await station.authorize(self.phase)
            elif action == "StartTransaction":
                await station.start_transaction(self.phase)
            elif action == "StopTransaction":
                await station.stop_transaction(self.phase)
        finally:
            self._release(station)

    async def run(self, drain_timeout: float = ANSWER_TIMEOUT) -> LoadResult:
        started = time.monotonic()
        due_total = 0
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= self.duration:
                break
            due = int(elapsed * self.rate) + 1
            while due_total < due:
                due_total += 1
                action, station = self._pick(random.choices(self.actions, self.weights)[0])
                if station is None:
                    self.result.skipped_busy += 1
                    continue
                self.result.sent[action] += 1
                task = asyncio.get_running_loop().create_task(self._one(action, station))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            await asyncio.sleep(max(0.0, due_total / self.rate - (time.monotonic() - started)))
        self.result.window = time.monotonic() - started
        if self.tasks:
            done, pending = await asyncio.wait(set(self.tasks), timeout=drain_timeout)
            self.result.unanswered_at_end = len(pending)
            for task in pending:
                task.cancel()
        return self.result
