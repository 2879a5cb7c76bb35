"""Local authorization lists end to end: the partner API over HTTP, a simulated station over a real
socket, and the periodic job."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from csms.testing import CallErrorReceived, connect_station, db, eventually
from locallists.models import LocalList, LocalListSync
from csms.ocpp.schemas import format_datetime
from csms.ocpp.models import Call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner(transactional_db):
    from partners.models import Partner

    return Partner.objects.create(name=f"LL partner {uuid.uuid4().hex[:6]}")


def local_list_path(station_id: str, tail: str = "") -> str:
    return f"/api/v1/stations/{station_id}/local-list/{tail}"


async def sync(api, station_id: str, expect: int = 200) -> dict:
    response = await db(api.post)(local_list_path(station_id, "sync/?wait=15"))
    assert response.status_code == expect, response.text
    return response.json()


async def state(api, station_id: str) -> dict:
    response = await db(api.get)(local_list_path(station_id))
    assert response.status_code == 200, response.text
    return response.json()


async def configure(api, cp, station_id: str, **keys) -> None:
    """The station reports these configuration keys, read as the CSMS reads them: GetConfiguration."""
    cp.answers["GetConfiguration"] = {
        "configurationKey": [{"key": key, "readonly": True, "value": str(value)} for key, value in keys.items()]
    }
    await db(api.call)(station_id, "GetConfiguration", {})


async def manual(api, station_id: str) -> None:
    """Keep the node's own periodic job (run in process without Redis) out of a test that counts calls."""
    response = await db(api.patch)(local_list_path(station_id), json={"auto_sync": False})
    assert response.status_code == 200 and response.json()["auto_sync"] is False, response.text


def sent_lists(cp) -> list[dict]:
    return [payload for action, payload in cp.received if action == "SendLocalList"]


def entries_of(body: dict) -> dict:
    return {entry["id_tag"]: entry["id_tag_info"] for entry in body["entries"]}


async def test_a_full_update_then_differentials(node, api, make_station, make_id_tag, partner):
    station = await db(make_station)(partner=partner)
    await manual(api, station.id)
    expiry = timezone.now().replace(microsecond=0) + timedelta(days=30)
    await db(make_id_tag)("LL-A", partner=partner)
    await db(make_id_tag)("LL-B", partner=partner, parent_id_tag="LL-FLEET", expiry_date=expiry)
    await db(make_id_tag)("LL-ELSEWHERE")  # no partner: not on this station's list
    async with connect_station(node, station.id, boot=True) as cp:
        body = await sync(api, station.id)
        assert sent_lists(cp) == [{
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "LL-A", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "LL-B", "idTagInfo": {"status": "Accepted", "parentIdTag": "LL-FLEET",
                                                "expiryDate": format_datetime(expiry, timespec="seconds")}},
            ],
        }]
        assert body["version"] == 1 and body["last_sync_status"] == "Accepted" and body["outdated"] is False
        assert set(entries_of(body)) == {"LL-A", "LL-B"} and body["last_sync_at"]

        # Tags change through the API: a new parent, a deletion, a new tag of the partner.
        assert (await db(api.patch)("/api/v1/id-tags/LL-A/", json={"parent_id_tag": "LL-FLEET"})).status_code == 200
        assert (await db(api.delete)("/api/v1/id-tags/LL-B/")).status_code == 204
        await db(make_id_tag)("LL-C", partner=partner)
        assert (await state(api, station.id))["outdated"] is True

        body = await sync(api, station.id)
        assert sent_lists(cp)[1] == {
            "listVersion": 2,
            "updateType": "Differential",
            "localAuthorizationList": [
                {"idTag": "LL-B"},  # removals first
                {"idTag": "LL-A", "idTagInfo": {"status": "Accepted", "parentIdTag": "LL-FLEET"}},
                {"idTag": "LL-C", "idTagInfo": {"status": "Accepted"}},
            ],
        }
    assert body["version"] == 2 and body["outdated"] is False and body["last_sync"]["status"] == "done"
    assert entries_of(body) == {"LL-A": {"status": "Accepted", "parentIdTag": "LL-FLEET"}, "LL-C": {"status": "Accepted"}}


