"""The operator's firmware and diagnostics pages, rendered in process, and the two station actions
driven over HTTP against a node with a simulated station."""

import asyncio

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from csms.testing import connect_station, db, eventually
from firmware.services import files, updates
from firmware.models import DiagnosticsRequest, Firmware, FirmwareUpdate, FirmwareUpdateTarget
from stations.models import ChargeStation
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

STATIONS = "/admin/stations/chargestation/"


def text_of(response) -> str:
    return response.content.decode()


def test_firmware_models_all_have_admin_pages():
    from django.apps import apps

    assert [m.__name__ for m in apps.get_app_config("firmware").get_models() if m not in admin.site._registry] == []
    names = [getattr(action, "__name__", action) for action in admin.site._registry[ChargeStation].actions]
    assert "update_firmware" in names and "request_diagnostics" in names


def test_uploading_a_firmware_file_records_its_size_and_hash(admin_client):
    content = b"\x7fELF firmware" * 100
    response = admin_client.post(reverse("admin:firmware_firmware_add"), {
        "name": "ACME", "version": "2.1", "vendor": "ACME", "charge_point_model": "", "description": "",
        "file": SimpleUploadedFile("acme-2.1.bin", content), "external_location": "", "signing_certificate": "",
        "signature": "", "partner": ""})
    assert response.status_code == 302, text_of(response)[:3000]
    firmware = Firmware.objects.get(name="ACME")
    try:
        assert firmware.size == len(content) and firmware.filename == "acme-2.1.bin"
        assert firmware.sha256 == __import__("hashlib").sha256(content).hexdigest()
        page = text_of(admin_client.get(reverse("admin:firmware_firmware_change", args=[firmware.pk])))
        assert f"/firmware/download/{firmware.token}/acme-2.1.bin" in page
        # Neither a file nor a location, or half a signature: refused on the form.
        response = admin_client.post(reverse("admin:firmware_firmware_add"), {
            "name": "Nothing", "external_location": "", "signing_certificate": "PEM", "signature": ""})
        assert response.status_code == 200 and "either a file or an external location" in text_of(response)
    finally:
        files.stored_file_delete(firmware.file.storage, firmware.file.name)


def test_update_firmware_action_asks_then_creates_the_job(admin_client, make_station):
    online = make_station("CP-FW-ADMIN-ON", online=True, channel_name="not-listening", firmware_version="1.0")
    offline = make_station("CP-FW-ADMIN-OFF")
    selected = {"action": "update_firmware", "_selected_action": [online.pk, offline.pk]}
    page = text_of(admin_client.post(STATIONS, selected))
    assert 'id="action-form"' in page and "CP-FW-ADMIN-OFF" in page and "sent when it connects" in page
    assert "firmware 1.0" in page

    response = admin_client.post(STATIONS, {**selected, "apply": "1", "location": "", "mode": "auto"})
    assert response.status_code == 200 and "Choose a stored firmware or type a location" in text_of(response)
    assert not FirmwareUpdate.objects.exists()

    response = admin_client.post(STATIONS, {**selected, "apply": "1", "location": "https://fw.example.com/a.bin",
                                            "mode": "unsigned", "retries": "2", "retrieve_date": "2030-01-01 10:00"})
    update = FirmwareUpdate.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:firmware_firmwareupdate_change", args=[update.pk])
    assert (update.source, update.retries, update.location) == ("admin", 2, "https://fw.example.com/a.bin")
    states = dict(FirmwareUpdateTarget.objects.values_list("station_id", "state"))
    assert states == {online.pk: "sent", offline.pk: "waiting"}

    page = text_of(admin_client.get(response.url))
    assert "CP-FW-ADMIN-ON" in page and "waiting to be sent" in page and 'http-equiv="refresh"' in page
    assert "1.0 → 1.0" in page
    changelist = text_of(admin_client.get(reverse("admin:firmware_firmwareupdate_changelist")))
    assert "1 waiting" in changelist and "1 sent" in changelist and "Update firmware…" in changelist


def test_job_actions_cancel_and_send_again(admin_client, make_station):
    station = make_station("CP-FW-ADMIN-JOB")
    update = updates.firmware_update_create(stations=[station], location="https://fw.example.com/j.bin")
    url = reverse("admin:firmware_firmwareupdate_changelist")
    admin_client.post(url, {"action": "cancel_updates", "_selected_action": [update.pk]})
    assert FirmwareUpdateTarget.objects.get(update=update).state == "cancelled"
    response = admin_client.post(url, {"action": "retry_updates", "_selected_action": [update.pk]}, follow=True)
    assert FirmwareUpdateTarget.objects.get(update=update).state == "waiting"
    assert any("waiting for their connection" in text for _, text in page_messages(text_of(response)))


