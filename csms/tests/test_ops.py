"""What the operations team gets (issue 14): /metrics moving with exact counts, its access rule,
/healthz and /readyz following the database and Redis, JSON log lines, and no secret in any log."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import pytest
import requests

from csms.testing import Api, Node, connect_station, db, eventually
from csms.testing_faults import PostgresProcess, RedisProcess

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(node: Node, **headers) -> requests.Response:
    return requests.get(f"{node.http}/metrics", headers=headers, timeout=10)


def value(text: str, name: str, **labels) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{key}="{val}"' for key, val in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, number = line.rpartition(" ")
        sample, _, label_text = metric.partition("{")
        if sample != name:
            continue
        found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if found == wanted:
            return float(number)
    return 0.0


async def test_station_traffic_moves_the_counters_and_histograms_exactly(node, api, make_station):
    station = await db(make_station)()
    before = (await asyncio.to_thread(scrape, node)).text
    async with connect_station(node, station.id, boot=True) as cp:
        for _ in range(5):
            await cp.send("Heartbeat", {})
        with pytest.raises(Exception):
            await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sideways"})
        await db(api.call)(station.id, "ClearCache", {})
        during = (await asyncio.to_thread(scrape, node)).text
    after = (await asyncio.to_thread(scrape, node)).text

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("csms_station_calls_total", action="Heartbeat", outcome="answered", code="") == 5
    assert delta("csms_station_calls_total", action="BootNotification", outcome="answered", code="") == 1
    assert delta("csms_station_calls_total", action="StatusNotification", outcome="call_error",
                 code="PropertyConstraintViolation") == 1
    assert delta("csms_station_call_seconds_count", action="Heartbeat") == 5
    assert delta("csms_csms_calls_total", action="ClearCache", status="completed") == 1
    assert delta("csms_csms_call_seconds_count", action="ClearCache") == 1
    assert delta("csms_station_connections_total", outcome="accepted") == 1
    assert value(during, "csms_stations_connected", node=node.name, security_profile="0") >= 1
    await eventually(lambda: value(scrape(node).text, "csms_station_disconnects_total", reason="closed")
                     > value(before, "csms_station_disconnects_total", reason="closed"))
    # Bounded labels: never a chargeBoxId.
    assert station.id not in after


def test_metrics_refuse_a_scraper_without_the_token(test_database_url):
    guarded = Node(test_database_url, env={"CSMS_METRICS_TOKEN": "s3cr3t-scrape-token"}).start()
    try:
        assert scrape(guarded).status_code == 403
        assert scrape(guarded, Authorization="Bearer wrong").status_code == 403
        answered = scrape(guarded, Authorization="Bearer s3cr3t-scrape-token")
        assert answered.status_code == 200 and "csms_station_calls_total" in answered.text
    finally:
        guarded.stop()


def test_healthz_and_readyz_follow_the_database_and_redis():
    pg, redis = PostgresProcess().init(), RedisProcess().start()
    from csms.ocpp.tests.test_faults import migrate

    migrate(pg.url)
    node = Node(pg.url, env={"REDIS_URL": redis.url}).start()
    try:
        ready = lambda: requests.get(f"{node.http}/readyz", timeout=10)  # noqa: E731
        assert requests.get(f"{node.http}/healthz", timeout=5).status_code == 200
        assert ready().status_code == 200 and ready().json()["checks"]["database"] == "ok"

        redis.kill()
        body = ready()
        assert body.status_code == 503 and body.json()["checks"]["channel_layer"] != "ok"
        assert requests.get(f"{node.http}/healthz", timeout=5).status_code == 200  # alive all the same
        redis.start()
        assert ready().status_code == 200

        pg.stop()
        body = ready()
        assert body.status_code == 503 and body.json()["checks"]["database"] != "ok"
        pg.start()
        for _ in range(50):
            if ready().status_code == 200:
                break
        assert ready().status_code == 200
    finally:
        node.stop()
        redis.kill()
        pg.destroy()


async def test_json_log_lines_carry_the_events_and_no_secret_is_ever_logged(test_database_url, make_station):
    """A run that uses a Basic-auth password, an API token, a metrics token and an AuthorizationKey change,
    with DEBUG logging: every line is JSON, the events are there, none of the secrets is."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    password = "Station-Pass-0123456789"
    new_key = "Fresh-Authorization-Key-98765"
    node = Node(test_database_url, env={"CSMS_LOG_FORMAT": "json", "CSMS_LOG_LEVEL": "DEBUG",
                                        "CSMS_TEST_NODE_LOG_LEVEL": "DEBUG",
                                        "CSMS_METRICS_TOKEN": "scrape-token-abcdef123456"}).start()
    try:
        station = await db(make_station)(security_profile=1, password=password)
        user = await db(get_user_model().objects.create_user)(username="ops-logs", is_staff=True, is_superuser=True)
        token = (await db(Token.objects.create)(user=user)).key
        api = Api(node.http, token)
        basic = "Basic " + base64.b64encode(f"{station.id}:{password}".encode()).decode()
        async with connect_station(node, station.id, boot=True, headers={"Authorization": basic}):
            await db(api.call)(station.id, "ChangeConfiguration", {"key": "AuthorizationKey", "value": new_key})
            await asyncio.to_thread(scrape, node, Authorization="Bearer scrape-token-abcdef123456")
        await asyncio.sleep(0.5)
        node.stop()
        lines = [line for line in node.log().splitlines() if line.startswith("{")]
        records = [json.loads(line) for line in lines]
        events = {record.get("event") for record in records}
        assert {"station_connected", "station_disconnected"} <= events
        connected = next(r for r in records if r.get("event") == "station_connected")
        assert connected["station_id"] == station.id and connected["node"] == node.name
        log = node.log()
        for secret in (password, new_key, token, "scrape-token-abcdef123456", basic.split()[1]):
            assert secret not in log, f"a secret reached the log: {secret[:6]}…"
        assert not re.search(r"BEGIN [A-Z ]*PRIVATE KEY", log)
    finally:
        node.stop()
