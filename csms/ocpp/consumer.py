"""The WebSocket consumer that speaks OCPP-J 1.6 with one charge station.

It is a Channels consumer with its own receive loop (docs/adr/0080-surviving-outages.md,
docs/adr/0090-station-path-throughput.md):
- frames are read straight from the ASGI queue, without Channels' per-message dispatch (a thread
  hop to close old database connections on every frame);
- it has no channel-layer channel of its own: the node's mailbox (mailbox.py) hands it the events
  meant for it, so a channel-layer outage never ends a connection;
- station Calls go to the node's writer (writer.py), which commits them in groups and answers each
  once its data is committed;
- CSMS Calls run one at a time from a task made only while there are some, so that waiting for the
  station's answer never blocks the receive loop through which that answer arrives (DESIGN.md);
- whatever ends the connection (the station, a replacement, the operator, an error, the node
  stopping), the `finally` of the loop does the bookkeeping: the station is shown offline unless a
  newer connection holds it, and its unfinished Calls end as errors.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from functools import partial

from channels.consumer import AsyncConsumer
from django.conf import settings

from csms import metrics
from csms.db import run_db
from csms.proxies import over_tls

from . import calls, directory, framing, preauth
from .errors import ErrorCode, OCPPError
from .limits import RateLimit
from .mailbox import ChannelLayerUnavailable, mailbox
from .models import CallStatus
from .msglog import buffer as message_log
from .schemas import ALL_ACTIONS, STATION_ACTIONS, validate_request, validate_response
from .writer import db_outage, get_writer, is_outage

logger = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"
# Seconds a handshake waits for its admission (inside Daphne's 30 s handshake timeout, csms/node.py).
ADMISSION_WAIT = 20
# RFC 6455 close codes.
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_TOO_BIG = 1000, 1001, 1009

_identity_limit: RateLimit | None = None
_address_limit: RateLimit | None = None
_failure_limit: RateLimit | None = None


def connect_limits() -> tuple[RateLimit, RateLimit]:
    global _identity_limit, _address_limit
    if _identity_limit is None:
        _identity_limit = RateLimit(burst=settings.CSMS_CONNECT_BURST_PER_STATION,
                                    per_minute=settings.CSMS_CONNECT_RATE_PER_STATION)
        _address_limit = RateLimit(burst=settings.CSMS_CONNECT_BURST_PER_ADDRESS,
                                   per_minute=settings.CSMS_CONNECT_RATE_PER_ADDRESS)
    return _identity_limit, _address_limit


def failure_limit() -> RateLimit:
    """Failed authentications per remote address: once spent, that address is refused (429) before
    any database work, so guessing passwords or certificates costs the node nothing."""
    global _failure_limit
    if _failure_limit is None:
        _failure_limit = RateLimit(burst=settings.CSMS_AUTH_FAILURE_BURST, per_minute=settings.CSMS_AUTH_FAILURE_RATE)
    return _failure_limit


def choose_subprotocol(offered: list[str]) -> str | None:
    for candidate in offered:
        if candidate.strip().lower() == SUBPROTOCOL:
            return candidate.strip()
    return None


def held_stations() -> dict[str, str]:
    """The stations whose sockets this node holds now: {station_id: address}."""
    return {conn.station_id: conn.address for conn in list(mailbox.connections.values()) if conn.address}


def connections_busy() -> int:
    """Station Calls being processed right now (a draining node waits for them)."""
    return sum(conn.busy for conn in list(mailbox.connections.values()))


async def deny_handshake(send, scope, status: int, reason: str, headers: list | None = None) -> None:
    """Refuse the WebSocket handshake with an HTTP status (ASGI WebSocket Denial Response)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain"), *(headers or [])]})
        await send({"type": "websocket.http.response.body", "body": reason.encode()})
    else:  # a server without the extension can only answer 403
        await send({"type": "websocket.close"})


