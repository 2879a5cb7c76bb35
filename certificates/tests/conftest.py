"""A node with a CA configured (its own process, started with the CA files in its environment)."""

from dataclasses import dataclass

import pytest
from cryptography import x509

from csms.testing import Api, Node

from .pkitools import make_ca, rsa_key, write_ca_files


@dataclass
class CertificateAuthority:
    root: x509.Certificate
    issuing: x509.Certificate
    issuing_key: object
    cert_file: str
    key_file: str


@pytest.fixture(scope="module")
def cpo_ca(tmp_path_factory) -> CertificateAuthority:
    """A CPO hierarchy: an EC root, and an RSA issuing CA (so that RSA-PSS signing is exercised)."""
    root, root_key = make_ca("Test Root CA")
    issuing, issuing_key = make_ca("Test Issuing CA", key=rsa_key(), issuer=root, issuer_key=root_key)
    cert_file, key_file = write_ca_files(tmp_path_factory.mktemp("ca"), [issuing, root], issuing_key)
    return CertificateAuthority(root, issuing, issuing_key, cert_file, key_file)


@pytest.fixture(scope="module")
def ca_node(test_database_url, cpo_ca):
    started = Node(test_database_url, env={"CSMS_CA_CERT_FILE": cpo_ca.cert_file, "CSMS_CA_KEY_FILE": cpo_ca.key_file,
                                           "CSMS_CERT_SIGNER": ""}).start()
    yield started
    started.stop()


@pytest.fixture
def ca_api(ca_node, staff_user):
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=staff_user)
    return Api(ca_node.http, token.key)