def test_request_diagnostics_action_refuses_offline_stations(admin_client, make_station):
    station = make_station("CP-DG-ADMIN-OFF")
    selected = {"action": "request_diagnostics", "_selected_action": [station.pk]}
    page = text_of(admin_client.post(STATIONS, selected))
    assert "Security log (GetLog" in page and "offline: it will not be asked" in page
    response = admin_client.post(STATIONS, {**selected, "apply": "1", "log_type": ""}, follow=True)
    messages = page_messages(text_of(response))
    assert ("error", "Not requested from CP-DG-ADMIN-OFF: station CP-DG-ADMIN-OFF is not connected") in messages
    assert not DiagnosticsRequest.objects.exists()


def test_diagnostics_pages_link_the_uploaded_file(admin_client, make_station):
    row = DiagnosticsRequest.objects.create(station=make_station("CP-DG-ADMIN"), location="http://x/")
    row = files.diagnostics_upload_store(request=row, chunks=[b"diagnostic ", b"lines"], filename="d.log")
    try:
        download = reverse("admin:firmware_diagnosticsrequest_download", args=[row.pk])
        changelist = text_of(admin_client.get(reverse("admin:firmware_diagnosticsrequest_changelist")))
        assert download in changelist and "d.log" in changelist
        page = text_of(admin_client.get(reverse("admin:firmware_diagnosticsrequest_change", args=[row.pk])))
        assert download in page and row.file_sha256 in page
        response = admin_client.get(download)
        assert response.status_code == 200 and b"".join(response.streaming_content) == b"diagnostic lines"
    finally:
        files.stored_file_delete(row.file.storage, row.file.name)


def test_deleting_a_station_removes_its_uploaded_files(admin_client, make_station):
    station = make_station("CP-DG-DELETE")
    row = DiagnosticsRequest.objects.create(station=station, location="http://x/")
    row = files.diagnostics_upload_store(request=row, chunks=[b"bye"], filename="gone.log")
    storage, name = row.file.storage, row.file.name
    assert storage.exists(name)
    ChargeStation.objects.get(pk=station.pk).delete()
    assert not storage.exists(name)


# --- Over HTTP, with a station on a socket ---------------------------------------------------------------


async def test_operator_updates_firmware_and_fetches_diagnostics_from_admin(node, make_station, make_firmware,
                                                                            admin_session, uploads_cleanup):
    import requests

    firmware = await db(make_firmware)(b"new firmware", "v3.bin", version="3.0")
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetDiagnostics"] = {"fileName": "from-admin.log"}
        response = await asyncio.to_thread(admin_session.action, STATIONS, "update_firmware", [station.id],
                                           firmware=str(firmware.pk), location="", mode="auto")
        assert response.status_code == 200, response.text[:2000]
        location = (await cp.wait_for_call("UpdateFirmware"))["location"]
        assert location.startswith(f"{node.http}/firmware/download/") and location.endswith("/v3.bin")
        assert (await asyncio.to_thread(requests.get, location, timeout=10)).content == b"new firmware"
        await cp.send("FirmwareStatusNotification", {"status": "Downloaded"})
        update = await db(FirmwareUpdate.objects.get)(firmware=firmware)
        page = (await asyncio.to_thread(admin_session.get, f"/admin/firmware/firmwareupdate/{update.pk}/change/")).text
        assert "Downloaded" in page and "in progress" in page

        response = await asyncio.to_thread(admin_session.action, STATIONS, "request_diagnostics", [station.id],
                                           log_type="")
        payload = await cp.wait_for_call("GetDiagnostics")
        row = await eventually(lambda: DiagnosticsRequest.objects.filter(station_id=station.id, state="accepted").first())
        assert payload["location"] == row.location and f"/admin/firmware/diagnosticsrequest/{row.pk}/change/" in response.url
        upload = await asyncio.to_thread(requests.put, payload["location"] + "from-admin.log", data=b"admin upload", timeout=10)
        assert upload.status_code == 200
        await cp.send("DiagnosticsStatusNotification", {"status": "Uploaded"})
    download = await asyncio.to_thread(admin_session.get, f"/admin/firmware/diagnosticsrequest/{row.pk}/download/")
    assert download.status_code == 200 and download.content == b"admin upload"


