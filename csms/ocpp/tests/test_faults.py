"""Fault tests: Redis, PostgreSQL and nodes failing under load (issue 9; `make faults` prints the
summary). Each starts the services it breaks on spare ports; the shared ones are never touched.

What every scenario checks: every transaction message a station got an answer for is stored
exactly once, and a station is shown online if and only if a socket holds it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psycopg
import pytest
import websockets
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from csms.testing import Api, Node, db, eventually, grant_send_calls
from csms.testing_faults import DurableStation, PostgresProcess, RedisProcess, report, running

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

FAST_NODE = {"CSMS_NODE_REPORT_INTERVAL": "1", "CSMS_NODE_TIMEOUT": "5", "CSMS_DRAIN_SECONDS": "5"}


def needs_postgres(test_database_url: str) -> None:
    if not test_database_url.startswith("postgres"):
        pytest.skip("several nodes share state through PostgreSQL (set DATABASE_URL; CI does)")


def stored_counts(database_url: str, station_ids: list[str]) -> dict:
    with psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        meter = conn.execute("SELECT count(*) FROM transactions_metervalue WHERE station_id = ANY(%s) "
                             "AND source = 'MeterValues'", [station_ids]).fetchone()[0]
        started = conn.execute("SELECT count(*) FROM transactions_transaction WHERE station_id = ANY(%s)",
                               [station_ids]).fetchone()[0]
        stopped = conn.execute("SELECT count(*) FROM transactions_transaction WHERE station_id = ANY(%s) "
                               "AND stopped_at IS NOT NULL", [station_ids]).fetchone()[0]
        online = dict(conn.execute("SELECT id, node FROM stations_chargestation WHERE id = ANY(%s) AND online",
                                   [station_ids]).fetchall())
    return {"meter_values": meter, "transactions": started, "stopped": stopped, "online": online}


def assert_exactly_once(stations: list[DurableStation], counts: dict) -> None:
    acknowledged_meter = sum(len(s.acknowledged_of("MeterValues")) for s in stations)
    acknowledged_starts = {ack.response["transactionId"] for s in stations for ack in s.acknowledged_of("StartTransaction")}
    acknowledged_stops = {ack.payload["transactionId"] for s in stations for ack in s.acknowledged_of("StopTransaction")}
    assert counts["meter_values"] == acknowledged_meter, "a sampled value was lost or stored twice"
    assert counts["transactions"] == len(acknowledged_starts), "a transaction was lost or stored twice"
    assert counts["stopped"] == len(acknowledged_stops)


STATIONS_SCRIPT = """
from stations.models import ChargeStation
from transactions.models import IdTag
ChargeStation.objects.bulk_create([ChargeStation(id=i) for i in {ids!r}], ignore_conflicts=True)
IdTag.objects.get_or_create(id_tag="FAULT-TAG", defaults={{"max_active_transactions": -1}})
"""


def make_stations(ids: list[str], *, database_url: str | None = None) -> None:
    """Register stations (Accepted, profile 0) and the tag they charge with: in the test database, or
    (database_url) in a database of the test's own, through the ORM of a separate process."""
    if database_url is None:
        exec(STATIONS_SCRIPT.format(ids=ids), {})
        return
    import subprocess
    import sys

    from django.conf import settings

    subprocess.run([sys.executable, "manage.py", "shell", "-c", STATIONS_SCRIPT.format(ids=ids)],
                   cwd=settings.BASE_DIR, env={**os.environ, "DATABASE_URL": database_url}, check=True, timeout=120)


def staff_token() -> str:
    user, _ = get_user_model().objects.get_or_create(username="fault-staff", defaults={"is_staff": True})
    return Token.objects.get_or_create(user=grant_send_calls(user))[0].key


def log_lines(node: Node, needle: str) -> int:
    return sum(needle in line for line in node.log().splitlines())


# --- Redis -------------------------------------------------------------------------------------------------