async def test_a_blocked_tag_is_brought_to_the_station_by_the_periodic_job(node, api, make_station, make_id_tag, partner):
    from locallists.tasks import sync_outdated_local_lists

    station = await db(make_station)(partner=partner)
    await db(make_id_tag)("BLK-A", partner=partner)
    await db(make_id_tag)("BLK-B", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        await sync(api, station.id)
        assert await db(sync_outdated_local_lists)() == 0  # up to date: nothing to do

        assert (await db(api.patch)("/api/v1/id-tags/BLK-A/", json={"blocked": True})).status_code == 200
        assert (await state(api, station.id))["outdated"] is True
        # Without Redis the node runs the same job on its own schedule and may get there first.
        await db(sync_outdated_local_lists)()
        expected = {"listVersion": 2, "updateType": "Differential",
                    "localAuthorizationList": [{"idTag": "BLK-A", "idTagInfo": {"status": "Blocked"}}]}
        calls = await db(lambda: list(Call.objects.filter(action="SendLocalList").order_by("pk")))()
        assert len(calls) == 2 and calls[1].payload == expected and calls[1].source == "system"
        latest = await db(LocalListSync.objects.order_by("-pk").first)()
        assert latest.trigger == "beat" and latest.current_call_id == calls[1].pk
        if settings.REDIS_URL:  # the job ran here, in the test process: only a shared layer reaches the node
            assert await cp.wait_for_call("SendLocalList", count=2) == expected
            await eventually(lambda: LocalList.objects.get(pk=station.id).version == 2)
            body = await state(api, station.id)
            assert entries_of(body)["BLK-A"] == {"status": "Blocked"} and body["outdated"] is False


async def test_version_mismatch_on_a_differential_is_followed_by_a_full(node, api, make_station, make_id_tag, partner):
    station = await db(make_station)(partner=partner)
    await manual(api, station.id)
    await db(make_id_tag)("VM-A", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        await sync(api, station.id)
        cp.answers["SendLocalList"] = lambda p: {"status": "VersionMismatch" if p["updateType"] == "Differential" else "Accepted"}
        await db(make_id_tag)("VM-B", partner=partner)
        body = await sync(api, station.id)
        sent = sent_lists(cp)
        assert [(p["updateType"], p["listVersion"]) for p in sent] == [("Full", 1), ("Differential", 2), ("Full", 3)]
        assert sent[1]["localAuthorizationList"] == [{"idTag": "VM-B", "idTagInfo": {"status": "Accepted"}}]
        assert [item["idTag"] for item in sent[2]["localAuthorizationList"]] == ["VM-A", "VM-B"]
        assert body["version"] == 3 and body["last_sync_status"] == "Accepted"
        assert body["last_sync"]["full_retry"] is True and body["last_sync"]["status"] == "done"

        # Failed on the Full as well: the sync ends, and what the station holds stays as it was.
        cp.answers["SendLocalList"] = {"status": "Failed"}
        await db(make_id_tag)("VM-C", partner=partner)
        body = await sync(api, station.id)
        assert [(p["updateType"], p["listVersion"]) for p in sent_lists(cp)[3:]] == [("Differential", 4), ("Full", 5)]
    assert body["version"] == 3 and body["last_sync_status"] == "Failed" and body["last_sync"]["status"] == "failed"
    assert set(entries_of(body)) == {"VM-A", "VM-B"} and body["outdated"] is True


async def test_chunks_follow_the_station_maximums(node, api, make_station, make_id_tag, partner):
    station = await db(make_station)(partner=partner)
    await manual(api, station.id)
    await db(make_id_tag)("CH-0", partner=partner, blocked=True)
    for number in range(1, 6):
        await db(make_id_tag)(f"CH-{number}", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        await configure(api, cp, station.id, LocalAuthListMaxLength=4, SendLocalListMaxLength=2)
        body = await sync(api, station.id)
        sent = sent_lists(cp)
        # Accepted tags first when they do not all fit: CH-5 and the blocked CH-0 are left off.
        assert [(p["updateType"], p["listVersion"], [i["idTag"] for i in p["localAuthorizationList"]]) for p in sent] == [
            ("Full", 1, ["CH-1", "CH-2"]),
            ("Differential", 2, ["CH-3", "CH-4"]),
        ]
        assert body["version"] == 2 and set(entries_of(body)) == {"CH-1", "CH-2", "CH-3", "CH-4"} and body["omitted"] == 2

        # Blocking CH-1 sends it behind the Accepted ones, past the capacity: CH-5 takes its place.
        assert (await db(api.patch)("/api/v1/id-tags/CH-1/", json={"blocked": True})).status_code == 200
        body = await sync(api, station.id)
        assert sent_lists(cp)[2] == {"listVersion": 3, "updateType": "Differential", "localAuthorizationList": [
            {"idTag": "CH-1"}, {"idTag": "CH-5", "idTagInfo": {"status": "Accepted"}}]}
        assert [action for action, _ in cp.received].count("GetConfiguration") == 1  # only ours: a sync never asks
    assert set(entries_of(body)) == {"CH-2", "CH-3", "CH-4", "CH-5"} and body["omitted"] == 2
    calls = await db(lambda: list(Call.objects.filter(action="SendLocalList").order_by("pk")))()
    # Each chunk was made only once the station had accepted the previous one.
    assert calls[1].created_at >= calls[0].completed_at and calls[0].response == {"status": "Accepted"}


@pytest.mark.parametrize("answer", [{"status": "NotSupported"}, CallErrorReceived("NotImplemented", "no local list", {})])
async def test_not_supported_is_recorded_and_shown(node, api, make_station, make_id_tag, partner, answer):
    from locallists.tasks import sync_outdated_local_lists

    station = await db(make_station)(partner=partner)
    await db(make_id_tag)("NS-A", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["SendLocalList"] = answer
        body = await sync(api, station.id)
        assert len(sent_lists(cp)) == 1
        assert body["last_sync_status"] == "NotSupported" and body["supported"] is False
        assert body["version"] is None and body["last_sync"]["status"] == "not_supported"
        assert await db(sync_outdated_local_lists)() == 0  # the periodic job leaves such a station alone


async def test_get_local_list_version_reconciles(node, api, make_station, make_id_tag, partner):
    station = await db(make_station)(partner=partner)
    await manual(api, station.id)
    await db(make_id_tag)("RC-A", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        await sync(api, station.id)
        cp.answers["GetLocalListVersion"] = {"listVersion": 1}
        # Nothing changed: a sync only makes sure the station agrees.
        body = await sync(api, station.id)
        assert len(sent_lists(cp)) == 1 and body["last_sync"]["detail"] == "the station confirmed it holds version 1"

        cp.answers["GetLocalListVersion"] = {"listVersion": 7}
        response = await db(api.post)(local_list_path(station.id, "reconcile/?wait=10"))
        assert response.status_code == 200 and response.json()["response"] == {"listVersion": 7}
        body = await state(api, station.id)
        assert (body["version"], body["entries"], body["entries_known"], body["outdated"]) == (7, [], False, True)

        body = await sync(api, station.id)
        assert sent_lists(cp)[-1] == {"listVersion": 8, "updateType": "Full",
                                      "localAuthorizationList": [{"idTag": "RC-A", "idTagInfo": {"status": "Accepted"}}]}
        assert body["version"] == 8

        # A station that cannot tell its version gets a Full when a sync finds nothing to change.
        cp.answers["GetLocalListVersion"] = CallErrorReceived("NotImplemented", "not here", {})
        body = await sync(api, station.id)
        assert (sent_lists(cp)[-1]["updateType"], body["version"]) == ("Full", 9)

        cp.answers["GetLocalListVersion"] = {"listVersion": -1}
        await db(api.post)(local_list_path(station.id, "reconcile/?wait=10"))
        assert (await state(api, station.id))["supported"] is False


async def test_a_send_local_list_sent_by_hand_is_not_part_of_a_sync(node, api, make_station, make_id_tag, partner):
    station = await db(make_station)(partner=partner)
    await manual(api, station.id)
    await db(make_id_tag)("HS-A", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        by_hand = {"listVersion": 50, "updateType": "Full",
                   "localAuthorizationList": [{"idTag": "HS-MANUAL", "idTagInfo": {"status": "Accepted"}}]}
        assert (await db(api.call)(station.id, "SendLocalList", by_hand))["status"] == "completed"
        await asyncio.sleep(0.5)
        assert sent_lists(cp) == [by_hand]  # no chunk follows, no Full retry
        body = await state(api, station.id)
        assert body["version"] == 50 and set(entries_of(body)) == {"HS-MANUAL"} and body["last_sync"] is None

        body = await sync(api, station.id)
        assert sent_lists(cp)[1] == {"listVersion": 51, "updateType": "Differential", "localAuthorizationList": [
            {"idTag": "HS-MANUAL"}, {"idTag": "HS-A", "idTagInfo": {"status": "Accepted"}}]}
        assert body["version"] == 51


async def test_an_explicit_selection_chosen_through_the_api(node, api, make_station, make_id_tag, partner):
    station = await db(make_station)(partner=partner)
    await db(make_id_tag)("EX-A", partner=partner)
    await db(make_id_tag)("EX-B", partner=partner)
    response = await db(api.patch)(local_list_path(station.id),
                                   json={"selection": "explicit", "id_tags": ["EX-B"], "auto_sync": False})
    assert response.status_code == 200, response.text
    assert response.json()["id_tags"] == ["EX-B"] and response.json()["outdated"] is True
    bad = await db(api.patch)(local_list_path(station.id), json={"id_tags": ["NOPE"]})
    assert bad.status_code == 400 and "NOPE" in bad.json()["detail"]
    async with connect_station(node, station.id, boot=True) as cp:
        await sync(api, station.id)
    assert sent_lists(cp)[0]["localAuthorizationList"] == [{"idTag": "EX-B", "idTagInfo": {"status": "Accepted"}}]


async def test_sync_of_an_offline_station_is_refused(node, api, make_station):
    station = await db(make_station)()
    response = await db(api.post)(local_list_path(station.id, "sync/"))
    assert response.status_code == 409 and "not connected" in response.json()["detail"]
    body = await state(api, station.id)
    assert body["version"] is None and body["entries"] == [] and body["last_sync_status"] is None
    assert (await db(api.get)(local_list_path("NO-SUCH-STATION"))).status_code == 404


async def test_id_tag_info_carries_an_expiry_date(node, make_station, make_id_tag):
    station = await db(make_station)()
    soon = timezone.now().replace(microsecond=0) + timedelta(hours=2)
    await db(make_id_tag)("EXP-CACHE")
    await db(make_id_tag)("EXP-OWN", expiry_date=soon)
    async with connect_station(node, station.id, boot=True) as cp:
        cached = (await cp.send("Authorize", {"idTag": "EXP-CACHE"}))["idTagInfo"]
        own = (await cp.send("Authorize", {"idTag": "EXP-OWN"}))["idTagInfo"]
    from csms.ocpp.schemas import parse_datetime

    horizon = timezone.now() + timedelta(hours=settings.CSMS_AUTH_CACHE_HOURS)
    assert cached["status"] == "Accepted"
    assert abs((parse_datetime(cached["expiryDate"]) - horizon).total_seconds()) < 120
    assert parse_datetime(own["expiryDate"]) == soon  # the tag's own expiry comes first
