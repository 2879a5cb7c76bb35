"""A real HTTP server on this machine that receives webhooks, answering as a test tells it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers["X-CSMS-Event"]

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["X-CSMS-Signature"], expected)


class Receiver:
    """Records every POST; answers the statuses queued in `answers` (then 200), after `delay` s."""

    def __init__(self):
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.delay = 0.0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay)
                with receiver._changed:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append(Received(dict(self.headers), body))
                    receiver._changed.notify_all()
                reply = b'{"ok": true}' if status < 300 else b"receiver says no " + b"x" * 1000
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the CSMS gave up waiting (a timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, name: str | None = None) -> list[Received]:
        return [r for r in self.received if name is None or r.event == name]

    def wait_for(self, predicate, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"not received in time; got {[r.event for r in self.received]}")
                self._changed.wait(remaining)
        return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.close()
