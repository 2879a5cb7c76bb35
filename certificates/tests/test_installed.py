"""The CA certificates a station holds (M03-M05): GetInstalledCertificateIds, InstallCertificate and
DeleteCertificate through the API, and the mirror their answers keep."""

import pytest

from certificates import pki
from certificates.models import CertificateInventory, InstalledCertificate
from csms.testing import Api, CallErrorReceived, connect_station, db, eventually
from stations.models import ConfigurationKey

from .pkitools import ec_key, make_ca, make_leaf, name, pem

pytestmark = pytest.mark.django_db(transaction=True)

CSMS_ROOT = "CentralSystemRootCertificate"
MANUFACTURER_ROOT = "ManufacturerRootCertificate"
REPORTED = {"hashAlgorithm": "SHA256", "issuerNameHash": "AA" * 32, "issuerKeyHash": "BB" * 32, "serialNumber": "1F"}


def url(station_id: str, suffix: str = "") -> str:
    return f"/api/v1/stations/{station_id}/certificates/{suffix}"


def mirror(station_id: str):
    return lambda: list(InstalledCertificate.objects.filter(station_id=station_id).order_by("id"))


def set_config(station_id: str, key: str, value: str):
    ConfigurationKey.objects.update_or_create(station_id=station_id, key=key, defaults={"value": value})


async def post(api: Api, path: str, body: dict | None = None, wait: int = 10):
    return await db(api.post)(f"{path}?wait={wait}", json=body or {})


async def test_refresh_install_refresh_delete_keep_the_mirror_true(node, api, make_station):
    station = await db(make_station)()
    root, _ = make_ca("CPO Root 2")
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetInstalledCertificateIds"] = {"status": "Accepted", "certificateHashData": [REPORTED]}
        refreshed = await post(api, url(station.id, "refresh/"), {"certificate_type": CSMS_ROOT})
        assert refreshed.status_code == 200 and refreshed.json()["payload"] == {"certificateType": CSMS_ROOT}
        listed = (await db(api.get)(url(station.id))).json()
        assert [(e["certificate_type"], e["certificate_hash_data"], e["source"], e["certificate"]) for e in listed] == [
            (CSMS_ROOT, REPORTED, "reported", "")]

        installed = await post(api, url(station.id, "install/"),
                               {"certificate_type": CSMS_ROOT, "certificate": "\n  " + pem(root) + "\n"})
        assert installed.status_code == 200, installed.text
        assert await cp.wait_for_call("InstallCertificate") == {"certificateType": CSMS_ROOT, "certificate": pem(root)}
        expected = pki.hash_data(root, root, "SHA256").as_ocpp()
        listed = (await db(api.get)(url(station.id))).json()
        assert [(e["certificate_hash_data"], e["source"]) for e in listed] == [(REPORTED, "reported"), (expected, "installed")]
        assert listed[1]["certificate"] == pem(root) and listed[1]["subject"] == root.subject.rfc4514_string()

        # The station reports with SHA384 and no longer lists the first one: the PEM stays known.
        sha384 = pki.hash_data(root, root, "SHA384").as_ocpp()
        cp.answers["GetInstalledCertificateIds"] = {"status": "Accepted", "certificateHashData": [
            {**sha384, "issuerNameHash": sha384["issuerNameHash"].upper()}]}
        await post(api, url(station.id, "refresh/"), {"certificate_type": CSMS_ROOT})
        rows = await db(mirror(station.id))()
        assert len(rows) == 1 and rows[0].hash_algorithm == "SHA384" and rows[0].certificate == pem(root)

        refused = await post(api, url(station.id, "delete/"), {"id": rows[0].pk})
        assert refused.status_code == 400 and "last CentralSystemRootCertificate" in refused.json()["detail"]
        deleted = await post(api, url(station.id, "delete/"), {"id": rows[0].pk, "force": True})
        assert deleted.status_code == 200, deleted.text
        sent = await cp.wait_for_call("DeleteCertificate")
        assert sent == {"certificateHashData": rows[0].hash_data()}  # as the station reported it (M04.FR.07)
        assert await db(mirror(station.id))() == []
    inventory = await db(CertificateInventory.objects.get)(station_id=station.id, certificate_type=CSMS_ROOT)
    assert inventory.last_status == "Accepted" and not inventory.uncertain


