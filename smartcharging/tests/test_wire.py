"""Smart charging over the wire: a simulated station answers SetChargingProfile, ClearChargingProfile,
GetCompositeSchedule and RemoteStartTransaction, and the mirror follows what it accepted."""

from datetime import datetime, timedelta, timezone

import pytest

from csms.ocpp.schemas import format_datetime
from csms.testing import connect_station, db, eventually

pytestmark = pytest.mark.django_db(transaction=True)


def iso(moment: datetime) -> str:
    return format_datetime(moment, timespec="seconds")


def now() -> datetime:
    return datetime.now(timezone.utc)


def library_profile(api, **fields) -> dict:
    body = {
        "stack_level": 0, "purpose": "TxDefaultProfile", "kind": "Absolute",
        "start_schedule": "2025-01-01T00:00:00Z", "charging_rate_unit": "A",
        "periods": [{"start_period": 0, "limit": 16}],
        **fields,
    }
    response = api.post("/api/v1/charging-profiles/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assign(api, station_id: str, **body):
    return api.post(f"/api/v1/stations/{station_id}/charging-profiles/?wait=10", json=body)


def mirror(api, station_id: str) -> list[dict]:
    response = api.get(f"/api/v1/stations/{station_id}/charging-profiles/")
    assert response.status_code == 200, response.text
    return response.json()


def mirror_keys(api, station_id: str) -> list[tuple]:
    return sorted((p["charging_profile_id"], p["connector_id"], p["purpose"], p["stack_level"], p["transaction_id"])
                  for p in mirror(api, station_id))


def sent(cp, action: str) -> list[dict]:
    return [payload for name, payload in cp.received if name == action]


async def start_transaction(cp, id_tag: str, connector_id: int = 1, started: datetime | None = None) -> int:
    answer = await cp.send("StartTransaction", {"connectorId": connector_id, "idTag": id_tag, "meterStart": 0,
                                                "timestamp": iso(started or now())})
    return answer["transactionId"]


# --- SetChargingProfile ------------------------------------------------------------------------------


async def test_set_charging_profile_from_the_library(node, api, make_station):
    station = await db(make_station)()
    profile = await db(library_profile)(api, stack_level=2, duration=3600, periods=[
        {"start_period": 0, "limit": 16, "number_phases": 3}, {"start_period": 1800, "limit": 7.7}])
    async with connect_station(node, station.id, boot=True) as cp:
        first = await db(assign)(api, station.id, profile=profile["id"], connector_id=1)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "completed" and first.json()["response"] == {"status": "Accepted"}
        first_id = first.json()["payload"]["csChargingProfiles"]["chargingProfileId"]
        assert sent(cp, "SetChargingProfile") == [{
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": first_id, "stackLevel": 2, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A", "duration": 3600, "startSchedule": "2025-01-01T00:00:00Z",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 3},
                                               {"startPeriod": 1800, "limit": 7.7}],
                },
            },
        }]
        # The same library profile on another connector gets its own chargingProfileId.
        second = await db(assign)(api, station.id, profile=profile["id"], connector_id=2)
        second_id = second.json()["payload"]["csChargingProfiles"]["chargingProfileId"]
        assert second_id != first_id
        assert await db(mirror_keys)(api, station.id) == sorted([
            (first_id, 1, "TxDefaultProfile", 2, None), (second_id, 2, "TxDefaultProfile", 2, None)])
        rows = await db(mirror)(api, station.id)
        assert {row["profile"] for row in rows} == {profile["id"]}
        # Sending it again to connector 1: same stack level and purpose there, so it replaces.
        third = await db(assign)(api, station.id, profile=profile["id"], connector_id=1)
        third_id = third.json()["payload"]["csChargingProfiles"]["chargingProfileId"]
        assert await db(mirror_keys)(api, station.id) == sorted([
            (second_id, 2, "TxDefaultProfile", 2, None), (third_id, 1, "TxDefaultProfile", 2, None)])
    assignments = (await db(api.get)(f"/api/v1/stations/{station.id}/charging-profiles/assignments/")).json()
    assert [(a["charging_profile_id"], a["status"]) for a in assignments] == [
        (third_id, "installed"), (second_id, "installed"), (first_id, "installed")]


@pytest.mark.parametrize("answer, status", [("Rejected", "rejected"), ("NotSupported", "not_supported")])
async def test_refused_set_changes_nothing(node, api, make_station, answer, status):
    station = await db(make_station)()
    profile = await db(library_profile)(api)
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["SetChargingProfile"] = {"status": answer}
        response = await db(assign)(api, station.id, profile=profile["id"], connector_id=0)
        assert response.json()["response"] == {"status": answer}
    assert await db(mirror)(api, station.id) == []
    assignments = (await db(api.get)(f"/api/v1/stations/{station.id}/charging-profiles/assignments/")).json()
    assert [a["status"] for a in assignments] == [status]


