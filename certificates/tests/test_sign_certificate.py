"""SignCertificate (A02/A03) against a node with a CA: the station's CSR is checked, answered,
signed and delivered with CertificateSigned; the station's answer is recorded."""

import asyncio

import pytest
from cryptography import x509

from certificates.models import CertificateRequest
from csms.testing import CallErrorReceived, connect_station, db, eventually
from csms.ocpp.models import Call
from stations.models import ConfigurationKey

from .pkitools import CPO, make_csr, public_der, rsa_key

pytestmark = pytest.mark.django_db(transaction=True)


def request_of(station_id: str, **filters):
    return lambda: CertificateRequest.objects.filter(station_id=station_id, **filters).first()


def set_config(station_id: str, key: str, value: str):
    ConfigurationKey.objects.update_or_create(station_id=station_id, key=key, defaults={"value": value})


async def test_valid_csr_is_accepted_signed_by_the_ca_and_installed(ca_node, ca_api, make_station, cpo_ca):
    station = await db(make_station)()
    await db(set_config)(station.id, "CpoName", CPO)
    csr, station_key = make_csr(station.id)
    async with connect_station(ca_node, station.id, boot=True) as cp:
        assert await cp.send("SignCertificate", {"csr": csr}) == {"status": "Accepted"}
        delivered = await cp.wait_for_call("CertificateSigned")
        installed = await eventually(request_of(station.id, status="installed"))

    chain = x509.load_pem_x509_certificates(delivered["certificateChain"].encode())
    assert len(chain) == 2 and chain[1] == cpo_ca.issuing  # the sub-CA, not the root the station holds
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(cpo_ca.root)
    assert public_der(chain[0]) == public_der(station_key)
    assert chain[0].subject.rfc4514_string() == f"CN={station.id},O={CPO}"
    assert [action for action, _ in cp.received].count("CertificateSigned") == 1

    body = (await db(ca_api.get)(f"/api/v1/stations/{station.id}/certificate-requests/")).json()
    assert len(body) == 1
    row = body[0]
    assert row["id"] == installed.pk and row["status"] == "installed" and row["csr"] == csr
    assert row["common_name"] == station.id and row["organization"] == CPO and row["key_type"] == "EC secp256r1"
    assert row["certificate_serial"] == format(chain[0].serial_number, "X")
    assert row["certificate_chain"] == delivered["certificateChain"]
    assert row["signed_by"].startswith("file CA ") and row["trigger_call"] is None
    call = (await db(ca_api.get)(f"/api/v1/calls/{row['delivery_call']}/")).json()
    assert call["action"] == "CertificateSigned" and call["response"] == {"status": "Accepted"}


def weak_csr(station_id):
    return make_csr(station_id, key=rsa_key(1024))[0]


@pytest.mark.parametrize("make, cpo_name, reason", [
    (lambda sid: "-----BEGIN CERTIFICATE REQUEST-----\nMIIBnonsense\n-----END CERTIFICATE REQUEST-----",
     None, "the CSR cannot be parsed"),
    (lambda sid: "not a csr at all", None, "not a PEM certificate signing request"),
    (lambda sid: make_csr("SOMEONE-ELSE")[0], None, "the subject CN is 'SOMEONE-ELSE', not the chargeBoxId"),
    (lambda sid: make_csr(sid, organization=None)[0], None, "the subject must have exactly one O"),
    (lambda sid: make_csr(sid, organization="Other CPO")[0], CPO,
     "the subject O is 'Other CPO', the station's CpoName is 'Test CPO'"),
    (weak_csr, None, "RSA 1024 key is shorter than 2048 bits"),
])
async def test_bad_csr_is_rejected_stored_and_not_signed(ca_node, make_station, make, cpo_name, reason):
    station = await db(make_station)()
    if cpo_name:
        await db(set_config)(station.id, "CpoName", cpo_name)
    csr = make(station.id)
    async with connect_station(ca_node, station.id, boot=True) as cp:
        assert await cp.send("SignCertificate", {"csr": csr}) == {"status": "Rejected"}
        await asyncio.sleep(0.5)
    assert "CertificateSigned" not in [action for action, _ in cp.received]
    row = await db(request_of(station.id))()
    assert row.status == "rejected" and reason in row.detail and row.csr == csr


