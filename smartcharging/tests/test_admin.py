"""The operator's smart charging pages, driven over HTTP against a node with a simulated station."""

import pytest

from csms.testing import connect_station, db
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

LIBRARY = "/admin/smartcharging/chargingprofile/"
STATIONS = "/admin/smartcharging/stationsmartcharging/"
CHART = 'role="img"'  # our step charts (the admin has SVG icons of its own)


def profile_form(periods: list[tuple], **fields) -> dict:
    data = {
        "name": "night", "purpose": "TxDefaultProfile", "stack_level": "0", "kind": "Absolute",
        "charging_rate_unit": "A", "start_schedule_0": "2025-01-01", "start_schedule_1": "00:00:00",
        "periods-TOTAL_FORMS": str(len(periods)), "periods-INITIAL_FORMS": "0",
        "periods-MIN_NUM_FORMS": "0", "periods-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index, (start, limit) in enumerate(periods):
        data[f"periods-{index}-start_period"] = str(start)
        data[f"periods-{index}-limit"] = str(limit)
    return data


def library_count() -> int:
    from smartcharging.models import ChargingProfile

    return ChargingProfile.objects.count()


def test_library_in_admin_with_periods_inline_and_chart(admin_session):  # noqa: F811
    refused = admin_session.post(f"{LIBRARY}add/", profile_form([(60, 16)]))
    assert refused.status_code == 200 and "the first period must start at 0" in refused.text
    refused = admin_session.post(f"{LIBRARY}add/", profile_form([(0, 16)], kind="Recurring"))
    assert "needs recurrency_kind" in refused.text
    assert library_count() == 0

    # Rows may be typed in any order; they are stored ascending.
    created = admin_session.post(f"{LIBRARY}add/", profile_form([(3600, "6.5"), (0, 16)]))
    assert created.status_code == 200 and created.url.endswith(LIBRARY), created.url
    from smartcharging.models import ChargingProfile

    profile = ChargingProfile.objects.get()
    assert [(p.start_period, str(p.limit)) for p in profile.periods.all()] == [(0, "16.0"), (3600, "6.5")]
    page = admin_session.get(f"{LIBRARY}{profile.pk}/change/").text
    assert page.count(CHART) == 1 and "Limit over time" in page


async def test_assign_clear_and_composite_from_admin(node, admin_session, make_station, api):  # noqa: F811
    station = await db(make_station)()
    body = {"stack_level": 1, "purpose": "TxDefaultProfile", "charging_rate_unit": "A",
            "start_schedule": "2025-01-01T00:00:00Z", "periods": [{"start_period": 0, "limit": 12}]}
    profile = (await db(api.post)("/api/v1/charging-profiles/", json=body)).json()
    async with connect_station(node, station.id, boot=True) as cp:
        form = await db(admin_session.action)(LIBRARY, "assign_to_station", [profile["id"]], apply=False)
        assert 'name="connector_id"' in form.text and 'name="station"' in form.text
        done = await db(admin_session.action)(LIBRARY, "assign_to_station", [profile["id"]],
                                              station=station.id, connector_id="2")
        assert any("sent as" in text for _, text in page_messages(done.text)), page_messages(done.text)
        payload = await cp.wait_for_call("SetChargingProfile")
        assert payload["connectorId"] == 2 and payload["csChargingProfiles"]["stackLevel"] == 1

        refused = await db(admin_session.action)(LIBRARY, "assign_to_station", [profile["id"]],
                                                 station=station.id, connector_id="2", transaction_id="5")
        assert any(level == "error" and "only a TxProfile names a transaction" in text
                   for level, text in page_messages(refused.text)), page_messages(refused.text)

        from csms.testing import eventually
        from smartcharging.models import InstalledChargingProfile

        await eventually(lambda: InstalledChargingProfile.objects.filter(station=station).exists())
        page = (await db(admin_session.get)(f"{STATIONS}{station.id}/change/")).text
        assert page.count(CHART) == 3  # the installed profile, connector 0 and connector 2's composites
        assert "connector 2 · id" in page

        cp.answers["GetCompositeSchedule"] = lambda request: {
            "status": "Accepted", "connectorId": request["connectorId"], "scheduleStart": "2030-01-01T00:00:00Z",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12}]}}
        await db(admin_session.action)(STATIONS, "request_composite", [station.id], connector_id="2",
                                       duration="3600", charging_rate_unit="A")
        assert await cp.wait_for_call("GetCompositeSchedule") == {"connectorId": 2, "duration": 3600,
                                                                   "chargingRateUnit": "A"}
        from smartcharging.models import StationCompositeSchedule

        report = await eventually(lambda: StationCompositeSchedule.objects.filter(station=station).first())
        page = (await db(admin_session.get)(f"/admin/smartcharging/stationcompositeschedule/{report.pk}/change/")).text
        assert page.count(CHART) == 2 and "they agree" in page

        await db(admin_session.action)(STATIONS, "clear_profiles", [station.id], connector_id="2", stack_level="1")
        assert await cp.wait_for_call("ClearChargingProfile") == {"connectorId": 2, "stackLevel": 1}
        await eventually(lambda: not InstalledChargingProfile.objects.filter(station=station).exists())


