"""OCPI in the operator's console: token A shown once and used by a real eMSP, registering with an eMSP
from a form, the partner's other actions, the push log with "retry now", the read-only records, and
no credentials token in any page."""

import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ocpi.models import HandshakeState, OcpiPartner, OcpiPush, OcpiToken, PushStatus
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_A = re.compile(r'<code id="token-a-value">([^<]+)</code>')


def action_url(partner, name):
    return reverse("admin:ocpi_ocpipartner_send_call", args=[partner.pk, name])


def change_page(client, partner) -> str:
    response = client.get(reverse("admin:ocpi_ocpipartner_change", args=[partner.pk]))
    assert response.status_code == 200
    return response.content.decode()


OCPI_MODELS = ["ocpipartner", "ocpipush", "ocpitoken", "ocpisession", "ocpicdr", "ocpicommand"]


def assert_no_token_anywhere(client, partner, *tokens):
    """None of these tokens on any OCPI list, nor on the partner's page or its pushes' pages."""
    pages = [reverse(f"admin:ocpi_{model}_changelist") for model in OCPI_MODELS]
    pages.append(reverse("admin:ocpi_ocpipartner_change", args=[partner.pk]))
    pages += [reverse("admin:ocpi_ocpipush_change", args=[pk]) for pk in partner.pushes.values_list("pk", flat=True)]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not [token for token in tokens if token and token in html], url


def messages_of(response) -> list[tuple[str, str]]:
    """(level, text) of the page's messages, lower-cased (the console capitalises the first letter)."""
    return [(level, text.lower()) for level, text in page_messages(response.content.decode())]


def test_token_a_is_shown_once_and_an_emsp_registers_with_it(admin_client, ocpi_node, emsp, ocpi_partner, settings):
    settings.CSMS_OCPI_BASE_URL = ocpi_node.http
    partner = ocpi_partner()
    confirm = admin_client.get(action_url(partner, "issue_token_a"))
    assert confirm.status_code == 200 and "shown once" in confirm.content.decode()
    assert 'href="%s"' % action_url(partner, "issue_token_a") in change_page(admin_client, partner)

    first = admin_client.post(action_url(partner, "issue_token_a"))
    first_token = TOKEN_A.search(first.content.decode()).group(1)
    second = admin_client.post(action_url(partner, "issue_token_a")).content.decode()
    token_a = TOKEN_A.search(second).group(1)
    versions_url = re.search(r'<code id="versions-url">([^<]+)</code>', second).group(1)
    assert token_a != first_token and versions_url == f"{ocpi_node.http}/ocpi/versions"

    # Never again: not on the partner's page, and the first one no longer opens our versions.
    page = change_page(admin_client, partner)
    assert token_a not in page and first_token not in page
    assert "token A issued" in page and "set: token A, for it to register" in page
    assert emsp.get(versions_url, first_token)["_http_status"] == 401

    ours = emsp.register_with(versions_url, token_a)

    partner.refresh_from_db()
    assert partner.state == HandshakeState.REGISTERED
    page = change_page(admin_client, partner)
    assert ">registered<" in page and "NL*EMS" in page and f"{emsp.url}/ocpi/2.2.1/locations" in page
    assert "set: its credentials token" in page
    assert_no_token_anywhere(admin_client, partner, token_a, first_token, ours["token"], partner.outgoing_token)
    listing = admin_client.get(reverse("admin:ocpi_ocpipartner_changelist")).content.decode()
    assert partner.partner.name in listing and "NL*EMS" in listing and "EMSP" in listing
    # Registered: no token A any more (the service refuses, the button is gone).
    assert action_url(partner, "issue_token_a") not in page
    refused = admin_client.post(action_url(partner, "issue_token_a"), follow=True)
    assert ("error", f"{partner}: the partner is registered: unregister it first".lower()) in messages_of(refused)


