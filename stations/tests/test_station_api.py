"""The partner REST API for stations, their configuration, and the API's error and schema surface
(CONTRACT.md "Partner REST API")."""

import base64
import uuid

import pytest
import requests
import websockets
from websockets.exceptions import InvalidStatus

from csms.testing import Api, connect_station, db, results

pytestmark = pytest.mark.django_db(transaction=True)

STATION_FIELDS = {"id", "security_profile", "registration_status", "online", "vendor", "model", "serial_number",
                  "firmware_version", "last_heartbeat", "connectors"}


def new_id() -> str:
    return f"API-{uuid.uuid4().hex[:8]}"


async def handshake_status(node, station_id, headers=None) -> int:
    try:
        async with websockets.connect(f"{node.ws}/ocpp/{station_id}", subprotocols=["ocpp1.6"],
                                      additional_headers=headers or {}, open_timeout=10):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def assert_json_error(response, status):
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert "Traceback" not in response.text
    return body


# --- authentication ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/stations/", "/api/v1/id-tags/", "/api/v1/transactions/",
                                  "/api/v1/calls/", "/api/v1/stations/CP1/"])
def test_token_is_required(node, path):
    assert_json_error(requests.get(f"{node.http}{path}", timeout=10), 401)
    assert_json_error(Api(node.http, "not-a-real-token").get(path), 401)


def test_a_token_from_drf_create_token_works(node, staff_user):
    from django.core.management import call_command
    from io import StringIO

    out = StringIO()
    call_command("drf_create_token", staff_user.username, stdout=out)
    token = out.getvalue().split()[2]
    assert Api(node.http, token).get("/api/v1/stations/").status_code == 200


# --- stations CRUD ------------------------------------------------------------------------------------------


def test_create_with_defaults(api):
    station_id = new_id()
    response = api.post("/api/v1/stations/", json={"id": station_id})
    assert response.status_code == 201, response.text
    body = response.json()
    assert STATION_FIELDS <= set(body)
    assert body["id"] == station_id
    assert body["security_profile"] == 0
    assert body["registration_status"] == "Accepted"
    assert body["online"] is False
    assert body["connectors"] == []
    assert body["last_heartbeat"] is None
    assert "password" not in body
    assert api.get(f"/api/v1/stations/{station_id}/").json() == body
    assert station_id in [s["id"] for s in results(api.get("/api/v1/stations/"))]


async def test_password_is_write_only_and_guards_the_handshake(node, api):
    station_id = new_id()
    response = await db(api.post)("/api/v1/stations/", json={"id": station_id, "security_profile": 1,
                                                              "password": "first-password-12345"})
    assert response.status_code == 201, response.text
    assert "password" not in response.json() and response.json()["security_profile"] == 1
    assert "password" not in (await db(api.get)(f"/api/v1/stations/{station_id}/")).json()
    assert await handshake_status(node, station_id) == 401
    assert await handshake_status(node, station_id, basic(station_id, "first-password-12345")) == 101

    response = await db(api.patch)(f"/api/v1/stations/{station_id}/", json={"password": "second-password-1234"})
    assert response.status_code == 200 and "password" not in response.json()
    assert await handshake_status(node, station_id, basic(station_id, "first-password-12345")) == 401
    assert await handshake_status(node, station_id, basic(station_id, "second-password-1234")) == 101


async def test_patch_and_delete(node, api):
    station_id = new_id()
    await db(api.post)("/api/v1/stations/", json={"id": station_id})
    response = await db(api.patch)(f"/api/v1/stations/{station_id}/",
                                   json={"registration_status": "Pending", "description": "car park level 2"})
    assert response.status_code == 200, response.text
    assert response.json()["registration_status"] == "Pending"
    async with connect_station(node, station_id) as cp:
        assert (await cp.boot())["status"] == "Pending"
        response = await db(api.patch)(f"/api/v1/stations/{station_id}/", json={"registration_status": "Accepted"})
        assert response.status_code == 200
        assert (await cp.boot())["status"] == "Accepted"

    assert (await db(api.delete)(f"/api/v1/stations/{station_id}/")).status_code == 204
    assert_json_error(await db(api.get)(f"/api/v1/stations/{station_id}/"), 404)
    assert await handshake_status(node, station_id) == 404


async def test_deleting_a_connected_station_hangs_up(node, api, make_station):
    import asyncio

    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert (await db(api.delete)(f"/api/v1/stations/{station.id}/")).status_code == 204
        await asyncio.wait_for(cp._connection.wait_closed(), 10)
    assert await handshake_status(node, station.id) == 404


