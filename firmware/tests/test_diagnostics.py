"""Diagnostics and log uploads end to end: the partner API, a simulated station over a real socket,
a real HTTP upload of the file to the node, and its download through the API."""

import asyncio
import hashlib
import os
import uuid
from datetime import timedelta

import pytest
import requests
from django.test import override_settings

from csms.testing import CallErrorReceived, connect_station, db, eventually, results
from firmware.models import DiagnosticsRequest, DiagnosticsStatusReport
from csms.ocpp.models import Call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("uploads_cleanup")]


def diagnostics_path(station_id: str) -> str:
    return f"/api/v1/stations/{station_id}/diagnostics/"


async def request_upload(api, station_id: str, expect: int = 202, **body) -> dict:
    response = await db(api.post)(diagnostics_path(station_id), json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def fetch(api, request_id: int) -> dict:
    response = await db(api.get)(f"/api/v1/diagnostics/{request_id}/")
    assert response.status_code == 200, response.text
    return response.json()


async def test_get_diagnostics_uploaded_with_put_then_downloaded(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetDiagnostics"] = {"fileName": "diag-2030-01-01.tar.gz"}
        body = await request_upload(api, station.id, start_time="2030-01-01T00:00:00Z", stop_time="2030-01-02T00:00:00Z",
                                    retries=2, retry_interval=30)
        assert (body["action"], body["kind"], body["state"], body["status"], body["file_url"]) == (
            "GetDiagnostics", "diagnostics", "pending", None, None)
        location = body["location"]
        assert location.startswith(f"{node.http}/diagnostics/upload/") and location.endswith("/")
        assert await cp.wait_for_call("GetDiagnostics") == {
            "location": location, "retries": 2, "retryInterval": 30,
            "startTime": "2030-01-01T00:00:00.000Z", "stopTime": "2030-01-02T00:00:00.000Z"}
        await eventually(lambda: DiagnosticsRequest.objects.get(pk=body["id"]).state == "accepted")
        assert (await fetch(api, body["id"]))["file_name"] == "diag-2030-01-01.tar.gz"

        await cp.send("DiagnosticsStatusNotification", {"status": "Uploading"})
        shown = await fetch(api, body["id"])
        assert (shown["status"], shown["state"], shown["file_url"]) == ("Uploading", "uploading", None)
        content = os.urandom(3_000_000)  # past every in-memory buffer on the way
        # As a station does with an HTTP location: the file name appended to the directory.
        upload = await asyncio.to_thread(requests.put, location + "diag-2030-01-01.tar.gz", data=content, timeout=20)
        assert upload.status_code == 200, upload.text
        await cp.send("DiagnosticsStatusNotification", {"status": "Uploaded"})
        # Uploaded: whoever holds the location can no longer replace the file an operator may have seen.
        again = await asyncio.to_thread(requests.put, location + "diag-2030-01-01.tar.gz", data=b"replacement", timeout=20)
        assert again.status_code == 410 and "closed" in again.json()["detail"]
        # A later TriggerMessage(DiagnosticsStatusNotification) answer changes nothing.
        await cp.send("DiagnosticsStatusNotification", {"status": "Idle"})

    shown = await fetch(api, body["id"])
    assert (shown["status"], shown["state"]) == ("Uploaded", "uploaded")
    assert shown["file_size"] == len(content) and shown["file_sha256"] == hashlib.sha256(content).hexdigest()
    assert shown["file_url"] == f"{node.http}/api/v1/diagnostics/{body['id']}/file/"
    download = await db(api.get)(f"/api/v1/diagnostics/{body['id']}/file/")
    assert download.status_code == 200 and download.content == content
    assert "diag-2030-01-01.tar.gz" in download.headers["Content-Disposition"]
    anonymous = await asyncio.to_thread(requests.get, shown["file_url"], timeout=10)
    assert anonymous.status_code in (401, 403) and anonymous.json()["detail"]
    statuses = await db(lambda: list(DiagnosticsStatusReport.objects.filter(station_id=station.id)
                                     .order_by("id").values_list("status", "diagnostics_request_id")))()
    assert statuses == [("Uploading", body["id"]), ("Uploaded", body["id"]), ("Idle", body["id"])]


async def test_get_log_uploaded_as_multipart_post(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        body = await request_upload(api, station.id, log_type="SecurityLog", start_time="2030-03-01T10:00:00+02:00")
        assert (body["action"], body["kind"], body["log_type"], body["request_id"]) == ("GetLog", "log", "SecurityLog", body["id"])
        assert await cp.wait_for_call("GetLog") == {
            "logType": "SecurityLog", "requestId": body["id"],
            "log": {"remoteLocation": body["location"], "oldestTimestamp": "2030-03-01T08:00:00.000Z"}}
        await eventually(lambda: DiagnosticsRequest.objects.get(pk=body["id"]).answer == "Accepted")
        await cp.send("LogStatusNotification", {"status": "Uploading", "requestId": body["id"]})
        content = b"2030-03-01T08:00:00Z SettingSystemTime\n" * 1000
        upload = await asyncio.to_thread(requests.post, body["location"],
                                         files={"uploadedFile": ("security.log", content, "text/plain")}, timeout=20)
        assert upload.status_code == 200, upload.text
        await cp.send("LogStatusNotification", {"status": "Uploaded", "requestId": body["id"]})
    shown = await fetch(api, body["id"])
    assert (shown["status"], shown["state"], shown["answer"], shown["file_name"]) == ("Uploaded", "uploaded", "Accepted", "security.log")
    download = await db(api.get)(shown["file_url"].removeprefix(node.http))
    assert download.status_code == 200 and download.content == content
    listed = await db(api.get)(diagnostics_path(station.id))
    assert [row["id"] for row in listed.json()] == [body["id"]]


async def test_what_stations_answer_besides_success(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetLog"] = {"status": "Rejected"}
        rejected = await request_upload(api, station.id, log_type="DiagnosticsLog")
        await eventually(lambda: DiagnosticsRequest.objects.get(pk=rejected["id"]).state == "rejected")

        cp.answers["GetDiagnostics"] = {}  # no fileName: the station has nothing to upload
        empty = await request_upload(api, station.id)
        await eventually(lambda: DiagnosticsRequest.objects.get(pk=empty["id"]).state == "no_file")

        cp.answers["GetLog"] = {"status": "Accepted", "filename": "diag.log"}
        failing = await request_upload(api, station.id, log_type="DiagnosticsLog")
        await eventually(lambda: DiagnosticsRequest.objects.get(pk=failing["id"]).state == "accepted")
        # UploadFailure: the spelling of the Security Whitepaper's schema.
        await cp.send("LogStatusNotification", {"status": "UploadFailure", "requestId": failing["id"]})

        cp.answers["GetDiagnostics"] = CallErrorReceived("NotSupported", "no diagnostics here", {})
        refused = await request_upload(api, station.id)
        await eventually(lambda: DiagnosticsRequest.objects.get(pk=refused["id"]).state == "error")
    shown = await fetch(api, failing["id"])
    assert (shown["status"], shown["state"], shown["file_url"]) == ("UploadFailure", "failed", None)
    assert "NotSupported" in (await fetch(api, refused["id"]))["detail"]
    assert (await fetch(api, empty["id"]))["detail"] == "the station has no diagnostics to upload"


async def test_wait_answers_once_the_station_has_answered(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetDiagnostics"] = {"fileName": "now.log"}
        response = await db(api.post)(diagnostics_path(station.id) + "?wait=10", json={})
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["file_name"]) == ("accepted", "now.log")


async def test_a_location_of_the_caller_s_own_is_passed_on(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetDiagnostics"] = {"fileName": "d.zip"}
        body = await request_upload(api, station.id, location="ftp://user:secret@ftp.example.com/diag/")
        assert (await cp.wait_for_call("GetDiagnostics"))["location"] == "ftp://user:secret@ftp.example.com/diag/"
        await cp.send("DiagnosticsStatusNotification", {"status": "Uploaded"})
    shown = await fetch(api, body["id"])
    assert (shown["served_by_csms"], shown["state"], shown["file_url"]) == (False, "uploaded", None)


async def test_an_offline_station_or_bad_input_sends_nothing(node, api, make_station):
    station = await db(make_station)()
    response = await db(api.post)(diagnostics_path(station.id), json={})
    assert response.status_code == 409 and "not connected" in response.json()["detail"]
    async with connect_station(node, station.id, boot=True):
        for body in ({"log_type": "KernelLog"}, {"start_time": "2030-01-02T00:00:00Z", "stop_time": "2030-01-01T00:00:00Z"},
                     {"retries": -1}, {"start_time": "yesterday"}, {"location": "not a url"}):
            response = await db(api.post)(diagnostics_path(station.id), json=body)
            assert response.status_code == 400 and response.json()["detail"], (body, response.text)
    assert (await db(api.post)(diagnostics_path("NO-SUCH-STATION"), json={})).status_code == 404
    assert not await db(DiagnosticsRequest.objects.exists)()
    assert not await db(Call.objects.filter(action__in=["GetDiagnostics", "GetLog"]).exists)()


async def test_a_request_sent_by_hand_through_the_calls_api_is_tracked(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetDiagnostics"] = {"fileName": "hand.log"}
        call = await db(api.call)(station.id, "GetDiagnostics", {"location": "ftp://ftp.example.com/up/"})
        await cp.send("DiagnosticsStatusNotification", {"status": "Uploading"})
    (row,) = results(await db(api.get)("/api/v1/diagnostics/", params={"station": station.id}))
    assert (row["call"], row["source"], row["location"], row["file_name"]) == (call["id"], "call", "ftp://ftp.example.com/up/", "hand.log")
    assert (row["status"], row["state"]) == ("Uploading", "uploading")


def test_partners_see_only_their_stations_uploads(partner_api, make_station, api):
    from firmware.services.files import diagnostics_upload_store

    partner_a, api_a = partner_api(f"DG A {uuid.uuid4().hex[:4]}")
    _, api_b = partner_api(f"DG B {uuid.uuid4().hex[:4]}")
    station = make_station(partner=partner_a)
    row = DiagnosticsRequest.objects.create(station=station, location="http://x/diagnostics/upload/t/")
    diagnostics_upload_store(request=row, chunks=[b"log lines"], filename="a.log")
    assert api_a.get(f"/api/v1/diagnostics/{row.pk}/file/").content == b"log lines"
    assert api_b.get(f"/api/v1/diagnostics/{row.pk}/").status_code == 404
    assert api_b.get(f"/api/v1/diagnostics/{row.pk}/file/").status_code == 404
    assert api_b.post(diagnostics_path(station.id), json={}).status_code == 404
    assert results(api_b.get("/api/v1/diagnostics/")) == []
    assert [r["id"] for r in results(api_a.get("/api/v1/diagnostics/"))] == [row.pk]


# --- The upload location itself, in process -------------------------------------------------------------


@pytest.fixture
def upload_request(make_station):
    return DiagnosticsRequest.objects.create(station=make_station(), location="http://x/", file_name="announced.log")


def upload_url(row, tail: str = "") -> str:
    return f"/diagnostics/upload/{row.token}/{tail}"


def test_uploads_replace_each_other_and_name_the_file(client, upload_request):
    assert client.put(upload_url(upload_request), b"first", content_type="application/octet-stream").status_code == 200
    upload_request.refresh_from_db()
    first_name = upload_request.file.name
    assert upload_request.stored_name == "announced.log" and upload_request.file.read() == b"first"
    response = client.post(upload_url(upload_request, "named/by station.log"), b"second", content_type="text/plain",
                           HTTP_CONTENT_DISPOSITION='attachment; filename="ignored.log"')
    assert response.status_code == 200 and response.json()["size"] == 6
    upload_request.refresh_from_db()
    assert upload_request.stored_name == "by_station.log" and upload_request.file.read() == b"second"
    assert upload_request.file_content_type == "text/plain" and upload_request.state == "uploaded"
    assert not upload_request.file.storage.exists(first_name)


def test_multipart_put_and_content_disposition_names(client, upload_request):
    from django.test.client import encode_multipart

    body = encode_multipart("BOUNDARY", {"file": _named_file(b"multi", "m.log")})
    response = client.put(upload_url(upload_request), body, content_type="multipart/form-data; boundary=BOUNDARY")
    assert response.status_code == 200, response.content
    upload_request.refresh_from_db()
    assert (upload_request.stored_name, upload_request.file.read()) == ("m.log", b"multi")
    client.put(upload_url(upload_request), b"raw", content_type="application/octet-stream",
               HTTP_CONTENT_DISPOSITION='attachment; filename="from-header.log"')
    upload_request.refresh_from_db()
    assert upload_request.stored_name == "from-header.log"


def _named_file(content: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_unknown_tokens_wrong_methods_and_oversized_files(client, upload_request):
    assert client.put(f"/diagnostics/upload/{'x' * 32}/", b"data", content_type="text/plain").status_code == 404
    assert client.get(upload_url(upload_request)).status_code == 405
    empty = client.post(upload_url(upload_request), {}, content_type="multipart/form-data; boundary=B")
    assert empty.status_code == 400
    with override_settings(CSMS_UPLOAD_MAX_MB=1):
        response = client.put(upload_url(upload_request), b"x" * (1024 * 1024 + 1), content_type="application/octet-stream")
    assert response.status_code == 413
    upload_request.refresh_from_db()
    assert not upload_request.file and upload_request.state == "pending"


def test_a_location_refuses_files_once_uploaded_or_expired(client, upload_request, settings):
    from django.utils import timezone

    from firmware.services.diagnostics import diagnostics_status_record

    assert client.put(upload_url(upload_request), b"first", content_type="text/plain").status_code == 200
    # Before Uploaded the station may send it again (a retry replaces the file)...
    assert client.put(upload_url(upload_request), b"second", content_type="text/plain").status_code == 200
    diagnostics_status_record(station_id=upload_request.station_id, status="Uploaded", kind="diagnostics")
    # ...after it, no more.
    for method in (client.put, client.post):
        response = method(upload_url(upload_request, "other.log"), b"third", content_type="text/plain")
        assert response.status_code == 410 and "closed" in response.json()["detail"]
    upload_request.refresh_from_db()
    assert upload_request.file.read() == b"second" and upload_request.location_closed_at is not None

    old = DiagnosticsRequest.objects.create(
        station=upload_request.station, location="http://x/",
        created_at=timezone.now() - timedelta(days=settings.CSMS_DIAGNOSTICS_UPLOAD_DAYS, minutes=1))
    response = client.put(upload_url(old), b"late", content_type="text/plain")
    assert response.status_code == 410 and "expired" in response.json()["detail"]
    old.refresh_from_db()
    assert not old.file
