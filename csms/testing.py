"""What the tests drive the CSMS with: real node processes, a simulated station built on the `ocpp`
package's ChargePoint over a real socket, and the partner API over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests
import websockets
from django.conf import settings
from ocpp.messages import CallError as OcppCallError
from ocpp.messages import CallResult as OcppCallResult
from ocpp.v16 import ChargePoint

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_of(settings_dict: dict) -> str:
    """The URL of the database the tests run against, for a node process to share it."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class Node:
    """One `python -m csms.node` process, as production runs it."""

    def __init__(self, database_url: str, env: dict | None = None, name: str | None = None):
        self.port = free_port()
        self.name = name or f"test-node-{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "CSMS_NODE_NAME": self.name,
            "CSMS_CALL_TIMEOUT": "4",
            "CSMS_CELERY_EAGER": "1",
            # Every test's refused handshakes come from 127.0.0.1: a test of the limit sets its own.
            "CSMS_AUTH_FAILURE_BURST": "1000",
            "CSMS_LOG_LEVEL": os.environ.get("CSMS_TEST_NODE_LOG_LEVEL", "WARNING"),
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"csms-{self.name}.log"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Node:
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "csms.node"], cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited: {self.log_path.read_text()[-3000:]}")
            try:
                requests.get(f"{self.http}/api/schema/", timeout=1, allow_redirects=False)  # CSMS_HTTPS redirects
                return self
            except requests.RequestException:  # not listening yet, or its first (cold) schema took > 1 s
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"node did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def grant_send_calls(user):
    """Give a user the one permission to send Calls (csms.ocpp.permissions); returns it afresh."""
    from django.contrib.auth.models import Permission

    from csms.ocpp.permissions import SEND_CALLS

    app_label, codename = SEND_CALLS.split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)  # no cached permissions