async def test_not_found_clears_one_type_only(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetInstalledCertificateIds"] = lambda payload: {"status": "Accepted", "certificateHashData": [
            {**REPORTED, "serialNumber": "1" if payload["certificateType"] == CSMS_ROOT else "2"}]}
        for certificate_type in (CSMS_ROOT, MANUFACTURER_ROOT):
            await post(api, url(station.id, "refresh/"), {"certificate_type": certificate_type})
        assert len(await db(mirror(station.id))()) == 2
        cp.answers["GetInstalledCertificateIds"] = {"status": "NotFound"}
        await post(api, url(station.id, "refresh/"), {"certificate_type": MANUFACTURER_ROOT})
    rows = await db(mirror(station.id))()
    assert [(r.certificate_type, r.serial_number) for r in rows] == [(CSMS_ROOT, "1")]
    listed = (await db(api.get)(url(station.id) + f"?certificate_type={MANUFACTURER_ROOT}")).json()
    assert listed == []


async def test_delete_by_hash_data_removes_on_not_found_and_keeps_on_failed(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetInstalledCertificateIds"] = lambda payload: {"status": "Accepted", "certificateHashData": [
            REPORTED if payload["certificateType"] == MANUFACTURER_ROOT else {**REPORTED, "serialNumber": "2"}]}
        for certificate_type in (CSMS_ROOT, MANUFACTURER_ROOT):
            await post(api, url(station.id, "refresh/"), {"certificate_type": certificate_type})
        lower = {**REPORTED, "issuerNameHash": REPORTED["issuerNameHash"].lower(), "serialNumber": "001F"}
        cp.answers["DeleteCertificate"] = {"status": "Failed"}
        assert (await post(api, url(station.id, "delete/"), {"certificate_hash_data": lower})).status_code == 200
        assert len(await db(mirror(station.id))()) == 2
        cp.answers["DeleteCertificate"] = {"status": "NotFound"}
        assert (await post(api, url(station.id, "delete/"), {"certificate_hash_data": lower})).status_code == 200
        assert await cp.wait_for_call("DeleteCertificate", count=2) == {"certificateHashData": lower}
    rows = await db(mirror(station.id))()
    assert [(r.certificate_type, r.serial_number) for r in rows] == [(CSMS_ROOT, "2")]


async def test_install_refusals_send_nothing(node, api, make_station):
    station = await db(make_station)()
    old_root, old_key = make_ca("Old Root")
    async with connect_station(node, station.id, boot=True) as cp:
        await post(api, url(station.id, "install/"), {"certificate_type": CSMS_ROOT, "certificate": pem(old_root)})
        leaf = make_leaf(name("server"), ec_key().public_key(), old_root, old_key)
        cases = [
            ({"certificate_type": CSMS_ROOT, "certificate": "junk"}, "no PEM certificate found"),
            ({"certificate_type": CSMS_ROOT, "certificate": pem(leaf)}, "not a CA certificate"),
            ({"certificate_type": "ChargePointCertificate", "certificate": pem(old_root)}, "certificate_type"),
        ]
        await db(set_config)(station.id, "AdditionalRootCertificateCheck", "true")
        unrelated, _ = make_ca("Unrelated Root")
        cases.append(({"certificate_type": CSMS_ROOT, "certificate": pem(unrelated)}, "M05.FR.09"))
        for body, reason in cases:
            response = await post(api, url(station.id, "install/"), body)
            assert response.status_code == 400 and reason in response.json()["detail"], (body, response.text)
        # A successor signed by the old root passes the AdditionalRootCertificateCheck.
        successor, _ = make_ca("New Root", issuer=old_root, issuer_key=old_key)
        accepted = await post(api, url(station.id, "install/"), {"certificate_type": CSMS_ROOT, "certificate": pem(successor)})
        assert accepted.status_code == 200, accepted.text
        await db(set_config)(station.id, "CertificateStoreMaxLength", "2")
        full = await post(api, url(station.id, "install/"), {"certificate_type": MANUFACTURER_ROOT, "certificate": pem(unrelated)})
        assert full.status_code == 400 and "CertificateStoreMaxLength is 2" in full.json()["detail"]
    assert [action for action, _ in cp.received].count("InstallCertificate") == 2
    rows = await db(mirror(station.id))()
    assert [r.subject for r in rows] == [old_root.subject.rfc4514_string(), successor.subject.rfc4514_string()]
    # The successor's issuer (the old root) was known: its hash data is complete, no refresh needed.
    assert rows[1].hash_data() == pki.hash_data(successor, old_root).as_ocpp()
    assert "GetInstalledCertificateIds" not in [action for action, _ in cp.received]


