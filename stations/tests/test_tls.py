"""Security profiles 2 and 3 over real TLS: Debian's nginx with deploy/nginx/nginx.conf.template in
front of a node, started by these tests on spare ports, and the `websockets` client with an
`ssl.SSLContext` as the station (docs/adr/0121-tls-terminator.md)."""

from __future__ import annotations

import base64
import ssl
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from websockets.exceptions import InvalidStatus

from certificates import embedded, pki
from certificates.tests.pkitools import ec_key, key_pem, make_ca, make_leaf, name, pem, rsa_key
from csms.terminator import Terminator, nginx_binary
from csms.testing import Node, connect_station, db, free_port

pytestmark = pytest.mark.django_db(transaction=True)

CPO = "Test CPO"


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory) -> Path:
    """The embedded CA and server certificates, as `manage.py ensure_ca` makes them."""
    nginx_binary()  # fail, not skip, when nginx is missing: .ci/run installs it
    directory = tmp_path_factory.mktemp("pki")
    target = embedded.Paths(directory)
    embedded.ca_create(target)
    for kind in embedded.SERVER_KINDS:
        embedded.server_certificate_issue(target, kind=kind, hostnames=["localhost", "127.0.0.1"])
    return directory


@pytest.fixture(scope="module")
def tls_node(test_database_url, pki_dir):
    started = Node(test_database_url, env={"CSMS_TRUSTED_PROXIES": "127.0.0.1", "CSMS_EMBEDDED_CA_DIR": str(pki_dir),
                                           "CSMS_CPO_NAME": CPO}).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def terminator(tls_node, pki_dir):
    started = Terminator(tls_port=free_port(), upstream=f"127.0.0.1:{tls_node.port}", cert_dir=pki_dir).start()
    yield started
    started.stop()


def ca_of(pki_dir: Path):
    target = embedded.Paths(pki_dir)
    ca = pki.load_certificate(target.ca_cert.read_text())
    key = serialization.load_pem_private_key(target.ca_key.read_bytes(), password=None)
    return ca, key


def client_files(tmp_path: Path, certificate: x509.Certificate, key) -> tuple[str, str]:
    cert_file, key_file = tmp_path / f"{uuid.uuid4().hex}.pem", tmp_path / f"{uuid.uuid4().hex}.key"
    cert_file.write_text(pem(certificate))
    key_file.write_bytes(key_pem(key))
    return str(cert_file), str(key_file)


def station_context(pki_dir: Path, client: tuple[str, str] | None = None, *, maximum=None, minimum=ssl.TLSVersion.TLSv1_2,
                    ciphers: str | None = None) -> ssl.SSLContext:
    """A station's TLS: it trusts the CSMS's CA (CentralSystemRootCertificate) and checks the host name."""
    context = ssl.create_default_context(cafile=str(embedded.Paths(pki_dir).ca_cert))
    context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    if ciphers:
        context.set_ciphers(ciphers)
    if client:
        context.load_cert_chain(*client)
    return context


def wss(terminator: Terminator) -> str:
    return f"wss://127.0.0.1:{terminator.tls_port}"


async def handshake(url: str, **options) -> int:
    try:
        async with websockets.connect(url, subprotocols=["ocpp1.6"], open_timeout=10, **options):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def reasons(station) -> list[str]:
    return list(station.failed_authentications.order_by("id").values_list("reason", flat=True))


async def test_profile_3_admits_a_certificate_from_our_ca_and_refuses_the_others(terminator, pki_dir, tmp_path,
                                                                                 make_station):
    station = await db(make_station)(security_profile=3)
    ca, ca_key = ca_of(pki_dir)
    key = ec_key()
    ours = client_files(tmp_path, make_leaf(name(station.pk, CPO), key.public_key(), ca, ca_key), key)
    async with connect_station(None, station.pk, base_url=wss(terminator), ssl=station_context(pki_dir, ours)) as cp:
        assert (await cp.boot())["status"] == "Accepted"
        assert "currentTime" in await cp.send("Heartbeat", {})
    assert await db(reasons)(station) == []

    url = f"{wss(terminator)}/ocpp/{quote(station.pk)}"
    other_ca, other_key = make_ca("Someone else's CA")
    expired_leaf = (x509.CertificateBuilder().subject_name(name(station.pk, CPO)).issuer_name(ca.subject)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(datetime.now(UTC) - timedelta(days=30))
                    .not_valid_after(datetime.now(UTC) - timedelta(days=1))
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .sign(ca_key, hashes.SHA256()))
    refused = {
        "another CA": make_leaf(name(station.pk, CPO), key.public_key(), other_ca, other_key),
        "expired": expired_leaf,
        "wrong CN": make_leaf(name("another-station", CPO), key.public_key(), ca, ca_key),
        "wrong O": make_leaf(name(station.pk, "Another CPO"), key.public_key(), ca, ca_key),
    }
    for label, certificate in refused.items():
        context = station_context(pki_dir, client_files(tmp_path, certificate, key))
        assert await handshake(url, ssl=context) == 401, label
    assert await handshake(url, ssl=station_context(pki_dir)) == 401, "no certificate at all"
    # A profile-3 station with only a password arrives under a weaker profile.
    assert await handshake(url, ssl=station_context(pki_dir), additional_headers=basic(station.pk, "x" * 20)) == 401

    recorded = await db(reasons)(station)
    assert len(recorded) == 6
    assert recorded[0].startswith("no verified TLS client certificate (the TLS terminator's verification: FAILED")
    assert "expired" in recorded[1]
    assert "CN is another-station" in recorded[2]
    assert "O is 'Another CPO', CSMS_CPO_NAME is 'Test CPO'" in recorded[3]
    assert recorded[4] == recorded[5] == "no verified TLS client certificate"
    rows = await db(lambda: list(station.failed_authentications.values_list("remote_address", flat=True)))()
    assert set(rows) == {"127.0.0.1"}