async def test_refusals_send_nothing(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    cap = await db(library_profile)(api, purpose="ChargePointMaxProfile")
    tx_profile = await db(library_profile)(api, purpose="TxProfile", kind="Relative", start_schedule=None)
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        cases = [
            ({"profile": cap["id"], "connector_id": 1}, "ChargePointMaxProfile can only be set on connector 0"),
            ({"profile": tx_profile["id"], "connector_id": 1}, "needs a running transaction on connector 1"),
            ({"profile": tx_profile["id"], "connector_id": 0}, "TxProfile can only be set on a connector > 0"),
            ({"profile": cap["id"], "connector_id": 0, "transaction_id": 5}, "only a TxProfile names a transaction"),
            ({"profile": 999999, "connector_id": 0}, "no charging profile 999999"),
        ]
        tx_id = await start_transaction(cp, tag.id_tag, connector_id=2)
        cases.append(({"profile": tx_profile["id"], "connector_id": 1, "transaction_id": tx_id},
                      f"transaction {tx_id} is not running on connector 1"))
        for body, reason in cases:
            response = await db(assign)(api, station.id, **body)
            assert response.status_code == 400, (body, response.text)
            assert reason in response.json()["detail"], (body, response.json())
        assert sent(cp, "SetChargingProfile") == []


async def test_station_limits_as_last_read_are_honoured(node, api, make_station):
    station = await db(make_station)()
    power = await db(library_profile)(api, charging_rate_unit="W", periods=[{"start_period": 0, "limit": 11000}])
    high = await db(library_profile)(api, stack_level=4)
    many = await db(library_profile)(api, periods=[{"start_period": i * 60, "limit": 16} for i in range(4)])
    level0 = await db(library_profile)(api, stack_level=0)
    level1 = await db(library_profile)(api, stack_level=1)
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetConfiguration"] = {"configurationKey": [
            {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
            {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"},
            {"key": "ChargingScheduleMaxPeriods", "readonly": True, "value": "3"},
            {"key": "MaxChargingProfilesInstalled", "readonly": True, "value": "1"},
        ], "unknownKey": []}
        await db(api.call)(station.id, "GetConfiguration", {})
        for profile, reason in [(power, "ChargingScheduleAllowedChargingRateUnit"), (high, "ChargeProfileMaxStackLevel"),
                                (many, "ChargingScheduleMaxPeriods")]:
            response = await db(assign)(api, station.id, profile=profile["id"], connector_id=0)
            assert response.status_code == 400 and reason in response.json()["detail"], response.text
        assert (await db(assign)(api, station.id, profile=level0["id"], connector_id=0)).status_code == 200
        # A second profile would exceed MaxChargingProfilesInstalled; one that replaces does not.
        refused = await db(assign)(api, station.id, profile=level1["id"], connector_id=0)
        assert refused.status_code == 400 and "MaxChargingProfilesInstalled 1" in refused.json()["detail"]
        assert (await db(assign)(api, station.id, profile=level0["id"], connector_id=0)).status_code == 200
        assert len(sent(cp, "SetChargingProfile")) == 2


async def test_station_offline_is_409(api, make_station):
    station = await db(make_station)()
    profile = await db(library_profile)(api)
    response = await db(assign)(api, station.id, profile=profile["id"], connector_id=0)
    assert response.status_code == 409


# --- Calls sent by hand ------------------------------------------------------------------------------

def hand_profile(profile_id: int, purpose: str, stack_level: int, limit: float = 16, **extra) -> dict:
    return {"chargingProfileId": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", **extra,
            "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": "2025-01-01T00:00:00Z",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}}