def test_registering_with_an_emsp_from_the_form(admin_client, emsp, ocpi_partner):
    partner = ocpi_partner()
    form = admin_client.get(action_url(partner, "register_with"))
    assert form.status_code == 200 and 'name="token_a"' in form.content.decode()

    wrong = admin_client.post(action_url(partner, "register_with"),
                              {"versions_url": emsp.versions_url, "token_a": "not-its-token-a"}, follow=True)
    errors = [text for level, text in messages_of(wrong) if level == "error"]
    assert len(errors) == 1 and "401" in errors[0], messages_of(wrong)
    partner.refresh_from_db()
    assert partner.state == HandshakeState.FAILED
    page = wrong.content.decode()
    assert ">failed<" in page and partner.last_error in page and "not-its-token-a" not in page

    done = admin_client.post(action_url(partner, "register_with"),
                             {"versions_url": emsp.versions_url, "token_a": emsp.token_a_for_csms}, follow=True)
    assert ("success", f"{OcpiPartner.objects.get(pk=partner.pk)}: registered as NL*EMS.".lower()) in messages_of(done)
    partner.refresh_from_db()
    assert partner.state == HandshakeState.REGISTERED and partner.outgoing_token
    page = done.content.decode()
    assert ">registered<" in page and f"{emsp.url}/ocpi/2.2.1/cdrs" in page
    our_token_b = emsp.requests_to("POST", r"/credentials$")[0].body["token"]
    assert_no_token_anywhere(admin_client, partner, emsp.token_a_for_csms, partner.outgoing_token, our_token_b)

    rotated = admin_client.post(action_url(partner, "rotate_credentials"), follow=True)
    assert any("credentials rotated" in text for level, text in messages_of(rotated) if level == "success")
    partner.refresh_from_db()
    assert emsp.requests_to("PUT", r"/credentials$") and partner.outgoing_token not in rotated.content.decode()

    republished = admin_client.post(action_url(partner, "republish"), follow=True)
    assert any(re.search(r"\d+ push(es)? queued\.$", text) for level, text in messages_of(republished)
               if level == "success"), messages_of(republished)

    gone = admin_client.post(action_url(partner, "unregister"), follow=True)
    assert any(text.endswith("unregistered.") for level, text in messages_of(gone) if level == "success")
    assert emsp.requests_to("DELETE", r"/credentials$")
    assert OcpiPartner.objects.get(pk=partner.pk).state == HandshakeState.UNREGISTERED


def test_the_push_log_lists_pushes_and_retries_failed_ones_now(admin_client, emsp, ocpi_partner):
    from ocpi.credentials import register_with
    from ocpi.pushes import push_enqueue, pushes_send_due

    partner = ocpi_partner()
    register_with(partner=partner, versions_url=emsp.versions_url, token_a=emsp.token_a_for_csms,
                  base_url="http://csms.test")
    partner.refresh_from_db()
    with transaction.atomic():
        push = push_enqueue(partner=partner, module="locations", object_key="LOC1", method="PUT",
                            path="/NL/CPO/LOC1", body={"id": "LOC1", "name": "Pushed location"})
    emsp.failures[("PUT", r"/locations/")] = (500, {"status_code": 3000, "status_message": "down"})
    assert pushes_send_due() == 1
    # Given up (as after CSMS_OCPI_PUSH_RETRY_HOURS).
    OcpiPush.objects.filter(pk=push.pk).update(status=PushStatus.FAILED, next_attempt_at=None)

    changelist = reverse("admin:ocpi_ocpipush_changelist")
    listing = admin_client.get(changelist, {"status__exact": "failed", "partner__id__exact": partner.pk})
    text = listing.content.decode()
    assert listing.status_code == 200 and "LOC1" in text and ">failed<" in text and "HTTP 500" in text
    assert admin_client.get(changelist, {"status__exact": "delivered"}).content.decode().count("LOC1") == 0
    page = admin_client.get(reverse("admin:ocpi_ocpipush_change", args=[push.pk])).content.decode()
    assert "Pushed location" in page and "Retry now" in page
    partners = admin_client.get(reverse("admin:ocpi_ocpipartner_changelist")).content.decode()
    assert 'status__exact=failed">1</a>' in partners
    assert_no_token_anywhere(admin_client, partner, partner.outgoing_token,
                             emsp.requests_to("POST", r"/credentials$")[0].body["token"])

    retried = admin_client.post(changelist, {"action": "retry_now", "_selected_action": [push.pk]}, follow=True)
    assert any("1 push due now" in text for level, text in messages_of(retried) if level == "success")
    push.refresh_from_db()
    assert push.status == PushStatus.PENDING and push.next_attempt_at <= timezone.now()

    emsp.failures.clear()
    assert pushes_send_due() == 1
    push.refresh_from_db()
    assert push.status == PushStatus.DELIVERED and push.attempts == 2
    assert emsp.requests_to("PUT", r"/locations/NL/CPO/LOC1$")[-1].body["name"] == "Pushed location"
    again = admin_client.post(changelist, {"action": "retry_now", "_selected_action": [push.pk]}, follow=True)
    assert ("error", f"push {push.pk}: a delivered push is not retried") in messages_of(again)