async def test_a_redis_outage_keeps_stations_connected_answered_and_stored_once(test_database_url):
    needs_postgres(test_database_url)
    redis = RedisProcess().start()
    env = {**FAST_NODE, "REDIS_URL": redis.url}
    node_a = Node(test_database_url, env=env).start()
    node_b = Node(test_database_url, env=env).start()
    ids = [f"FR-{i}-{os.getpid()}" for i in range(8)]
    try:
        await db(make_stations)(ids)
        token = await db(staff_token)()
        api_a = Api(node_a.http, token)
        stations = [DurableStation(i, [node_a.ws, node_b.ws] if n % 2 == 0 else [node_b.ws, node_a.ws])
                    for n, i in enumerate(ids)]
        on_a, on_b = stations[0].station_id, stations[1].station_id
        async with running(stations):
            charging = [asyncio.create_task(s.charge(sessions=3, samples=15, interval=0.1)) for s in stations]
            assert (await asyncio.to_thread(api_a.call, on_b, "ClearCache", {}))["status"] == "completed"

            redis.kill()
            outage_started = time.monotonic()
            await asyncio.sleep(1.5)
            acknowledged_before = sum(len(s.acknowledged) for s in stations)
            # A call to a station this node holds still goes out; one across nodes fails at once, truly.
            local = await asyncio.to_thread(api_a.call, on_a, "ClearCache", {})
            assert local["status"] == "completed"
            started = time.monotonic()
            remote = (await asyncio.to_thread(api_a.post, f"/api/v1/stations/{on_b}/calls/?wait=10",
                                              {"action": "ClearCache", "payload": {}})).json()
            assert remote["status"] == "error" and remote["error"]["code"] == "ChannelLayerUnavailable", remote
            assert time.monotonic() - started < 3
            await asyncio.sleep(2)
            assert sum(len(s.acknowledged) for s in stations) > acknowledged_before + 20, "stations not answered"

            redis.start()
            outage = time.monotonic() - outage_started
            recovered_at = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                body = (await asyncio.to_thread(api_a.post, f"/api/v1/stations/{on_b}/calls/?wait=5",
                                                {"action": "ClearCache", "payload": {}})).json()
                if body["status"] == "completed":
                    recovered_at = time.monotonic()
                    break
                await asyncio.sleep(0.2)
            assert recovered_at is not None, "cross-node calls did not resume within 5 s of Redis' return"
            await asyncio.wait_for(asyncio.gather(*charging), 120)
            counts = await asyncio.to_thread(stored_counts, test_database_url, ids)
            assert set(counts["online"]) == set(ids)
        assert [s.connects for s in stations] == [1] * len(stations), "a station had to reconnect"
        assert_exactly_once(stations, counts)
        await eventually(lambda: not stored_counts(test_database_url, ids)["online"], timeout=10)
        for node in (node_a, node_b):
            assert log_lines(node, "channel layer unavailable") <= 1
            assert log_lines(node, "Task was destroyed") == 0 and log_lines(node, "Exception inside application") == 0
        report("Redis killed and restarted", outage_s=round(outage, 1),
               resumed_s=round(recovered_at - (outage_started + outage), 1),
               acknowledged=sum(len(s.acknowledged) for s in stations), lost_or_doubled=0, reconnects=0)
    finally:
        node_a.stop()
        node_b.stop()
        redis.kill()


# --- PostgreSQL ---------------------------------------------------------------------------------------------


def migrate(database_url: str) -> None:
    import subprocess
    import sys

    from django.conf import settings

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=settings.BASE_DIR,
                   env={**os.environ, "DATABASE_URL": database_url}, check=True, timeout=300)