class OCPPConsumer(AsyncConsumer):
    station_id: str = ""
    address: str = ""  # set while the station's socket is registered with the node
    security_profile: int | str = ""
    # Why the connection ended, for the log line and the metric: the station closed it unless we did.
    end_reason = "closed"

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.base_send = send
        message = await receive()
        if message["type"] != "websocket.connect" or not await self._connect():
            return
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    await self._on_frame(message.get("text"), message.get("bytes"))
                elif kind == "websocket.disconnect":
                    self.close_code = message.get("code")
                    break
        except BaseException:
            self.end_reason = "error"
            raise
        finally:
            await self._disconnected()

    # --- connection ----------------------------------------------------------------------------

    async def _connect(self) -> bool:
        self.station_id = self.scope["url_route"]["kwargs"]["charge_box_id"]
        client = self.scope.get("client") or ["", ""]
        by_identity, by_address = connect_limits()
        for limit, key in ((by_identity, self.station_id), (by_address, client[0])):
            if not limit.allow(key):
                metrics.station_connections.labels(outcome="refused_rate_limited").inc()
                logger.info("refused %s from %s: reconnecting too often", self.station_id, client[0],
                            extra={"event": "station_refused", "station_id": self.station_id, "reason": "rate_limited",
                                   "remote_address": client[0]})
                await deny_handshake(self.base_send, self.scope, 429, "too many connection attempts",
                                     [(b"retry-after", str(limit.retry_after(key)).encode())])
                return False
        failures = failure_limit()
        if failures.blocked(client[0]):
            logger.info("refused %s from %s: too many failed authentications", self.station_id, client[0])
            await deny_handshake(self.base_send, self.scope, 429, "too many failed authentication attempts",
                                 [(b"retry-after", str(failures.retry_after(client[0])).encode())])
            return False
        # csms/proxies.py has removed the client certificate header unless a trusted terminator set it.
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        subprotocol = choose_subprotocol(self.scope.get("subprotocols", []))
        self.connection_id = uuid.uuid4().hex[:16]
        self.busy = 0
        self.outbound: collections.deque[int] = collections.deque()
        self.outbound_task: asyncio.Task | None = None
        self.awaiting: tuple[str, asyncio.Future] | None = None
        self.current_call: int | None = None
        await mailbox.ensure_started()
        admit = partial(
            directory.get().admit,
            charge_box_id=self.station_id,
            authorization=headers.get("authorization"),
            client_certificate=headers.get(settings.CSMS_CLIENT_CERT_HEADER.lower()),
            client_certificate_verdict=headers.get(f"{settings.CSMS_CLIENT_CERT_HEADER.lower()}-verify"),
            tls=over_tls(self.scope),
            remote_address=client[0],
        )
        connect = partial(directory.get().connected, station_id=self.station_id,
                          channel_name=mailbox.address(self.connection_id), node=settings.CSMS_NODE_NAME,
                          subprotocol=subprotocol, remote_address=f"{client[0]}:{client[1]}")

        def admit_and_connect():
            admission = admit()
            if admission.refuse_status or subprotocol is None:
                return admission, None
            return admission, connect()

        if subprotocol is not None:
            # Registered before the database says so: the node's report must never miss a socket it holds.
            self.address = mailbox.register(self)
        try:
            # With the writer's next group: a reconnect storm's thousands of handshakes go in a few
            # transactions, and station rows are written by one thread per node (writer.py).
            admission, previous = await asyncio.wait_for(get_writer().run(self.station_id, admit_and_connect),
                                                         ADMISSION_WAIT)
        except Exception as exc:
            self._unregister()
            return await self._refuse_unavailable(exc)
        if admission.refuse_status:
            self._unregister()
            if admission.refuse_status == 401:
                failures.spend(client[0])
            outcome = {404: "refused_unknown", 401: "refused_credentials"}.get(admission.refuse_status,
                                                                              f"refused_{admission.refuse_status}")
            metrics.station_connections.labels(outcome=outcome).inc()
            logger.info("refused %s from %s: %s", self.station_id, client[0], admission.reason,
                        extra={"event": "station_refused", "station_id": self.station_id, "reason": outcome,
                               "remote_address": client[0]})
            await deny_handshake(self.base_send, self.scope, admission.refuse_status, admission.reason)
            return False
        if subprotocol is None:
            metrics.station_connections.labels(outcome="refused_subprotocol").inc()
            # OCPP-J 4.1.2: complete the handshake without a subprotocol, then close.
            await self.base_send({"type": "websocket.accept"})
            await self.base_send({"type": "websocket.close", "code": CLOSE_NORMAL})
            return False
        self.registration_status = admission.registration_status
        self.security_profile = admission.security_profile
        await self.base_send({"type": "websocket.accept", "subprotocol": subprotocol})
        if previous:
            await self._tell(previous, {"type": "station.replaced"})
        metrics.station_connections.labels(outcome="accepted").inc()
        logger.info("station %s connected (%s)", self.station_id, subprotocol,
                    extra={"event": "station_connected", "station_id": self.station_id, "node": settings.CSMS_NODE_NAME,
                           "remote_address": client[0]})
        return True

    def _unregister(self) -> None:
        if self.address:
            mailbox.unregister(self)
            self.address = ""

    async def _refuse_unavailable(self, exc: Exception) -> bool:
        metrics.station_connections.labels(outcome="refused_unavailable").inc()
        if is_outage(exc):
            db_outage.failed(exc)
        else:
            logger.exception("could not admit %s", self.station_id)
        await deny_handshake(self.base_send, self.scope, 503, "the CSMS cannot take connections right now")
        return False

    async def _tell(self, address: str, message: dict) -> None:
        try:
            await mailbox.send(address, message)
        except ChannelLayerUnavailable:
            pass  # logged by the mailbox; the older socket closes on its own (pings) or at its next frame

    async def _disconnected(self) -> None:
        if not self.address:
            return
        mailbox.unregister(self)
        address, self.address = self.address, ""
        if self.outbound_task is not None:
            self.outbound_task.cancel()
        unfinished = [] if self.current_call is None else [self.current_call]
        unfinished.extend(self.outbound)
        self.outbound.clear()
        # Recorded by the writer with its next group, without holding this connection's end up (a
        # reconnect storm ends thousands at once). Should that fail, the node's next report marks the
        # station offline (it no longer holds it) and the stale-call job ends its calls.
        get_writer().run_later(self.station_id, partial(_disconnection_record, self.station_id, address, unfinished))
        metrics.station_disconnects.labels(reason=self.end_reason).inc()
        logger.info("station %s disconnected (%s, %s)", self.station_id, self.end_reason,
                    getattr(self, "close_code", None),
                    extra={"event": "station_disconnected", "station_id": self.station_id,
                           "node": settings.CSMS_NODE_NAME, "reason": self.end_reason,
                           "code": getattr(self, "close_code", None)})

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        try:
            await self.base_send({"type": "websocket.close", "code": code})
        except Exception:  # already gone
            pass

    # --- events from the node's mailbox (on the event loop) -------------------------------------

    def on_event(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "ocpp.call":
            self._enqueue_call(message["call_id"])
        elif kind == "station.replaced":
            logger.info("station %s: connection replaced by a newer one", self.station_id)
            self.end_reason = "replaced"
            asyncio.ensure_future(self.close(CLOSE_NORMAL))
        elif kind == "station.deleted":
            # A deleted station is unknown: hang up rather than fail each of its next Calls.
            logger.info("station %s deleted: closing its connection", self.station_id)
            self.end_reason = "deleted"
            asyncio.ensure_future(self.close(CLOSE_NORMAL))
        elif kind == "station.refresh":
            asyncio.ensure_future(self._reload_registration())
        elif kind == "node.draining":
            self.end_reason = "draining"
            asyncio.ensure_future(self.close(CLOSE_GOING_AWAY))
        else:
            logger.warning("station %s: unknown event %r", self.station_id, kind)

    async def _reload_registration(self) -> None:
        try:
            self.registration_status = await run_db(directory.get().registration_status, self.station_id)
        except Exception:
            logger.warning("station %s: could not reload its registration", self.station_id)

    # --- frames in -----------------------------------------------------------------------------

    async def _on_frame(self, text_data: str | None, bytes_data: bytes | None) -> None:
        if text_data is None:
            try:
                text_data = (bytes_data or b"").decode("utf-8")
            except UnicodeDecodeError:
                text_data = bytes_data.decode("latin-1")
        received = time.perf_counter()
        size = _utf8_size(text_data)
        if size > settings.CSMS_MAX_FRAME_BYTES:
            await self._refuse_oversized(size)
            return
        try:
            frame = framing.parse_frame(text_data)
        except framing.FrameError as exc:
            message_log.add(station_id=self.station_id, direction="in", frame=text_data, message_id=exc.message_id or "")
            await self._send_error(exc.message_id or framing.UNKNOWN_MESSAGE_ID, exc.code, exc.description)
            return
        if isinstance(frame, framing.Call):
            message_log.add(station_id=self.station_id, direction="in", frame=text_data,
                            message_type=framing.CALL, message_id=frame.message_id, action=frame.action)
            self.busy += 1
            try:
                await self._answer_call(frame, received)
            finally:
                self.busy -= 1
            return
        message_type = framing.CALLRESULT if isinstance(frame, framing.CallResult) else framing.CALLERROR
        message_log.add(station_id=self.station_id, direction="in", frame=text_data,
                        message_type=message_type, message_id=frame.message_id)
        if self.awaiting is not None and self.awaiting[0] == frame.message_id and not self.awaiting[1].done():
            self.awaiting[1].set_result(frame)
        else:
            logger.warning("%s answered %s, which no call of ours awaits", self.station_id, frame.message_id)

    async def _refuse_oversized(self, size: int) -> None:
        limit = settings.CSMS_MAX_FRAME_BYTES
        logger.warning("station %s sent a frame of %d bytes (limit %d): closing with 1009", self.station_id, size, limit,
                       extra={"event": "frame_too_big", "station_id": self.station_id, "code": 1009})
        self.end_reason = "oversized"
        message_log.add(station_id=self.station_id, direction="in", frame=f"<frame of {size} bytes not kept: over {limit}>")
        try:
            await run_db(directory.get().security_event, station_id=self.station_id, type="OversizedMessage",
                         tech_info=f"a frame of {size} bytes exceeded the limit of {limit} bytes")
        except Exception:
            logger.exception("could not record the oversized frame of %s", self.station_id)
        await self.close(CLOSE_TOO_BIG)

    async def _answer_call(self, call: framing.Call, received: float) -> None:
        action = metrics.action_label(call.action)
        try:
            response, duplicate = await self._process_call(call)
        except OCPPError as exc:
            await self._send_error(call.message_id, exc.code, exc.description, exc.details)
            metrics.station_calls.labels(action=action, outcome="call_error", code=exc.code).inc()
            return
        except Exception as exc:  # a failing handler must not take the connection down
            logger.error("%s %s from %s failed: %s: %s", call.action, call.message_id, self.station_id,
                         type(exc).__name__, exc, exc_info=not is_outage(exc),
                         extra={"event": "handler_failed", "station_id": self.station_id, "action": call.action,
                                "message_id": call.message_id})
            await self._send_error(call.message_id, ErrorCode.INTERNAL_ERROR,
                                   f"{call.action} could not be processed: {type(exc).__name__}")
            metrics.station_calls.labels(action=action, outcome="call_error", code=ErrorCode.INTERNAL_ERROR).inc()
            return
        await self._send_frame(framing.result_frame(call.message_id, response), framing.CALLRESULT, call.message_id)
        metrics.station_calls.labels(action=action, outcome="duplicate" if duplicate else "answered", code="").inc()
        metrics.station_call_seconds.labels(action=action).observe(time.perf_counter() - received)

    async def _process_call(self, call: framing.Call) -> tuple[dict, bool]:
        """The answer to a station Call, and whether it came from memory (a retried transaction message)."""
        if call.action not in ALL_ACTIONS:
            raise OCPPError(ErrorCode.NOT_IMPLEMENTED, f"{call.action!r} is not an OCPP 1.6 action")
        if call.action not in STATION_ACTIONS:
            raise OCPPError(ErrorCode.NOT_SUPPORTED, f"{call.action} is sent by the Central System, not by a charge point")
        if call.action != "BootNotification" and self.registration_status != directory.ACCEPTED:
            # The operator may have accepted the station since we last looked.
            self.registration_status = await run_db(directory.get().registration_status, self.station_id)
            if self.registration_status != directory.ACCEPTED:
                raise OCPPError(ErrorCode.SECURITY_ERROR, f"station is {self.registration_status}: only BootNotification is allowed")
        validate_request(call.action, call.payload)
        if preauth.needed(call.action):
            # Outside the writer's transaction: a preauthorizer may wait on a partner's answer.
            await preauth.preauthorize(self.station_id, call.action, call.payload)
        committed = get_writer().submit(station_id=self.station_id, message_id=call.message_id,
                                        action=call.action, payload=call.payload)
        try:
            # The writer may be stuck waiting for a database that is away (a connection from the pool
            # can take long to come): the station hears of it after the bound, whatever the writer does.
            outcome = await asyncio.wait_for(committed, settings.CSMS_DB_OUTAGE_WAIT)
        except TimeoutError:
            raise OCPPError(ErrorCode.INTERNAL_ERROR, "the database is unavailable; try again") from None
        if "registration_status" in outcome.effects:
            self.registration_status = outcome.effects["registration_status"]
        try:
            validate_response(call.action, outcome.response)
        except OCPPError as exc:  # our bug: never send a station something the schema forbids
            logger.error("%s answer for %s violates the schema: %s", call.action, self.station_id, exc)
            raise OCPPError(ErrorCode.INTERNAL_ERROR, f"{call.action} produced an invalid answer") from None
        return outcome.response, outcome.duplicate

    # --- frames out ----------------------------------------------------------------------------

    async def _send_frame(self, frame: str, message_type: int, message_id: str, action: str = "") -> None:
        message_log.add(station_id=self.station_id, direction="out", frame=frame,
                        message_type=message_type, message_id=message_id, action=action)
        await self.base_send({"type": "websocket.send", "text": frame})

    async def _send_error(self, message_id: str, code: str, description: str, details: dict | None = None) -> None:
        await self._send_frame(framing.error_frame(message_id, code, description, details), framing.CALLERROR, message_id)

    # --- CSMS-initiated calls ------------------------------------------------------------------

    def _enqueue_call(self, call_id: int) -> None:
        """A call for this station was enqueued (on any node): queue it behind the others."""
        self.outbound.append(call_id)
        if self.outbound_task is None or self.outbound_task.done():
            self.outbound_task = asyncio.get_running_loop().create_task(self._send_outbound_calls())

    async def _send_outbound_calls(self) -> None:
        """One outstanding CSMS Call at a time (OCPP-J 4.1.1), in the order they were enqueued."""
        while self.outbound:
            call_id = self.outbound.popleft()
            self.current_call = call_id
            try:
                await self._perform_call(call_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("call %s to %s failed", call_id, self.station_id)
                try:
                    await run_db(calls.call_finish, call_id=call_id, status=CallStatus.ERROR,
                                 error_code="InternalError", error_description=str(exc))
                except Exception:  # the database is away: the stale-call job ends it later
                    pass
            finally:
                self.current_call = None

    async def _perform_call(self, call_id: int) -> None:
        claimed = await run_db(calls.call_mark_sent, call_id=call_id)
        if claimed is None:
            return
        action, payload = claimed
        message_id = str(call_id)
        reply_future = asyncio.get_running_loop().create_future()
        self.awaiting = (message_id, reply_future)
        try:
            frame = framing.call_frame(message_id, action, payload)
            logged = framing.call_frame(message_id, action, calls.redacted(action, payload)) if calls.carries_secret(action, payload) else frame
            message_log.add(station_id=self.station_id, direction="out", frame=logged,
                            message_type=framing.CALL, message_id=message_id, action=action)
            await self.base_send({"type": "websocket.send", "text": frame})
            sent = time.perf_counter()
            reply = await asyncio.wait_for(reply_future, settings.CSMS_CALL_TIMEOUT)
        except TimeoutError:
            metrics.csms_calls.labels(action=action, status="timeout").inc()
            logger.warning("call %s (%s) to %s: no answer within %s s", call_id, action, self.station_id,
                           settings.CSMS_CALL_TIMEOUT, extra={"event": "call_timeout", "station_id": self.station_id,
                                                              "action": action, "call_id": call_id})
            await run_db(calls.call_finish, call_id=call_id, status=CallStatus.TIMEOUT, error_code="Timeout",
                         error_description=f"no answer within {settings.CSMS_CALL_TIMEOUT} s")
            return
        finally:
            self.awaiting = None
        metrics.csms_call_seconds.labels(action=action).observe(time.perf_counter() - sent)
        if isinstance(reply, framing.CallError):
            metrics.csms_calls.labels(action=action, status="error").inc()
            await run_db(calls.call_finish, call_id=call_id, status=CallStatus.ERROR, error_code=reply.code,
                         error_description=reply.description, error_details=reply.details)
            return
        try:
            validate_response(action, reply.payload)
        except OCPPError as exc:
            metrics.csms_calls.labels(action=action, status="error").inc()
            await run_db(calls.call_finish, call_id=call_id, status=CallStatus.ERROR, error_code=exc.code,
                         error_description=f"the station's answer violates the schema: {exc.description}",
                         error_details={"response": reply.payload, **exc.details})
            return
        metrics.csms_calls.labels(action=action, status="completed").inc()
        await run_db(calls.call_complete, call_id=call_id, response=reply.payload)


def _disconnection_record(station_id: str, address: str, unfinished: list[int]) -> None:
    calls.calls_fail_disconnected(call_ids=unfinished)
    directory.get().disconnected(station_id=station_id, channel_name=address)


def _utf8_size(text: str) -> int:
    # Every character takes at least one byte and at most four: count exactly only when it matters.
    if len(text) * 4 <= settings.CSMS_MAX_FRAME_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


class RefuseConsumer(AsyncConsumer):
    """Any WebSocket path that is not /ocpp/{chargeBoxId}: 404 at the handshake, never 500."""

    async def __call__(self, scope, receive, send):
        message = await receive()
        if message["type"] == "websocket.connect":
            await deny_handshake(send, scope, 404, "no such OCPP endpoint")