async def test_sub_ca_without_known_issuer_is_completed_by_a_refresh(node, api, make_station):
    station = await db(make_station)()
    root, root_key = make_ca("Hidden Root")
    sub, _ = make_ca("Sub CA", issuer=root, issuer_key=root_key)
    full = pki.hash_data(sub, root).as_ocpp()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetInstalledCertificateIds"] = {"status": "Accepted", "certificateHashData": [full]}
        await post(api, url(station.id, "install/"), {"certificate_type": MANUFACTURER_ROOT, "certificate": pem(sub)})
        assert await cp.wait_for_call("GetInstalledCertificateIds") == {"certificateType": MANUFACTURER_ROOT}
        rows = await eventually(lambda: [r for r in mirror(station.id)() if r.issuer_key_hash])
    assert len(rows) == 1 and rows[0].hash_data() == full and rows[0].certificate == pem(sub)


async def test_unanswered_install_makes_the_mirror_uncertain(node, api, make_station):
    station = await db(make_station)()
    root, _ = make_ca("Root")
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["InstallCertificate"] = CallErrorReceived("InternalError", "boom", {})
        response = await post(api, url(station.id, "install/"), {"certificate_type": CSMS_ROOT, "certificate": pem(root)})
        assert response.json()["status"] == "error"
    inventory = await db(CertificateInventory.objects.get)(station_id=station.id, certificate_type=CSMS_ROOT)
    assert inventory.uncertain and "InstallCertificate" in inventory.note and "InternalError" in inventory.note
    assert await db(mirror(station.id))() == []


async def test_offline_and_bad_requests(node, api, make_station):
    station = await db(make_station)()
    root, _ = make_ca("Root")
    offline = await post(api, url(station.id, "install/"), {"certificate_type": CSMS_ROOT, "certificate": pem(root)})
    assert offline.status_code == 409
    assert (await post(api, url(station.id, "refresh/"), {"certificate_type": CSMS_ROOT})).status_code == 409
    assert (await post(api, url(station.id, "refresh/"), {})).status_code == 400
    both = await post(api, url(station.id, "delete/"), {"id": 1, "certificate_hash_data": REPORTED})
    assert both.status_code == 400 and "either id or certificate_hash_data" in both.json()["detail"]
    assert (await post(api, url(station.id, "delete/"), {"id": 999999})).status_code == 404


async def test_partners_see_and_command_only_their_own_stations(node, make_station):
    from partners.services import partner_user_create

    _, token_a = await db(partner_user_create)(partner_name="Cert Partner A", username="cert-partner-a")
    _, token_b = await db(partner_user_create)(partner_name="Cert Partner B", username="cert-partner-b")
    station = await db(make_station)()
    await db(lambda: type(station).objects.filter(pk=station.pk).update(partner=token_a.user.partner_membership.partner))()
    owner, other = Api(node.http, token_a.key), Api(node.http, token_b.key)
    for path in (url(station.id), f"/api/v1/stations/{station.id}/certificate-requests/"):
        assert (await db(owner.get)(path)).status_code == 200
        assert (await db(other.get)(path)).status_code == 404
    assert (await db(other.post)(f"/api/v1/stations/{station.id}/certificate-requests/trigger/")).status_code == 404
    assert (await db(owner.post)(f"/api/v1/stations/{station.id}/certificate-requests/trigger/")).status_code == 409