async def test_a_postgres_restart_makes_calls_wait_and_loses_nothing():
    pg = await asyncio.to_thread(PostgresProcess().init)
    waiting = waiting_short = None
    try:
        await asyncio.to_thread(migrate, pg.url)
        # One node waits out the outage; the other gives up after 1.5 s (CSMS_DB_OUTAGE_WAIT).
        waiting = Node(pg.url, env={**FAST_NODE, "REDIS_URL": "", "CSMS_DB_OUTAGE_WAIT": "30"}).start()
        waiting_short = Node(pg.url, env={**FAST_NODE, "REDIS_URL": "", "CSMS_DB_OUTAGE_WAIT": "1.5"}).start()
        ids = [f"FP-{i}" for i in range(6)]
        await asyncio.to_thread(make_stations, ids, database_url=pg.url)
        patient = [DurableStation(i, [waiting.ws]) for i in ids[:4]]
        impatient = [DurableStation(i, [waiting_short.ws]) for i in ids[4:]]
        stations = patient + impatient
        async with running(stations):
            charging = [asyncio.create_task(s.charge(sessions=2, samples=20, interval=0.1)) for s in stations]
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg.stop)
            stopped_at = time.monotonic()
            await asyncio.sleep(5)
            await asyncio.to_thread(pg.start)
            back_at = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*charging), 120)
            counts = await asyncio.to_thread(stored_counts, pg.url, ids)
            assert set(counts["online"]) == set(ids)
        # Stations of the patient node never saw an error: their Calls waited for the database.
        assert [e for s in patient for e in s.errors] == []
        # The impatient node answered InternalError after its bound; the stations retried, and the
        # database was back: nothing lost, nothing twice.
        assert {code for s in impatient for _, code in s.errors} <= {"InternalError"}
        assert any(s.errors for s in impatient)
        assert [s.connects for s in stations] == [1] * len(stations)
        assert_exactly_once(stations, counts)
        await eventually(lambda: not stored_counts(pg.url, ids)["online"], timeout=10)
        # The message log went through the outage: every Call the stations got an answer to is there
        # (the last ones within a flush or two).
        sent_frames = sum(len(s.answer_latencies) for s in stations)

        def logged_calls():
            with psycopg.connect(pg.url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
                return conn.execute("SELECT count(*) FROM ocpp_messagelog WHERE direction = 'in' "
                                    "AND message_type = 2").fetchone()[0]

        await eventually(lambda: logged_calls() >= sent_frames, timeout=10)
        for node in (waiting, waiting_short):
            assert log_lines(node, "database unavailable") <= 2
        report("PostgreSQL stopped for 5 s", outage_s=round(back_at - stopped_at, 1),
               acknowledged=sum(len(s.acknowledged) for s in stations),
               internal_errors_patient=0, internal_errors_bounded=sum(len(s.errors) for s in impatient),
               lost_or_doubled=0, reconnects=0)
    finally:
        for node in (waiting, waiting_short):
            if node is not None:
                node.stop()
        await asyncio.to_thread(pg.destroy)


# --- Nodes ----------------------------------------------------------------------------------------------


async def test_a_killed_node_s_stations_reconnect_elsewhere_and_the_rest_go_offline_in_time(test_database_url):
    needs_postgres(test_database_url)
    redis = RedisProcess().start()
    env = {**FAST_NODE, "REDIS_URL": redis.url}
    victim = Node(test_database_url, env=env).start()
    survivor = Node(test_database_url, env=env).start()
    ids = [f"FK-{i}-{os.getpid()}" for i in range(5)]
    quiet_id = f"FK-quiet-{os.getpid()}"
    try:
        await db(make_stations)([*ids, quiet_id])
        token = await db(staff_token)()
        stations = [DurableStation(i, [victim.ws, survivor.ws]) for i in ids]
        async with running(stations), websockets.connect(f"{victim.ws}/ocpp/{quiet_id}", subprotocols=["ocpp1.6"],
                                                         ping_interval=None) as quiet:
            charging = [asyncio.create_task(s.charge(sessions=2, samples=20, interval=0.1)) for s in stations]
            await asyncio.sleep(1)
            # A call the quiet station receives and never answers: it is in flight when the node dies.
            call = (await asyncio.to_thread(Api(survivor.http, token).post, f"/api/v1/stations/{quiet_id}/calls/",
                                            {"action": "ClearCache", "payload": {}})).json()
            await asyncio.wait_for(quiet.recv(), 5)
            victim.process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            # The quiet station's TCP connection is half-dead now; it does not come back.
            await eventually(lambda: quiet_id not in stored_counts(test_database_url, [quiet_id])["online"], timeout=10)
            offline_after = time.monotonic() - killed_at
            assert offline_after <= 5 + 1.5, f"offline only after {offline_after:.1f} s (CSMS_NODE_TIMEOUT 5)"
            def call_ended():
                body = Api(survivor.http, token).get(f"/api/v1/calls/{call['id']}/").json()
                return body if body["status"] == "error" else None

            finished = await eventually(call_ended, timeout=5)
            assert finished["error"]["code"] in ("NodeLost", "Disconnected"), finished
            await asyncio.wait_for(asyncio.gather(*charging), 120)
            counts = await asyncio.to_thread(stored_counts, test_database_url, ids)
            assert counts["online"] == {i: survivor.name for i in ids}, "stations not shown on the node holding them"
        assert all(s.connects == 2 for s in stations)
        assert_exactly_once(stations, counts)
        report("node killed -9", stations_moved=len(ids), offline_after_s=round(offline_after, 1),
               node_timeout_s=5, acknowledged=sum(len(s.acknowledged) for s in stations), lost_or_doubled=0)
    finally:
        victim.stop()
        survivor.stop()
        redis.kill()


async def test_sigterm_drains_answers_what_is_in_hand_and_sends_stations_elsewhere(test_database_url):
    needs_postgres(test_database_url)
    redis = RedisProcess().start()
    env = {**FAST_NODE, "REDIS_URL": redis.url}
    leaving = Node(test_database_url, env=env).start()
    staying = Node(test_database_url, env=env).start()
    ids = [f"FD-{i}-{os.getpid()}" for i in range(6)]
    try:
        await db(make_stations)(ids)
        stations = [DurableStation(i, [leaving.ws, staying.ws]) for i in ids]
        async with running(stations):
            charging = [asyncio.create_task(s.charge(sessions=2, samples=20, interval=0.05)) for s in stations]
            await asyncio.sleep(1)
            leaving.process.send_signal(signal.SIGTERM)
            asked_at = time.monotonic()
            await asyncio.to_thread(leaving.process.wait, 15)
            exited_after = time.monotonic() - asked_at
            await asyncio.wait_for(asyncio.gather(*charging), 120)
            counts = await asyncio.to_thread(stored_counts, test_database_url, ids)
            assert counts["online"] == {i: staying.name for i in ids}
        assert all(1001 in s.close_codes for s in stations), [s.close_codes for s in stations]
        assert all(s.connects == 2 for s in stations)
        assert [e for s in stations for e in s.errors] == [], "a Call in hand was not answered"
        assert_exactly_once(stations, counts)
        assert leaving.process.returncode is not None and exited_after < 10
        report("SIGTERM drain", stations_moved=len(ids), exit_s=round(exited_after, 1), errors=0,
               acknowledged=sum(len(s.acknowledged) for s in stations), lost_or_doubled=0)
    finally:
        leaving.stop()
        staying.stop()
        redis.kill()


# --- Hostile input ----------------------------------------------------------------------------------------


async def test_a_frame_over_the_limit_closes_with_1009_and_is_recorded(node, api, make_station):
    station = await db(make_station)()
    async with websockets.connect(f"{node.ws}/ocpp/{station.id}", subprotocols=["ocpp1.6"],
                                  max_size=None, ping_interval=None) as ws:
        # Under the limit: processed like any frame.
        await ws.send('[2,"big-ok","DataTransfer",{"vendorId":"x","data":"' + "a" * 900_000 + '"}]')
        assert '"UnknownVendorId"' in await asyncio.wait_for(ws.recv(), 10)
        await ws.send('[2,"big","DataTransfer",{"vendorId":"x","data":"' + "a" * (2 * 1024 * 1024) + '"}]')
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 1009
    events = await eventually(lambda: [e for e in api.get(f"/api/v1/stations/{station.id}/security-events/").json()
                                       if e["type"] == "OversizedMessage"])
    assert "2097" in events[0]["tech_info"]
    assert any(station.id in line and "1009" in line for line in node.log().splitlines())


async def test_a_reconnect_flood_is_slowed_down_without_hurting_other_stations(test_database_url):
    flood_node = Node(test_database_url, env={"CSMS_CONNECT_BURST_PER_STATION": "10",
                                              "CSMS_CONNECT_RATE_PER_STATION": "30",
                                              "CSMS_TEST_NODE_LOG_LEVEL": "WARNING"}).start()
    ids = [f"FF-{i}-{os.getpid()}" for i in range(5)]
    flooder = f"FF-bad-{os.getpid()}"
    try:
        await db(make_stations)([*ids, flooder])
        good = [DurableStation(i, [flood_node.ws]) for i in ids]
        outcomes = {"accepted": 0, "refused_429": 0, "other": 0}

        async def flood(attempts: int):
            for _ in range(attempts):
                try:
                    async with websockets.connect(f"{flood_node.ws}/ocpp/{flooder}", subprotocols=["ocpp1.6"],
                                                  open_timeout=5, ping_interval=None):
                        outcomes["accepted"] += 1
                except websockets.exceptions.InvalidStatus as exc:
                    outcomes["refused_429" if exc.response.status_code == 429 else "other"] += 1

        async def heartbeats(station: DurableStation, seconds: float):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                frame = await station.call("Heartbeat", {})
                assert frame[0] == 3
                await asyncio.sleep(0.05)

        async with running(good):
            await asyncio.gather(*(heartbeats(s, 1.5) for s in good))
            quiet = sorted(lat for s in good for lat in s.answer_latencies)
            for s in good:
                s.answer_latencies.clear()
            await asyncio.gather(flood(100), flood(100), flood(100), flood(100),
                                 *(heartbeats(s, 4) for s in good))
            during = sorted(lat for s in good for lat in s.answer_latencies)
        p99 = lambda values: values[min(len(values) - 1, int(len(values) * 0.99))] * 1000  # noqa: E731
        assert outcomes["refused_429"] > 300 and outcomes["accepted"] <= 10 + 10, outcomes
        assert outcomes["other"] == 0
        assert p99(during) < 250, f"others' p99 {p99(during):.0f} ms during the flood"
        report("reconnect flood (400 handshakes of one id)", accepted=outcomes["accepted"],
               refused_429=outcomes["refused_429"], others_p99_before_ms=round(p99(quiet), 1),
               others_p99_during_ms=round(p99(during), 1))
    finally:
        flood_node.stop()
