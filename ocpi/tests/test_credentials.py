"""The credentials handshake both ways over real HTTP, the Token header, the envelope and its ids."""

import base64

import pytest
import requests

from ocpi.credentials import credentials_rotate, register_with, token_a_issue, unregister_with
from ocpi.models import HandshakeState, OcpiPartner

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_partner_registers_with_us_and_token_a_stops_working(ocpi_node, emsp, ocpi_partner):
    partner = ocpi_partner()
    token_a = token_a_issue(partner=partner)
    # Token A opens versions and credentials only.
    assert emsp.get(f"{ocpi_node.http}/ocpi/versions", token_a)["_http_status"] == 200
    refused = emsp.get(f"{ocpi_node.http}/ocpi/2.2.1/locations", token_a)
    assert refused["_http_status"] == 401 and refused["status_code"] == 2000

    ours = emsp.register_with(f"{ocpi_node.http}/ocpi/versions", token_a)

    assert ours["url"] == f"{ocpi_node.http}/ocpi/versions"
    assert ours["roles"][0]["role"] == "CPO" and ours["token"] != token_a
    partner.refresh_from_db()
    assert partner.state == HandshakeState.REGISTERED
    assert (partner.country_code, partner.party_id) == ("NL", "EMS")
    assert partner.endpoint("locations") == f"{emsp.url}/ocpi/2.2.1/locations"
    # We read its platform with its token B.
    assert emsp.requests_to("GET", r"^/ocpi/2\.2\.1$")
    assert emsp.get(f"{ocpi_node.http}/ocpi/versions", token_a)["_http_status"] == 401
    assert emsp.get(f"{ocpi_node.http}/ocpi/2.2.1/credentials")["data"]["token"] == ours["token"]
    # A second POST is refused: registered parties update with PUT.
    again = emsp.send("POST", f"{ocpi_node.http}/ocpi/2.2.1/credentials", emsp.credentials("x" * 20))
    assert again["_http_status"] == 405


def test_the_envelope_the_ids_and_the_unencoded_token(ocpi_node, registered, emsp):
    response = requests.get(f"{ocpi_node.http}/ocpi/2.2.1", timeout=10,
                            headers={"Authorization": f"Token {emsp.token_for_csms}",  # 2.1.1 style
                                     "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"})
    body = response.json()
    assert response.status_code == 200 and body["status_code"] == 1000
    assert body["timestamp"].endswith("Z")
    assert (response.headers["X-Request-ID"], response.headers["X-Correlation-ID"]) == ("req-1", "corr-1")
    identifiers = {(e["identifier"], e["role"]) for e in body["data"]["endpoints"]}
    assert {("locations", "SENDER"), ("tokens", "RECEIVER"), ("commands", "RECEIVER")} <= identifiers


def test_a_wrong_token_is_401_in_the_envelope(ocpi_node, registered):
    for header in ({}, {"Authorization": "Token " + base64.b64encode(b"nope").decode()},
                   {"Authorization": "Bearer abc"}):
        response = requests.get(f"{ocpi_node.http}/ocpi/versions", headers=header, timeout=10)
        assert response.status_code == 401
        assert response.json()["status_code"] == 2000


def test_malformed_credentials_are_2001(ocpi_node, emsp, ocpi_partner):
    partner = ocpi_partner()
    token_a = token_a_issue(partner=partner)
    answer = emsp.send("POST", f"{ocpi_node.http}/ocpi/2.2.1/credentials", {"token": "abc", "roles": []}, token_a)
    assert answer["_http_status"] == 400 and answer["status_code"] == 2001
    response = requests.post(f"{ocpi_node.http}/ocpi/2.2.1/credentials", data=b"{not json", timeout=10,
                             headers={"Authorization": "Token " + base64.b64encode(token_a.encode()).decode(),
                                      "Content-Type": "application/json"})
    assert response.json()["status_code"] == 2001


def test_an_unreachable_partner_platform_is_3001(ocpi_node, emsp, ocpi_partner):
    partner = ocpi_partner()
    token_a = token_a_issue(partner=partner)
    body = emsp.credentials("b" * 20)
    body["url"] = "http://127.0.0.1:9/ocpi/versions"
    answer = emsp.send("POST", f"{ocpi_node.http}/ocpi/2.2.1/credentials", body, token_a)
    assert answer["status_code"] == 3001
    partner.refresh_from_db()
    assert partner.state == HandshakeState.AWAITING_REGISTRATION


