"""OCPI commands, we the receiver (docs/adr/0163-ocpi-commands.md): an eMSP's command becomes one OCPP
Call through the owning app's service; the synchronous CommandResponse says whether it was queued to
the station, and the station's answer (or its absence) becomes the CommandResult POSTed to the
eMSP's response_url through the push queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from csms.errors import DomainError
from csms.ocpp.calls import StationOffline, call_enqueue
from csms.ocpp.models import Call, CallStatus
from reservations.services import reservation_cancel, reservation_create
from transactions.id_tags import id_tag_find

from ..models import CommandState, OcpiCommand, OcpiPartner, OcpiPush, OcpiReservation, PushStatus
from ..pushes import push_enqueue
from ..tokens.services import token_store
from .requests import CommandRequest
from .selectors import session_of_partner


# CommandResponseType
ACCEPTED = "ACCEPTED"
REJECTED = "REJECTED"
UNKNOWN_SESSION = "UNKNOWN_SESSION"
NOT_SUPPORTED = "NOT_SUPPORTED"

# CommandResultType, beyond ACCEPTED/REJECTED/NOT_SUPPORTED
FAILED = "FAILED"
TIMEOUT = "TIMEOUT"
EVSE_OCCUPIED = "EVSE_OCCUPIED"
EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"

# The OCPP action each command becomes.
ACTIONS = {
    "START_SESSION": "RemoteStartTransaction",
    "STOP_SESSION": "RemoteStopTransaction",
    "RESERVE_NOW": "ReserveNow",
    "CANCEL_RESERVATION": "CancelReservation",
    "UNLOCK_CONNECTOR": "UnlockConnector",
}
# The station's answer (its `status`) as a CommandResultType, per action.
ANSWERS = {
    "RemoteStartTransaction": {"Accepted": ACCEPTED, "Rejected": REJECTED},
    "RemoteStopTransaction": {"Accepted": ACCEPTED, "Rejected": REJECTED},
    "ReserveNow": {"Accepted": ACCEPTED, "Rejected": REJECTED, "Occupied": EVSE_OCCUPIED,
                   "Faulted": EVSE_INOPERATIVE, "Unavailable": EVSE_INOPERATIVE},
    # The station holds no reservation with that id.
    "CancelReservation": {"Accepted": ACCEPTED, "Rejected": UNKNOWN_RESERVATION},
    "UnlockConnector": {"Unlocked": ACCEPTED, "UnlockFailed": FAILED, "NotSupported": NOT_SUPPORTED},
}
# CallErrors meaning the station does not implement the action.
UNSUPPORTED_ERRORS = {"NotImplemented", "NotSupported"}
OCPP_ID_TAG_MAX = 20


def display_text(text: str) -> list[dict]:
    return [{"language": "en", "text": text[:512]}]


def command_response(result: str, message: str = "") -> dict:
    """The CommandResponse: `timeout` is how long the eMSP should wait for the CommandResult."""
    response = {"result": result, "timeout": int(settings.CSMS_OCPI_COMMAND_TIMEOUT)}
    if message:
        response["message"] = display_text(message)
    return response


@dataclass
class Refused(Exception):
    """The command is not sent: answered with this CommandResponseType and why."""

    result: str
    message: str


# --- Receiving a command ------------------------------------------------------------------------------


def command_receive(*, partner: OcpiPartner, request: CommandRequest) -> dict:
    """Turn a validated command into its Call and answer the CommandResponse. Every command is kept
    (refused ones as done, with why); the Call and the command row are written in one transaction,
    so the station's answer, which can only come after the commit, always finds its command."""
    now = timezone.now()
    try:
        with transaction.atomic():
            call = _SENDERS[request.command](partner, request)
            OcpiCommand.objects.create(
                partner=partner, command=request.command, request=request.body, response_url=request.response_url,
                call=call, expires_at=now + timedelta(seconds=settings.CSMS_OCPI_COMMAND_TIMEOUT))
    except Refused as refusal:
        result, message = refusal.result, refusal.message
    except StationOffline:
        # Not queued: the station has no connection now, and OCPP 1.6 has no queue for CSMS Calls.
        result, message = REJECTED, "the charge point is offline"
    except DomainError as exc:  # a rule of the owning app refused it (occupied, unknown connector...)
        result, message = REJECTED, exc.message
    else:
        return command_response(ACCEPTED)
    OcpiCommand.objects.create(partner=partner, command=request.command, request=request.body,
                               response_url=request.response_url, state=CommandState.DONE, message=message[:300],
                               expires_at=now, answered_at=now)
    return command_response(result, message)


