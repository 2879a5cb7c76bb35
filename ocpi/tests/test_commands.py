"""OCPI commands end to end: the eMSP (registered through the handshake) posts each command over HTTP
to the test node, a simulated charge station answers over a real socket, and the CommandResult
arrives at the eMSP's response_url."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from csms.ocpp.calls import call_finish
from csms.ocpp.models import CallStatus
from csms.ocpp.schemas import format_datetime
from csms.testing import connect_station, db, eventually
from ocpi.models import OcpiReservation
from ocpi.commands.selectors import start_command_of
from ocpi.commands.services import commands_expire
from ocpi.models import CommandState, OcpiCommand, OcpiPush, Visibility
from ocpi.pushes import pushes_send_due
from reservations.models import Reservation
from transactions.models import IdTag, Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def token(uid: str, **fields) -> dict:
    return {"country_code": "NL", "party_id": "EMS", "uid": uid, "type": "APP_USER", "contract_id": f"NL-EMS-{uid}",
            "issuer": "Test eMSP", "valid": True, "whitelist": "ALLOWED", "last_updated": "2026-01-01T00:00:00Z",
            **fields}


class Commands:
    """The eMSP side: send a command, wait for its CommandResult at the response_url it gave."""

    def __init__(self, node, emsp):
        self.node, self.emsp = node, emsp

    def response_url(self, name: str) -> str:
        return f"{self.emsp.url}/ocpi/2.2.1/commands/{name}/{uuid.uuid4().hex}"

    async def send(self, name: str, body: dict | None, *, response_url: str | None = None) -> dict:
        if isinstance(body, dict) and "response_url" not in body:
            body = {"response_url": response_url or self.response_url(name), **body}
        return await asyncio.to_thread(self.emsp.send, "POST", f"{self.node.http}/ocpi/2.2.1/commands/{name}", body)

    async def result(self, response_url: str, timeout: float = 15) -> dict:
        path = response_url.removeprefix(self.emsp.url)
        received = await asyncio.to_thread(self.emsp.wait_for, "POST", f"^{path}$", timeout=timeout)
        assert len(received) == 1, [r.body for r in received]
        return received[0].body


@pytest.fixture
def commands(ocpi_node, emsp, registered):
    return Commands(ocpi_node, emsp)


async def online(node, station_id: str, connectors=(1, 2)):
    """A connected station that has reported its connectors."""
    context = connect_station(node, station_id, boot=True)
    cp = await context.__aenter__()
    for connector in connectors:
        await cp.send("StatusNotification", {"connectorId": connector, "errorCode": "NoError", "status": "Available"})
    return context, cp


async def test_start_session_reaches_the_station_and_its_transaction_carries_the_command(
        commands, make_station, registered):
    station = await db(make_station)()
    context, cp = await online(commands.node, station.id)
    try:
        url = commands.response_url("START_SESSION")
        answer = await commands.send("START_SESSION", {
            "token": token("OCPI-APP-1"), "location_id": station.id, "evse_uid": f"{station.id}-2",
            "connector_id": "1", "authorization_reference": "AUTH-1"}, response_url=url)
        assert answer["_http_status"] == 200 and answer["status_code"] == 1000, answer
        assert answer["data"] == {"result": "ACCEPTED", "timeout": 60}

        assert await cp.wait_for_call("RemoteStartTransaction") == {"idTag": "OCPI-APP-1", "connectorId": 2}
        result = await commands.result(url)
        assert result["result"] == "ACCEPTED" and result["message"][0]["language"] == "en"
        # The token became an idTag of the partner (the tokens module is not there to store it).
        tag = await db(IdTag.objects.get)(id_tag="OCPI-APP-1")
        assert tag.partner_id == registered.partner_id

        started = await cp.send("StartTransaction", {"connectorId": 2, "idTag": "OCPI-APP-1", "meterStart": 0,
                                                     "timestamp": format_datetime(timezone.now())})
        assert started["idTagInfo"]["status"] == "Accepted"
        tx = await db(Transaction.objects.get)(pk=started["transactionId"])
        command = await db(start_command_of)(tx)
        assert command is not None and command.call_id == tx.remote_start_call_id
        assert command.partner_id == registered.pk and command.request["authorization_reference"] == "AUTH-1"
        assert command.state == CommandState.ANSWERED and command.result == "ACCEPTED"

        # And the eMSP stops it.
        stop_url = commands.response_url("STOP_SESSION")
        answer = await commands.send("STOP_SESSION", {"session_id": str(tx.pk)}, response_url=stop_url)
        assert answer["data"]["result"] == "ACCEPTED"
        assert await cp.wait_for_call("RemoteStopTransaction") == {"transactionId": tx.pk}
        assert (await commands.result(stop_url))["result"] == "ACCEPTED"
    finally:
        await context.__aexit__(None, None, None)


async def test_a_token_longer_than_an_id_tag_or_of_another_party_is_rejected(commands, make_station, make_id_tag):
    station = await db(make_station)()
    await db(make_id_tag)("OURS-1")  # our own tag, no partner's
    context, cp = await online(commands.node, station.id)
    try:
        for uid, country, why in (("X" * 21, "NL", "longer than an OCPP 1.6 idTag"),
                                  ("OURS-1", "NL", "not one of this party's tokens"),
                                  ("OTHER-1", "DE", "not by this party")):
            answer = await commands.send("START_SESSION", {"token": token(uid, country_code=country),
                                                           "location_id": station.id})
            assert answer["data"]["result"] == "REJECTED", answer
            assert why in answer["data"]["message"][0]["text"]
        assert [name for name, _ in cp.received] == []
    finally:
        await context.__aexit__(None, None, None)


async def test_stop_session_of_an_unknown_session(commands, make_station):
    for session_id in ("999999", "not-a-number"):
        answer = await commands.send("STOP_SESSION", {"session_id": session_id})
        assert answer["status_code"] == 1000 and answer["data"]["result"] == "UNKNOWN_SESSION", answer
    assert not await db(OcpiCommand.objects.filter(call__isnull=False).exists)()


async def test_reserve_now_then_cancel_reservation(commands, make_station, registered):
    station = await db(make_station)()
    context, cp = await online(commands.node, station.id)
    try:
        url = commands.response_url("RESERVE_NOW")
        expiry = format_datetime(timezone.now() + timedelta(minutes=30), timespec="seconds")
        answer = await commands.send("RESERVE_NOW", {
            "token": token("OCPI-RES-1", type="RFID"), "expiry_date": expiry, "reservation_id": "res-42",
            "location_id": station.id, "evse_uid": f"{station.id}-1"}, response_url=url)
        assert answer["data"]["result"] == "ACCEPTED", answer
        sent = await cp.wait_for_call("ReserveNow")
        mapping = await db(OcpiReservation.objects.select_related("reservation").get)(partner=registered, ocpi_id="res-42")
        # The station gets our reservation id, never the eMSP's.
        assert sent == {"connectorId": 1, "expiryDate": sent["expiryDate"], "idTag": "OCPI-RES-1",
                        "reservationId": mapping.reservation.pk}
        assert (await commands.result(url))["result"] == "ACCEPTED"
        await eventually(lambda: Reservation.objects.get(pk=mapping.reservation.pk).status == "accepted")

        # The station holds no such reservation: UNKNOWN_RESERVATION.
        cp.answers["CancelReservation"] = {"status": "Rejected"}
        url = commands.response_url("CANCEL_RESERVATION")
        answer = await commands.send("CANCEL_RESERVATION", {"reservation_id": "RES-42"}, response_url=url)
        assert answer["data"]["result"] == "ACCEPTED"
        assert await cp.wait_for_call("CancelReservation") == {"reservationId": mapping.reservation.pk}
        assert (await commands.result(url))["result"] == "UNKNOWN_RESERVATION"

        cp.answers["CancelReservation"] = {"status": "Accepted"}
        url = commands.response_url("CANCEL_RESERVATION")
        answer = await commands.send("CANCEL_RESERVATION", {"reservation_id": "res-42"}, response_url=url)
        assert answer["data"]["result"] == "ACCEPTED"
        assert (await commands.result(url))["result"] == "ACCEPTED"
        await eventually(lambda: Reservation.objects.get(pk=mapping.reservation.pk).status == "cancelled")

        # Nothing left to cancel, and an id it never sent: refused at once.
        for reservation_id in ("res-42", "never-sent"):
            answer = await commands.send("CANCEL_RESERVATION", {"reservation_id": reservation_id})
            assert answer["data"]["result"] == "REJECTED" and answer["data"]["message"], answer
    finally:
        await context.__aexit__(None, None, None)


@pytest.mark.parametrize(("answer", "expected"), [
    ("Unlocked", "ACCEPTED"), ("UnlockFailed", "FAILED"), ("NotSupported", "NOT_SUPPORTED")])
async def test_unlock_connector(commands, make_station, answer, expected):
    station = await db(make_station)()
    context, cp = await online(commands.node, station.id)
    try:
        cp.answers["UnlockConnector"] = {"status": answer}
        url = commands.response_url("UNLOCK_CONNECTOR")
        response = await commands.send("UNLOCK_CONNECTOR", {
            "location_id": station.id, "evse_uid": f"{station.id}-2", "connector_id": "1"}, response_url=url)
        assert response["data"]["result"] == "ACCEPTED"
        assert await cp.wait_for_call("UnlockConnector") == {"connectorId": 2}
        assert (await commands.result(url))["result"] == expected
    finally:
        await context.__aexit__(None, None, None)


async def test_unknown_or_unseen_locations_and_evses_are_2003(commands, make_station, registered):
    station = await db(make_station)()
    hidden = await db(make_station)()
    context, cp = await online(commands.node, station.id, connectors=(1,))
    try:
        def choose():
            registered.visibility = Visibility.CHOSEN
            registered.save(update_fields=["visibility"])
            registered.stations.add(station)

        await db(choose)()
        for location_id, evse_uid in (("NO-SUCH-STATION", None), (hidden.id, None), (station.id, f"{station.id}-2"),
                                      (station.id, f"{hidden.id}-1"), (station.id, "EVSE-1")):
            body = {"location_id": location_id, "evse_uid": evse_uid or f"{location_id}-1", "connector_id": "1"}
            answer = await commands.send("UNLOCK_CONNECTOR", body)
            assert answer["_http_status"] == 404 and answer["status_code"] == 2003, (body, answer)
        assert cp.received == []
    finally:
        await context.__aexit__(None, None, None)


@pytest.mark.parametrize(("name", "body", "field"), [
    ("START_SESSION", {"location_id": "CP-1"}, "token"),
    ("START_SESSION", {"token": {**token("A"), "uid": None}, "location_id": "CP-1"}, "token.uid"),
    ("START_SESSION", {"token": token("A", type="CARD"), "location_id": "CP-1"}, "token.type"),
    ("START_SESSION", {"token": token("A"), "location_id": "CP-1", "connector_id": "1"}, "evse_uid"),
    ("START_SESSION", {"token": token("A")}, "location_id"),
    ("STOP_SESSION", {"response_url": "ftp://x/y", "session_id": "1"}, "response_url"),
    ("STOP_SESSION", {"session_id": 12}, "session_id"),
    ("RESERVE_NOW", {"token": token("A"), "expiry_date": "tomorrow", "reservation_id": "r",
                     "location_id": "CP-1"}, "expiry_date"),
    ("CANCEL_RESERVATION", {"reservation_id": "r" * 37}, "reservation_id"),
    ("UNLOCK_CONNECTOR", {"location_id": "CP-1", "evse_uid": "CP-1-1"}, "connector_id"),
    ("SELF_DESTRUCT", {}, "command"),
    ("STOP_SESSION", ["not", "an", "object"], "the body"),
])
async def test_malformed_requests_are_2001_naming_the_field(commands, name, body, field):
    answer = await commands.send(name, body)
    assert answer["_http_status"] == 400 and answer["status_code"] == 2001, answer
    assert answer["status_message"].startswith(field), answer["status_message"]
    assert not await db(OcpiCommand.objects.exists)()


async def test_a_station_that_never_answers_gets_timeout_once(commands, make_station, emsp):
    station = await db(make_station)()
    context, cp = await online(commands.node, station.id)
    try:
        cp.answers["UnlockConnector"] = None  # silent
        url = commands.response_url("UNLOCK_CONNECTOR")
        answer = await commands.send("UNLOCK_CONNECTOR", {
            "location_id": station.id, "evse_uid": f"{station.id}-1", "connector_id": "1"}, response_url=url)
        assert answer["data"]["result"] == "ACCEPTED"
        await cp.wait_for_call("UnlockConnector")
        command = await db(OcpiCommand.objects.get)(response_url=url)
        assert await db(commands_expire)() == 0  # not due yet

        await db(OcpiCommand.objects.filter(pk=command.pk).update)(expires_at=timezone.now() - timedelta(seconds=1))
        assert await db(commands_expire)() == 1
        assert await db(commands_expire)() == 0
        await db(pushes_send_due)()
        assert (await commands.result(url))["result"] == "TIMEOUT"
        # The station's Call ends later (here: its timeout): the eMSP has had its answer already.
        assert await db(call_finish)(call_id=command.call_id, status=CallStatus.TIMEOUT, error_code="Timeout")
        await db(pushes_send_due)()
        await asyncio.sleep(0.5)
        assert len(emsp.requests_to("POST", f"^{url.removeprefix(emsp.url)}$")) == 1
        assert await db(OcpiPush.objects.filter(module="commands", object_key=str(command.pk)).count)() == 1
        await db(commands_expire)()
        assert (await db(OcpiCommand.objects.get)(pk=command.pk)).state == CommandState.DONE
    finally:
        await context.__aexit__(None, None, None)


async def test_a_station_that_is_offline_is_rejected(commands, make_station):
    station = await db(make_station)()
    answer = await commands.send("UNLOCK_CONNECTOR", {
        "location_id": station.id, "evse_uid": f"{station.id}-1", "connector_id": "1"})
    assert answer["status_code"] == 1000
    assert answer["data"]["result"] == "REJECTED" and "offline" in answer["data"]["message"][0]["text"]
    kept = await db(OcpiCommand.objects.get)()
    assert kept.state == CommandState.DONE and kept.call_id is None and "offline" in kept.message