def test_online_and_boot_fields_are_read_only(api):
    station_id = new_id()
    api.post("/api/v1/stations/", json={"id": station_id})
    response = api.patch(f"/api/v1/stations/{station_id}/", json={"online": True, "vendor": "Forged"})
    assert response.status_code == 200
    assert response.json()["online"] is False and response.json()["vendor"] == ""


@pytest.mark.parametrize("body", [
    {"security_profile": 4},
    {"security_profile": -1},
    {"security_profile": "high"},
    {"security_profile": 1},  # basic auth without a password
    {"registration_status": "Maybe"},
])
def test_invalid_station_input_is_a_400_with_a_reason(api, body):
    assert_json_error(api.post("/api/v1/stations/", json={"id": new_id(), **body}), 400)


@pytest.mark.parametrize("station_id", ["", "a/b", "x" * 129])
def test_invalid_charge_box_ids_are_refused(api, station_id):
    assert_json_error(api.post("/api/v1/stations/", json={"id": station_id}), 400)


def test_duplicate_station_is_refused(api):
    station_id = new_id()
    assert api.post("/api/v1/stations/", json={"id": station_id}).status_code == 201
    assert_json_error(api.post("/api/v1/stations/", json={"id": station_id}), 400)


def test_id_cannot_change(api):
    station_id = new_id()
    api.post("/api/v1/stations/", json={"id": station_id})
    assert_json_error(api.patch(f"/api/v1/stations/{station_id}/", json={"id": new_id()}), 400)


def test_station_ids_with_odd_characters_work_in_urls(api):
    station_id = f"CP 1:{uuid.uuid4().hex[:4]}.ü"
    from urllib.parse import quote

    assert api.post("/api/v1/stations/", json={"id": station_id}).status_code == 201
    assert api.get(f"/api/v1/stations/{quote(station_id)}/").json()["id"] == station_id


# --- configuration as last read -------------------------------------------------------------------------------


async def test_configuration_endpoint(node, api, make_station):
    station = await db(make_station)()
    assert (await db(api.get)(f"/api/v1/stations/{station.id}/configuration/")).json() == []
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetConfiguration"] = {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ],
            "unknownKey": [],
        }
        await db(api.call)(station.id, "GetConfiguration", {})
    config = (await db(api.get)(f"/api/v1/stations/{station.id}/configuration/")).json()
    assert [(k["key"], k["value"], k["readonly"]) for k in config] == [
        ("HeartbeatInterval", "300", False), ("NumberOfConnectors", "2", True)]
    assert all(k["updated_at"] for k in config)
    assert_json_error(await db(api.get)("/api/v1/stations/NO-SUCH-STATION/configuration/"), 404)


# --- errors, schema, docs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/", "/api/nope", "/api/v1/nope/", "/api/v1/stations/NOPE/",
                                  "/api/v1/stations/NOPE/configuration/", "/api/v1/id-tags/NOPE/",
                                  "/api/v1/transactions/999999/", "/api/v1/transactions/abc/",
                                  "/api/v1/calls/999999/"])
def test_not_found_is_json_with_detail(api, path):
    assert_json_error(api.get(path), 404)


def test_unknown_api_url_without_token_is_still_json(node):
    response = requests.get(f"{node.http}/api/v1/does-not-exist/", timeout=10)
    assert response.status_code in (401, 404)
    assert_json_error(response, response.status_code)


def test_malformed_json_body_is_a_400_with_detail(api):
    response = api.request("POST", "/api/v1/stations/", data="{not json",
                           headers={"Content-Type": "application/json"})
    assert_json_error(response, 400)


def test_calls_to_an_unknown_station_are_404(api):
    assert_json_error(api.post("/api/v1/stations/NOPE/calls/", json={"action": "ClearCache", "payload": {}}), 404)


def test_method_not_allowed_is_json(api):
    assert_json_error(api.request("PUT", "/api/v1/stations/", json={}), 405)


def test_bad_filter_value_is_a_400_with_detail(api):
    assert_json_error(api.get("/api/v1/transactions/?connector_id=abc"), 400)


def test_openapi_schema_and_docs_are_served(node, api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200, schema.text[:300]
    document = schema.json()
    assert document["openapi"].startswith("3.")
    for path in ["/api/v1/stations/", "/api/v1/stations/{id}/", "/api/v1/id-tags/", "/api/v1/transactions/",
                 "/api/v1/transactions/{id}/meter-values/"]:
        assert path in document["paths"], path
    docs = requests.get(f"{node.http}/api/docs/", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    public = requests.get(f"{node.http}/api/schema/", timeout=10)
    assert public.status_code == 200 and "openapi" in public.text
