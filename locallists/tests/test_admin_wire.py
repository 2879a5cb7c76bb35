"""Syncing a local list from admin end to end: an operator's browser (over HTTP) → the node → a
simulated station (docs/adr/0013-admin-wire-tests-over-http.md)."""

import asyncio

import pytest

from csms.testing import connect_station, db, eventually
from locallists.models import LocalList
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

LISTS = "/admin/locallists/locallist/"


async def test_choose_tags_and_sync_from_admin(node, make_station, make_id_tag, admin_session):
    station = await db(make_station)()
    chosen = await db(make_id_tag)("WIRE-CHOSEN")
    await db(make_id_tag)("WIRE-OTHER")
    response = await asyncio.to_thread(admin_session.post, f"{LISTS}add/", {
        "station": station.id, "selection": "explicit", "id_tags": [chosen.pk], "auto_sync": "on",
        "entries-TOTAL_FORMS": 0, "entries-INITIAL_FORMS": 0, "syncs-TOTAL_FORMS": 0, "syncs-INITIAL_FORMS": 0})
    assert response.status_code == 200 and response.url.endswith(LISTS), response.text[:2000]
    async with connect_station(node, station.id, boot=True) as cp:
        response = await asyncio.to_thread(admin_session.post, f"{LISTS}{station.id}/sync/", {})
        assert await cp.wait_for_call("SendLocalList") == {
            "listVersion": 1, "updateType": "Full",
            "localAuthorizationList": [{"idTag": "WIRE-CHOSEN", "idTagInfo": {"status": "Accepted"}}]}
        await eventually(lambda: LocalList.objects.get(pk=station.id).version == 1)
    successes = [text for level, text in page_messages(response.text) if level == "success"]
    assert any("sync" in text and "under way (SendLocalList #" in text for text in successes), successes
    page = (await asyncio.to_thread(admin_session.get, f"{LISTS}{station.id}/change/")).text
    assert "WIRE-CHOSEN" in page and "Accepted" in page and "Sync with the station" in page
