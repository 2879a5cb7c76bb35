"""Roaming end to end, as an eMSP and a charge station see it: the eMSP registers through the
handshake, pushes its driver's token, reads our Location, the driver charges at a station over a real
WebSocket (authorized from the pushed token, whatever the case of the uid), the eMSP receives the
EVSE statuses, the Session from start to end and the CDR, reads them back, and commands the station."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from csms.testing import connect_station, db
from ocpi.tests.test_location_documents import check_location
from ocpi.tests.test_session_cdr_tariff_documents import CDR, SESSION, assert_shape
from ocpi.tests.test_sessions_cdrs import WHERE, iso
from stations import services as station_services
from tariffs.services import tariff_assign, tariff_create

pytestmark = pytest.mark.django_db(transaction=True)


def make_located_station_with_tariff() -> str:
    station_id = f"RM-{uuid.uuid4().hex[:8].upper()}"
    station_services.station_create(charge_box_id=station_id, location=WHERE)
    tariff = tariff_create(name=f"Roaming {station_id}", currency="EUR", elements=[{"price_components": [
        {"type": "FLAT", "price": "0.50", "vat": 21},
        {"type": "ENERGY", "price": "0.30", "vat": 21, "step_size": 1}]}])
    tariff_assign(tariff=tariff, station_id=station_id)
    return station_id


async def received(emsp, method, pattern, count=1):
    return await asyncio.to_thread(emsp.wait_for, method, pattern, count=count, timeout=20)


async def test_an_emsp_driver_charges_at_our_station(ocpi_node, registered, emsp):
    base = f"{ocpi_node.http}/ocpi/2.2.1"
    station_id = await db(make_located_station_with_tariff)()
    uid = f"04AB{uuid.uuid4().hex[:6].upper()}"
    token = {"country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID", "contract_id": f"NL-EMS-{uid}",
             "issuer": "Test eMSP", "valid": True, "whitelist": "ALLOWED", "last_updated": iso(timezone.now())}
    pushed = await asyncio.to_thread(emsp.send, "PUT", f"{base}/tokens/NL/EMS/{uid}", token)
    assert pushed["status_code"] == 1000, pushed

    location = await asyncio.to_thread(emsp.get, f"{base}/locations/{station_id}")
    assert location["status_code"] == 1000
    check_location(location["data"])

    start_at = timezone.now().replace(microsecond=0) - timedelta(minutes=30)
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await cp.send("StatusNotification", {"connectorId": 1, "status": "Available", "errorCode": "NoError"})
        (available,) = await received(emsp, "PATCH", rf"/locations/NL/CSM/{station_id}/{station_id}-1$")
        assert available.body["status"] == "AVAILABLE"

        # The reader sends the uid in lower case: still the eMSP's token.
        assert (await cp.send("Authorize", {"idTag": uid.lower()}))["idTagInfo"]["status"] == "Accepted"
        started = await cp.send("StartTransaction", {"connectorId": 1, "idTag": uid.lower(), "meterStart": 0,
                                                     "timestamp": iso(start_at)})
        assert started["idTagInfo"]["status"] == "Accepted"
        tx_id = started["transactionId"]
        await cp.send("StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError"})
        (session_put,) = await received(emsp, "PUT", rf"/sessions/NL/CSM/{tx_id}$")
        assert_shape(session_put.body, SESSION, "session")
        assert session_put.body["status"] == "ACTIVE" and session_put.body["cdr_token"]["uid"] == uid
        charging = await received(emsp, "PATCH", rf"/locations/NL/CSM/{station_id}/{station_id}-1$", count=2)
        assert charging[-1].body["status"] == "CHARGING"

        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 12000,
                                          "timestamp": iso(start_at + timedelta(minutes=25))})
        (cdr_post,) = await received(emsp, "POST", r"/cdrs$")
        final = (await received(emsp, "PUT", rf"/sessions/NL/CSM/{tx_id}$", count=2))[-1].body

        # The eMSP commands the station: it unlocks the connector and the result comes back.
        response_url = f"{emsp.url}/results/{uuid.uuid4().hex}"
        answer = await asyncio.to_thread(emsp.send, "POST", f"{base}/commands/UNLOCK_CONNECTOR", {
            "response_url": response_url, "location_id": station_id, "evse_uid": f"{station_id}-1",
            "connector_id": "1"})
        assert answer["data"]["result"] == "ACCEPTED", answer
        assert await cp.wait_for_call("UnlockConnector") == {"connectorId": 1}
        (result,) = await received(emsp, "POST", f"^{response_url.removeprefix(emsp.url)}$")
        assert result.body["result"] == "ACCEPTED"

    assert final["status"] == "COMPLETED" and final["kwh"] == 12
    cdr = cdr_post.body
    assert_shape(cdr, CDR, "cdr")
    # 12 kWh at 0.30 + 0.50 flat = 4.10 excl. VAT, 4.96 incl. 21 %.
    assert (cdr["total_energy"], cdr["total_cost"]) == (12, {"excl_vat": 4.1, "incl_vat": 4.96})
    assert cdr["cdr_token"]["uid"] == uid and cdr["cdr_location"]["id"] == station_id

    listed = await asyncio.to_thread(emsp.get, f"{base}/cdrs")
    assert [c["id"] for c in listed["data"]] == [cdr["id"]] and listed["_headers"]["X-Total-Count"] == "1"
    sessions = await asyncio.to_thread(emsp.get, f"{base}/sessions")
    assert [s["id"] for s in sessions["data"]] == [str(tx_id)] and sessions["data"][0]["status"] == "COMPLETED"


def test_bad_inputs_are_answered_in_the_envelope(ocpi_node, registered, emsp):
    base = f"{ocpi_node.http}/ocpi/2.2.1"
    wrong = emsp.get(f"{base}/locations", token="not-a-token-we-issued")
    assert (wrong["_http_status"], wrong["status_code"]) == (401, 2000)
    malformed = emsp.send("PUT", f"{base}/tokens/NL/EMS/ABC", {"uid": "ABC", "type": "RFID"})
    assert (malformed["_http_status"], malformed["status_code"]) == (400, 2001)
    unknown = emsp.get(f"{base}/locations/NO-SUCH-STATION")
    assert (unknown["_http_status"], unknown["status_code"]) == (404, 2003)
    command = emsp.send("POST", f"{base}/commands/UNLOCK_CONNECTOR", {
        "response_url": f"{emsp.url}/results/x", "location_id": "NO-SUCH-STATION", "evse_uid": "NO-SUCH-STATION-1",
        "connector_id": "1"})
    assert command["status_code"] == 2003
