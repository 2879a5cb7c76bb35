"""Firmware updates end to end: the partner API over HTTP, simulated stations over real sockets, the
files the CSMS serves, and the periodic jobs."""

import asyncio
import uuid
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from csms.testing import CallErrorReceived, connect_station, db, eventually, results
from firmware.models import FirmwareStatusReport, FirmwareUpdate, FirmwareUpdateTarget
from csms.ocpp.models import Call

pytestmark = pytest.mark.django_db(transaction=True)

UPDATES = "/api/v1/firmware-updates/"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUTEST\n-----END CERTIFICATE-----"
SIGNATURE = "c2lnbmF0dXJlIG9mIHRoZSBmaXJtd2FyZQ=="


async def create(api, expect: int = 201, **body) -> dict:
    response = await db(api.post)(UPDATES, json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def fetch(api, update_id: int) -> dict:
    response = await db(api.get)(f"{UPDATES}{update_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def station_entry(body: dict, station_id: str) -> dict:
    (entry,) = [entry for entry in body["stations"] if entry["station"] == station_id]
    return entry


async def state_of(api, update_id: int, station_id: str) -> dict:
    return station_entry(await fetch(api, update_id), station_id)


async def test_update_firmware_follows_each_status_the_station_reports(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id) as cp:
        await cp.boot(firmwareVersion="1.0.0")
        body = await create(api, stations=[station.id], location="https://fw.example.com/acme-2.0.bin",
                            retrieve_date="2030-01-02T03:04:05Z", retries=3, retry_interval=60)
        assert body["action"] == "UpdateFirmware" and body["signed"] is False and body["state"] == "active"
        entry = station_entry(body, station.id)
        # (The station may have answered before the response was written.)
        assert entry["state"] in ("sent", "accepted") and entry["status"] is None
        assert entry["firmware_version_before"] == "1.0.0"
        assert await cp.wait_for_call("UpdateFirmware") == {
            "location": "https://fw.example.com/acme-2.0.bin", "retrieveDate": "2030-01-02T03:04:05.000Z",
            "retries": 3, "retryInterval": 60}
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=body["id"]).state == "accepted")
        assert (await state_of(api, body["id"], station.id))["call"] == (await db(Call.objects.get)(action="UpdateFirmware", station_id=station.id)).pk

        for status in ["Downloading", "Downloaded", "Installing"]:
            assert await cp.send("FirmwareStatusNotification", {"status": status}) == {}
            entry = await state_of(api, body["id"], station.id)
            assert (entry["status"], entry["state"]) == (status, "in_progress")
        # The station reboots into the new firmware before it reports Installed (OCPP 1.6 §5.19).
        await cp.boot(firmwareVersion="2.0.0")
        await cp.send("FirmwareStatusNotification", {"status": "Installed"})
        # What a TriggerMessage(FirmwareStatusNotification) brings once nothing is going on.
        await cp.send("FirmwareStatusNotification", {"status": "Idle"})

    body = await fetch(api, body["id"])
    entry = station_entry(body, station.id)
    assert (entry["status"], entry["state"]) == ("Installed", "installed")
    assert entry["firmware_version"] == "2.0.0"
    assert body["state"] == "finished" and body["summary"] == {"installed": 1}
    reports = await db(lambda: list(FirmwareStatusReport.objects.filter(station_id=station.id).order_by("id")))()
    assert [report.status for report in reports] == ["Downloading", "Downloaded", "Installing", "Installed", "Idle"]
    target = await db(FirmwareUpdateTarget.objects.get)(update_id=body["id"], station_id=station.id)
    assert {report.target_id for report in reports} == {target.pk}