async def test_set_by_hand_through_the_calls_api_updates_the_mirror(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await db(api.call)(station.id, "SetChargingProfile",
                           {"connectorId": 0, "csChargingProfiles": hand_profile(500, "TxDefaultProfile", 0, 0.3)})
        cp.answers["SetChargingProfile"] = {"status": "Rejected"}
        await db(api.call)(station.id, "SetChargingProfile",
                           {"connectorId": 0, "csChargingProfiles": hand_profile(501, "TxDefaultProfile", 1)})
    rows = await db(mirror)(api, station.id)
    assert [(r["charging_profile_id"], r["profile"], r["connector_id"]) for r in rows] == [(500, None, 0)]
    assert rows[0]["charging_profile"]["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 0.3}]


async def test_same_id_replaces_even_on_another_connector(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True):
        await db(api.call)(station.id, "SetChargingProfile",
                           {"connectorId": 1, "csChargingProfiles": hand_profile(7, "TxDefaultProfile", 0)})
        await db(api.call)(station.id, "SetChargingProfile",
                           {"connectorId": 2, "csChargingProfiles": hand_profile(7, "TxDefaultProfile", 3)})
    assert await db(mirror_keys)(api, station.id) == [(7, 2, "TxDefaultProfile", 3, None)]


# --- ClearChargingProfile, each filter ------------------------------------------------------------------

INSTALLED = [  # (id, connector, purpose, stack level)
    (101, 0, "ChargePointMaxProfile", 0),
    (102, 0, "TxDefaultProfile", 0),
    (103, 1, "TxDefaultProfile", 1),
    (104, 2, "TxDefaultProfile", 1),
]


def install_by_hand(api, station_id: str) -> None:
    for profile_id, connector_id, purpose, stack_level in INSTALLED:
        call = api.call(station_id, "SetChargingProfile",
                        {"connectorId": connector_id, "csChargingProfiles": hand_profile(profile_id, purpose, stack_level)})
        assert (call["status"], call["response"]) == ("completed", {"status": "Accepted"}), call
    assert [key[0] for key in mirror_keys(api, station_id)] == [101, 102, 103, 104]


@pytest.mark.parametrize("body, ocpp_request, left", [
    ({}, {}, []),
    ({"id": 103}, {"id": 103}, [101, 102, 104]),
    ({"connector_id": 0}, {"connectorId": 0}, [103, 104]),
    ({"purpose": "TxDefaultProfile"}, {"chargingProfilePurpose": "TxDefaultProfile"}, [101]),
    ({"stack_level": 1}, {"stackLevel": 1}, [101, 102]),
    ({"connector_id": 1, "stack_level": 1}, {"connectorId": 1, "stackLevel": 1}, [101, 102, 104]),
    ({"id": 103, "connector_id": 2}, {"id": 103, "connectorId": 2}, [101, 102, 103, 104]),  # all fields must match
    ({"connector_id": 0, "purpose": "TxDefaultProfile", "stack_level": 0},
     {"connectorId": 0, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}, [101, 103, 104]),
], ids=["none", "id", "connector", "purpose", "stack level", "connector+stack", "id+connector", "three"])
async def test_clear_each_filter(node, api, make_station, body, ocpp_request, left):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await db(install_by_hand)(api, station.id)
        response = await db(api.post)(f"/api/v1/stations/{station.id}/charging-profiles/clear/?wait=10", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["response"] == {"status": "Accepted"}, response.json()
        assert sent(cp, "ClearChargingProfile") == [ocpp_request]
    assert [key[0] for key in await db(mirror_keys)(api, station.id)] == left


async def test_clear_by_hand_and_unknown(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await db(install_by_hand)(api, station.id)
        await db(api.call)(station.id, "ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"})
        assert [key[0] for key in await db(mirror_keys)(api, station.id)] == [102, 103, 104]
        # Unknown: the station holds nothing that matches, so neither may the mirror.
        cp.answers["ClearChargingProfile"] = {"status": "Unknown"}
        await db(api.call)(station.id, "ClearChargingProfile", {"id": 104})
        assert [key[0] for key in await db(mirror_keys)(api, station.id)] == [102, 103]
        # A failed call changes nothing.
        from csms.testing import CallErrorReceived

        cp.answers["ClearChargingProfile"] = CallErrorReceived("InternalError", "boom", {})
        failed = await db(api.post)(f"/api/v1/stations/{station.id}/calls/?wait=10",
                                    json={"action": "ClearChargingProfile", "payload": {}})
        assert failed.json()["status"] == "error"
    assert [key[0] for key in await db(mirror_keys)(api, station.id)] == [102, 103]


# --- Transactions ------------------------------------------------------------------------------------


async def test_tx_profile_for_the_running_transaction_goes_when_it_stops(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    default = await db(library_profile)(api, periods=[{"start_period": 0, "limit": 6}])
    tx_profile = await db(library_profile)(api, purpose="TxProfile", kind="Relative", start_schedule=None,
                                           periods=[{"start_period": 0, "limit": 10}, {"start_period": 3600, "limit": 20}])
    async with connect_station(node, station.id, boot=True) as cp:
        assert (await db(assign)(api, station.id, profile=default["id"], connector_id=0)).status_code == 200
        tx_id = await start_transaction(cp, tag.id_tag, started=now() - timedelta(minutes=30))
        response = await db(assign)(api, station.id, profile=tx_profile["id"], connector_id=1)
        assert response.status_code == 200, response.text
        assert sent(cp, "SetChargingProfile")[-1]["csChargingProfiles"]["transactionId"] == tx_id
        assert [(k[1], k[2], k[4]) for k in await db(mirror_keys)(api, station.id)] == [
            (0, "TxDefaultProfile", None), (1, "TxProfile", tx_id)]
        composite = (await db(api.get)(
            f"/api/v1/stations/{station.id}/composite-schedule/?connector_id=1&duration=3600")).json()
        # The Relative TxProfile started with the transaction 30 minutes ago: 20 A from 30 minutes on.
        assert [(p["start_period"], p["limit"]) for p in composite["periods"]] in (
            [(0, 10), (1800, 20)], [(0, 10), (1799, 20)], [(0, 10), (1801, 20)])
        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 100, "timestamp": iso(now())})
    assert [(k[1], k[2]) for k in await db(mirror_keys)(api, station.id)] == [(0, "TxDefaultProfile")]


async def test_remote_start_with_a_profile_by_hand(node, api, make_station, make_id_tag):
    """RemoteStartTransaction through the generic calls API; the profile is installed at the start."""
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    charging_profile = {"chargingProfileId": 77, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                        "chargingProfileKind": "Relative",
                        "chargingSchedule": {"chargingRateUnit": "W",
                                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}]}}
    async with connect_station(node, station.id, boot=True) as cp:
        call = await db(api.call)(station.id, "RemoteStartTransaction",
                                  {"idTag": tag.id_tag, "connectorId": 2, "chargingProfile": charging_profile})
        assert call["response"] == {"status": "Accepted"}
        assert await db(mirror)(api, station.id) == []  # nothing is installed before the transaction starts
        tx_id = await start_transaction(cp, tag.id_tag, connector_id=2)
        rows = await db(mirror)(api, station.id)
        assert [(r["charging_profile_id"], r["connector_id"], r["purpose"], r["stack_level"], r["transaction_id"])
                for r in rows] == [(77, 2, "TxProfile", 1, tx_id)]
        assert rows[0]["charging_profile"] == {**charging_profile, "transactionId": tx_id}
        composite = (await db(api.get)(
            f"/api/v1/stations/{station.id}/composite-schedule/?connector_id=2&duration=600")).json()
        assert composite["charging_rate_unit"] == "W" and composite["periods"] == [
            {"start_period": 0, "limit": 7400.5, "number_phases": None}]
        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 10, "timestamp": iso(now())})
    assert await db(mirror)(api, station.id) == []