# --- Rollouts ------------------------------------------------------------------------------------------------


def test_a_rollout_is_added_then_shown_with_its_waves_and_steered(admin_client, make_station, make_firmware):
    from firmware.models import FirmwareRollout

    firmware = make_firmware(version="9.0")
    stations = [make_station(f"CP-RO-ADMIN-{n}", vendor="ACME", firmware_version="8.0") for n in range(4)]
    add = reverse("admin:firmware_firmwarerollout_add")
    form = {"name": "ACME 9", "firmware": firmware.pk, "stations": "", "vendor": "", "model": "",
            "firmware_versions": "", "partner": "", "canary": "", "canary_percent": "", "growth_factor": "",
            "wave_sizes": "", "failure_threshold_percent": "10", "wave_timeout_minutes": "60", "retries": "",
            "retry_interval": ""}
    response = admin_client.post(add, form)
    assert response.status_code == 200 and "Choose the stations" in text_of(response)
    response = admin_client.post(add, {**form, "vendor": "NOBODY"})
    assert "no station to update" in text_of(response)
    assert not FirmwareRollout.objects.exists()

    ids = "\n".join(station.pk for station in stations)
    response = admin_client.post(add, {**form, "stations": ids, "canary": "1", "wave_sizes": "3"})
    rollout = FirmwareRollout.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:firmware_firmwarerollout_change",
                                                                   args=[rollout.pk])
    assert (rollout.source, rollout.name, rollout.current_wave) == ("admin", "ACME 9", 1)
    page = text_of(admin_client.get(response.url))
    assert 'id="panel-waves"' in page and "(canary)" in page and "csms-progress" in page
    assert "1 waiting" in page and "3 planned" in page and 'http-equiv="refresh"' in page
    assert f"/admin/firmware/firmwarerollout/{rollout.pk}/send/pause_rollouts/" in page
    changelist = text_of(admin_client.get(reverse("admin:firmware_firmwarerollout_changelist")))
    assert "csms-progress" in changelist and "1 of 2" in changelist

    # Pause from the rollout's own page, then resume from the list.
    admin_client.post(f"/admin/firmware/firmwarerollout/{rollout.pk}/send/pause_rollouts/", {})
    rollout.refresh_from_db()
    assert rollout.state == "paused"
    response = admin_client.post(reverse("admin:firmware_firmwarerollout_changelist"),
                                 {"action": "resume_rollouts", "_selected_action": [rollout.pk]}, follow=True)
    rollout.refresh_from_db()
    assert rollout.state == "running" and ("success", "ACME 9: running again.") in page_messages(text_of(response))
    stations_page = text_of(admin_client.get(reverse("admin:firmware_rolloutstation_changelist")
                                             + f"?rollout__id__exact={rollout.pk}&wave__number=2"))
    assert all(f"CP-RO-ADMIN-{n}" in stations_page for n in (1, 2, 3)) and "CP-RO-ADMIN-0" not in stations_page


def test_the_station_form_sets_its_file_transfer_protocol(admin_client, make_station):
    station = make_station("CP-FTP-FORM")
    url = reverse("admin:stations_chargestation_change", args=[station.pk])
    form = {"registration_status": "Accepted", "security_profile": "0", "description": "", "password": ""}
    assert admin_client.post(url, {**form, "file_transfer_protocol": "ftp"}).status_code == 302
    station.refresh_from_db()
    assert station.file_transfer_protocol == "ftp"
    assert "File transfers" in text_of(admin_client.get(url))
    assert admin_client.post(url, {**form, "file_transfer_protocol": "gopher"}).status_code == 200
    admin_client.post(url, form)  # left out: kept
    station.refresh_from_db()
    assert station.file_transfer_protocol == "ftp"

    # Per model: filter the list by model, select them, set it.
    same_model = [make_station(f"CP-FTP-MODEL-{n}", model="AC-FTP") for n in range(2)]
    selected = {"action": "set_file_transfer_protocol", "_selected_action": [s.pk for s in same_model]}
    assert "FTP (one-time credentials" in text_of(admin_client.post(STATIONS, selected))
    response = admin_client.post(STATIONS, {**selected, "apply": "1", "protocol": "ftp"}, follow=True)
    assert ("success", "2 station(s) now use FTP for file transfers.") in page_messages(text_of(response))
    assert set(ChargeStation.objects.filter(model="AC-FTP").values_list("file_transfer_protocol", flat=True)) == {"ftp"}
