"""FTP as stations use it: the standard library's ftplib on the very location the CSMS sent in
GetDiagnostics or UpdateFirmware, against the FTP server a node runs itself; FTPS, passive ports,
size limits against a server in this process."""

import asyncio
import datetime
import ftplib
import hashlib
import io
import os
import time
from urllib.parse import unquote, urlsplit

import pytest

from csms.testing import connect_station, db, eventually
from firmware.models import DiagnosticsRequest, FirmwareUpdateTarget, FtpAccount

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("uploads_cleanup")]


def parts(location: str) -> dict:
    url = urlsplit(location)
    return {"host": url.hostname, "port": url.port, "user": unquote(url.username or ""),
            "password": unquote(url.password or ""), "path": unquote(url.path)}


def ftp_login(location: str, *, password: str | None = None, tls: bool = False) -> ftplib.FTP:
    """Log in as a station does with the credentials of its location."""
    where = parts(location)
    client = ftplib.FTP_TLS(timeout=10) if tls else ftplib.FTP(timeout=10)
    client.connect(where["host"], where["port"])
    client.login(where["user"], where["password"] if password is None else password)
    return client


def upload(location: str, content: bytes, name: str = "diagnostics.tar.gz") -> str:
    """STOR the file as a station does (the file name appended to the location's directory)."""
    with ftp_login(location) as client:
        return client.storbinary(f"STOR {parts(location)['path'].rstrip('/')}/{name}", io.BytesIO(content))


def download(location: str) -> bytes:
    received = io.BytesIO()
    with ftp_login(location) as client:
        client.retrbinary(f"RETR {parts(location)['path']}", received.write)
    return received.getvalue()


async def test_get_diagnostics_over_ftp_lands_in_the_request(ftp_node, make_station, staff_user):
    from rest_framework.authtoken.models import Token

    from csms.testing import Api

    api = Api(ftp_node.http, (await db(Token.objects.get_or_create)(user=staff_user))[0].key)
    station = await db(make_station)()
    # The operator says this station uploads over FTP (the station's own setting).
    response = await db(api.patch)(f"/api/v1/stations/{station.id}/", json={"file_transfer_protocol": "ftp"})
    assert response.status_code == 200 and response.json()["file_transfer_protocol"] == "ftp", response.text
    async with connect_station(ftp_node, station.id, boot=True) as cp:
        cp.answers["GetDiagnostics"] = {"fileName": "diagnostics.tar.gz"}
        response = await db(api.post)(f"/api/v1/stations/{station.id}/diagnostics/", json={})
        assert response.status_code == 202, response.text
        body = response.json()
        location = (await cp.wait_for_call("GetDiagnostics"))["location"]
        where = parts(location)
        assert location.startswith("ftp://") and where["host"] == "127.0.0.1" and where["port"]
        assert where["user"] and len(where["password"]) >= 20
        # What the CSMS keeps and shows hides the password; the station got it in the Call only.
        assert body["location"] == location.replace(where["password"], "********") and body["served_by_csms"]
        account = await db(FtpAccount.objects.get)(diagnostics_request_id=body["id"])
        assert where["password"] not in account.password_hash

        # Wrong password, or someone else's user: 530, nothing received.
        for user, password in ((where["user"], "not-the-password"), ("u000000000000", where["password"])):
            client = ftplib.FTP(timeout=10)
            await asyncio.to_thread(client.connect, where["host"], where["port"])
            with pytest.raises(ftplib.error_perm, match="^530"):
                await asyncio.to_thread(client.login, user, password)
            client.close()

        await cp.send("DiagnosticsStatusNotification", {"status": "Uploading"})
        content = os.urandom(700_000)
        assert (await asyncio.to_thread(upload, location, content)).startswith("226")

        # The session is jailed in a directory of its own: nothing of other requests to see or reach.
        def look_around():
            with ftp_login(location) as client:
                listing = client.nlst()
                client.cwd("..")
                return listing, client.pwd()

        assert await asyncio.to_thread(look_around) == ([], "/")
        await cp.send("DiagnosticsStatusNotification", {"status": "Uploaded"})

        # Uploaded: the location is closed, whoever holds it.
        with pytest.raises(ftplib.error_perm, match="^530.*closed"):
            await asyncio.to_thread(upload, location, b"a replacement")

    shown = (await db(api.get)(f"/api/v1/diagnostics/{body['id']}/")).json()
    assert (shown["state"], shown["status"], shown["file_size"]) == ("uploaded", "Uploaded", len(content))
    assert shown["file_sha256"] == hashlib.sha256(content).hexdigest()
    downloaded = await db(api.get)(shown["file_url"].removeprefix(ftp_node.http))
    assert downloaded.status_code == 200 and downloaded.content == content
    assert "diagnostics.tar.gz" in downloaded.headers["Content-Disposition"]
    assert (await db(FtpAccount.objects.get)(pk=account.pk)).logins == 2


