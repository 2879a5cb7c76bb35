"""The embedded CA (`manage.py ensure_ca`, run by `make run`): made once, key 0600 outside the
database; with it and no CA configured, a well-formed SignCertificate is Accepted and answered with
CertificateSigned signed by it (CN = the station's identity); another identity is Rejected."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from cryptography.x509.oid import NameOID
from django.conf import settings

from certificates import embedded, pki
from certificates.models import CertificateRequest
from csms.testing import Node, connect_station, db, eventually

from .pkitools import make_csr

pytestmark = pytest.mark.django_db(transaction=True)


def ensure_ca(directory, **env) -> str:
    result = subprocess.run([sys.executable, "manage.py", "ensure_ca"], cwd=settings.BASE_DIR, check=True, timeout=60,
                            capture_output=True, text=True,
                            env={**os.environ, "CSMS_EMBEDDED_CA_DIR": str(directory), "CSMS_CA_CERT_FILE": "",
                                 "CSMS_CA_KEY_FILE": "", "CSMS_CERT_SIGNER": "", **env})
    return result.stdout


def test_ensure_ca_makes_the_ca_once_with_a_private_key(tmp_path):
    directory = tmp_path / "ca"
    first = ensure_ca(directory)
    assert "Created CA" in first and "signed automatically by the embedded CA" in first
    target = embedded.Paths(directory)
    assert stat.S_IMODE(target.ca_key.stat().st_mode) == 0o600
    for kind in embedded.SERVER_KINDS:
        assert stat.S_IMODE(target.server_key(kind).stat().st_mode) == 0o600
        server = pki.load_certificate(target.server_cert(kind).read_text())
        assert pki.issued_by(server, pki.load_certificate(target.ca_cert.read_text()))
    ca_before = target.ca_cert.read_text()
    again = ensure_ca(directory)
    assert "Created" not in again and target.ca_cert.read_text() == ca_before

    configured = ensure_ca(tmp_path / "unused", CSMS_CA_CERT_FILE=str(target.ca_cert), CSMS_CA_KEY_FILE=str(target.ca_key))
    assert "(configured): no embedded CA made" in configured and not (tmp_path / "unused").exists()
    assert "when an operator asks" in ensure_ca(directory, CSMS_CERT_AUTO_SIGN="0")


@pytest.fixture(scope="module")
def embedded_ca_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("embedded") / "ca"
    ensure_ca(directory)
    return directory


@pytest.fixture(scope="module")
def out_of_the_box_node(test_database_url, embedded_ca_dir):
    """A node as `make run` starts it: no CA configured, the embedded CA in place."""
    started = Node(test_database_url, env={"CSMS_EMBEDDED_CA_DIR": str(embedded_ca_dir), "CSMS_CA_CERT_FILE": "",
                                           "CSMS_CA_KEY_FILE": "", "CSMS_CERT_SIGNER": ""}).start()
    yield started
    started.stop()


async def test_sign_certificate_is_answered_with_a_chain_from_the_embedded_ca(out_of_the_box_node, embedded_ca_dir,
                                                                             make_station):
    station = await db(make_station)()
    csr, key = make_csr(station.pk)
    async with connect_station(out_of_the_box_node, station.pk, boot=True) as cp:
        assert await cp.send("SignCertificate", {"csr": csr}) == {"status": "Accepted"}
        delivered = await cp.wait_for_call("CertificateSigned")
        await eventually(lambda: CertificateRequest.objects.filter(station_id=station.pk, status="installed").exists())
        assert await cp.send("SignCertificate", {"csr": make_csr("ANOTHER-IDENTITY")[0]}) == {"status": "Rejected"}
    leaf = pki.load_certificates(delivered["certificateChain"])[0]
    ca = pki.load_certificate(embedded.Paths(embedded_ca_dir).ca_cert.read_text())
    assert pki.issued_by(leaf, ca)
    assert pki.name_values(leaf.subject, NameOID.COMMON_NAME) == [station.pk]
    assert pki.public_key_fingerprint(leaf.public_key()) == pki.public_key_fingerprint(key.public_key())