class Api:
    """The partner REST API, with a token, over HTTP."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 40)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def call(self, station_id: str, action: str, payload: dict, wait: float = 15) -> dict:
        """Send a CSMS Call through the API and return it once finished (asserting it did)."""
        response = self.post(f"/api/v1/stations/{quote(station_id, safe='')}/calls/?wait={wait}",
                             json={"action": action, "payload": payload})
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()


def results(response: requests.Response) -> list:
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


class CallErrorReceived(Exception):
    def __init__(self, code: str, description: str, details: dict):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details


Answer = dict | Callable[[dict], dict] | CallErrorReceived | None

# What a well-behaved station answers to each CSMS Call unless a test says otherwise.
DEFAULT_ANSWERS: dict[str, Answer] = {
    "CancelReservation": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "ClearChargingProfile": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "GetCompositeSchedule": {"status": "Rejected"},
    "GetConfiguration": {"configurationKey": [], "unknownKey": []},
    "GetDiagnostics": {},
    "GetLocalListVersion": {"listVersion": 0},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Accepted"},
    "ReserveNow": {"status": "Accepted"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "Accepted"},
    "SetChargingProfile": {"status": "Accepted"},
    "TriggerMessage": {"status": "Accepted"},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
    "CertificateSigned": {"status": "Accepted"},
    "DeleteCertificate": {"status": "Accepted"},
    "ExtendedTriggerMessage": {"status": "Accepted"},
    "GetInstalledCertificateIds": {"status": "NotFound"},
    "GetLog": {"status": "Accepted"},
    "InstallCertificate": {"status": "Accepted"},
    "SignedUpdateFirmware": {"status": "Accepted"},
}


class SimulatedStation(ChargePoint):
    """The `ocpp` package's ChargePoint as a test station.

    It answers every CSMS Call from `answers` (a payload, a function of the request payload, a
    CallErrorReceived to answer with a CallError, or None to stay silent) and records them in
    `received`. `send(action, payload)` sends a station Call as raw OCPP (so tests control every
    byte) and returns the CSMS's payload or raises CallErrorReceived.
    """

    def __init__(self, station_id: str, connection):
        super().__init__(station_id, connection, response_timeout=20)
        self.answers: dict[str, Answer] = dict(DEFAULT_ANSWERS)
        self.received: list[tuple[str, dict]] = []
        self._received_changed = asyncio.Event()
        # True: each CSMS Call is answered from its own task, so a slow answer does not hold up the
        # receive loop (to see what the CSMS sends meanwhile).
        self.answer_in_background = False
        self._background: set[asyncio.Task] = set()

    async def route_message(self, raw_msg):
        frame = json.loads(raw_msg)
        if isinstance(frame, list) and frame and frame[0] == 2:
            if self.answer_in_background:
                task = asyncio.create_task(self._answer(frame[1], frame[2], frame[3]))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            else:
                await self._answer(frame[1], frame[2], frame[3])
            return
        await super().route_message(raw_msg)

    async def _answer(self, message_id: str, action: str, payload: dict) -> None:
        self.received.append((action, payload))
        self._received_changed.set()
        answer = self.answers.get(action, CallErrorReceived("NotImplemented", f"{action} not simulated", {}))
        if callable(answer) and not isinstance(answer, CallErrorReceived):
            answer = answer(payload)
            if asyncio.iscoroutine(answer):
                answer = await answer
        if answer is None:
            return
        if isinstance(answer, CallErrorReceived):
            frame = [4, message_id, answer.code, answer.description, answer.details]
        else:
            frame = [3, message_id, answer]
        await self._connection.send(json.dumps(frame))

    async def wait_for_call(self, action: str, timeout: float = 10, count: int = 1) -> dict:
        """Wait until the CSMS has sent `count` Calls of `action`; return the last one's payload."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [payload for name, payload in self.received if name == action]
            if len(matching) >= count:
                return matching[count - 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {action} received; got {[name for name, _ in self.received]}")
            self._received_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._received_changed.wait(), remaining)

    async def send(self, action: str, payload: dict | None = None, message_id: str | None = None) -> dict:
        message_id = message_id or uuid.uuid4().hex
        reply = await self.send_frame(json.dumps([2, message_id, action, payload if payload is not None else {}]), message_id)
        if isinstance(reply, OcppCallError):
            raise CallErrorReceived(reply.error_code, reply.error_description, reply.error_details)
        return reply.payload

    async def send_frame(self, text: str, message_id: str | None = None) -> OcppCallResult | OcppCallError:
        """Send any text and return the CallResult or CallError answering it (by id when given)."""
        async with self._call_lock:
            await self._connection.send(text)
            deadline = time.monotonic() + self._response_timeout
            while True:
                reply = await asyncio.wait_for(self._response_queue.get(), max(0.01, deadline - time.monotonic()))
                if message_id is None or reply.unique_id == message_id:
                    return reply

    async def boot(self, vendor: str = "TestVendor", model: str = "TestModel", **extra) -> dict:
        return await self.send("BootNotification", {"chargePointVendor": vendor, "chargePointModel": model, **extra})


@contextlib.asynccontextmanager
async def connect_station(node: Node | None, station_id: str, *, subprotocols=("ocpp1.6",), boot: bool = False,
                          headers: dict | None = None, base_url: str | None = None, **connect_options):
    """Connect a SimulatedStation to `node` (or to `base_url`, e.g. a TLS terminator's wss:// with
    `ssl=` among the options); it answers CSMS Calls until the block ends."""
    url = f"{base_url or node.ws}/ocpp/{quote(station_id, safe='')}"
    async with websockets.connect(url, subprotocols=list(subprotocols), additional_headers=headers or {},
                                  open_timeout=10, **connect_options) as connection:
        station = SimulatedStation(station_id, connection)
        task = asyncio.create_task(station.start())
        try:
            if boot:
                await station.boot()
            yield station
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def db(func):
    """Run ORM code from an async test; its connection goes back to the pool afterwards."""
    from channels.db import database_sync_to_async

    return database_sync_to_async(func)


async def eventually(check: Callable[[], object], timeout: float = 10, interval: float = 0.05):
    """Await until `check()` (sync, run in a thread for the ORM) returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await db(check)()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def ocpi_reference() -> Path:
    """The OCPI 2.2.1 specification and its examples (`shared/reference/ocpi-2.2.1`): beside the clone
    or a directory above it (CI, worktrees), or where CSMS_OCPI_REFERENCE says. Tests that read it
    fail, never skip, when it is not there."""
    configured = os.environ.get("CSMS_OCPI_REFERENCE")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve().parent.parent
    for directory in (here, *here.parents):
        candidate = directory / "shared" / "reference" / "ocpi-2.2.1"
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/reference/ocpi-2.2.1")