async def test_the_protocol_is_chosen_per_request_too(ftp_node, make_station, staff_user):
    from rest_framework.authtoken.models import Token

    from csms.testing import Api

    api = Api(ftp_node.http, (await db(Token.objects.get_or_create)(user=staff_user))[0].key)
    station = await db(make_station)()  # http by default
    path = f"/api/v1/stations/{station.id}/diagnostics/"
    async with connect_station(ftp_node, station.id, boot=True) as cp:
        cp.answers["GetLog"] = {"status": "Accepted", "filename": "security.log"}
        over_ftp = (await db(api.post)(path, json={"protocol": "ftp", "log_type": "SecurityLog"})).json()
        assert over_ftp["location"].startswith("ftp://")
        location = (await cp.wait_for_call("GetLog"))["log"]["remoteLocation"]
        over_http = (await db(api.post)(path, json={"protocol": "http"})).json()
        assert over_http["location"].startswith(f"{ftp_node.http}/diagnostics/upload/")
        for bad in ({"protocol": "sftp"}, {"protocol": "ftp", "location": "ftp://elsewhere.example.com/"}):
            response = await db(api.post)(path, json=bad)
            assert response.status_code == 400 and response.json()["detail"], response.text
        await cp.send("LogStatusNotification", {"status": "Uploading", "requestId": over_ftp["id"]})
        assert (await asyncio.to_thread(upload, location, b"2030-01-01 event\n", "security.log")).startswith("226")
    row = await db(DiagnosticsRequest.objects.get)(pk=over_ftp["id"])
    assert (row.state, row.stored_name, row.file.read()) == ("uploaded", "security.log", b"2030-01-01 event\n")


async def test_firmware_downloaded_over_ftp_by_an_ftp_station(ftp_node, make_station, make_firmware, staff_user):
    from rest_framework.authtoken.models import Token

    from csms.testing import Api

    api = Api(ftp_node.http, (await db(Token.objects.get_or_create)(user=staff_user))[0].key)
    content = os.urandom(300_000)
    firmware = await db(make_firmware)(content, "acme-3.0.bin", version="3.0")
    ftp_station = await db(make_station)(file_transfer_protocol="ftp")
    http_station = await db(make_station)()
    async with connect_station(ftp_node, ftp_station.id, boot=True) as cp, \
            connect_station(ftp_node, http_station.id, boot=True) as http_cp:
        response = await db(api.post)("/api/v1/firmware-updates/",
                                      json={"stations": [ftp_station.id, http_station.id], "firmware": firmware.id})
        assert response.status_code == 201, response.text
        update = response.json()
        location = (await cp.wait_for_call("UpdateFirmware"))["location"]
        assert (await http_cp.wait_for_call("UpdateFirmware"))["location"].startswith(f"{ftp_node.http}/firmware/")
        assert location.startswith("ftp://") and parts(location)["path"] == "/acme-3.0.bin"
        shown = next(entry for entry in update["stations"] if entry["station"] == ftp_station.id)
        assert ":********@" in shown["location"] and parts(location)["password"] not in shown["location"]

        assert await asyncio.to_thread(download, location) == content

        def resumed() -> bytes:  # an interrupted download resumed where it stopped (REST)
            received = io.BytesIO()
            with ftp_login(location) as client:
                client.retrbinary("RETR acme-3.0.bin", received.write, rest=250_000)
            return received.getvalue()

        assert await asyncio.to_thread(resumed) == content[250_000:]
        target = await db(FirmwareUpdateTarget.objects.get)(update_id=update["id"], station_id=ftp_station.id)
        assert target.download_count == 2

        # Sent again, the update carries a new password: the old location no longer opens.
        await db(FirmwareUpdateTarget.objects.filter(pk=target.pk).update)(state="failed")
        response = await db(api.post)(f"/api/v1/firmware-updates/{update['id']}/retry/?station={ftp_station.id}")
        assert response.status_code == 200, response.text
        again = (await cp.wait_for_call("UpdateFirmware", count=2))["location"]
        assert parts(again)["user"] == parts(location)["user"] and again != location
        with pytest.raises(ftplib.error_perm, match="^530"):
            await asyncio.to_thread(download, location)
        await cp.send("FirmwareStatusNotification", {"status": "Installed"})
        await eventually(lambda: FirmwareUpdateTarget.objects.get(pk=target.pk).state == "installed")
        # Installed: nothing left to download.
        with pytest.raises(ftplib.error_perm, match="^530.*over"):
            await asyncio.to_thread(download, again)


