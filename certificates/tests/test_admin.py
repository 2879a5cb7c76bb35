"""The operator's certificate pages: rendered in-process, and driven over HTTP against a node with a
simulated station for the actions that send Calls (docs/adr/0013)."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from certificates.models import CertificateInventory, CertificateRequest, InstalledCertificate
from csms.testing import connect_station, db, eventually
from stations.models import ChargeStation, SecurityEvent
from stations.tests.admin_helpers import page_messages

from .pkitools import make_ca, make_csr, make_leaf, name, pem

STATIONS = "/admin/certificates/stationcertificates/"
REQUESTS = "/admin/certificates/certificaterequest/"
INSTALLED = "/admin/certificates/installedcertificate/"


def seed(station_id="CP-CERT-ADMIN"):
    station = ChargeStation.objects.create(id=station_id, online=False)
    csr, _ = make_csr(station_id)
    request = CertificateRequest.objects.create(station=station, status="pending", detail="waiting", csr=csr,
                                                subject=f"CN={station_id}", key_type="EC secp256r1")
    InstalledCertificate.objects.create(station=station, certificate_type="CentralSystemRootCertificate",
                                        hash_algorithm="SHA256", issuer_name_hash="aa", issuer_key_hash="bb",
                                        serial_number="1F", source="reported")
    CertificateInventory.objects.create(station=station, certificate_type="CentralSystemRootCertificate",
                                        last_status="Accepted", reported_at=timezone.now(), uncertain=True,
                                        note="DeleteCertificate #9 ended timeout")
    SecurityEvent.objects.create(station=station, type="InvalidChargePointCertificate", timestamp=timezone.now(),
                                 tech_info="expired")
    return station, request


@pytest.mark.django_db
def test_every_model_is_registered_and_every_page_renders(admin_client):
    station, request = seed()
    models = list(apps.get_app_config("certificates").get_models())
    assert [m.__name__ for m in models if m not in admin.site._registry] == []
    for model in models:
        response = admin_client.get(reverse(f"admin:certificates_{model._meta.model_name}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:certificates_stationcertificates_change", args=[station.pk])).content.decode()
    for text in ("CA certificates the station holds", "uncertain: DeleteCertificate #9 ended timeout", "InvalidChargePointCertificate",
                 "Trigger certificate signing", "Install certificate", "Refresh installed certificates", "1F"):
        assert text in page, text
    page = admin_client.get(reverse("admin:certificates_certificaterequest_change", args=[request.pk])).content.decode()
    assert "Sign with the CA" in page and "Upload a signed chain" in page and "Cancel" in page
    assert "Send the certificate again" not in page  # nothing signed yet
    step = admin_client.get(reverse("admin:certificates_certificaterequest_step", args=[request.pk, "upload"]))
    assert step.status_code == 200 and "BEGIN CERTIFICATE REQUEST" in step.content.decode()


@pytest.mark.django_db
def test_sign_without_ca_and_cancel_from_the_list(admin_client, settings):
    settings.CSMS_CA_CERT_FILE = ""
    settings.CSMS_CERT_SIGNER = ""
    _, request = seed()
    response = admin_client.post(REQUESTS, {"action": "sign_with_ca", "_selected_action": [request.pk]}, follow=True)
    assert any("no CA is configured" in text for _, text in page_messages(response.content.decode()))
    admin_client.post(REQUESTS, {"action": "cancel_requests", "_selected_action": [request.pk]})
    request.refresh_from_db()
    assert request.status == "cancelled" and "cancelled by" in request.detail


@pytest.mark.django_db(transaction=True)
async def test_station_actions_send_the_certificate_calls(node, admin_session, make_station):  # noqa: F811
    station = await db(make_station)()
    root, _ = make_ca("Admin Root")
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetInstalledCertificateIds"] = {"status": "NotFound"}
        sent = await db(admin_session.action)(STATIONS, "trigger_certificate_signing", [station.id], apply=False)
        assert sent.status_code == 200 and "/admin/ocpp/call/" in sent.url
        assert await cp.wait_for_call("ExtendedTriggerMessage") == {"requestedMessage": "SignChargePointCertificate"}

        form = await db(admin_session.action)(STATIONS, "install_certificate", [station.id], apply=False)
        assert 'name="certificate"' in form.text and 'name="certificate_type"' in form.text
        await db(admin_session.action)(STATIONS, "install_certificate", [station.id],
                                       certificate_type="CentralSystemRootCertificate", certificate=pem(root))
        assert await cp.wait_for_call("InstallCertificate") == {"certificateType": "CentralSystemRootCertificate",
                                                                "certificate": pem(root)}

        await db(admin_session.action)(STATIONS, "refresh_installed_certificates", [station.id], certificate_type="both")
        await cp.wait_for_call("GetInstalledCertificateIds", count=2)
    asked = [payload["certificateType"] for action, payload in cp.received if action == "GetInstalledCertificateIds"]
    assert sorted(asked) == ["CentralSystemRootCertificate", "ManufacturerRootCertificate"]


@pytest.mark.django_db(transaction=True)
async def test_upload_a_signed_chain_and_delete_a_certificate_from_admin(node, admin_session, make_station):  # noqa: F811
    station = await db(make_station)()
    ca, ca_key = make_ca("Operator CA")
    csr, station_key = make_csr(station.id)
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("SignCertificate", {"csr": csr})
        request = await db(CertificateRequest.objects.get)(station_id=station.id)
        step = f"{REQUESTS}{request.pk}/step/upload/"
        bad = await db(admin_session.post)(step, {"certificate_chain": "nonsense"})
        assert "no PEM certificate found" in " ".join(text for _, text in page_messages(bad.text))
        leaf = make_leaf(name(station.id), station_key.public_key(), ca, ca_key)
        done = await db(admin_session.post)(step, {"certificate_chain": pem(leaf)})
        assert done.url.endswith(f"{REQUESTS}{request.pk}/change/")
        assert await cp.wait_for_call("CertificateSigned") == {"certificateChain": pem(leaf)}
        await eventually(lambda: CertificateRequest.objects.get(pk=request.pk).status == "installed")

        cp.answers["GetInstalledCertificateIds"] = {"status": "Accepted", "certificateHashData": [
            {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "1"},
            {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "2"}]}
        await db(admin_session.action)(STATIONS, "refresh_installed_certificates", [station.id],
                                       certificate_type="CentralSystemRootCertificate")
        entries = await eventually(lambda: list(InstalledCertificate.objects.filter(station_id=station.id).order_by("id")))
        confirm = await db(admin_session.action)(INSTALLED, "delete_from_station", [entries[0].pk], apply=False)
        assert "Send DeleteCertificate" in confirm.text
        await db(admin_session.action)(INSTALLED, "delete_from_station", [entries[0].pk])
        assert await cp.wait_for_call("DeleteCertificate") == {"certificateHashData": entries[0].hash_data()}
        await eventually(lambda: InstalledCertificate.objects.filter(station_id=station.id).count() == 1)