def test_every_changelist_and_page_renders(admin_client):
    from django.urls import reverse

    from smartcharging.services import library, mirror
    from smartcharging.models import (
        ChargingProfile,
        ChargingProfileAssignment,
        InstalledChargingProfile,
        StationCompositeSchedule,
    )
    from csms.ocpp.models import Call
    from stations.models import ChargeStation

    station = ChargeStation.objects.create(id="CP-SC-ADMIN")
    profile = library.charging_profile_create(purpose="TxDefaultProfile", charging_rate_unit="W", kind="Relative",
                                               periods=[{"start_period": 0, "limit": "7400"}])
    assignment = ChargingProfileAssignment.objects.create(station=station, profile=profile, connector_id=1,
                                                          via="SetChargingProfile")
    cs_profile = library.library_profile_payload(profile=profile, charging_profile_id=assignment.pk)
    call = Call.objects.create(station=station, action="SetChargingProfile",
                               payload={"connectorId": 1, "csChargingProfiles": cs_profile})
    installed = mirror.installed_profile_apply(station_id=station.pk, connector_id=1, cs_profile=cs_profile, call=call)
    report = StationCompositeSchedule.objects.create(
        station=station, connector_id=1, duration=600, status="Accepted", agrees=False,
        charging_schedule={"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}]},
        csms_schedule={"schedule_start": "2030-01-01T00:00:00Z", "duration": 600, "charging_rate_unit": "W",
                       "periods": [{"start_period": 0, "limit": 7400, "number_phases": None}]})
    pages = {
        ChargingProfile: profile.pk, ChargingProfileAssignment: assignment.pk, InstalledChargingProfile: installed.pk,
        StationCompositeSchedule: report.pk,
    }
    for model, pk in pages.items():
        info = (model._meta.app_label, model._meta.model_name)
        assert admin_client.get(reverse("admin:%s_%s_changelist" % info)).status_code == 200, model
        assert admin_client.get(reverse("admin:%s_%s_changelist" % info), {"station": station.pk}).status_code in (200, 302)
        assert admin_client.get(reverse("admin:%s_%s_change" % info, args=[pk])).status_code == 200, model
    station_page = admin_client.get(reverse("admin:smartcharging_stationsmartcharging_change", args=[station.pk]))
    text = station_page.content.decode()
    assert text.count(CHART) == 5  # installed profile, connectors 0 and 1, the report's two sides
    assert "THEY DISAGREE" in text and 'name="_save"' not in text
    assert admin_client.get(reverse("admin:smartcharging_stationsmartcharging_changelist")).status_code == 200


def test_the_assignment_form_refuses_a_connector_the_station_does_not_have(make_station):
    from smartcharging.forms import AssignForm
    from stations.models import Connector

    station = make_station()
    for number in (1, 2):
        Connector.objects.create(station=station, connector_id=number, status="Available")
    form = AssignForm({"station": station.pk, "connector_id": 42})
    assert not form.is_valid()
    assert form.errors["connector_id"] == [f"station {station.pk} has no connector 42: its connectors are 1, 2"]
    assert AssignForm({"station": station.pk, "connector_id": 0}).is_valid()
    assert AssignForm({"station": station.pk, "connector_id": 2}).is_valid()