async def test_remote_start_with_a_library_profile(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    profile = await db(library_profile)(api, purpose="TxProfile", kind="Relative", start_schedule=None, stack_level=2)
    default = await db(library_profile)(api)
    async with connect_station(node, station.id, boot=True) as cp:
        refused = await db(api.post)(f"/api/v1/stations/{station.id}/charging-profiles/remote-start/",
                                     json={"profile": default["id"], "id_tag": tag.id_tag})
        assert refused.status_code == 400 and "TxProfile only" in refused.json()["detail"]
        response = await db(api.post)(f"/api/v1/stations/{station.id}/charging-profiles/remote-start/?wait=10",
                                      json={"profile": profile["id"], "id_tag": tag.id_tag, "connector_id": 1})
        assert response.status_code == 200, response.text
        request = sent(cp, "RemoteStartTransaction")[-1]
        profile_id = request["chargingProfile"]["chargingProfileId"]
        assert request == {"idTag": tag.id_tag, "connectorId": 1, "chargingProfile": {
            "chargingProfileId": profile_id, "stackLevel": 2, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}}
        assignments = (await db(api.get)(f"/api/v1/stations/{station.id}/charging-profiles/assignments/")).json()
        assert [(a["charging_profile_id"], a["status"]) for a in assignments] == [(profile_id, "awaiting_transaction")]
        tx_id = await start_transaction(cp, tag.id_tag, connector_id=1)
    rows = await db(mirror)(api, station.id)
    assert [(r["charging_profile_id"], r["profile"], r["transaction_id"]) for r in rows] == [(profile_id, profile["id"], tx_id)]
    assignments = (await db(api.get)(f"/api/v1/stations/{station.id}/charging-profiles/assignments/")).json()
    assert [(a["status"], a["transaction_id"], a["connector_id"]) for a in assignments] == [("installed", tx_id, 1)]


# --- Composite schedules -------------------------------------------------------------------------------


async def test_composite_schedule_computed_by_the_csms(node, api, make_station):
    station = await db(make_station)()
    cap = await db(library_profile)(api, purpose="ChargePointMaxProfile", charging_rate_unit="W",
                                    periods=[{"start_period": 0, "limit": 11000}])
    default = await db(library_profile)(api, periods=[{"start_period": 0, "limit": 32}])
    async with connect_station(node, station.id, boot=True):
        for profile in (cap, default):
            assert (await db(assign)(api, station.id, profile=profile["id"], connector_id=0)).status_code == 200
    url = f"/api/v1/stations/{station.id}/composite-schedule/"
    amperes = (await db(api.get)(f"{url}?connector_id=1&duration=3600")).json()
    assert amperes["charging_rate_unit"] == "A" and amperes["duration"] == 3600 and amperes["connector_id"] == 1
    assert amperes["periods"] == [{"start_period": 0, "limit": 15.9, "number_phases": None}]
    started = datetime.fromisoformat(amperes["schedule_start"].replace("Z", "+00:00"))
    assert abs((started - now()).total_seconds()) < 30
    watts = (await db(api.get)(f"{url}?connector_id=1&duration=3600&charging_rate_unit=W")).json()
    assert watts["periods"] == [{"start_period": 0, "limit": 11000, "number_phases": None}]
    station_cap = (await db(api.get)(f"{url}?connector_id=0&duration=60")).json()
    assert station_cap["charging_rate_unit"] == "W" and station_cap["periods"][0]["limit"] == 11000
    for query in ("connector_id=-1", "duration=0", "duration=x", "charging_rate_unit=kW"):
        response = await db(api.get)(f"{url}?{query}")
        assert response.status_code == 400, (query, response.text)
        assert response.json()["detail"]


async def test_get_composite_schedule_asks_the_station_and_keeps_both(node, api, make_station):
    station = await db(make_station)()
    default = await db(library_profile)(api, periods=[{"start_period": 0, "limit": 16}])

    def station_answer(limit):
        return lambda request: {
            "status": "Accepted", "connectorId": request["connectorId"], "scheduleStart": iso(now()),
            "chargingSchedule": {"duration": request["duration"], "chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit, "numberPhases": 3}]},
        }

    async with connect_station(node, station.id, boot=True) as cp:
        assert (await db(assign)(api, station.id, profile=default["id"], connector_id=0)).status_code == 200
        url = f"/api/v1/stations/{station.id}/composite-schedule/?wait=10"
        cp.answers["GetCompositeSchedule"] = station_answer(16.0)
        agreeing = await db(api.post)(url, json={"connector_id": 1, "duration": 3600, "charging_rate_unit": "A"})
        assert agreeing.status_code == 200 and agreeing.json()["status"] == "completed", agreeing.text
        assert sent(cp, "GetCompositeSchedule") == [{"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"}]
        cp.answers["GetCompositeSchedule"] = station_answer(10.0)
        await db(api.post)(url, json={"connector_id": 1, "duration": 600})
        cp.answers["GetCompositeSchedule"] = {"status": "Rejected"}
        await db(api.post)(url, json={"connector_id": 9, "duration": 600})
        assert sent(cp, "GetCompositeSchedule")[1:] == [{"connectorId": 1, "duration": 600},
                                                        {"connectorId": 9, "duration": 600}]
    reports = (await db(api.get)(f"/api/v1/stations/{station.id}/composite-schedule/reports/")).json()
    assert [(r["connector_id"], r["duration"], r["status"], r["agrees"]) for r in reports] == [
        (9, 600, "Rejected", None), (1, 600, "Accepted", False), (1, 3600, "Accepted", True)]
    assert reports[2]["csms_schedule"]["periods"] == [{"start_period": 0, "limit": 16, "number_phases": None}]
    assert reports[1]["charging_schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 10.0, "numberPhases": 3}]
    assert reports[1]["csms_schedule"]["periods"][0]["limit"] == 16


async def test_assignment_answers_202_with_the_pending_call(node, api, make_station):
    station = await db(make_station)()
    profile = await db(library_profile)(api, purpose="ChargePointMaxProfile")
    async with connect_station(node, station.id, boot=True) as cp:
        response = await db(api.post)(f"/api/v1/stations/{station.id}/charging-profiles/",
                                      json={"profile": profile["id"], "connector_id": 0})
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending" and response.json()["action"] == "SetChargingProfile"
        await cp.wait_for_call("SetChargingProfile")

        def installed():
            from smartcharging.models import InstalledChargingProfile

            return InstalledChargingProfile.objects.filter(station_id=station.id, purpose="ChargePointMaxProfile").exists()

        await eventually(installed)
