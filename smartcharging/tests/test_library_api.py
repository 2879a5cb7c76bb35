"""The charging profile library over the partner API: fields, Decimal limits and refusals."""

import pytest

from csms.testing import Api, db

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = {
    "name": "evening cap",
    "stack_level": 1,
    "purpose": "TxDefaultProfile",
    "kind": "Absolute",
    "start_schedule": "2025-01-01T00:00:00Z",
    "charging_rate_unit": "A",
    "duration": 7200,
    "min_charging_rate": 6.1,
    "periods": [{"start_period": 0, "limit": 16}, {"start_period": 3600, "limit": 0.3, "number_phases": 1}],
}


def test_create_read_update_delete(api):
    created = api.post("/api/v1/charging-profiles/", json=GOOD)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in ("stack_level", "purpose", "kind", "recurrency_kind", "valid_from", "valid_to",
                                 "duration", "start_schedule", "charging_rate_unit", "min_charging_rate")} == {
        "stack_level": 1, "purpose": "TxDefaultProfile", "kind": "Absolute", "recurrency_kind": None,
        "valid_from": None, "valid_to": None, "duration": 7200, "start_schedule": "2025-01-01T00:00:00Z",
        "charging_rate_unit": "A", "min_charging_rate": 6.1,
    }
    assert body["periods"] == [
        {"start_period": 0, "limit": 16.0, "number_phases": None},
        {"start_period": 3600, "limit": 0.3, "number_phases": 1},
    ]
    url = f"/api/v1/charging-profiles/{body['id']}/"
    assert api.get(url).json() == body
    assert body["id"] in [p["id"] for p in api.get("/api/v1/charging-profiles/").json()["results"]]

    patched = api.patch(url, json={"kind": "Recurring", "recurrency_kind": "Daily",
                                   "periods": [{"start_period": 0, "limit": 32.3}]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["recurrency_kind"] == "Daily"
    assert patched.json()["periods"] == [{"start_period": 0, "limit": 32.3, "number_phases": None}]
    # A change that breaks a rule is refused and changes nothing.
    refused = api.patch(url, json={"kind": "Relative"})
    assert refused.status_code == 400 and "recurrency_kind" in refused.json()["detail"]
    assert api.get(url).json()["kind"] == "Recurring"

    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


@pytest.mark.parametrize("change, reason", [
    ({"periods": [{"start_period": 60, "limit": 16}]}, "the first period must start at 0"),
    ({"periods": [{"start_period": 0, "limit": 16}, {"start_period": 0, "limit": 8}]}, "strictly ascend"),
    ({"periods": [{"start_period": 0, "limit": 16}, {"start_period": 900, "limit": 8},
                  {"start_period": 600, "limit": 6}]}, "strictly ascend"),
    ({"periods": [{"start_period": 0, "limit": 16.05}]}, "not a multiple of 0.1"),
    ({"periods": []}, "at least one period"),
    ({"min_charging_rate": 0.25}, "min_charging_rate"),
    ({"kind": "Recurring"}, "recurrency_kind"),
    ({"recurrency_kind": "Weekly"}, "only for Recurring"),
    ({"periods": [{"start_period": 0, "limit": 16, "number_phases": 4}]}, "number_phases"),
    ({"purpose": "MaxProfile"}, "purpose"),
    ({"charging_rate_unit": "kW"}, "charging_rate_unit"),
    ({"valid_from": "2025-02-01T00:00:00Z", "valid_to": "2025-01-01T00:00:00Z"}, "valid_to"),
])
def test_bad_profiles_are_refused_with_the_reason(api, change, reason):
    before = api.get("/api/v1/charging-profiles/").json()["count"]
    response = api.post("/api/v1/charging-profiles/", json={**GOOD, **change})
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"], response.json()
    assert api.get("/api/v1/charging-profiles/").json()["count"] == before


def test_partners_use_shared_profiles_and_manage_their_own(api, node):
    from partners.services import partner_user_create

    shared = api.post("/api/v1/charging-profiles/", json=GOOD).json()
    _, token_a = partner_user_create(partner_name="Partner A", username="sc-partner-a")
    _, token_b = partner_user_create(partner_name="Partner B", username="sc-partner-b")
    partner_a, partner_b = Api(node.http, token_a.key), Api(node.http, token_b.key)

    own = partner_a.post("/api/v1/charging-profiles/", json={**GOOD, "name": "A's own"})
    assert own.status_code == 201 and own.json()["partner"] == "Partner A"
    ids_a = {p["id"] for p in partner_a.get("/api/v1/charging-profiles/").json()["results"]}
    ids_b = {p["id"] for p in partner_b.get("/api/v1/charging-profiles/").json()["results"]}
    assert {shared["id"], own.json()["id"]} <= ids_a
    assert shared["id"] in ids_b and own.json()["id"] not in ids_b
    # A partner cannot change the CSMS-wide library, nor another partner's profile.
    assert partner_a.patch(f"/api/v1/charging-profiles/{shared['id']}/", json={"stack_level": 3}).status_code == 404
    assert partner_b.delete(f"/api/v1/charging-profiles/{own.json()['id']}/").status_code == 404


async def test_wire_limits_keep_one_decimal(api):
    """0.3 A written as JSON must reach the OCPP schema check as 0.3 (multipleOf 0.1)."""
    from smartcharging.models import ChargingProfile
    from smartcharging.services.library import library_profile_payload
    from csms.ocpp.calls import call_validate

    body = (await db(api.post)("/api/v1/charging-profiles/", json=GOOD)).json()
    profile = await db(ChargingProfile.objects.prefetch_related("periods").get)(pk=body["id"])
    payload = await db(library_profile_payload)(profile=profile, charging_profile_id=1)
    assert payload["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16}, {"startPeriod": 3600, "limit": 0.3, "numberPhases": 1},
    ]
    assert payload["chargingSchedule"]["minChargingRate"] == 6.1
    call_validate(action="SetChargingProfile", payload={"connectorId": 1, "csChargingProfiles": payload})
