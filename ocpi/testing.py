"""A small eMSP over real HTTP, for the tests: it registers with us or lets us register with it,
receives what we push (locations, sessions, CDRs, tariffs, command results), answers real-time
authorization, and calls our endpoints. Standard library only; every request it gets is recorded.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

VERSION = "2.2.1"


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def token_header(token: str) -> dict:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict
    body: object


@dataclass
class FakeEmsp:
    """An eMSP (country NL, party EMS by default) listening on 127.0.0.1 at a free port."""

    country_code: str = "NL"
    party_id: str = "EMS"
    name: str = "Test eMSP"
    # The token our CSMS must present (its B when we register with it; A before that).
    accepted_tokens: set = field(default_factory=set)
    # The token it presents to the CSMS (token A given by the CSMS, then C).
    token_for_csms: str = ""
    received: list = field(default_factory=list)
    # tokens/{uid}/authorize answers: uid -> AuthorizationInfo dict, or "timeout" to never answer in time.
    authorizations: dict = field(default_factory=dict)
    authorize_delay: float = 0.0
    # (method, path regex) -> (http status, envelope) to answer instead of success.
    failures: dict = field(default_factory=dict)

    def __post_init__(self):
        self._lock = threading.Condition()
        self.token_a_for_csms = secrets.token_urlsafe(16)  # what an eMSP operator hands to the CPO
        self.accepted_tokens.add(self.token_a_for_csms)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what it offers -----------------------------------------------------------------------------

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    def credentials(self, token: str) -> dict:
        return {"token": token, "url": self.versions_url, "roles": [{
            "role": "EMSP", "party_id": self.party_id, "country_code": self.country_code,
            "business_details": {"name": self.name}}]}

    def endpoints(self) -> list[dict]:
        base = f"{self.url}/ocpi/{VERSION}"
        receivers = ["locations", "sessions", "cdrs", "tariffs"]
        return ([{"identifier": "credentials", "role": "SENDER", "url": f"{base}/credentials"},
                 {"identifier": "credentials", "role": "RECEIVER", "url": f"{base}/credentials"}]
                + [{"identifier": m, "role": "RECEIVER", "url": f"{base}/{m}"} for m in receivers]
                + [{"identifier": m, "role": "SENDER", "url": f"{base}/{m}"} for m in ("tokens", "commands")])

    # --- waiting on what it received --------------------------------------------------------------------

    def requests_to(self, method: str, pattern: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == method and re.search(pattern, r.path)]

    def wait_for(self, method: str, pattern: str, *, count: int = 1, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.received if r.method == method and re.search(pattern, r.path)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(r.method, r.path) for r in self.received]
                    raise AssertionError(f"no {count} x {method} {pattern} within {timeout} s; received {seen}")
                self._lock.wait(remaining)

    # --- the handshake, as the initiating party -----------------------------------------------------

    def register_with(self, csms_versions_url: str, token_a: str) -> dict:
        """Register with the CSMS: read its versions with token A, POST our credentials (token B), keep
        its token C. Returns the CSMS's credentials."""
        versions = self.get(csms_versions_url, token_a)["data"]
        details_url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = self.get(details_url, token_a)["data"]
        credentials_url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
        token_b = secrets.token_urlsafe(24)
        self.accepted_tokens.add(token_b)
        response = requests.post(credentials_url, json=self.credentials(token_b), headers=token_header(token_a),
                                 timeout=30)
        body = response.json()
        assert response.status_code == 200 and body["status_code"] == 1000, (response.status_code, body)
        self.token_for_csms = body["data"]["token"]
        self.accepted_tokens.discard(self.token_a_for_csms)
        return body["data"]

    # --- calling the CSMS ------------------------------------------------------------------------------

    def get(self, url: str, token: str | None = None, **params) -> dict:
        response = requests.get(url, headers=token_header(token or self.token_for_csms), params=params, timeout=30)
        body = response.json()
        body["_http_status"] = response.status_code
        body["_headers"] = dict(response.headers)
        return body

    def send(self, method: str, url: str, body=None, token: str | None = None) -> dict:
        response = requests.request(method, url, json=body, headers=token_header(token or self.token_for_csms),
                                    timeout=30)
        answer = response.json()
        answer["_http_status"] = response.status_code
        answer["_headers"] = dict(response.headers)
        return answer

    # --- serving ------------------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, body) -> tuple[int, dict]:
        for (fail_method, pattern), answer in self.failures.items():
            if fail_method == method and re.search(pattern, path):
                return answer
        ok = {"status_code": 1000, "timestamp": now_iso()}
        if path == "/ocpi/versions":
            return 200, {**ok, "data": [{"version": VERSION, "url": f"{self.url}/ocpi/{VERSION}"}]}
        if path == f"/ocpi/{VERSION}":
            return 200, {**ok, "data": {"version": VERSION, "endpoints": self.endpoints()}}
        if path == f"/ocpi/{VERSION}/credentials":
            if method in ("POST", "PUT"):  # the CSMS registers with us (or updates): keep its token C
                self.token_for_csms = body["token"]
                token_c = secrets.token_urlsafe(24)
                self.accepted_tokens.add(token_c)
                return 200, {**ok, "data": self.credentials(token_c)}
            if method == "DELETE":
                return 200, ok
            return 200, {**ok, "data": self.credentials("")}
        match = re.fullmatch(rf"/ocpi/{VERSION}/tokens/([^/]+)/authorize", path)
        if match and method == "POST":
            uid = match.group(1)
            if self.authorize_delay:
                time.sleep(self.authorize_delay)
            info = self.authorizations.get(uid)
            if info is None:
                return 404, {"status_code": 2004, "status_message": "unknown token", "timestamp": now_iso()}
            return 200, {**ok, "data": info}
        return 200, ok

    def _handler_class(self):
        emsp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                auth = self.headers.get("Authorization", "")
                token = ""
                if auth.startswith("Token "):
                    try:
                        token = base64.b64decode(auth[6:]).decode()
                    except ValueError:
                        token = ""
                with emsp._lock:
                    emsp.received.append(Received(self.command, parts.path, parts.query, dict(self.headers), body))
                    emsp._lock.notify_all()
                if token not in emsp.accepted_tokens:
                    status, answer = 401, {"status_code": 2000, "status_message": "unknown token",
                                           "timestamp": now_iso()}
                else:
                    status, answer = emsp._answer(self.command, parts.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler
