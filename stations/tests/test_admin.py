"""The operator's admin pages, rendered in-process (no station involved)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone

from csms.admin.actions import Target, calls_send
from csms.ocpp.models import Call, CallStatus, MessageLog
from stations.models import ChargeStation, ConfigurationKey, Connector, Node, StatusNotificationRecord
from stations.tests.admin_helpers import page_messages
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

ADMIN_APPS = ["ocpp", "stations", "transactions", "firmware", "partners"]


def make_station(station_id="CP-ADMIN", **fields) -> ChargeStation:
    return ChargeStation.objects.create(id=station_id, **fields)


def make_transaction(station, number=None, **fields) -> Transaction:
    return Transaction.objects.create(
        **({"id": number} if number else {}), station=station, connector_id=1, id_tag="TAG1", id_tag_status="Accepted",
        meter_start=100, started_at=timezone.now(), **fields,
    )


def log_frame(station, direction, frame, when=None):
    parsed = json.loads(frame)
    return MessageLog.objects.create(
        station_id=station.pk, direction=direction, message_type=parsed[0], message_id=parsed[1],
        action=parsed[2] if parsed[0] == 2 else "", frame=frame, created_at=when or timezone.now(),
    )


def text_of(response) -> str:
    return response.content.decode()


# --- Every model is there, and its pages render ------------------------------------------------------


def test_every_model_of_the_operator_apps_is_registered():
    missing = [model.__name__ for app in ADMIN_APPS for model in apps.get_app_config(app).get_models()
               if model not in admin.site._registry]
    assert missing == []


def test_every_changelist_renders_with_data(admin_client):
    station = make_station(online=True)
    Connector.objects.create(station=station, connector_id=1, status="Charging", error_code="NoError")
    make_transaction(station)
    log_frame(station, "in", '[2,"m1","Heartbeat",{}]')
    Call.objects.create(station=station, action="Reset", payload={"type": "Soft"})
    Node.objects.create(name="node-a")
    for app in ADMIN_APPS:
        for model in apps.get_app_config(app).get_models():
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            response = admin_client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            # The station filter is a text box, and filtering by it renders too.
            if "station" in [f.name for f in model._meta.get_fields()] and model is not ChargeStation:
                assert admin_client.get(url, {"station": station.pk}).status_code == 200, url


def test_station_changelist_shows_connector_states_and_registration(admin_client):
    station = make_station(online=True, registration_status="Pending")
    Connector.objects.create(station=station, connector_id=1, status="Faulted", error_code="GroundFailure")
    page = text_of(admin_client.get(reverse("admin:stations_chargestation_changelist")))
    assert "Pending" in page and "online" in page
    assert "Faulted" in page and "GroundFailure" in page
    assert "#c62828" in page  # faults are red


# --- A station's page ------------------------------------------------------------------------------------


def test_station_page_shows_everything_the_operator_needs(admin_client):
    # "_" and ":" are escaped in admin URLs: the page must still find its station.
    station = make_station("CP_ADMIN:1", online=True, reset_required=True, vendor="ACME")
    Connector.objects.create(station=station, connector_id=0, status="Available", error_code="NoError")
    Connector.objects.create(station=station, connector_id=1, status="Faulted", error_code="GroundFailure", info="earth")
    ConfigurationKey.objects.create(station=station, key="HeartbeatInterval", value="300", readonly=False)
    ConfigurationKey.objects.create(station=station, key="Bogus", value=None, known=False)
    transactions = [make_transaction(station) for _ in range(25)]
    done = Call.objects.create(station=station, action="Reset", payload={"type": "Hard"}, status=CallStatus.COMPLETED,
                               response={"status": "Rejected"})
    failed = Call.objects.create(station=station, action="ClearCache", status=CallStatus.ERROR,
                                 error_code="NotSupported", error_description="no cache here")
    start = timezone.now() - timedelta(minutes=10)
    for n in range(120):
        log_frame(station, "in" if n % 2 else "out", f'[2,"msg-{n:03d}","Heartbeat",{{"n":{n}}}]', start + timedelta(seconds=n))

    page = text_of(admin_client.get(reverse("admin:stations_chargestation_change", args=[quote(station.pk)])))

    assert 'id="reset-required"' in page
    connectors = page.split('id="panel-connectors"')[1].split('id="panel-configuration"')[0]
    assert "Available" in connectors and "Faulted" in connectors and "GroundFailure" in connectors
    assert "#2e7d32" in connectors and "#c62828" in connectors
    configuration = page.split('id="panel-configuration"')[1].split('id="panel-transactions"')[0]
    assert "HeartbeatInterval" in configuration and "300" in configuration and "unknown to the station" in configuration
    recent = page.split('id="panel-transactions"')[1].split('id="panel-calls"')[0]
    linked = re.findall(r"/admin/transactions/transaction/(\d+)/change/", recent)
    assert [int(pk) for pk in linked] == [tx.pk for tx in reversed(transactions)][:20]
    calls = page.split('id="panel-calls"')[1].split('id="panel-message-log"')[0]
    assert f"/admin/ocpp/call/{done.pk}/change/" in calls and "Rejected" in calls
    assert f"/admin/ocpp/call/{failed.pk}/change/" in calls and "NotSupported" in calls and "no cache here" in calls
    frames = page.split('id="panel-message-log"')[1]
    shown = re.findall(r"msg-(\d{3})</code>", frames)
    assert shown == [f"{n:03d}" for n in range(119, 19, -1)]  # the last 100, newest first
    assert "station → CSMS" in frames and "CSMS → station" in frames
    assert "&quot;n&quot;: 119" in frames  # indented for reading
    # The Call actions are offered on the station's own page too.
    assert reverse("admin:stations_chargestation_send_call", args=[quote(station.pk), "reset"]) in page


def test_station_password_is_set_and_changed_from_admin(admin_client):
    url = reverse("admin:stations_chargestation_add")
    response = admin_client.post(url, {"id": "CP-PW", "registration_status": "Accepted", "security_profile": "1",
                                       "password": "", "description": ""})
    assert response.status_code == 200 and "Security profiles 1 and 2 need a password" in text_of(response)
    assert not ChargeStation.objects.filter(pk="CP-PW").exists()

    response = admin_client.post(url, {"id": "CP-PW", "registration_status": "Accepted", "security_profile": "1",
                                       "password": "s3cret-s3cret-s3cret", "description": ""})
    assert response.status_code == 302, text_of(response)
    station = ChargeStation.objects.get(pk="CP-PW")
    assert station.check_password("s3cret-s3cret-s3cret") and "s3cret" not in station.password_hash

    change = reverse("admin:stations_chargestation_change", args=["CP-PW"])
    page = text_of(admin_client.get(change))
    assert "s3cret" not in page  # never rendered back
    # Saving without a password keeps the current one; a new one replaces it.
    form = {"registration_status": "Accepted", "security_profile": "1", "description": "bay 3", "password": ""}
    assert admin_client.post(change, form).status_code == 302
    station.refresh_from_db()
    assert station.check_password("s3cret-s3cret-s3cret") and station.description == "bay 3"
    assert admin_client.post(change, {**form, "password": "another-password-16"}).status_code == 302
    station.refresh_from_db()
    assert station.check_password("another-password-16") and not station.check_password("s3cret-s3cret-s3cret")
    # Removing it is refused while the profile needs one.
    response = admin_client.post(change, {**form, "clear_password": "on"})
    assert response.status_code == 200 and "need a password" in text_of(response)
    assert admin_client.post(change, {**form, "security_profile": "0", "clear_password": "on"}).status_code == 302
    station.refresh_from_db()
    assert station.password_hash == ""


def test_station_id_cannot_contain_a_slash(admin_client):
    response = admin_client.post(reverse("admin:stations_chargestation_add"),
                                 {"id": "a/b", "registration_status": "Accepted", "security_profile": "0"})
    assert response.status_code == 200 and "without &#x27;/&#x27;" in text_of(response)


def test_station_delete_confirmation_counts_instead_of_listing(admin_client):
    station = make_station()
    for n in range(30):
        log_frame(station, "in", f'[2,"d{n}","Heartbeat",{{}}]')
    make_transaction(station)
    url = reverse("admin:stations_chargestation_delete", args=[station.pk])
    page = text_of(admin_client.get(url))
    assert "Message log frames: 30" in page or "message log frames: 30" in page.lower()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not ChargeStation.objects.filter(pk=station.pk).exists()
    assert not MessageLog.objects.filter(station_id=station.pk).exists()


# --- Read-only records -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [MessageLog, StatusNotificationRecord, Call, ConfigurationKey, Connector])
def test_records_are_read_only(rf, admin_user, model):
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = admin_user
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False


def test_message_log_filters_and_search(admin_client):
    one, two = make_station("CP-ONE"), make_station("CP-TWO")
    log_frame(one, "in", '[2,"aaa-1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
    log_frame(one, "out", '[3,"aaa-1",{"status":"Accepted","currentTime":"2025-01-01T00:00:00Z","interval":300}]')
    log_frame(two, "in", '[2,"bbb-2","Heartbeat",{}]')
    url = reverse("admin:ocpp_messagelog_changelist")

    def ids(params):
        return set(re.findall(r"(aaa-1|bbb-2)</td>", text_of(admin_client.get(url, params))))

    assert ids({"station": "CP-TWO"}) == {"bbb-2"}
    assert ids({"action": "BootNotification"}) == {"aaa-1"}
    assert ids({"direction__exact": "out"}) == {"aaa-1"}
    assert ids({"q": "bbb-2"}) == {"bbb-2"}
    page = text_of(admin_client.get(url, {"station": "CP-ONE", "direction__exact": "in"}))
    assert "aaa-1" in page and "bbb-2" not in page
    # A frame's own page shows it indented.
    frame = MessageLog.objects.get(message_id="bbb-2")
    detail = text_of(admin_client.get(reverse("admin:ocpp_messagelog_change", args=[frame.pk])))
    assert "Heartbeat" in detail and "<pre" in detail
    assert admin_client.post(reverse("admin:ocpp_messagelog_change", args=[frame.pk]), {"frame": "x"}).status_code == 403


# --- Calls ----------------------------------------------------------------------------------------------------------


def test_call_pages_update_themselves_while_a_call_waits(admin_client):
    station = make_station(online=True)
    url = reverse("admin:ocpp_call_changelist")
    done = Call.objects.create(station=station, action="Reset", payload={"type": "Soft"}, status=CallStatus.COMPLETED,
                               response={"status": "Accepted"})
    page = text_of(admin_client.get(url))
    assert 'id="call-waiting-note"' not in page and "Accepted" in page
    assert 'http-equiv="refresh"' not in page  # never reloaded by a timer: the console socket tells it
    waiting = Call.objects.create(station=station, action="ClearCache", status=CallStatus.SENT)
    page = text_of(admin_client.get(url))
    assert 'id="call-waiting-note"' in page
    assert f'data-live="[[&quot;call&quot;, &quot;{waiting.pk}&quot;]]"' in page
    # Filtering to finished calls only: nothing to wait for.
    assert 'id="call-waiting-note"' not in text_of(admin_client.get(url, {"status__exact": "completed"}))
    assert 'id="call-waiting-note"' in text_of(admin_client.get(reverse("admin:ocpp_call_change", args=[waiting.pk])))
    detail = text_of(admin_client.get(reverse("admin:ocpp_call_change", args=[done.pk])))
    assert 'id="call-waiting-note"' not in detail and "&quot;type&quot;: &quot;Soft&quot;" in detail
    # A finished call's page still follows what it leads to (a remote start's transaction).
    assert f'data-live="[[&quot;call&quot;, &quot;{done.pk}&quot;]]"' in detail


def test_call_list_filters(admin_client):
    one, two = make_station("CP-C1"), make_station("CP-C2")
    a = Call.objects.create(station=one, action="Reset", source="admin", status=CallStatus.COMPLETED)
    b = Call.objects.create(station=two, action="ClearCache", source="api", status=CallStatus.ERROR, error_code="Timeout")
    url = reverse("admin:ocpp_call_changelist")

    def shown(params):
        page = text_of(admin_client.get(url, params))
        return {pk for pk in (a.pk, b.pk) if f"/admin/ocpp/call/{pk}/change/" in page}

    assert shown({}) == {a.pk, b.pk}
    assert shown({"station": "CP-C2"}) == {b.pk}
    assert shown({"action": "Reset"}) == {a.pk}
    assert shown({"status__exact": "error"}) == {b.pk}
    assert shown({"source__exact": "admin"}) == {a.pk}
    assert shown({"id__in": f"{b.pk}"}) == {b.pk}


# --- Action pages ---------------------------------------------------------------------------------------------------


def test_action_with_parameters_asks_for_them_first(admin_client):
    station = make_station(online=True)
    url = reverse("admin:stations_chargestation_changelist")
    response = admin_client.post(url, {"action": "unlock_connector", "_selected_action": [station.pk]})
    page = text_of(response)
    assert response.status_code == 200 and "Send UnlockConnector" in page and 'name="connector_id"' in page
    assert f'value="{station.pk}"' in page  # the selection travels with the form
    response = admin_client.post(url, {"action": "unlock_connector", "_selected_action": [station.pk],
                                       "apply": "1", "connector_id": "0"})
    assert response.status_code == 200 and "greater than or equal to 1" in text_of(response)
    response = admin_client.post(url, {"action": "change_availability", "_selected_action": [station.pk],
                                       "apply": "1", "connector_id": "x", "type": "Operative"})
    assert response.status_code == 200 and "Enter a whole number" in text_of(response)
    assert not Call.objects.exists()


def test_offline_station_is_reported_not_crashed(admin_client):
    station = make_station(online=False)
    response = admin_client.post(reverse("admin:stations_chargestation_changelist"),
                                 {"action": "clear_cache", "_selected_action": [station.pk]}, follow=True)
    assert response.status_code == 200
    assert ("error", f"ClearCache not sent to {station.pk}: station {station.pk} is not connected") in page_messages(text_of(response))
    assert not Call.objects.exists()


def test_boot_trigger_is_refused_for_an_accepted_station(admin_client):
    station = make_station(online=True, registration_status="Accepted", last_boot_at=timezone.now())
    response = admin_client.post(reverse("admin:stations_chargestation_changelist"),
                                 {"action": "trigger_message", "_selected_action": [station.pk], "apply": "1",
                                  "requested_message": "BootNotification"}, follow=True)
    errors = [text for level, text in page_messages(text_of(response)) if level == "error"]
    assert len(errors) == 1 and "errata 3.40" in errors[0]
    assert not Call.objects.exists()


def test_schema_refusal_reason_reaches_the_operator():
    station = make_station(online=True)
    outcome = calls_send(ocpp_action="Reset", targets=[Target(station.pk, station.pk, {"type": "Medium"})],
                         requested_by=None)
    assert outcome.sent == [] and len(outcome.refused) == 1
    assert "Reset schema" in outcome.refused[0].reason
    assert not Call.objects.exists()


def test_accepting_an_offline_station_only_changes_its_registration(admin_client):
    station = make_station(online=False, registration_status="Pending")
    response = admin_client.post(reverse("admin:stations_chargestation_changelist"),
                                 {"action": "accept_registration", "_selected_action": [station.pk]}, follow=True)
    station.refresh_from_db()
    assert station.registration_status == "Accepted"
    assert ("success", f"Accepted: {station.pk}.") in page_messages(text_of(response))
    assert not Call.objects.exists()
    admin_client.post(reverse("admin:stations_chargestation_changelist"),
                      {"action": "reject_registration", "_selected_action": [station.pk]})
    station.refresh_from_db()
    assert station.registration_status == "Rejected"


def test_object_page_action_asks_for_confirmation(admin_client):
    station = make_station(online=False)
    url = reverse("admin:stations_chargestation_send_call", args=[station.pk, "clear_cache"])
    page = text_of(admin_client.get(url))
    assert "Send ClearCache" in page and "offline" in page
    response = admin_client.post(url, {"apply": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:stations_chargestation_change", args=[station.pk])
    assert any(level == "error" and "not connected" in text for level, text in page_messages(text_of(response)))
    assert admin_client.get(reverse("admin:stations_chargestation_send_call", args=[station.pk, "nope"])).status_code == 404
