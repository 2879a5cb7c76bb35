"""Sending a Call from the admin needs the one permission (csms.ocpp.permissions: `ocpp.add_call`),
on every path of every app's admin: list actions, the actions' own object URLs, and the forms
whose saving sends a Call.

Every registered action and custom admin URL is enumerated: one that is not checked here must be
listed as sending no Call, so a new path cannot slip through unnoticed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from certificates.models import CertificateRequest, InstalledCertificate
from csms.ocpp.models import Call
from firmware.models import Firmware
from firmware.services import rollouts as firmware_rollouts
from firmware.services import updates as firmware_updates
from locallists.models import LocalList
from reservations.models import Reservation
from smartcharging.services import library as smartcharging_library
from stations.models import ChargeStation
from stations.tests.admin_helpers import page_messages
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

# Actions that send no Call, by model ("app_label.model_name"); every other action must need send_call.
SENDS_NO_CALL = {
    "*": {"delete_selected"},
    "stations.chargestation": {"reject_registration", "set_file_transfer_protocol"},
    "transactions.idtag": {"block", "unblock"},
    "certificates.certificaterequest": {"cancel_requests"},
    "alerts.alert": {"acknowledge"},
    "webhooks.webhookendpoint": {"send_ping", "enable", "disable"},
    "webhooks.webhookdelivery": {"redeliver"},
    "ocpi.ocpipartner": {"issue_token_a", "register_with", "rotate_credentials", "unregister", "republish"},
    "ocpi.ocpipush": {"retry_now"},
    "axes.accessattempt": {"cleanup_expired_attempts"},
}
# Custom admin URLs (by name) that send no Call.
URLS_WITHOUT_CALLS = {"firmware_diagnosticsrequest_download", "certificates_certificaterequest_step:cancel",
                      "auth_user_password_change", "otp_totp_totpdevice_config", "otp_totp_totpdevice_qrcode"}
# Values of URL parameters that are neither an object id nor an action name.
STEPS = ["sign", "upload", "deliver", "cancel"]


@pytest.fixture
def samples(db) -> dict[str, object]:
    """One object of every model whose admin offers a Call, by "app_label.model_name"."""
    station = ChargeStation.objects.create(id="CP-PERM", online=True, channel_name="test.nobody-listens",
                                           registration_status="Pending")
    offline = ChargeStation.objects.create(id="CP-PERM-OFF")
    transaction = Transaction.objects.create(station=station, connector_id=1, id_tag="TAG1", id_tag_status="Accepted",
                                             meter_start=0, started_at=timezone.now())
    request = CertificateRequest.objects.create(station=station, status="pending", subject="CN=CP-PERM")
    installed = InstalledCertificate.objects.create(
        station=station, certificate_type="CentralSystemRootCertificate", hash_algorithm="SHA256",
        issuer_name_hash="aa", issuer_key_hash="bb", serial_number="1F", source="reported")
    update = firmware_updates.firmware_update_create(stations=[offline], location="https://fw.example.com/a.bin")
    profile = smartcharging_library.charging_profile_create(purpose="TxDefaultProfile", charging_rate_unit="A",
                                                             kind="Relative", periods=[{"start_period": 0, "limit": "16"}])
    reservation = Reservation.objects.create(station=station, connector_id=1, id_tag="TAG1", status="accepted",
                                             expiry_date=timezone.now() + timedelta(hours=1))
    local_list = LocalList.objects.create(station=station)
    rollout = firmware_rollouts.firmware_rollout_create(
        firmware=Firmware.objects.create(name="perm", version="2", external_location="https://fw.example.com/r.bin"),
        candidates=ChargeStation.objects.all(), station_ids=[offline.pk])
    return {
        "stations.chargestation": station, "certificates.stationcertificates": station,
        "smartcharging.stationsmartcharging": station, "transactions.transaction": transaction,
        "certificates.certificaterequest": request, "certificates.installedcertificate": installed,
        "firmware.firmwareupdate": update, "smartcharging.chargingprofile": profile,
        "reservations.reservation": reservation, "locallists.locallist": local_list,
        "firmware.firmwarerollout": rollout,
    }


def staff(django_user_model, *, may_send: bool):
    """A staff user with every model permission, with or without the one to send Calls."""
    user = django_user_model.objects.create_user(username=f"staff-{uuid.uuid4().hex[:8]}", password="pw",
                                                 is_staff=True)
    permissions = Permission.objects.all()
    if not may_send:
        permissions = permissions.exclude(content_type__app_label="ocpp", codename="add_call")
    user.user_permissions.set(permissions)
    return django_user_model.objects.get(pk=user.pk)  # no cached permissions


@pytest.fixture
def clients(client, django_user_model):
    from django.test import Client

    refused, allowed = Client(), Client()
    refused.force_login(staff(django_user_model, may_send=False))
    allowed.force_login(staff(django_user_model, may_send=True))
    return refused, allowed


def label_of(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def quiet_actions(model) -> set[str]:
    return SENDS_NO_CALL["*"] | SENDS_NO_CALL.get(label_of(model), set())


def sending_actions() -> list[tuple[type, str]]:
    found = []
    for model, model_admin in admin.site._registry.items():
        for func, name, _ in model_admin._get_base_actions():
            if "send_call" in getattr(func, "allowed_permissions", ()):
                found.append((model, name))
            else:
                assert name in quiet_actions(model), f"{label_of(model)} action {name!r}: require send_call, or list it as sending no Call"
    return found


def test_the_enumeration_finds_every_kind_of_path():
    names = {name for _, name in sending_actions()}
    assert {"reset", "accept_registration", "update_firmware", "request_diagnostics", "remote_stop_transaction",
            "sign_with_ca", "delete_from_station", "install_certificate", "assign_to_station", "clear_profiles",
            "cancel_reservations", "sync_lists", "retry_updates"} <= names


def test_list_actions_that_send_calls_need_the_permission(samples, clients):
    refused, allowed = clients
    for model, name in sending_actions():
        label = label_of(model)
        assert label in samples, f"add a sample {label} to this test"
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        data = {"action": name, "_selected_action": [str(samples[label].pk)]}
        calls = Call.objects.count()
        response = refused.post(url, {**data, "apply": "1"}, follow=True)
        assert response.status_code == 200, (label, name)
        assert not [text for level, text in page_messages(response.content.decode()) if level == "success"], (label, name)
        assert Call.objects.count() == calls, f"{label} {name} sent a Call without the permission"

        response = allowed.post(url, data, follow=True)  # the parameters page, or the action run at once
        assert response.status_code == 200, (label, name)
        assert "No action selected." not in response.content.decode(), (label, name)


def custom_urls() -> list[tuple[type, str, dict]]:
    """(model, url name, kwargs) of every admin URL a ModelAdmin adds to Django's own."""
    found = []
    for model, model_admin in admin.site._registry.items():
        standard = {pattern.name for pattern in admin.ModelAdmin.get_urls(model_admin)}
        for pattern in model_admin.get_urls():
            if pattern.name in standard or pattern.name is None or pattern.name in URLS_WITHOUT_CALLS:
                continue
            parameters = set(pattern.pattern.converters) - {"object_id"}
            if "action_name" in parameters:
                variants = [{"action_name": action.name} for action in model_admin.object_actions
                            if action.name not in quiet_actions(model)]
            elif "step" in parameters:
                variants = [{"step": step} for step in STEPS]
            else:
                assert not parameters, f"{pattern.name}: teach this test the values of {parameters}"
                variants = [{}]
            found += [(model, pattern.name, variant) for variant in variants]
    return found