def test_partner_updates_then_unregisters(ocpi_node, registered, emsp):
    old = emsp.token_for_csms
    emsp.accepted_tokens.add("new-b-token-1234")
    answer = emsp.send("PUT", f"{ocpi_node.http}/ocpi/2.2.1/credentials", emsp.credentials("new-b-token-1234"))
    assert answer["status_code"] == 1000 and answer["data"]["token"] != old
    registered.refresh_from_db()
    assert registered.outgoing_token == "new-b-token-1234"
    assert emsp.get(f"{ocpi_node.http}/ocpi/versions", old)["_http_status"] == 401
    emsp.token_for_csms = answer["data"]["token"]
    assert emsp.send("DELETE", f"{ocpi_node.http}/ocpi/2.2.1/credentials")["status_code"] == 1000
    registered.refresh_from_db()
    assert registered.state == HandshakeState.UNREGISTERED
    assert emsp.get(f"{ocpi_node.http}/ocpi/versions")["_http_status"] == 401


def test_we_register_with_a_partner_rotate_and_unregister(ocpi_node, emsp, ocpi_partner):
    partner = ocpi_partner()
    register_with(partner=partner, versions_url=emsp.versions_url, token_a=emsp.token_a_for_csms,
                  base_url=ocpi_node.http)
    partner.refresh_from_db()
    assert partner.state == HandshakeState.REGISTERED and partner.party_id == "EMS"
    posted = emsp.requests_to("POST", r"/credentials$")[0]
    token_b = posted.body["token"]
    assert posted.body["url"] == f"{ocpi_node.http}/ocpi/versions"
    # The partner uses token B with us; we use the token C it answered with.
    assert emsp.get(f"{ocpi_node.http}/ocpi/2.2.1", token_b)["_http_status"] == 200
    assert partner.outgoing_token in emsp.accepted_tokens and partner.outgoing_token != emsp.token_a_for_csms

    credentials_rotate(partner=partner, base_url=ocpi_node.http)
    new_b = emsp.requests_to("PUT", r"/credentials$")[0].body["token"]
    assert emsp.get(f"{ocpi_node.http}/ocpi/2.2.1", token_b)["_http_status"] == 401
    assert emsp.get(f"{ocpi_node.http}/ocpi/2.2.1", new_b)["_http_status"] == 200

    unregister_with(partner=partner)
    assert emsp.requests_to("DELETE", r"/credentials$")
    assert OcpiPartner.objects.get(pk=partner.pk).state == HandshakeState.UNREGISTERED
    assert emsp.get(f"{ocpi_node.http}/ocpi/2.2.1", new_b)["_http_status"] == 401


def test_registering_with_a_partner_that_refuses_is_recorded(ocpi_node, emsp, ocpi_partner):
    partner = ocpi_partner()
    with pytest.raises(Exception):
        register_with(partner=partner, versions_url=emsp.versions_url, token_a="not-its-token",
                      base_url=ocpi_node.http)
    partner.refresh_from_db()
    assert partner.state == HandshakeState.FAILED and "401" in partner.last_error


def test_the_management_command_prints_a_token_a_that_registers(ocpi_node, emsp):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("ocpi_partner_create", "Roaming Hub", "--country-code", "nl", "--party-id", "ems", stdout=out)
    token_a = out.getvalue().strip().splitlines()[-1]
    partner = OcpiPartner.objects.get(partner__name="Roaming Hub")
    assert (partner.country_code, partner.party_id, partner.state) == ("NL", "EMS", HandshakeState.AWAITING_REGISTRATION)
    emsp.register_with(f"{ocpi_node.http}/ocpi/versions", token_a)
    partner.refresh_from_db()
    assert partner.state == HandshakeState.REGISTERED
    # Run again: the same partner; the fresh token A ends the registration, and registers it again.
    old_token = emsp.token_for_csms
    out = StringIO()
    call_command("ocpi_partner_create", "Roaming Hub", "--country-code", "NL", "--party-id", "EMS", stdout=out)
    assert OcpiPartner.objects.filter(partner__name="Roaming Hub").count() == 1
    assert emsp.get(f"{ocpi_node.http}/ocpi/versions", old_token)["_http_status"] == 401
    emsp.register_with(f"{ocpi_node.http}/ocpi/versions", out.getvalue().strip().splitlines()[-1])
    assert OcpiPartner.objects.get(pk=partner.pk).state == HandshakeState.REGISTERED


def test_versions_answer_with_or_without_a_trailing_slash(ocpi_node, registered, emsp):
    for path in ("/ocpi/versions/", "/ocpi/2.2.1/", "/ocpi/2.2.1/credentials/", "/ocpi/2.2.1/locations/"):
        answer = emsp.get(f"{ocpi_node.http}{path}")
        assert (answer["_http_status"], answer["status_code"]) == (200, 1000), path
