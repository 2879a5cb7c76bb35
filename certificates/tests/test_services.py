"""Certificate services in process: CPO name rules and pluggable signers (no station connected)."""

import pytest

from certificates import pki
from certificates.services import signing
from certificates.models import CertificateRequest
from certificates.signers import SigningError
from stations.models import ChargeStation, ConfigurationKey

from .pkitools import make_csr

pytestmark = pytest.mark.django_db


class LaterSigner:
    """A CA that answers asynchronously."""

    name = "later CA"

    def sign(self, *, csr, station_id):
        return None


class RefusingSigner:
    name = "refusing CA"

    def sign(self, *, csr, station_id):
        raise SigningError("policy: no certificates on Sundays")


@pytest.fixture
def station():
    return ChargeStation.objects.create(id="CP-SVC")


def problems(station_id: str, organization: str | None) -> list[str]:
    return signing.csr_problems(pki.inspect_csr(make_csr(station_id, organization)[0]), station_id=station_id)


def test_o_must_match_every_known_cpo_name(station, settings):
    settings.CSMS_CPO_NAME = ""
    assert problems(station.pk, "Anyone") == []  # no CPO name known: any single O
    settings.CSMS_CPO_NAME = "ACME"
    assert problems(station.pk, "ACME") == []
    assert problems(station.pk, "Anyone") == ["the subject O is 'Anyone', CSMS_CPO_NAME is 'ACME'"]
    ConfigurationKey.objects.create(station=station, key="CpoName", value="ACME Charging")
    assert problems(station.pk, "ACME") == ["the subject O is 'ACME', the station's CpoName is 'ACME Charging'"]


def receive(station) -> CertificateRequest:
    return signing.certificate_request_receive(station_id=station.pk, csr=make_csr(station.pk)[0])


@pytest.mark.parametrize("signer, status, detail", [
    (f"{__name__}.LaterSigner", "pending", "submitted to later CA; waiting for its certificate"),
    (f"{__name__}.RefusingSigner", "signing_failed", "refusing CA: policy: no certificates on Sundays"),
    ("certificates.tests.nowhere.Signer", "signing_failed", "the configured signer cannot be loaded"),
])
def test_pluggable_signers_outcomes_are_recorded(station, settings, signer, status, detail):
    settings.CSMS_CERT_SIGNER = signer
    request = receive(station)
    assert request.status == "pending" and request.detail == "accepted; being signed by the CA"
    signed = signing.certificate_request_sign_automatically(request_id=request.pk)
    assert signed.status == status and detail in signed.detail


def test_signed_for_an_offline_station_is_kept_undelivered(station, settings, tmp_path):
    from .pkitools import make_ca, write_ca_files

    root, key = make_ca()
    cert_file, key_file = write_ca_files(tmp_path, [root], key)
    settings.CSMS_CERT_SIGNER = ""
    settings.CSMS_CA_CERT_FILE = cert_file
    settings.CSMS_CA_KEY_FILE = key_file
    request = signing.certificate_request_sign_automatically(request_id=receive(station).pk)
    assert request.status == "undelivered" and request.detail == "signed, not sent: station CP-SVC is not connected"
    assert pki.load_certificates(request.certificate_chain)[0].issuer == root.subject
    with pytest.raises(signing.CertificateRefused, match="only a pending request is signed"):
        signing.certificate_request_sign(request_id=request.pk)