async def test_a_stored_firmware_is_served_to_each_station_under_its_own_url(node, api, make_station, make_firmware):
    content = bytes(range(256)) * 400
    firmware = await db(make_firmware)(content, "acme 2.0.bin", version="2.0")
    one, two = await db(make_station)(), await db(make_station)()
    async with connect_station(node, one.id, boot=True) as cp_one, connect_station(node, two.id, boot=True) as cp_two:
        body = await create(api, stations=[one.id, two.id], firmware=firmware.id)
        assert body["firmware"] == firmware.id
        location_one = (await cp_one.wait_for_call("UpdateFirmware"))["location"]
        location_two = (await cp_two.wait_for_call("UpdateFirmware"))["location"]
    assert location_one != location_two
    for location, station in ((location_one, one), (location_two, two)):
        assert location.startswith(f"{node.http}/firmware/download/") and location.endswith("/acme_2.0.bin")
        assert station_entry(body, station.id)["location"] == location

    whole = await asyncio.to_thread(requests.get, location_one, timeout=10)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["Accept-Ranges"] == "bytes"
    # A station resuming an interrupted download.
    part = await asyncio.to_thread(requests.get, location_one, headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert part.status_code == 206 and part.content == content[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(content)}"
    tail = await asyncio.to_thread(requests.get, location_one, headers={"Range": "bytes=-10"}, timeout=10)
    assert tail.status_code == 206 and tail.content == content[-10:]
    beyond = await asyncio.to_thread(requests.get, location_one, headers={"Range": f"bytes={len(content)}-"}, timeout=10)
    assert beyond.status_code == 416
    head = await asyncio.to_thread(requests.head, location_one, timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(content)) and not head.content
    missing = await asyncio.to_thread(requests.get, f"{node.http}/firmware/download/{uuid.uuid4().hex}/x.bin", timeout=10)
    assert missing.status_code == 404

    # The downloads (not the HEAD) are counted against the station that made them.
    entry = await state_of(api, body["id"], one.id)
    assert entry["download_count"] == 4 and entry["last_download_at"]
    assert (await state_of(api, body["id"], two.id))["download_count"] == 0


async def test_signed_update_from_a_stored_firmware_follows_its_request_id(node, api, make_station, make_firmware):
    firmware = await db(make_firmware)(None, external_location="https://vendor.example.com/fw/3.0.bin",
                                       signing_certificate=CERTIFICATE, signature=SIGNATURE)
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        body = await create(api, stations=[station.id], firmware=firmware.id, retrieve_date="2030-05-01T00:00:00Z",
                            install_date="2030-05-02T00:00:00Z", retries=1)
        assert body["signed"] is True and body["action"] == "SignedUpdateFirmware"
        request_id = station_entry(body, station.id)["request_id"]
        assert await cp.wait_for_call("SignedUpdateFirmware") == {
            "requestId": request_id,
            "firmware": {"location": "https://vendor.example.com/fw/3.0.bin", "retrieveDateTime": "2030-05-01T00:00:00.000Z",
                         "installDateTime": "2030-05-02T00:00:00.000Z", "signingCertificate": CERTIFICATE,
                         "signature": SIGNATURE},
            "retries": 1}
        await eventually(lambda: FirmwareUpdateTarget.objects.get(pk=request_id).answer == "Accepted")

        await cp.send("SignedFirmwareStatusNotification", {"status": "Downloading", "requestId": request_id})
        # A requestId the CSMS never sent is stored, not pinned on this update.
        await cp.send("SignedFirmwareStatusNotification", {"status": "InvalidSignature", "requestId": request_id + 1000})
        entry = await state_of(api, body["id"], station.id)
        assert (entry["status"], entry["state"]) == ("Downloading", "in_progress")
        for status in ["Downloaded", "SignatureVerified", "InstallScheduled", "Installing", "InstallRebooting"]:
            await cp.send("SignedFirmwareStatusNotification", {"status": status, "requestId": request_id})
        await cp.send("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": request_id})
        # Idle without requestId, as the whitepaper lets a triggered notification be.
        await cp.send("SignedFirmwareStatusNotification", {"status": "Idle"})
    entry = await state_of(api, body["id"], station.id)
    assert (entry["status"], entry["state"]) == ("Installed", "installed")
    stray = await db(FirmwareStatusReport.objects.get)(status="InvalidSignature", station_id=station.id)
    assert stray.target_id is None and stray.signed is True and stray.request_id == request_id + 1000