# --- The server in this process: limits, FTPS, passive mode ----------------------------------------------


def ftp_upload_location(station, host: str, port: int) -> tuple[DiagnosticsRequest, str]:
    """A request whose location is on the server in this process, as diagnostics_request_create makes
    one for an FTP station (without sending the Call)."""
    from django.utils import timezone

    from firmware.services.ftp_accounts import ftp_account_location, ftp_account_open, ftp_location_issue

    request = DiagnosticsRequest.objects.create(station=station, location="")
    account = ftp_account_open(diagnostics_request=request, expires_at=timezone.now() + datetime.timedelta(days=1))
    shown = ftp_account_location(account=account, base_url=f"http://{host}")
    return request, ftp_location_issue(account=account, location=shown.replace(":2121/", f":{port}/"))


def test_an_upload_past_the_limit_is_refused_and_nothing_kept(ftp_server, make_station, settings):
    host, port = ftp_server(CSMS_UPLOAD_MAX_MB=1)
    request, location = ftp_upload_location(make_station(), host, port)
    with pytest.raises(ftplib.error_perm, match="^552.*limited to 1048576 bytes"):
        upload(location, b"x" * (1024 * 1024 + 1))
    request.refresh_from_db()
    assert not request.file and request.state == "pending"
    assert upload(location, b"x" * 1000).startswith("226")
    request.refresh_from_db()
    assert request.file_size == 1000 and request.state == "uploaded"
    # Staged files and session directories go with their sessions (closed just after the client's QUIT).
    incoming = os.path.join(settings.MEDIA_ROOT, "ftp-incoming")
    deadline = time.monotonic() + 5
    while os.listdir(incoming) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(incoming) == []


def test_an_expired_location_is_refused(ftp_server, make_station, settings):
    from django.utils import timezone

    host, port = ftp_server()
    request, location = ftp_upload_location(make_station(), host, port)
    DiagnosticsRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=settings.CSMS_DIAGNOSTICS_UPLOAD_DAYS + 1))
    with pytest.raises(ftplib.error_perm, match="^530.*expired"):
        upload(location, b"late")


def test_explicit_ftps_when_a_certificate_is_configured(ftp_server, make_station, tmp_path):
    certificate, key = _self_signed(tmp_path)
    host, port = ftp_server(CSMS_FTP_TLS_CERT_FILE=certificate, CSMS_FTP_TLS_KEY_FILE=key, CSMS_FTP_TLS_REQUIRED=True)
    request, location = ftp_upload_location(make_station(), host, port)
    with pytest.raises(ftplib.error_perm, match="^550.*SSL/TLS required"):
        ftp_login(location)  # in clear: refused before the password goes over the wire
    with ftp_login(location, tls=True) as client:
        client.prot_p()  # the data connection encrypted too
        assert client.storbinary("STOR log.txt", io.BytesIO(b"over TLS")).startswith("226")
    request.refresh_from_db()
    assert request.file.read() == b"over TLS"


def test_passive_mode_uses_the_configured_ports_and_public_address(ftp_server, make_station):
    from csms.testing import free_port

    passive = free_port()
    host, port = ftp_server(CSMS_FTP_PASSIVE_PORTS=[passive], CSMS_FTP_PUBLIC_HOST="127.0.0.1")
    _, location = ftp_upload_location(make_station(), host, port)
    with ftp_login(location) as client:
        announced_host, announced_port = ftplib.parse227(client.sendcmd("PASV"))
    assert (announced_host, announced_port) == ("127.0.0.1", passive)


def _self_signed(directory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csms-ftp-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    certificate_path, key_path = directory / "ftp.crt", directory / "ftp.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(certificate_path), str(key_path)
