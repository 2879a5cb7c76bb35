"""Several Daphne nodes over the real PostgreSQL and Redis: a station's socket is found from any node."""

import asyncio
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from csms.testing import Api, Node, connect_station, db, eventually
from stations import services
from stations.models import ChargeStation, Node as NodeRow

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.multinode,
    pytest.mark.skipif(
        not settings.REDIS_URL or settings.DB_IS_SQLITE,
        reason="several nodes share state through PostgreSQL and Redis (set DATABASE_URL and REDIS_URL; CI does)",
    ),
]


@pytest.fixture(scope="module")
def two_nodes(test_database_url):
    nodes = [Node(test_database_url, name=f"multinode-{n}", env={"CSMS_NODE_REPORT_INTERVAL": "2"}).start() for n in "ab"]
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture
def token(staff_user):
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=staff_user).key


async def test_call_made_through_one_node_reaches_a_station_on_another(two_nodes, token, make_station):
    node_a, node_b = two_nodes
    station = await db(make_station)()
    async with connect_station(node_a, station.id, boot=True) as cp:
        assert (await db(ChargeStation.objects.get)(pk=station.id)).node == node_a.name
        cp.answers["GetConfiguration"] = {"configurationKey": [{"key": "K", "readonly": True, "value": "v"}]}
        response = await db(Api(node_b.http, token).post)(
            f"/api/v1/stations/{station.id}/calls/?wait=10", json={"action": "GetConfiguration", "payload": {}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed"
        assert cp.received == [("GetConfiguration", {})]


async def test_reconnecting_through_another_node_replaces_the_old_socket(two_nodes, token, make_station):
    node_a, node_b = two_nodes
    station = await db(make_station)()
    async with connect_station(node_a, station.id, boot=True) as old:
        async with connect_station(node_b, station.id) as new:
            # The node holding the old socket is told over the channel layer and closes it.
            await asyncio.wait_for(old._connection.wait_closed(), 10)
            row = await db(ChargeStation.objects.get)(pk=station.id)
            assert row.online and row.node == node_b.name
            response = await db(Api(node_a.http, token).post)(
                f"/api/v1/stations/{station.id}/calls/?wait=10", json={"action": "ClearCache", "payload": {}}
            )
            assert response.json()["status"] == "completed"
            assert new.received == [("ClearCache", {})] and old.received == []


async def test_stations_of_a_silent_node_go_offline_until_it_reports_again(two_nodes, make_station):
    node_a, _ = two_nodes
    station = await db(make_station)()
    async with connect_station(node_a, station.id, boot=True):
        assert (await db(ChargeStation.objects.get)(pk=station.id)).online
        await eventually(lambda: NodeRow.objects.filter(name=node_a.name).exists())
        # The node looks dead (no report for minutes): the beat job releases its stations...
        await db(NodeRow.objects.filter(name=node_a.name).update)(last_seen=timezone.now() - timedelta(minutes=10))
        await db(services.stations_of_dead_nodes_mark_offline)()
        assert not (await db(ChargeStation.objects.get)(pk=station.id)).online
        # ...and when it reports again, the sockets it still holds are online again.
        await eventually(lambda: ChargeStation.objects.get(pk=station.id).online, timeout=15)
        assert (await db(ChargeStation.objects.get)(pk=station.id)).node == node_a.name
