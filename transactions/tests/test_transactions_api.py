"""The partner API for transactions: list, filters and detail fields (CONTRACT.md "Transactions")."""

import pytest

from csms.testing import connect_station, db, results

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T11:00:00Z"
CONTRACT_FIELDS = {"id", "station", "connector_id", "id_tag", "meter_start", "meter_stop", "started_at", "stopped_at",
                   "stop_reason", "energy_wh", "cost"}


async def run_sessions(node, station_a, station_b, tag_a, tag_b):
    """Three transactions: A/tag_a stopped, A/tag_b running, B/tag_a running."""
    async with connect_station(node, station_a, boot=True) as a, connect_station(node, station_b, boot=True) as b:
        stopped = (await a.send("StartTransaction", {"connectorId": 1, "idTag": tag_a, "meterStart": 10,
                                                     "timestamp": T0}))["transactionId"]
        await a.send("StopTransaction", {"transactionId": stopped, "meterStop": 110, "timestamp": T1})
        running_a = (await a.send("StartTransaction", {"connectorId": 2, "idTag": tag_b, "meterStart": 20,
                                                       "timestamp": T1}))["transactionId"]
        running_b = (await b.send("StartTransaction", {"connectorId": 1, "idTag": tag_a, "meterStart": 30,
                                                       "timestamp": T1}))["transactionId"]
    return stopped, running_a, running_b


async def test_list_filters_and_detail(node, api, make_station, make_id_tag):
    a, b = await db(make_station)(), await db(make_station)()
    tag_a = (await db(make_id_tag)(max_active_transactions=-1)).id_tag
    tag_b = (await db(make_id_tag)()).id_tag
    stopped, running_a, running_b = await run_sessions(node, a.id, b.id, tag_a, tag_b)

    def ids(query=""):
        response = api.get(f"/api/v1/transactions/{query}")
        assert response.status_code == 200, response.text
        return sorted(tx["id"] for tx in results(response))

    assert await db(ids)() == sorted([stopped, running_a, running_b])
    assert await db(ids)(f"?station={a.id}") == sorted([stopped, running_a])
    assert await db(ids)(f"?id_tag={tag_a}") == sorted([stopped, running_b])
    assert await db(ids)("?active=true") == sorted([running_a, running_b])
    assert await db(ids)("?active=false") == [stopped]
    assert await db(ids)(f"?station={a.id}&active=true") == [running_a]
    assert await db(ids)("?station=NO-SUCH") == []

    detail = (await db(api.get)(f"/api/v1/transactions/{stopped}/")).json()
    assert CONTRACT_FIELDS <= set(detail)
    assert (detail["id"], detail["station"], detail["connector_id"], detail["id_tag"]) == (stopped, a.id, 1, tag_a)
    assert (detail["meter_start"], detail["meter_stop"], detail["energy_wh"]) == (10, 110, 100)
    assert detail["started_at"].startswith("2024-05-01T10:00:00")
    assert detail["stopped_at"].startswith("2024-05-01T11:00:00")
    assert detail["stop_reason"] == "Local"
    assert detail["cost"] is None

    running = (await db(api.get)(f"/api/v1/transactions/{running_b}/")).json()
    assert (running["stopped_at"], running["meter_stop"], running["stop_reason"], running["energy_wh"]) == (
        None, None, None, 0)


def test_transactions_are_read_only(api):
    response = api.post("/api/v1/transactions/", json={"station": "X", "connector_id": 1})
    assert response.status_code == 405 and "detail" in response.json()
