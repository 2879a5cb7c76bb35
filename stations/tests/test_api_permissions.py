"""Sending a Call through the API needs the one permission (csms.ocpp.permissions: `ocpp.add_call`)
and access to the station (staff, or the station's partner), on every endpoint of every app.

Every API route and unsafe method is enumerated: one that is not checked here must be listed as
sending no Call, so a new endpoint cannot slip through unnoticed. The requests go over HTTP to a
node, as a partner's integration would send them.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from certificates.models import CertificateRequest
from csms.ocpp.models import Call
from csms.testing import Api
from firmware.models import Firmware, FirmwareRollout, FirmwareUpdate
from reservations.models import Reservation

pytestmark = pytest.mark.django_db(transaction=True)

UNSAFE = ("post", "put", "patch", "delete")
# "<view class>.<viewset action or HTTP method>" of unsafe endpoints that send no Call.
SENDS_NO_CALL = {
    "StationViewSet.create", "StationViewSet.destroy",
    "StationViewSet.partial_update",  # except accepting a station: test_accepting_a_station_through_the_api
    "IdTagViewSet.create", "IdTagViewSet.partial_update", "IdTagViewSet.destroy",
    "ChargingProfileViewSet.create", "ChargingProfileViewSet.partial_update", "ChargingProfileViewSet.destroy",
    "StationLocalListView.patch",  # chooses the tags; the sync sends
    "FirmwareUpdateViewSet.cancel",  # only what was not sent yet
    "CertificateRequestCancelView.post",
    "FirmwareViewSet.create",  # stores a file
    "FirmwareRolloutViewSet.pause", "FirmwareRolloutViewSet.cancel",  # hold back what was not sent
    "TariffViewSet.create", "TariffViewSet.partial_update", "TariffViewSet.destroy",
    "WebhookEndpointViewSet.create", "WebhookEndpointViewSet.partial_update", "WebhookEndpointViewSet.destroy",
    "WebhookEndpointViewSet.ping", "WebhookEndpointViewSet.redeliver",
}


def api_endpoints() -> list[tuple[str, str, type, str]]:
    """(route, method, view class, key) of every unsafe method of every /api/v1/ route."""
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and prefix.startswith("api/v1/"):
                route = prefix + str(pattern.pattern)
                view = pattern.callback
                cls = getattr(view, "cls", None) or view.view_class
                actions = getattr(view, "actions", None)
                methods = actions.items() if actions else [(m, m) for m in UNSAFE if hasattr(cls, m)]
                found.extend([(route, method, cls, f"{cls.__name__}.{action}") for method, action in methods
                              if method in UNSAFE and method in cls.http_method_names])

    walk(get_resolver().url_patterns, "")
    return found


@pytest.fixture
def partner_setup(node, make_station):
    from partners.services import partner_user_create

    partner, token = partner_user_create(partner_name=f"perm-{uuid.uuid4().hex[:6]}", username=f"u-{uuid.uuid4().hex[:6]}")
    station = make_station(partner=partner, online=True, channel_name="test.nobody-listens",
                           registration_status="Pending")
    other = make_station()
    samples = {
        "station_id": station.pk,
        "certificate-requests": CertificateRequest.objects.create(station=station, status="pending").pk,
        "reservations": Reservation.objects.create(station=station, connector_id=1, id_tag="TAG1", status="accepted",
                                                   expiry_date=timezone.now() + timedelta(hours=1)).pk,
        "firmware-updates": FirmwareUpdate.objects.create(location="https://fw.example.com/a.bin",
                                                          retrieve_date=timezone.now(), partner=partner).pk,
        "firmware-rollouts": FirmwareRollout.objects.create(
            firmware=Firmware.objects.create(name="fw", external_location="https://fw.example.com/b.bin"),
            partner=partner, state="halted").pk,
    }
    user = token.user
    permission = Permission.objects.get(content_type__app_label="ocpp", codename="add_call")
    allowed = Api(node.http, token.key)
    refused_user = type(user).objects.create_user(username=f"r-{uuid.uuid4().hex[:6]}")
    from partners.models import PartnerMember
    from rest_framework.authtoken.models import Token

    PartnerMember.objects.create(user=refused_user, partner=partner)
    refused = Api(node.http, Token.objects.create(user=refused_user).key)
    assert user.user_permissions.filter(pk=permission.pk).exists(), "create_partner_user grants ocpp.add_call"
    return {"allowed": allowed, "refused": refused, "samples": samples, "station": station, "other": other}


def url_of(route: str, samples: dict, station_id: str) -> str:
    def value(match: re.Match) -> str:
        if match["name"] == "station_id":
            return station_id
        collection = next((c for c in ("certificate-requests", "reservations", "firmware-updates", "firmware-rollouts")
                           if route[:match.start()].endswith(f"{c}/")), None)
        assert collection, f"{route}: teach this test a sample for {match['name']}"
        return str(samples[collection])

    return "/" + re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", value, route).replace("^", "").replace("$", "")


def test_the_enumeration_finds_every_kind_of_endpoint():
    keys = {key for *_, key in api_endpoints()}
    assert {"StationCallsView.post", "ReservationViewSet.create", "ReservationViewSet.cancel",
            "FirmwareUpdateViewSet.create", "FirmwareUpdateViewSet.retry", "StationDiagnosticsView.post",
            "StationLocalListSyncView.post", "StationChargingProfilesView.post", "StationCertificateTriggerView.post",
            "CertificateRequestSignView.post", "FirmwareRolloutViewSet.create", "FirmwareRolloutViewSet.resume"} <= keys
    assert SENDS_NO_CALL <= keys


def test_every_endpoint_that_sends_calls_needs_the_permission(partner_setup):
    refused, allowed, samples = partner_setup["refused"], partner_setup["allowed"], partner_setup["samples"]
    checked = []
    for route, method, _, key in api_endpoints():
        if key in SENDS_NO_CALL:
            continue
        path = url_of(route, samples, samples["station_id"])
        body = {"station": samples["station_id"], "stations": [samples["station_id"]]}
        calls = Call.objects.count()
        response = refused.request(method.upper(), path, json=body)
        assert response.status_code == 403, (key, path, response.status_code, response.text)
        assert "ocpp.add_call" in response.json()["detail"], key
        assert Call.objects.count() == calls, f"{key} sent a Call without the permission"
        response = allowed.request(method.upper(), path, json=body)
        assert response.status_code != 403, (key, path, response.text)
        checked.append(key)
    assert len(checked) >= 15, checked


def test_another_partners_station_stays_unknown_to_a_sender(partner_setup):
    allowed, other = partner_setup["allowed"], partner_setup["other"]
    response = allowed.post(f"/api/v1/stations/{other.pk}/calls/", json={"action": "Reset", "payload": {"type": "Soft"}})
    assert response.status_code == 404
    assert not Call.objects.filter(station_id=other.pk).exists()


def test_accepting_a_station_through_the_api(partner_setup):
    """Accepting a connected Pending station asks it to boot again: that needs the permission; a change
    that sends nothing does not."""
    refused, allowed, station = partner_setup["refused"], partner_setup["allowed"], partner_setup["station"]
    path = f"/api/v1/stations/{station.pk}/"
    assert refused.patch(path, json={"description": "mine"}).status_code == 200
    response = refused.patch(path, json={"registration_status": "Accepted"})
    assert response.status_code == 403, response.text
    station.refresh_from_db()
    assert station.registration_status == "Pending"
    assert not Call.objects.filter(station=station, action="TriggerMessage").exists()

    assert allowed.patch(path, json={"registration_status": "Accepted"}).status_code == 200
    station.refresh_from_db()
    assert station.registration_status == "Accepted"
    trigger = Call.objects.get(station=station, action="TriggerMessage")
    assert trigger.payload == {"requestedMessage": "BootNotification"}


def test_the_rule_itself(partner_setup, django_user_model):
    from csms.ocpp.permissions import may_send_calls
    from csms.testing import grant_send_calls

    station, other = partner_setup["station"], partner_setup["other"]
    member = partner_setup["station"].partner.members.first().user
    assert may_send_calls(member, station) and may_send_calls(member, station.pk)
    assert not may_send_calls(member, other)
    staff = django_user_model.objects.create_user(username=f"s-{uuid.uuid4().hex[:6]}", is_staff=True)
    assert not may_send_calls(staff, other), "staff without ocpp.add_call"
    assert may_send_calls(grant_send_calls(staff), other)
    assert not may_send_calls(None) and not may_send_calls(None, station)