async def test_station_rejecting_the_certificate_is_recorded(ca_node, make_station):
    station = await db(make_station)()
    async with connect_station(ca_node, station.id, boot=True) as cp:
        cp.answers["CertificateSigned"] = {"status": "Rejected"}
        assert (await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]}))["status"] == "Accepted"
        row = await eventually(request_of(station.id, status="station_rejected"))
    assert "InvalidChargePointCertificate" in row.detail and row.answered_at is not None


async def test_certificate_signed_error_leaves_it_undelivered_and_it_can_be_sent_again(ca_node, ca_api, make_station):
    station = await db(make_station)()
    async with connect_station(ca_node, station.id, boot=True) as cp:
        cp.answers["CertificateSigned"] = CallErrorReceived("InternalError", "store full", {})
        await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]})
        row = await eventually(request_of(station.id, status="undelivered"))
        assert "InternalError" in row.detail
        cp.answers["CertificateSigned"] = {"status": "Accepted"}
        again = await db(ca_api.post)(f"/api/v1/stations/{station.id}/certificate-requests/{row.pk}/deliver/")
        assert again.status_code == 200 and again.json()["status"] == "sent", again.text
        await eventually(request_of(station.id, status="installed"))
    chains = [payload["certificateChain"] for action, payload in cp.received if action == "CertificateSigned"]
    assert len(chains) == 2 and chains[0] == chains[1] == row.certificate_chain


async def test_chain_longer_than_the_station_takes_is_not_sent(ca_node, make_station):
    station = await db(make_station)()
    await db(set_config)(station.id, "CertificateSignedMaxChainSize", "800")
    async with connect_station(ca_node, station.id, boot=True) as cp:
        assert (await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]}))["status"] == "Accepted"
        row = await eventually(request_of(station.id, status="undelivered"))
        await asyncio.sleep(0.3)
    assert "more than the station's CertificateSignedMaxChainSize 800" in row.detail
    assert row.certificate_chain and "CertificateSigned" not in [action for action, _ in cp.received]


async def test_trigger_then_csr_is_one_request_of_the_csms_a02(ca_node, ca_api, make_station):
    station = await db(make_station)()
    async with connect_station(ca_node, station.id, boot=True) as cp:
        response = await db(ca_api.post)(f"/api/v1/stations/{station.id}/certificate-requests/trigger/?wait=10")
        assert response.status_code == 200, response.text
        trigger = response.json()
        assert trigger["action"] == "ExtendedTriggerMessage"
        assert trigger["payload"] == {"requestedMessage": "SignChargePointCertificate"}
        awaiting = await eventually(request_of(station.id, status="awaiting_csr"))
        assert awaiting.trigger_call_id == trigger["id"]
        await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]})
        await eventually(request_of(station.id, status="installed"))
    rows = await db(lambda: list(CertificateRequest.objects.filter(station_id=station.id)))()
    assert [(r.pk, r.trigger_call_id) for r in rows] == [(awaiting.pk, trigger["id"])]


async def test_csr_sent_before_the_trigger_is_answered_still_belongs_to_it(ca_node, ca_api, make_station):
    station = await db(make_station)()
    async with connect_station(ca_node, station.id, boot=True) as cp:
        cp.answer_in_background = True

        async def csr_first(payload):
            # A station that generates its key and sends the CSR before answering the trigger.
            assert (await cp.send("SignCertificate", {"csr": make_csr(station.id)[0]}))["status"] == "Accepted"
            return {"status": "Accepted"}

        cp.answers["ExtendedTriggerMessage"] = csr_first
        response = await db(ca_api.post)(f"/api/v1/stations/{station.id}/certificate-requests/trigger/")
        assert response.status_code == 202, response.text
        await eventually(request_of(station.id, status="installed"))
    rows = await db(lambda: list(CertificateRequest.objects.filter(station_id=station.id)))()
    assert [r.trigger_call_id for r in rows] == [response.json()["id"]]
    trigger = await db(Call.objects.get)(pk=response.json()["id"])
    assert trigger.response == {"status": "Accepted"}
