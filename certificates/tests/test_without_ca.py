"""Without a CA (the default node): a valid CSR is accepted and waits for an operator, who uploads
the chain their CA signed; triggers the station refuses are recorded (docs/adr/0062)."""

import asyncio

import pytest

from certificates.models import CertificateRequest
from csms.testing import Api, CallErrorReceived, connect_station, db, eventually

from .pkitools import make_ca, make_csr, make_leaf, name, pem

pytestmark = pytest.mark.django_db(transaction=True)


def request_of(station_id: str, **filters):
    return lambda: CertificateRequest.objects.filter(station_id=station_id, **filters).first()


def requests_url(station_id: str, suffix: str = "") -> str:
    return f"/api/v1/stations/{station_id}/certificate-requests/{suffix}"


@pytest.fixture(scope="module")
def operator_ca():
    return make_ca("Operator CA")


async def test_valid_csr_waits_for_an_operator_who_uploads_the_signed_chain(node, api, make_station, operator_ca):
    ca, ca_key = operator_ca
    station = await db(make_station)()
    csr, station_key = make_csr(station.id)
    async with connect_station(node, station.id, boot=True) as cp:
        assert await cp.send("SignCertificate", {"csr": csr}) == {"status": "Accepted"}
        pending = await db(request_of(station.id))()
        assert pending.status == "pending" and "no CA is configured" in pending.detail

        refused = await db(api.post)(requests_url(station.id, f"{pending.pk}/sign/"))
        assert refused.status_code == 400 and "no CA is configured" in refused.json()["detail"]

        stranger = make_leaf(name(station.id), make_csr(station.id)[1].public_key(), ca, ca_key)
        wrong = await db(api.post)(requests_url(station.id, f"{pending.pk}/upload/"),
                                   json={"certificate_chain": pem(stranger)})
        assert wrong.status_code == 400 and "does not certify the CSR's public key" in wrong.json()["detail"]
        assert (await db(request_of(station.id))()).status == "pending"
        await asyncio.sleep(0.3)
        assert "CertificateSigned" not in [action for action, _ in cp.received]

        leaf = make_leaf(name(station.id), station_key.public_key(), ca, ca_key)
        uploaded = await db(api.post)(requests_url(station.id, f"{pending.pk}/upload/"),
                                      json={"certificate_chain": pem(leaf, ca)})
        assert uploaded.status_code == 200, uploaded.text
        username = await db(api_user)(api)
        assert uploaded.json()["status"] == "sent" and uploaded.json()["signed_by"] == f"uploaded by {username}"
        delivered = await cp.wait_for_call("CertificateSigned")
        assert delivered == {"certificateChain": pem(leaf, ca)}
        await eventually(request_of(station.id, status="installed"))


def api_user(api: Api) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get(key=api.session.headers["Authorization"].split()[1]).user.username


async def test_upload_to_an_offline_station_is_refused_and_changes_nothing(node, api, make_station, operator_ca):
    ca, ca_key = operator_ca
    station = await db(make_station)()
    csr, station_key = make_csr(station.id)
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("SignCertificate", {"csr": csr})
    row = await db(request_of(station.id))()
    await eventually(lambda: not type(station).objects.get(pk=station.id).online)
    leaf = make_leaf(name(station.id), station_key.public_key(), ca, ca_key)
    response = await db(api.post)(requests_url(station.id, f"{row.pk}/upload/"), json={"certificate_chain": pem(leaf)})
    assert response.status_code == 409
    assert (await db(request_of(station.id))()).status == "pending"


async def test_newer_csr_supersedes_and_cancel_closes(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]})
        first = await db(request_of(station.id))()
        assert (await cp.send("SignCertificate", {"csr": "garbage"}))["status"] == "Rejected"
        assert (await db(CertificateRequest.objects.get)(pk=first.pk)).status == "pending"  # a rejected CSR replaces nothing
        await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]})
    rows = await db(lambda: list(CertificateRequest.objects.filter(station_id=station.id).order_by("id")))()
    assert [r.status for r in rows] == ["superseded", "rejected", "pending"]
    assert rows[0].detail == f"superseded by request #{rows[2].pk} (a newer CSR)"

    cancelled = await db(api.post)(requests_url(station.id, f"{rows[2].pk}/cancel/"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await db(api.post)(requests_url(station.id, f"{rows[2].pk}/cancel/"))
    assert again.status_code == 400 and "cancelled" in again.json()["detail"]
    listed = (await db(api.get)(requests_url(station.id) + "?status=superseded")).json()
    assert [r["id"] for r in listed] == [rows[0].pk]


@pytest.mark.parametrize("answer, status, detail", [
    ({"status": "Rejected"}, "trigger_rejected", "the station answered Rejected"),
    ({"status": "NotImplemented"}, "trigger_rejected", "the station answered NotImplemented"),
    (CallErrorReceived("NotImplemented", "no security extensions", {}), "trigger_failed",
     "ExtendedTriggerMessage failed: NotImplemented no security extensions"),
])
async def test_trigger_refused_by_the_station_is_recorded(node, api, make_station, answer, status, detail):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["ExtendedTriggerMessage"] = answer
        response = await db(api.post)(requests_url(station.id, "trigger/?wait=10"))
        assert response.status_code == 200, response.text
    row = await db(request_of(station.id))()
    assert (row.status, row.detail, row.trigger_call_id) == (status, detail, response.json()["id"])


async def test_other_extended_triggers_open_no_certificate_request(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True):
        call = await db(api.call)(station.id, "ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"})
        assert call["response"] == {"status": "Accepted"}
    assert await db(request_of(station.id))() is None


async def test_trigger_to_an_offline_station_is_409(node, api, make_station):
    station = await db(make_station)()
    response = await db(api.post)(requests_url(station.id, "trigger/"))
    assert response.status_code == 409 and "not connected" in response.json()["detail"]
