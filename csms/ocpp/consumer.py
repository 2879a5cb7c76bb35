"""The WebSocket consumer that speaks OCPP-J 1.6 with one charge station.

Inbound Calls are validated here and handed to their handler on a database thread; outbound Calls
arrive as channel-layer messages and are sent by a separate task, so that waiting for a station's
answer never blocks the receive loop through which that answer arrives (DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from csms.db import run_db

from . import calls, directory, framing
from .errors import ErrorCode, OCPPError
from .models import CallStatus
from .msglog import buffer as message_log
from .processing import inbound_call_process
from .schemas import ALL_ACTIONS, STATION_ACTIONS, validate_request, validate_response

logger = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"

# The sockets this process holds, {station_id: channel_name}, reported with the node's heartbeat.
held_stations: dict[str, str] = {}


def choose_subprotocol(offered: list[str]) -> str | None:
    for candidate in offered:
        if candidate.strip().lower() == SUBPROTOCOL:
            return candidate.strip()
    return None


async def deny_handshake(consumer: AsyncWebsocketConsumer, status: int, reason: str) -> None:
    """Refuse the WebSocket handshake with an HTTP status (ASGI WebSocket Denial Response)."""
    if "websocket.http.response" in consumer.scope.get("extensions", {}):
        await consumer.base_send(
            {"type": "websocket.http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
        )
        await consumer.base_send({"type": "websocket.http.response.body", "body": reason.encode()})
    else:  # a server without the extension can only answer 403
        await consumer.close()


class OCPPConsumer(AsyncWebsocketConsumer):
    station_id: str = ""
    registered = False

    # --- connection ----------------------------------------------------------------------------

    async def websocket_connect(self, message):
        self.station_id = self.scope["url_route"]["kwargs"]["charge_box_id"]
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        admission = await run_db(
            directory.get().admit,
            charge_box_id=self.station_id,
            authorization=headers.get("authorization"),
            client_cert_cn=headers.get(settings.CSMS_CLIENT_CERT_HEADER.lower()),
        )
        if admission.refuse_status:
            logger.info("refused %s: %s", self.station_id, admission.reason)
            await deny_handshake(self, admission.refuse_status, admission.reason)
            return
        subprotocol = choose_subprotocol(self.scope.get("subprotocols", []))
        if subprotocol is None:
            # OCPP-J 4.1.2: complete the handshake without a subprotocol, then close.
            await self.accept()
            await self.close(code=1000)
            return
        self.registration_status = admission.registration_status
        self.awaiting: tuple[str, asyncio.Future] | None = None
        self.current_call: int | None = None
        self.outbound: asyncio.Queue[int] = asyncio.Queue()
        client = self.scope.get("client") or ["", ""]
        previous = await run_db(
            directory.get().connected,
            station_id=self.station_id,
            channel_name=self.channel_name,
            node=settings.CSMS_NODE_NAME,
            subprotocol=subprotocol,
            remote_address=f"{client[0]}:{client[1]}",
        )
        self.registered = True
        held_stations[self.station_id] = self.channel_name
        await self.accept(subprotocol)
        if previous:
            await self.channel_layer.send(previous, {"type": "station.replaced"})
        self.outbound_task = asyncio.get_running_loop().create_task(self._send_outbound_calls())
        logger.info("station %s connected (%s)", self.station_id, subprotocol)

    async def websocket_disconnect(self, message):
        if self.registered:
            self.registered = False
            if held_stations.get(self.station_id) == self.channel_name:
                del held_stations[self.station_id]
            self.outbound_task.cancel()
            unfinished = [] if self.current_call is None else [self.current_call]
            while not self.outbound.empty():
                unfinished.append(self.outbound.get_nowait())
            try:
                await run_db(calls.calls_fail_disconnected, call_ids=unfinished)
                await run_db(directory.get().disconnected, station_id=self.station_id, channel_name=self.channel_name)
            except Exception:
                logger.exception("could not record the disconnection of %s", self.station_id)
            logger.info("station %s disconnected (%s)", self.station_id, message.get("code"))
        raise StopConsumer()

    async def station_replaced(self, event):
        """A newer connection with our chargeBoxId took over: step aside."""
        logger.info("station %s: connection replaced by a newer one", self.station_id)
        await self.close(code=1000)

    async def station_deleted(self, event):
        """The operator deleted this station: it is unknown now, so hang up."""
        logger.info("station %s deleted: closing its connection", self.station_id)
        await self.close(code=1000)

    async def station_refresh(self, event):
        self.registration_status = await run_db(directory.get().registration_status, self.station_id)

    # --- frames in -----------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            try:
                text_data = bytes_data.decode("utf-8")
            except UnicodeDecodeError:
                text_data = bytes_data.decode("latin-1")
        try:
            frame = framing.parse_frame(text_data)
        except framing.FrameError as exc:
            message_log.add(station_id=self.station_id, direction="in", frame=text_data, message_id=exc.message_id or "")
            await self._send_error(exc.message_id or framing.UNKNOWN_MESSAGE_ID, exc.code, exc.description)
            return
        if isinstance(frame, framing.Call):
            message_log.add(station_id=self.station_id, direction="in", frame=text_data,
                            message_type=framing.CALL, message_id=frame.message_id, action=frame.action)
            await self._answer_call(frame)
        else:
            message_type = framing.CALLRESULT if isinstance(frame, framing.CallResult) else framing.CALLERROR
            message_log.add(station_id=self.station_id, direction="in", frame=text_data,
                            message_type=message_type, message_id=frame.message_id)
            if self.awaiting is not None and self.awaiting[0] == frame.message_id and not self.awaiting[1].done():
                self.awaiting[1].set_result(frame)
            else:
                logger.warning("%s answered %s, which no call of ours awaits", self.station_id, frame.message_id)

    async def _answer_call(self, call: framing.Call) -> None:
        try:
            response = await self._process_call(call)
        except OCPPError as exc:
            await self._send_error(call.message_id, exc.code, exc.description, exc.details)
            return
        except Exception as exc:  # a failing handler must not take the connection down
            logger.exception("%s from %s failed", call.action, self.station_id)
            await self._send_error(call.message_id, ErrorCode.INTERNAL_ERROR, f"{call.action} could not be processed: {type(exc).__name__}")
            return
        await self._send_frame(framing.result_frame(call.message_id, response), framing.CALLRESULT, call.message_id)

    async def _process_call(self, call: framing.Call) -> dict:
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
        outcome = await run_db(
            inbound_call_process,
            station_id=self.station_id,
            message_id=call.message_id,
            action=call.action,
            payload=call.payload,
        )
        if "registration_status" in outcome.effects:
            self.registration_status = outcome.effects["registration_status"]
        try:
            validate_response(call.action, outcome.response)
        except OCPPError as exc:  # our bug: never send a station something the schema forbids
            logger.error("%s answer for %s violates the schema: %s", call.action, self.station_id, exc)
            raise OCPPError(ErrorCode.INTERNAL_ERROR, f"{call.action} produced an invalid answer") from None
        return outcome.response

    # --- frames out ----------------------------------------------------------------------------

    async def _send_frame(self, frame: str, message_type: int, message_id: str, action: str = "") -> None:
        message_log.add(station_id=self.station_id, direction="out", frame=frame,
                        message_type=message_type, message_id=message_id, action=action)
        await self.send(text_data=frame)

    async def _send_error(self, message_id: str, code: str, description: str, details: dict | None = None) -> None:
        await self._send_frame(framing.error_frame(message_id, code, description, details), framing.CALLERROR, message_id)

    # --- CSMS-initiated calls ------------------------------------------------------------------

    async def ocpp_call(self, event):
        """A call for this station was enqueued (on any node): queue it behind the others."""
        self.outbound.put_nowait(event["call_id"])

    async def _send_outbound_calls(self) -> None:
        """One outstanding CSMS Call at a time (OCPP-J 4.1.1), in the order they were enqueued."""
        while True:
            call_id = await self.outbound.get()
            self.current_call = call_id
            try:
                await self._perform_call(call_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("call %s to %s failed", call_id, self.station_id)
                await run_db(calls.call_finish, call_id=call_id, status=CallStatus.ERROR,
                             error_code="InternalError", error_description=str(exc))
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
            await self.send(text_data=frame)
            reply = await asyncio.wait_for(reply_future, settings.CSMS_CALL_TIMEOUT)
        except TimeoutError:
            await run_db(calls.call_finish, call_id=call_id, status=CallStatus.TIMEOUT, error_code="Timeout",
                         error_description=f"no answer within {settings.CSMS_CALL_TIMEOUT} s")
            return
        finally:
            self.awaiting = None
        if isinstance(reply, framing.CallError):
            await run_db(calls.call_finish, call_id=call_id, status=CallStatus.ERROR, error_code=reply.code,
                         error_description=reply.description, error_details=reply.details)
            return
        try:
            validate_response(action, reply.payload)
        except OCPPError as exc:
            await run_db(calls.call_finish, call_id=call_id, status=CallStatus.ERROR, error_code=exc.code,
                         error_description=f"the station's answer violates the schema: {exc.description}",
                         error_details={"response": reply.payload, **exc.details})
            return
        await run_db(calls.call_complete, call_id=call_id, response=reply.payload)


class RefuseConsumer(AsyncWebsocketConsumer):
    """Any WebSocket path that is not /ocpp/{chargeBoxId}: 404 at the handshake, never 500."""

    async def websocket_connect(self, message):
        await deny_handshake(self, 404, "no such OCPP endpoint")

    async def websocket_disconnect(self, message):
        raise StopConsumer()