async def test_signed_refusals_and_call_errors_reject_the_update(node, api, make_station):
    signed_station, plain_station = await db(make_station)(), await db(make_station)()
    async with connect_station(node, signed_station.id, boot=True) as signed_cp, \
            connect_station(node, plain_station.id, boot=True) as plain_cp:
        signed_cp.answers["SignedUpdateFirmware"] = {"status": "InvalidCertificate"}
        plain_cp.answers["UpdateFirmware"] = CallErrorReceived("NotSupported", "signed updates only", {})
        signed = await create(api, stations=[signed_station.id], location="https://fw.example.com/s.bin",
                              signing_certificate=CERTIFICATE, signature=SIGNATURE)
        plain = await create(api, stations=[plain_station.id], location="ftp://user:pw@fw.example.com/p.bin")
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=signed["id"]).state == "rejected")
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=plain["id"]).state == "rejected")
    entry = await state_of(api, signed["id"], signed_station.id)
    assert entry["answer"] == "InvalidCertificate" and "InvalidCertificate" in entry["detail"]
    entry = await state_of(api, plain["id"], plain_station.id)
    assert "NotSupported" in entry["detail"] and "signed" in entry["detail"]


async def test_an_offline_station_gets_the_update_once_connected(node, api, make_station):
    from firmware.tasks import send_waiting_firmware_updates

    station = await db(make_station)()
    body = await create(api, stations=[station.id], location="https://fw.example.com/later.bin")
    entry = station_entry(body, station.id)
    assert entry["state"] == "waiting" and entry["call"] is None and "not connected" in entry["detail"]
    await db(send_waiting_firmware_updates)()  # still offline: nothing to send
    assert (await state_of(api, body["id"], station.id))["state"] == "waiting"

    # The node that takes the connection sends it within a second or two, no periodic job needed.
    async with connect_station(node, station.id, boot=True) as cp:
        assert (await cp.wait_for_call("UpdateFirmware", timeout=10))["location"] == "https://fw.example.com/later.bin"
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=body["id"]).state == "accepted")
        await cp.send("FirmwareStatusNotification", {"status": "Downloading"})
    entry = await state_of(api, body["id"], station.id)
    assert (entry["status"], entry["attempts"]) == ("Downloading", 1)


async def test_a_rejected_update_can_be_sent_again(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["UpdateFirmware"] = CallErrorReceived("InternalError", "flash busy", {})
        body = await create(api, stations=[station.id], location="https://fw.example.com/again.bin")
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=body["id"]).state == "rejected")
        cp.answers["UpdateFirmware"] = {}
        response = await db(api.post)(f"{UPDATES}{body['id']}/retry/")
        assert response.status_code == 200, response.text
        assert station_entry(response.json(), station.id)["state"] in ("sent", "accepted")
        await cp.wait_for_call("UpdateFirmware", count=2)
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=body["id"]).state == "accepted")
    assert await db(Call.objects.filter(station_id=station.id, action="UpdateFirmware").count)() == 2