def test_custom_admin_urls_that_send_calls_need_the_permission(samples, clients):
    refused, allowed = clients
    checked = set()
    for model, name, kwargs in custom_urls():
        key = f"{name}:{kwargs['step']}" if "step" in kwargs else name
        if key in URLS_WITHOUT_CALLS:
            continue
        label = label_of(model)
        assert label in samples, f"add a sample {label} to this test"
        url = reverse(f"admin:{name}", kwargs={"object_id": samples[label].pk, **kwargs})
        calls = Call.objects.count()
        assert refused.get(url).status_code == 403, url
        assert refused.post(url, {"apply": "1"}).status_code == 403, url
        assert Call.objects.count() == calls, url
        assert allowed.get(url).status_code == 200, url  # the action's page
        checked.add(name)
    assert {"stations_chargestation_send_call", "transactions_transaction_send_call",
            "certificates_stationcertificates_send_call", "certificates_certificaterequest_step",
            "reservations_reservation_cancel", "locallists_locallist_sync", "locallists_locallist_read_version"} <= checked


def test_forms_that_send_calls_need_the_permission(samples, clients):
    refused, allowed = clients
    # A reservation is made by sending ReserveNow; a rollout starts by sending its canary wave.
    for name in ("admin:reservations_reservation_add", "admin:firmware_firmwarerollout_add"):
        assert refused.get(reverse(name)).status_code == 403
        assert allowed.get(reverse(name)).status_code == 200
    # Accepting a connected station asks it to boot again: without the permission, the registration
    # is read-only on the station's form.
    url = reverse("admin:stations_chargestation_change", args=["CP-PERM"])
    form = {"registration_status": "Accepted", "security_profile": "0", "description": "", "password": ""}
    assert refused.post(url, form).status_code == 302
    assert ChargeStation.objects.get(pk="CP-PERM").registration_status == "Pending"
    assert not Call.objects.filter(action="TriggerMessage").exists()
    assert allowed.post(url, form).status_code == 302
    assert ChargeStation.objects.get(pk="CP-PERM").registration_status == "Accepted"
    assert Call.objects.filter(action="TriggerMessage").exists()
