"""OCPP-J frames: [2, id, action, payload], [3, id, payload], [4, id, code, description, details]."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import orjson

from .errors import ErrorCode, OCPPError

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_MESSAGE_ID_LENGTH = 36
# The id a CallError carries when the frame gave none we could read.
UNKNOWN_MESSAGE_ID = "-1"


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    code: str
    description: str
    details: dict


class FrameError(OCPPError):
    """A frame that cannot be read as OCPP-J; `message_id` is set when one could be recovered."""

    def __init__(self, description: str, message_id: str | None = None):
        super().__init__(ErrorCode.FORMATION_VIOLATION, description)
        self.message_id = message_id


def _recover_message_id(frame) -> str | None:
    if isinstance(frame, list) and len(frame) >= 2:
        if isinstance(frame[1], str) and frame[1]:
            return frame[1][: MAX_MESSAGE_ID_LENGTH * 2]
        if isinstance(frame[1], int) and not isinstance(frame[1], bool):
            return str(frame[1])
    return None


def parse_frame(text: str) -> Call | CallResult | CallError:
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses what the json module reads (integers past 64 bits, which are a value out of
        # range rather than bad JSON): ask it before calling the frame malformed.
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):
            raise FrameError("frame is not valid JSON") from None
    message_id = _recover_message_id(frame)
    if not isinstance(frame, list) or len(frame) < 3:
        raise FrameError("frame is not an OCPP-J array", message_id)
    message_type = frame[0]
    if isinstance(message_type, bool) or message_type not in (CALL, CALLRESULT, CALLERROR):
        raise FrameError(f"unknown message type {message_type!r}", message_id)
    if not isinstance(frame[1], str) or not frame[1]:
        raise FrameError("message id must be a non-empty string", message_id)
    if len(frame[1]) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(f"message id longer than {MAX_MESSAGE_ID_LENGTH} characters", message_id)

    if message_type == CALL:
        if len(frame) != 4:
            raise FrameError("a Call has exactly 4 elements", message_id)
        action, payload = frame[2], frame[3]
        if not isinstance(action, str):
            raise FrameError("action must be a string", message_id)
        if payload is None:  # OCPP-J allows null for an empty payload
            payload = {}
        if not isinstance(payload, dict):
            raise FrameError("payload must be a JSON object", message_id)
        return Call(frame[1], action, payload)
    if message_type == CALLRESULT:
        if len(frame) != 3:
            raise FrameError("a CallResult has exactly 3 elements", message_id)
        payload = frame[2] if frame[2] is not None else {}
        if not isinstance(payload, dict):
            raise FrameError("payload must be a JSON object", message_id)
        return CallResult(frame[1], payload)
    if len(frame) != 5 or not isinstance(frame[2], str):
        raise FrameError("a CallError has exactly 5 elements", message_id)
    details = frame[4] if isinstance(frame[4], dict) else {"value": frame[4]}
    return CallError(frame[1], frame[2], str(frame[3] or ""), details)


def _encode_default(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(value) -> str:
    try:
        return orjson.dumps(value, default=_encode_default).decode()
    except TypeError:  # an integer past 64 bits, which orjson cannot write
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_encode_default)


def call_frame(message_id: str, action: str, payload: dict) -> str:
    return dumps([CALL, message_id, action, payload])


def result_frame(message_id: str, payload: dict) -> str:
    return dumps([CALLRESULT, message_id, payload])


def error_frame(message_id: str, code: str, description: str = "", details: dict | None = None) -> str:
    return dumps([CALLERROR, message_id, code, description[:255], details or {}])