async def test_an_unanswered_update_waits_to_be_sent_again(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["UpdateFirmware"] = None  # the station never answers: the call times out
        body = await create(api, stations=[station.id], location="https://fw.example.com/slow.bin")
        await cp.wait_for_call("UpdateFirmware")
        await eventually(lambda: Call.objects.filter(station_id=station.id, action="UpdateFirmware", status="timeout").exists(),
                         timeout=15)
    target = await db(FirmwareUpdateTarget.objects.get)(update_id=body["id"])
    waiting = target.state == "waiting" and target.attempts == 1 and "Timeout" in target.detail
    # Unless the node's own periodic job has already sent it again.
    resent = target.state in ("sent", "accepted") and target.attempts == 2
    assert waiting or resent, (target.state, target.attempts, target.detail)


async def test_a_newer_update_replaces_what_the_station_was_doing(node, api, make_station):
    station, away = await db(make_station)(), await db(make_station)()
    older_waiting = await create(api, stations=[away.id], location="https://fw.example.com/old.bin")
    async with connect_station(node, station.id, boot=True) as cp:
        first = await create(api, stations=[station.id], location="https://fw.example.com/1.bin")
        await cp.wait_for_call("UpdateFirmware")
        await eventually(lambda: FirmwareUpdateTarget.objects.get(update_id=first["id"]).state == "accepted")
        await cp.send("FirmwareStatusNotification", {"status": "Downloading"})
        second = await create(api, stations=[station.id, away.id], location="https://fw.example.com/2.bin")
        await cp.wait_for_call("UpdateFirmware", count=2)
        await cp.send("FirmwareStatusNotification", {"status": "Downloaded"})
    assert (await state_of(api, first["id"], station.id))["state"] == "superseded"
    assert (await state_of(api, second["id"], station.id))["status"] == "Downloaded"
    # The older update still waiting for the offline station will never be sent after the newer one.
    assert (await state_of(api, older_waiting["id"], away.id))["state"] == "cancelled"
    assert (await state_of(api, second["id"], away.id))["state"] == "waiting"


async def test_an_update_sent_by_hand_through_the_calls_api_is_tracked(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        call = await db(api.call)(station.id, "UpdateFirmware",
                                  {"location": "ftp://fw.example.com/hand.bin", "retrieveDate": "2030-01-01T00:00:00Z"})
        assert call["status"] == "completed"
        await cp.send("FirmwareStatusNotification", {"status": "Downloading"})
    listed = results(await db(api.get)(UPDATES, params={"station": station.id}))
    assert len(listed) == 1 and listed[0]["source"] == "call" and listed[0]["location"] == "ftp://fw.example.com/hand.bin"
    entry = station_entry(listed[0], station.id)
    assert entry["call"] == call["id"] and (entry["status"], entry["state"]) == ("Downloading", "in_progress")


async def test_cancel_stops_what_was_not_sent(node, api, make_station):
    online, offline = await db(make_station)(), await db(make_station)()
    async with connect_station(node, online.id, boot=True) as cp:
        body = await create(api, stations=[online.id, offline.id], location="https://fw.example.com/c.bin")
        await cp.wait_for_call("UpdateFirmware")
    response = await db(api.post)(f"{UPDATES}{body['id']}/cancel/")
    assert response.status_code == 200, response.text
    assert station_entry(response.json(), offline.id)["state"] == "cancelled"
    assert station_entry(response.json(), online.id)["state"] in ("sent", "accepted")


@pytest.mark.parametrize(("body", "reason"), [
    ({"location": ""}, "location"),
    ({"location": "not a url"}, "location"),
    ({"location": "file:///etc/passwd"}, "location"),
    ({"location": "https://fw.example.com/a.bin", "firmware": 1}, "location"),
    ({"location": "https://fw.example.com/a.bin", "signed": True}, "signing_certificate"),
    ({"location": "https://fw.example.com/a.bin", "install_date": "2030-01-01T00:00:00Z"}, "install_date"),
    ({"location": "https://fw.example.com/a.bin", "retries": -1}, "retries"),
    ({"location": "https://fw.example.com/" + "a" * 600, "signing_certificate": CERTIFICATE, "signature": SIGNATURE},
     "512"),
])
def test_bad_requests_are_refused_before_anything_is_sent(api, make_station, body, reason):
    station = make_station()
    response = api.post(UPDATES, json={"stations": [station.id], **body})
    assert response.status_code == 400, response.text
    assert reason in response.text and "detail" in response.json()
    assert not FirmwareUpdate.objects.exists() and not Call.objects.exists()


def test_stations_must_be_named_and_known(api, make_station):
    station = make_station()
    assert api.post(UPDATES, json={"stations": [], "location": "https://fw.example.com/a.bin"}).status_code == 400
    response = api.post(UPDATES, json={"stations": [station.id, "NOPE-1"], "location": "https://fw.example.com/a.bin"})
    assert response.status_code == 400 and "NOPE-1" in response.json()["detail"]
    assert api.post(UPDATES, json={"stations": [station.id], "firmware": 999999}).status_code == 400
    assert api.get(f"{UPDATES}999999/").status_code == 404


def test_partners_see_and_update_only_their_own_stations(partner_api, make_station, make_firmware, api):
    partner_a, api_a = partner_api(f"FW A {uuid.uuid4().hex[:4]}")
    partner_b, api_b = partner_api(f"FW B {uuid.uuid4().hex[:4]}")
    mine, theirs = make_station(partner=partner_a), make_station(partner=partner_b)
    shared = make_firmware(name="shared")
    private_b = make_firmware(name="private", partner=partner_b)

    response = api_a.post(UPDATES, json={"stations": [theirs.id], "location": "https://fw.example.com/a.bin"})
    assert response.status_code == 400 and theirs.id in response.json()["detail"]
    assert api_a.post(UPDATES, json={"stations": [mine.id], "firmware": private_b.id}).status_code == 400
    created = api_a.post(UPDATES, json={"stations": [mine.id], "firmware": shared.id})
    assert created.status_code == 201, created.text
    update_id = created.json()["id"]

    assert api_a.get(f"{UPDATES}{update_id}/").status_code == 200
    assert api_b.get(f"{UPDATES}{update_id}/").status_code == 404
    assert api_b.post(f"{UPDATES}{update_id}/cancel/").status_code == 404
    assert [row["id"] for row in results(api_b.get(UPDATES))] == []
    assert {row["id"] for row in results(api_a.get("/api/v1/firmware/"))} == {shared.id}
    assert {row["id"] for row in results(api_b.get("/api/v1/firmware/"))} == {shared.id, private_b.id}
    # Staff updating a partner's stations: that partner sees the job.
    staff_job = api.post(UPDATES, json={"stations": [theirs.id], "location": "https://fw.example.com/s.bin"}).json()
    assert api_b.get(f"{UPDATES}{staff_job['id']}/").status_code == 200
    assert api_a.get(f"{UPDATES}{staff_job['id']}/").status_code == 404


def test_silent_updates_are_probed_then_marked_stuck(make_station, settings):
    from firmware.services import updates
    from firmware.tasks import watch_firmware_updates

    settings.CSMS_FIRMWARE_STUCK_MINUTES = 60
    now = timezone.now()
    online = make_station(online=True, channel_name="test-channel-not-listening")
    offline = make_station()
    update = FirmwareUpdate.objects.create(location="https://fw.example.com/w.bin", retrieve_date=now - timedelta(hours=3))
    quiet = FirmwareUpdateTarget.objects.create(update=update, station=online, state="in_progress", status="Downloading",
                                                sent_at=now - timedelta(minutes=40), progress_at=now - timedelta(minutes=40))
    lost = FirmwareUpdateTarget.objects.create(update=update, station=offline, state="accepted",
                                               sent_at=now - timedelta(minutes=90), progress_at=now - timedelta(minutes=90))
    future = FirmwareUpdate.objects.create(location="https://fw.example.com/f.bin", retrieve_date=now + timedelta(days=1))
    waiting_for_date = FirmwareUpdateTarget.objects.create(update=future, station=make_station(), state="accepted",
                                                           sent_at=now - timedelta(hours=2), progress_at=now - timedelta(hours=2))

    # (Asserted on what it did: once the node runs the same job on its own schedule, it may get there first.)
    watch_firmware_updates()
    probe = Call.objects.get(station=online, action="TriggerMessage")
    assert probe.payload == {"requestedMessage": "FirmwareStatusNotification"} and probe.source == "system"
    quiet.refresh_from_db(), lost.refresh_from_db(), waiting_for_date.refresh_from_db()
    assert quiet.state == "in_progress" and quiet.probed_at is not None
    assert lost.state == "stuck" and "no status" in lost.detail
    assert waiting_for_date.state == "accepted"
    assert watch_firmware_updates() == {"confirmed": 0, "probed": 0, "stuck": 0}  # asked once per silence

    # Any news brings a stuck update back.
    updates.firmware_status_record(station_id=offline.pk, status="Downloaded")
    lost.refresh_from_db()
    assert (lost.state, lost.status) == ("in_progress", "Downloaded")


def test_a_boot_with_the_new_version_confirms_an_update_never_reported_installed(make_station, make_firmware):
    from firmware.tasks import watch_firmware_updates

    firmware = make_firmware(version="4.2")
    now = timezone.now()
    booted = make_station(firmware_version="4.2", last_boot_at=now)
    not_yet = make_station(firmware_version="4.1", last_boot_at=now)
    booted_before = make_station(firmware_version="4.2", last_boot_at=now - timedelta(hours=1))
    update = FirmwareUpdate.objects.create(firmware=firmware, location="http://x/f.bin", retrieve_date=now)
    targets = {station.pk: FirmwareUpdateTarget.objects.create(
        update=update, station=station, state="in_progress", status="Installing",
        sent_at=now - timedelta(minutes=10), progress_at=now - timedelta(minutes=10))
        for station in (booted, not_yet, booted_before)}
    watch_firmware_updates()
    states = dict(FirmwareUpdateTarget.objects.values_list("station_id", "state"))
    assert states == {booted.pk: "installed", not_yet.pk: "in_progress", booted_before.pk: "in_progress"}
    assert FirmwareUpdateTarget.objects.get(pk=targets[booted.pk].pk).detail == "the station booted with firmware 4.2"


def test_updates_waiting_too_long_for_their_station_expire(make_station, settings):
    from firmware.tasks import send_waiting_firmware_updates

    settings.CSMS_FIRMWARE_SEND_WINDOW_HOURS = 24
    old = timezone.now() - timedelta(days=2)
    update = FirmwareUpdate.objects.create(location="https://fw.example.com/e.bin", retrieve_date=old, created_at=old)
    target = FirmwareUpdateTarget.objects.create(update=update, station=make_station(), created_at=old)
    send_waiting_firmware_updates()
    target.refresh_from_db()
    assert target.state == "expired"


def test_staff_upload_a_firmware_file_that_updates_then_use(api, partner_api, make_station):
    import hashlib

    from firmware.models import Firmware
    from firmware.services.files import stored_file_delete

    content = bytes(range(256)) * 64
    response = api.post("/api/v1/firmware/", json=None, data={"version": "7.1", "vendor": "ACME", "model": "AC22"},
                        files={"file": ("acme 7.1.bin", content, "application/octet-stream")})
    assert response.status_code == 201, response.text
    body = response.json()
    firmware = Firmware.objects.get(pk=body["id"])
    try:
        assert (body["version"], body["size"], body["sha256"]) == ("7.1", len(content), hashlib.sha256(content).hexdigest())
        assert (body["vendor"], body["model"], body["name"]) == ("ACME", "AC22", "ACME AC22 7.1")
        assert body["url"].endswith(f"/firmware/download/{firmware.token}/acme_7.1.bin")
        assert requests.get(body["url"], timeout=10).content == content
        station = make_station()
        update = api.post(UPDATES, json={"stations": [station.pk], "firmware": body["id"]})
        assert update.status_code == 201 and update.json()["firmware"] == body["id"]

        _, partner = partner_api(f"FW UP {uuid.uuid4().hex[:4]}")
        refused = partner.post("/api/v1/firmware/", json=None, data={"version": "1"}, files={"file": ("x.bin", b"x")})
        assert refused.status_code == 403 and refused.json()["detail"]
        for data, files, reason in (({"version": "1"}, {}, "file"), ({}, {"file": ("x.bin", b"x")}, "version"),
                                    ({"version": "1", "signature": "half"}, {"file": ("x.bin", b"x")}, "both")):
            response = api.post("/api/v1/firmware/", json=None, data=data, files=files)
            assert response.status_code == 400 and reason in response.json()["detail"], response.text
        assert Firmware.objects.count() == 1
    finally:
        stored_file_delete(firmware.file.storage, firmware.file.name)