def test_read_only_records_the_roaming_group_and_staff_only(admin_client, client, ocpi_partner, django_user_model):
    from partners.models import PartnerMember
    from transactions.models import IdTag

    partner = ocpi_partner(country_code="NL", party_id="EMS")
    tag = IdTag.objects.create(id_tag="OCPI0001", partner=partner.partner)
    OcpiToken.objects.create(partner=partner, country_code="NL", party_id="EMS", uid="OCPI0001", type="RFID",
                             contract_id="NL-EMS-C1", issuer="Test eMSP", valid=True, whitelist="ALLOWED",
                             last_updated=timezone.now(), id_tag=tag, realtime_allowed="ALLOWED")
    tokens = admin_client.get(reverse("admin:ocpi_ocpitoken_changelist")).content.decode()
    assert "OCPI0001" in tokens and reverse("admin:transactions_idtag_change", args=[tag.pk]) in tokens
    token = OcpiToken.objects.get()
    assert "Save" not in admin_client.get(reverse("admin:ocpi_ocpitoken_change", args=[token.pk])).content.decode()
    for model in ("ocpisession", "ocpicdr", "ocpicommand"):
        assert admin_client.get(reverse(f"admin:ocpi_{model}_changelist")).status_code == 200
        assert admin_client.get(reverse(f"admin:ocpi_{model}_add")).status_code == 403

    roaming = admin_client.get(reverse("admin:section", args=["roaming"])).content.decode()
    assert "OCPI partners" in roaming and "OCPI pushes" in roaming
    partners_section = admin_client.get(reverse("admin:section", args=["partners"])).content.decode()
    assert "OCPI partners" not in partners_section

    # A partner's own user is not staff: the console lets it in nowhere, OCPI included.
    member = django_user_model.objects.create_user(username="emsp-user", password="pw-123456")
    PartnerMember.objects.create(user=member, partner=partner.partner)
    client.force_login(member)
    response = client.get(reverse("admin:ocpi_ocpitoken_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_cdr_total_reads_the_document():
    from ocpi.admin import cdr_total

    assert cdr_total({"currency": "EUR", "total_cost": {"excl_vat": "10.00", "incl_vat": "12.10"}}) == \
        "10.00 EUR excl. VAT (12.10 incl.)"
    assert cdr_total({"currency": "EUR", "total_cost": {"excl_vat": 3.5}}) == "3.5 EUR excl. VAT"
    assert cdr_total({}) == "—"


def test_an_ocpi_partner_is_added_for_a_partner_picked_or_created_there(admin_client, make_station):
    from partners.models import Partner

    add = reverse("admin:ocpi_ocpipartner_add")
    form = admin_client.get(add).content.decode()
    # The organisation is picked (autocomplete) or created in the popup next to it.
    assert 'id="add_id_partner"' in form and "admin-autocomplete" in form and "_token" not in form.replace("csrfmiddlewaretoken", "")
    organisation = Partner.objects.create(name="Roaming eMSP")
    station = make_station()
    response = admin_client.post(add, {"partner": organisation.pk, "visibility": "chosen", "stations": [station.pk],
                                       "realtime_authorization": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    ocpi_partner = OcpiPartner.objects.get(partner=organisation)
    assert ocpi_partner.state == HandshakeState.NEW and list(ocpi_partner.stations.all()) == [station]
    page = change_page(admin_client, ocpi_partner)
    assert "not started" in page and "Issue token A" in page and "Register with the partner" in page
    assert "Rotate credentials" not in page and 'name="partner"' not in page