def _ensure_id_tag(partner: OcpiPartner, token: dict) -> str:
    """The idTag the station will be given for the command's token: the token is stored and the tokens
    module mirrors it as an IdTag."""
    uid = token["uid"]
    parties = {(role.get("country_code", "").upper(), role.get("party_id", "").upper())
               for role in partner.roles or () if isinstance(role, dict)}
    parties.add((partner.country_code.upper(), partner.party_id.upper()))
    if (token["country_code"].upper(), token["party_id"].upper()) not in parties:
        raise Refused(REJECTED, f"token {uid} is issued by {token['country_code']}*{token['party_id']}, not by this party")
    if len(uid) > OCPP_ID_TAG_MAX:
        raise Refused(REJECTED, f"token uid {uid} is longer than an OCPP 1.6 idTag ({OCPP_ID_TAG_MAX} characters)")
    existing = id_tag_find(uid)
    if existing is not None and existing.partner_id != partner.partner_id:
        # Another party's (or our own) tag: the eMSP may only use its own tokens.
        raise Refused(REJECTED, f"token {uid} is not one of this party's tokens")
    # Stored as the eMSP describes it (a malformed token is the request's 2001), mirrored as an idTag.
    stored = token_store(partner=partner, document=token)
    if stored.id_tag_id is None:
        raise Refused(REJECTED, f"token {uid} cannot be an OCPP idTag")
    return stored.id_tag.id_tag


def _send(partner: OcpiPartner, request: CommandRequest, station_id: str, payload: dict) -> Call:
    return call_enqueue(station=station_id, action=ACTIONS[request.command], payload=payload, source="ocpi",
                        context={"ocpi_partner": partner.pk, "ocpi_command": request.command})


def _start_session(partner: OcpiPartner, request: CommandRequest) -> Call:
    payload = {"idTag": _ensure_id_tag(partner, request.body["token"])}
    if request.connector_id is not None:
        payload["connectorId"] = request.connector_id
    return _send(partner, request, request.station.pk, payload)


def _stop_session(partner: OcpiPartner, request: CommandRequest) -> Call:
    session_id = request.body["session_id"]
    tx = session_of_partner(partner=partner, session_id=session_id)
    if tx is None:
        raise Refused(UNKNOWN_SESSION, f"no session {session_id} of this party")
    if tx.stopped_at is not None:
        raise Refused(REJECTED, f"session {session_id} has ended already")
    return _send(partner, request, tx.station_id, {"transactionId": tx.pk})


def _reserve_now(partner: OcpiPartner, request: CommandRequest) -> Call:
    body = request.body
    id_tag = _ensure_id_tag(partner, body["token"])
    mapping = (OcpiReservation.objects.select_for_update().select_related("reservation")
               .filter(partner=partner, ocpi_id__iexact=body["reservation_id"]).first())
    replacing = None
    if mapping is not None and mapping.reservation.active:
        if mapping.reservation.station_id != request.station.pk:
            raise Refused(REJECTED, f"reservation {body['reservation_id']} is held at location "
                                    f"{mapping.reservation.station_id}: cancel it first")
        replacing = mapping.reservation.pk  # the same id at the same location replaces it
    reservation = reservation_create(station=request.station, connector_id=request.connector_id or 0, id_tag=id_tag,
                                     expiry_date=request.expiry_date, source="ocpi", reservation_id=replacing)
    if mapping is None:
        OcpiReservation.objects.create(partner=partner, ocpi_id=body["reservation_id"], reservation=reservation)
    elif mapping.reservation_id != reservation.pk:
        mapping.reservation = reservation
        mapping.save(update_fields=["reservation", "updated_at"])
    return reservation.reserve_call


