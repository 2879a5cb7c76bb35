"""RemoteStopTransaction from the admin, end to end over a real socket."""

from __future__ import annotations

import asyncio

import pytest

from csms.testing import connect_station, db, eventually
from csms.ocpp.models import Call, CallStatus
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTIONS = "/admin/transactions/transaction/"


async def start_transaction(cp, id_tag: str, connector_id: int = 1) -> int:
    answer = await cp.send("StartTransaction", {"connectorId": connector_id, "idTag": id_tag, "meterStart": 0,
                                                "timestamp": "2025-01-01T10:00:00Z"})
    return answer["transactionId"]


def finished_stop(station_id: str, count: int = 1):
    def check():
        calls = list(Call.objects.filter(station_id=station_id, action="RemoteStopTransaction",
                                         status__in=Call.FINISHED).order_by("id"))
        return calls if len(calls) >= count else None
    return check


async def test_remote_stop_from_the_transaction_list(node, make_station, make_id_tag, admin_session):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        transaction_id = await start_transaction(cp, tag.id_tag)
        response = await asyncio.to_thread(admin_session.action, TRANSACTIONS, "remote_stop_transaction",
                                           [transaction_id], apply=False)
        assert await cp.wait_for_call("RemoteStopTransaction") == {"transactionId": transaction_id}
        [call] = await eventually(finished_stop(station.id))
    assert [p for name, p in cp.received if name == "RemoteStopTransaction"] == [{"transactionId": transaction_id}]
    assert call.status == CallStatus.COMPLETED and call.response == {"status": "Accepted"}
    assert call.source == "admin" and call.requested_by_id == admin_session.user.pk
    assert call.context == {"transaction_id": transaction_id}
    assert response.url.endswith(f"/admin/ocpp/call/{call.pk}/change/")
    assert any(level == "success" and f"#{call.pk}" in text for level, text in page_messages(response.text))


async def test_remote_stop_from_the_transaction_page(node, make_station, make_id_tag, admin_session):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["RemoteStopTransaction"] = {"status": "Rejected"}
        transaction_id = await start_transaction(cp, tag.id_tag)
        page = (await asyncio.to_thread(admin_session.get, f"{TRANSACTIONS}{transaction_id}/change/")).text
        assert 'id="remote-stop-link"' in page
        url = f"{TRANSACTIONS}{transaction_id}/send/remote_stop_transaction/"
        confirm = (await asyncio.to_thread(admin_session.get, url)).text
        assert "Send RemoteStopTransaction" in confirm and not cp.received
        await asyncio.to_thread(admin_session.post, url, {"apply": "1"})
        assert await cp.wait_for_call("RemoteStopTransaction") == {"transactionId": transaction_id}
        [call] = await eventually(finished_stop(station.id))
    assert call.response == {"status": "Rejected"}
    # The transaction's page shows what the station answered.
    page = (await asyncio.to_thread(admin_session.get, f"{TRANSACTIONS}{transaction_id}/change/")).text
    panel = page.split('id="panel-remote-stops"')[1]
    assert f"#{call.pk}" in panel and "Rejected" in panel
