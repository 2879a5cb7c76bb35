"""`python -m csms.node`: one production node (Daphne) on $HOST:$PORT.

Daphne is extended in two ways (docs/adr/0002-daphne-node.md):
- the ASGI "WebSocket Denial Response" extension, so that an unknown chargeBoxId is refused with
  HTTP 404 and bad credentials with 401 at the handshake (plain Daphne can only answer 403);
- WebSockets never time out (Daphne's default closes every socket after a day).
The node also reports itself alive, so that stations held by a dead node are marked offline, and,
without REDIS_URL (no Celery beat), runs the periodic jobs in process.
"""

from __future__ import annotations

import asyncio
import logging
import os
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

NODE_REPORT_INTERVAL = int(os.environ.get("CSMS_NODE_REPORT_INTERVAL", "20"))


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


class DenialWebSocketFactory(WebSocketFactory):
    protocol = DenialWebSocketProtocol


class NodeServer(daphne.server.Server):
    def run(self):
        # Server.run builds its WebSocketFactory by module-level name.
        daphne.server.WebSocketFactory = DenialWebSocketFactory
        reactor.callWhenRunning(self._start_background_jobs)
        super().run()

    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            scope.setdefault("extensions", {})["websocket.http.response"] = {}
        return super().create_application(protocol, scope)

    def _start_background_jobs(self):
        loop = asyncio.get_event_loop()
        self._node_task = loop.create_task(_report_alive())
        if not settings.REDIS_URL:
            from csms.scheduler import run_schedule

            self._schedule_task = loop.create_task(run_schedule())


async def _report_alive():
    from csms.db import run_db
    from csms.ocpp import directory
    from csms.ocpp.consumer import held_stations

    while True:
        try:
            await run_db(directory.get().node_report, name=settings.CSMS_NODE_NAME, held=dict(held_stations))
        except Exception:
            logger.exception("could not report node %s alive", settings.CSMS_NODE_NAME)
        await asyncio.sleep(NODE_REPORT_INTERVAL)


class NodeCommandLineInterface(CommandLineInterface):
    server_class = NodeServer


def main(argv: list[str] | None = None) -> None:
    from csms.ocpp import directory

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    released = directory.get().node_started(name=settings.CSMS_NODE_NAME)
    if released:
        logger.info("node %s restarted: %d stations it held marked offline", settings.CSMS_NODE_NAME, released)
    args = [
        "--bind", host,
        "--port", port,
        "--websocket_timeout", "-1",
        "--proxy-headers",
        "--application-close-timeout", "5",
        "-v", os.environ.get("CSMS_DAPHNE_VERBOSITY", "1"),
        *(argv or []),
        "csms.asgi:application",
    ]
    print(f"CSMS node {settings.CSMS_NODE_NAME} serving http://{host}:{port}/ and ws://{host}:{port}/ocpp/{{chargeBoxId}}", flush=True)
    NodeCommandLineInterface().run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
