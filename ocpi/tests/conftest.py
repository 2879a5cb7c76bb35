"""OCPI fixtures: a real eMSP over HTTP (ocpi.testing.FakeEmsp) and a node that knows where it is."""

import uuid

import pytest

from ocpi.testing import FakeEmsp


@pytest.fixture
def ocpi_node(node):
    """The test node: its Celery runs inline (CSMS_CELERY_EAGER), so its own pump sends the pushes."""
    return node


@pytest.fixture
def emsp():
    party = FakeEmsp()
    yield party
    party.close()


@pytest.fixture
def ocpi_partner(transactional_db):
    """A partner organisation with its (not yet registered) OCPI party."""
    from ocpi.models import OcpiPartner
    from partners.models import Partner

    def make(**fields):
        partner = Partner.objects.create(name=f"eMSP {uuid.uuid4().hex[:6]}")
        return OcpiPartner.objects.create(partner=partner, **fields)

    return make


@pytest.fixture
def registered(ocpi_node, emsp, ocpi_partner):
    """An eMSP that registered with us through the handshake (token A → B → C)."""
    from ocpi.credentials import token_a_issue

    partner = ocpi_partner()
    token_a = token_a_issue(partner=partner)
    emsp.register_with(f"{ocpi_node.http}/ocpi/versions", token_a)
    partner.refresh_from_db()
    return partner
