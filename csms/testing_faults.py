"""What the fault tests break things with: their own Redis and PostgreSQL on spare ports (never the
shared ones), and stations that behave as real charge points do when things break.

`DurableStation` keeps each transaction message (StartTransaction, StopTransaction, MeterValues)
queued and sends it again, with the same messageId, until the CSMS answers it with a CallResult,
across disconnections and reconnections to any node: exactly what OCPP asks of a station, and what
makes "no acknowledged message lost or stored twice" a property worth testing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import websockets

from .testing import free_port

PG_BIN = Path(os.environ.get("CSMS_PG_BIN") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin")))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- Services of our own ----------------------------------------------------------------------------


class RedisProcess:
    """A redis-server on a spare port that a test may kill -9 and start again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    stop = kill


class PostgresProcess:
    """A PostgreSQL cluster of the test's own (initdb as the postgres user), on a spare port."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="csms-fault-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/csms"

    def _as_postgres(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> PostgresProcess:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                          "--no-sync", "-E", "UTF8")
        self.start()
        self._as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "csms")
        return self

    def start(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          "-o", f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                          "start")

    def stop(self, mode: str = "immediate") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_for_port(port: int, timeout: float = 15) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# --- A station that behaves -------------------------------------------------------------------------


@dataclass
class Acknowledged:
    message_id: str
    action: str
    payload: dict
    response: dict


@dataclass
class DurableStation:
    """A raw-websocket station that never gives up a transaction message until it is answered."""

    station_id: str
    urls: list[str]  # node base URLs (ws://host:port); reconnects go round them
    id_tag: str = "FAULT-TAG"
    acknowledged: list[Acknowledged] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (action, CallError code)
    connects: int = 0
    close_codes: list[int] = field(default_factory=list)
    received_calls: list[tuple[str, dict]] = field(default_factory=list)
    node_index: int = 0
    answer_latencies: list[float] = field(default_factory=list)
    _ws: object = None
    _waiting: dict = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _stopped: bool = False
    _reader: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"{self.urls[self.node_index % len(self.urls)]}/ocpp/{self.station_id}"

    async def run_connection(self) -> None:
        """Stay connected: reconnect (to the next node) whenever the socket closes."""
        while not self._stopped:
            try:
                async with websockets.connect(self.url, subprotocols=["ocpp1.6"], open_timeout=5,
                                              ping_interval=None, close_timeout=2) as ws:
                    self._ws = ws
                    self.connects += 1
                    self._connected.set()
                    await self._read(ws)
            except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError):
                pass
            finally:
                self._connected.clear()
                self._ws = None
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(ConnectionError("disconnected"))
                self._waiting.clear()
            if not self._stopped:
                self.node_index += 1
                await asyncio.sleep(0.2)

    async def _read(self, ws) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    self.received_calls.append((frame[2], frame[3]))
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                elif frame[1] in self._waiting and not self._waiting[frame[1]].done():
                    self._waiting[frame[1]].set_result(frame)
        except websockets.exceptions.ConnectionClosed:
            pass
        if ws.close_code is not None:  # the code the CSMS closed with (None: the TCP connection just died)
            self.close_codes.append(ws.close_code)

    async def call(self, action: str, payload: dict, *, message_id: str | None = None,
                   timeout: float = 10) -> list:
        """One attempt: the CSMS's frame ([3, ...] or [4, ...]); raises ConnectionError when the socket
        is gone or nothing came back in time."""
        await asyncio.wait_for(self._connected.wait(), timeout)
        message_id = message_id or f"{self.station_id}-{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        started = time.monotonic()
        try:
            await self._ws.send(json.dumps([2, message_id, action, payload]))
            frame = await asyncio.wait_for(future, timeout)
        except (websockets.exceptions.WebSocketException, asyncio.TimeoutError, AttributeError) as exc:
            raise ConnectionError(str(exc)) from None
        finally:
            self._waiting.pop(message_id, None)
        self.answer_latencies.append(time.monotonic() - started)
        return frame

    async def deliver(self, action: str, payload: dict, give_up_after: float = 120) -> dict:
        """Send a transaction message until it is answered (same messageId every time)."""
        message_id = f"{self.station_id}-{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            try:
                frame = await self.call(action, payload, message_id=message_id)
            except ConnectionError:
                await asyncio.sleep(0.2)
                continue
            if frame[0] == 3:
                self.acknowledged.append(Acknowledged(message_id, action, payload, frame[2]))
                return frame[2]
            self.errors.append((action, frame[2]))
            await asyncio.sleep(0.3)  # a CallError: the CSMS could not take it now; try again
        raise AssertionError(f"{self.station_id}: {action} {message_id} never answered")

    async def charge(self, sessions: int, samples: int, interval: float = 0.05) -> None:
        """Charging sessions: StartTransaction, MeterValues every `interval`, StopTransaction."""
        meter = 1000
        for _ in range(sessions):
            start = await self.deliver("StartTransaction", {"connectorId": 1, "idTag": self.id_tag,
                                                            "meterStart": meter, "timestamp": now_iso()})
            transaction_id = start["transactionId"]
            for _ in range(samples):
                meter += 7
                await self.deliver("MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": [
                    {"timestamp": now_iso(), "sampledValue": [{"value": str(meter)}]}]})
                await asyncio.sleep(interval)
            await self.deliver("StopTransaction", {"transactionId": transaction_id, "meterStop": meter,
                                                   "timestamp": now_iso()})

    def acknowledged_of(self, action: str) -> list[Acknowledged]:
        return [ack for ack in self.acknowledged if ack.action == action]

    async def stop(self) -> None:
        self._stopped = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()


@contextlib.asynccontextmanager
async def running(stations: list[DurableStation]):
    """Keep every station connected (reconnecting as needed) for the block."""
    tasks = [asyncio.create_task(station.run_connection()) for station in stations]
    try:
        await asyncio.wait_for(asyncio.gather(*(s._connected.wait() for s in stations)), 30)
        yield stations
    finally:
        for station in stations:
            await station.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- The summary `make faults` prints ----------------------------------------------------------------


# One file per test run (the pytest process), so that runs side by side do not mix their tables.
REPORT_PATH = Path(os.environ.get("CSMS_FAULT_REPORT") or Path(tempfile.gettempdir()) / f"csms-fault-report-{os.getpid()}.jsonl")


def report(scenario: str, **figures) -> None:
    """Record one scenario's figures for the summary table."""
    with REPORT_PATH.open("a") as handle:
        handle.write(json.dumps({"scenario": scenario, **figures}) + "\n")
