"""`python -m csms.node`: one production node (Daphne) on $HOST:$PORT.

Daphne is extended in two ways (docs/adr/0002-daphne-node.md):
- the ASGI "WebSocket Denial Response" extension, so that an unknown chargeBoxId is refused with
  HTTP 404 and bad credentials with 401 at the handshake (plain Daphne can only answer 403);
- WebSockets never time out (Daphne's default closes every socket after a day).
The node also reports itself alive, so that stations held by a dead node are marked offline
(csms/ocpp/lifecycle.py), drains on SIGTERM, and, without REDIS_URL (no Celery beat), runs the
periodic jobs in process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from http import HTTPStatus

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")

import django  # noqa: E402

django.setup()

import daphne.server  # noqa: E402  (installs the asyncio Twisted reactor)
from autobahn.websocket.types import ConnectionDeny  # noqa: E402
from daphne.cli import CommandLineInterface  # noqa: E402
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol  # noqa: E402
from django.conf import settings  # noqa: E402
from twisted.internet import reactor  # noqa: E402

logger = logging.getLogger("csms.node")

PROTOCOL_CLOSE_CODES = frozenset({1001, 1008, 1009, 1011})
LISTEN_BACKLOG = 4096
HANDSHAKE_TIMEOUT = 30


class DenialWebSocketProtocol(WebSocketProtocol):
    """Daphne's protocol plus `websocket.http.response.*`: a refused handshake gets its status."""

    denial_status: int | None = None

    def handle_reply(self, message):
        kind = message.get("type")
        if kind == "websocket.http.response.start":
            if hasattr(self, "handshake_deferred"):
                self.denial_status = int(message["status"])
            return
        if kind == "websocket.http.response.body":
            if self.denial_status is not None and not message.get("more_body") and hasattr(self, "handshake_deferred"):
                status = self.denial_status
                self.handshake_deferred.errback(ConnectionDeny(code=status, reason=HTTPStatus(status).phrase))
                del self.handshake_deferred
                self.server.protocol_disconnected(self)
            return
        super().handle_reply(message)


    def serverClose(self, code=None):
        # Autobahn lets an application close only with 1000 or 3000-4999; a server may close with
        # 1001 (going away: the node drains) and 1009 (message too big) too (RFC 6455 7.4.1).
        if code in PROTOCOL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
            return
        super().serverClose(code)


class DenialWebSocketFactory(WebSocketFactory):
    protocol = DenialWebSocketProtocol


class NodeServer(daphne.server.Server):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The consumer refuses frames over CSMS_MAX_FRAME_BYTES itself (close 1009, a security event,
        # a log line); the protocol's own cap, far above it, only bounds memory.
        self.websocket_max_message_size = self.websocket_max_frame_size = settings.CSMS_MAX_FRAME_BYTES * 4
        self.ports = []

    def run(self):
        # Server.run builds its WebSocketFactory by module-level name.
        daphne.server.WebSocketFactory = DenialWebSocketFactory
        reactor.callWhenRunning(self._start_background_jobs)
        super().run()

    def listen_success(self, port):
        self.ports.append(port)
        return super().listen_success(port)

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope.setdefault("extensions", {})["websocket.http.response"] = {}
        return super().create_application(protocol, scope)

    def _start_background_jobs(self):
        from csms.ocpp.lifecycle import report_alive_forever

        # Beyond its own cap the protocol closes with 1009 instead of dropping the TCP connection.
        self.ws_factory.setProtocolOptions(failByDrop=False)
        signal.signal(signal.SIGTERM, lambda signum, frame: reactor.callFromThread(self._drain_then_stop))
        from csms.nodeservices import start_all

        loop = asyncio.get_event_loop()
        self._node_task = loop.create_task(report_alive_forever())
        start_all(loop)
        if not settings.REDIS_URL:
            from csms.scheduler import run_schedule

            self._schedule_task = loop.create_task(run_schedule())

    def _drain_then_stop(self):
        from csms.ocpp.lifecycle import drain, state

        if state.draining:
            return
        for port in self.ports:
            port.stopListening()  # new connections go to other nodes behind the load balancer
        task = asyncio.get_event_loop().create_task(drain())
        task.add_done_callback(lambda _: reactor.stop())


class NodeCommandLineInterface(CommandLineInterface):
    server_class = NodeServer


def main(argv: list[str] | None = None) -> None:
    from csms.ocpp.lifecycle import node_start

    host, port = settings.HOST, str(settings.PORT)
    released = node_start()
    if released:
        logger.info("node %s restarted: %d stations it held marked offline", settings.CSMS_NODE_NAME, released)
    args = [
        # A reconnect storm sends thousands of handshakes at once: a deep accept queue (Twisted's
        # default is 50) and time for admission to go through the writer's groups.
        "--endpoint", f"tcp:port={port}:interface={host.strip('[]').replace(':', chr(92) + ':')}:backlog={LISTEN_BACKLOG}",
        "--websocket_connect_timeout", str(HANDSHAKE_TIMEOUT),
        "--websocket_timeout", "-1",
        # No --proxy-headers: Daphne would believe X-Forwarded-For from anyone. csms/proxies.py
        # believes it (and the client certificate header) from CSMS_TRUSTED_PROXIES only.
        "--application-close-timeout", "5",
        "-v", str(settings.CSMS_DAPHNE_VERBOSITY),
        *(argv or []),
        "csms.asgi:application",
    ]
    print(f"CSMS node {settings.CSMS_NODE_NAME} serving http://{host}:{port}/ and ws://{host}:{port}/ocpp/{{chargeBoxId}}", flush=True)
    NodeCommandLineInterface().run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