async def test_profile_2_over_tls_with_basic_credentials(terminator, tls_node, pki_dir, make_station, api):
    station = await db(make_station)(security_profile=2, password="profile-2-password-0001")
    url = f"{wss(terminator)}/ocpp/{quote(station.pk)}"
    context = station_context(pki_dir)
    assert await handshake(url, ssl=context) == 401
    assert await handshake(url, ssl=context, additional_headers=basic(station.pk, "not-the-password-00")) == 401
    async with connect_station(None, station.pk, base_url=wss(terminator), ssl=context,
                               headers=basic(station.pk, "profile-2-password-0001")) as cp:
        assert (await cp.boot())["status"] == "Accepted"
    # Without TLS (straight to the node) the right password is not enough.
    plain = f"{tls_node.ws}/ocpp/{quote(station.pk)}"
    assert await handshake(plain, additional_headers=basic(station.pk, "profile-2-password-0001")) == 401
    failures = api.get(f"/api/v1/stations/{station.pk}/failed-authentications/").json()
    assert [row["reason"] for row in failures] == [
        "security profile 2 needs TLS; the connection came without it", "wrong password", "no HTTP Basic credentials"]
    assert all("profile-2-password" not in row["reason"] for row in failures)


async def test_tls_1_0_and_1_1_are_refused_by_the_terminator(terminator, pki_dir):
    url = f"{wss(terminator)}/ocpp/anything"
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        context = station_context(pki_dir, minimum=version, maximum=version, ciphers="DEFAULT:@SECLEVEL=0")
        with pytest.raises(ssl.SSLError) as refused:
            await handshake(url, ssl=context)
        # The server's alert, not our client's own refusal to speak the old version.
        assert "ALERT" in refused.value.reason.upper() or "VERSION" in refused.value.reason.upper(), refused.value
        assert "NO_PROTOCOLS_AVAILABLE" not in refused.value.reason.upper(), refused.value
    # TLS 1.2 alone goes through (to the unknown chargeBoxId's 404).
    assert await handshake(url, ssl=station_context(pki_dir, maximum=ssl.TLSVersion.TLSv1_2)) == 404


@pytest.mark.parametrize("cipher,accepted", [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", True),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", True),
    ("AES128-GCM-SHA256", True),  # TLS_RSA_WITH_AES_128_GCM_SHA256, with the RSA certificate
    ("AES256-GCM-SHA384", True),
    ("AES128-SHA", False),  # CBC with SHA-1: not among the whitepaper's suites
    ("ECDHE-RSA-AES128-SHA", False),
])
async def test_the_whitepapers_cipher_suites_over_tls_1_2(terminator, pki_dir, cipher, accepted):
    context = station_context(pki_dir, maximum=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    url = f"{wss(terminator)}/ocpp/anything"
    if accepted:
        assert await handshake(url, ssl=context) == 404
    else:
        with pytest.raises(ssl.SSLError):
            await handshake(url, ssl=context)


async def test_the_certificate_header_counts_only_from_a_trusted_proxy(tls_node, pki_dir, make_station):
    """Straight to the node: from 127.0.0.2 (not a trusted proxy) the header and the claimed https are
    dropped; from 127.0.0.1 (trusted, where nginx connects from) the same request is believed."""
    station = await db(make_station)(security_profile=3)
    ca, ca_key = ca_of(pki_dir)
    certificate = make_leaf(name(station.pk, CPO), rsa_key().public_key(), ca, ca_key)
    forged = {"X-Client-Cert": quote(pem(certificate), safe=""), "X-Forwarded-Proto": "https"}
    url = f"{tls_node.ws}/ocpp/{quote(station.pk)}"
    assert await handshake(url, additional_headers=forged, local_addr=("127.0.0.2", 0)) == 401
    assert await db(reasons)(station) == ["security profile 3 needs TLS; the connection came without it"]
    assert await handshake(url, additional_headers=forged) == 101


def test_the_docker_image_fills_every_placeholder_of_the_template():
    import re

    from csms.terminator import PLACEHOLDER, TEMPLATE

    dockerfile = (TEMPLATE.parent / "Dockerfile").read_text()
    substituted = set(re.findall(r"\$\{(CSMS_[A-Z_]+)\}", dockerfile.split("envsubst", 1)[1].split("<", 1)[0]))
    assert substituted == set(PLACEHOLDER.findall(TEMPLATE.read_text()))