def _cancel_reservation(partner: OcpiPartner, request: CommandRequest) -> Call:
    ocpi_id = request.body["reservation_id"]
    mapping = (OcpiReservation.objects.select_related("reservation")
               .filter(partner=partner, ocpi_id__iexact=ocpi_id).first())
    if mapping is None:
        raise Refused(REJECTED, f"no reservation {ocpi_id} of this party")
    return reservation_cancel(reservation=mapping.reservation, source="ocpi").cancel_call


def _unlock_connector(partner: OcpiPartner, request: CommandRequest) -> Call:
    return _send(partner, request, request.station.pk, {"connectorId": request.connector_id})


_SENDERS = {
    "START_SESSION": _start_session,
    "STOP_SESSION": _stop_session,
    "RESERVE_NOW": _reserve_now,
    "CANCEL_RESERVATION": _cancel_reservation,
    "UNLOCK_CONNECTOR": _unlock_connector,
}


# --- The CommandResult --------------------------------------------------------------------------------


def call_result(*, action: str, status: str, response: dict | None, error_code: str) -> tuple[str, str]:
    """What a finished Call means for the eMSP: (CommandResultType, message)."""
    if status == CallStatus.COMPLETED:
        answer = (response or {}).get("status", "")
        return ANSWERS.get(action, {}).get(answer, FAILED), f"the charge point answered {answer}"
    if status == CallStatus.TIMEOUT:
        return TIMEOUT, "the charge point did not answer"
    if error_code in UNSUPPORTED_ERRORS:
        return NOT_SUPPORTED, f"the charge point does not support {action}"
    return FAILED, f"the command failed: {error_code or 'error'}"


def _answer(command: OcpiCommand, result: str, message: str) -> None:
    """Record the result and queue its POST (in the caller's transaction), once."""
    command.state, command.result, command.message = CommandState.ANSWERED, result, message[:300]
    command.answered_at = timezone.now()
    command.save(update_fields=["state", "result", "message", "answered_at"])
    push_enqueue(partner=command.partner, module="commands", object_key=f"{command.pk}", method="POST",
                 path=command.response_url, body={"result": result, "message": display_text(message)})


def command_call_finished(*, call_id: int, action: str, status: str, response: dict | None, error_code: str) -> bool:
    """A Call finished: if it serves a command still waiting, queue its CommandResult. One indexed
    query when it serves none."""
    command = (OcpiCommand.objects.select_for_update().select_related("partner")
               .filter(call_id=call_id, state=CommandState.WAITING).first())
    if command is None:
        return False
    result, message = call_result(action=action, status=status, response=response, error_code=error_code)
    _answer(command, result, message)
    return True


def commands_expire() -> int:
    """Commands whose station did not answer in time get their TIMEOUT result queued; commands whose
    result went out (delivered or given up) are done."""
    now = timezone.now()
    expired = 0
    due = OcpiCommand.objects.filter(state=CommandState.WAITING, expires_at__lte=now).values_list("pk", flat=True)
    for command_id in list(due[:500]):
        with transaction.atomic():
            # The station's answer may be completing this very command: whoever locks it first answers.
            command = (OcpiCommand.objects.select_for_update(skip_locked=True).select_related("partner")
                       .filter(pk=command_id, state=CommandState.WAITING).first())
            if command is None:
                continue
            _answer(command, TIMEOUT, "no answer from the charge point in time")
            expired += 1
    sent = OcpiPush.objects.filter(partner=OuterRef("partner"), module="commands",
                                   object_key=Cast(OuterRef("pk"), CharField()),
                                   status__in=[PushStatus.DELIVERED, PushStatus.FAILED])
    OcpiCommand.objects.filter(state=CommandState.ANSWERED).filter(Exists(sent)).update(state=CommandState.DONE)
    return expired
