"""Hundreds of stations on one node over PostgreSQL and Redis stay connected and reachable.

redis-py 8's defaults (5 s socket_timeout, 100 pooled connections) tore channels-redis consumers
down every few seconds under load (DESIGN.md, docs/adr/0004-reaching-a-station.md): this holds many
sockets idle for longer than that timeout, then checks each one both ways.
"""

import asyncio
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench.fleet import SimStation, Stats
from csms.testing import db, eventually

pytestmark = pytest.mark.django_db(transaction=True)

STATIONS = 300
HOLD_SECONDS = 7  # longer than redis-py's 5 s default socket_timeout
CONNECT_CONCURRENCY = 50


async def _bounded(limit, coroutines):
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


def _create_stations(ids):
    from stations.models import ChargeStation

    ChargeStation.objects.bulk_create([ChargeStation(id=station_id) for station_id in ids])


def _online_count(ids):
    from stations.models import ChargeStation

    return ChargeStation.objects.filter(pk__in=ids, online=True).count()


def _calls_by_status(ids):
    from django.db.models import Count

    from csms.ocpp.models import Call

    rows = (
        Call.objects.filter(station_id__in=ids, action="GetConfiguration")
        .values_list("status")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict(rows)


def _post_call(api, station_id, wait=None):
    suffix = f"?wait={wait}" if wait else ""
    return requests.post(
        f"{api.base_url}/api/v1/stations/{station_id}/calls/{suffix}",
        json={"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}},
        headers={"Authorization": api.session.headers["Authorization"]},
        timeout=40,
    )


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs REDIS_URL: this guards the channels-redis layer's settings (CI always sets it)",
)
async def test_hundreds_of_stations_stay_connected_and_reachable(node, api):
    run = uuid.uuid4().hex[:6]
    ids = [f"MANY-{run}-{i:03d}" for i in range(STATIONS)]
    await db(_create_stations)(ids)
    stats, inbound = Stats(), {}
    stations = [SimStation(sid, f"{node.ws}/ocpp/{sid}", "", stats, inbound) for sid in ids]
    try:
        await _bounded(CONNECT_CONCURRENCY, [station.connect(open_timeout=20) for station in stations])
        assert await eventually(lambda: _online_count(ids) == STATIONS, timeout=15)

        await asyncio.sleep(HOLD_SECONDS)

        dropped = [s.station_id for s in stations if not s.connected]
        assert not dropped, f"{len(dropped)} stations lost their connection while idle, e.g. {dropped[:5]}"
        assert await db(_online_count)(ids) == STATIONS
        answers = await asyncio.gather(*(station.call("Heartbeat", {}, "test", timeout=20) for station in stations))
        silent = [s.station_id for s, answer in zip(stations, answers) if not answer or "currentTime" not in answer]
        assert not silent, f"{len(silent)} stations got no Heartbeat answer ({dict(stats.errors['test'])})"

        # A CSMS Call through the API reaches every single consumer through the Redis layer.
        response = await asyncio.to_thread(_post_call, api, ids[-1], 10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "completed"
        assert body["response"]["configurationKey"][0] == {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = await asyncio.to_thread(lambda: list(pool.map(lambda sid: _post_call(api, sid), ids[:-1])))
        refused = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 202]
        assert not refused, refused[:5]
        deadline = time.monotonic() + 30
        while len({call.station_id for call in inbound.values() if call.action == "GetConfiguration"}) < STATIONS:
            assert time.monotonic() < deadline, "some stations never received their GetConfiguration"
            await asyncio.sleep(0.1)
        assert await eventually(lambda: _calls_by_status(ids) == {"completed": STATIONS}, timeout=20)
        assert all(s.connected for s in stations)
    finally:
        await _bounded(100, [station.close() for station in stations])
