"""The WebSocket handshake: subprotocol, unknown ids and paths, credentials, auto-registration and a
second connection for the same chargeBoxId (CONTRACT.md "Charge stations", OCPP-J 1.6 3 and 4.1.2)."""

import asyncio
import base64
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from csms.testing import CallErrorReceived, connect_station, db, eventually

pytestmark = pytest.mark.django_db(transaction=True)


async def handshake_status(url: str, *, subprotocols=("ocpp1.6",), headers=None) -> int:
    """The HTTP status the handshake ends with: 101 when the socket opened."""
    try:
        async with websockets.connect(url, subprotocols=list(subprotocols), additional_headers=headers or {},
                                      open_timeout=10):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def station_row(station_id):
    from stations.models import ChargeStation

    return ChargeStation.objects.get(pk=station_id)


# --- subprotocol ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offered", [("ocpp2.0.1", "ocpp1.6"), ("ocpp1.6",), ("ocpp1.5", "ocpp1.6", "ocpp2.0")])
async def test_ocpp16_is_chosen_from_the_offered_list(node, make_station, offered):
    station = await db(make_station)()
    async with connect_station(node, station.id, subprotocols=offered) as cp:
        assert cp._connection.subprotocol == "ocpp1.6"
        assert (await cp.boot())["status"] == "Accepted"


@pytest.mark.parametrize("offered", [("ocpp2.0.1",), ()])
async def test_nothing_acceptable_completes_the_handshake_without_subprotocol_then_closes(node, make_station, offered):
    station = await db(make_station)()
    async with websockets.connect(f"{node.ws}/ocpp/{station.id}", subprotocols=list(offered) or None,
                                  open_timeout=10) as connection:
        assert connection.subprotocol is None
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(connection.recv(), 10)
    assert (await db(station_row)(station.id)).online is False


# --- unknown ids and paths ------------------------------------------------------------------------


async def test_unknown_charge_box_id_is_refused_with_404(node):
    assert await handshake_status(f"{node.ws}/ocpp/NOPE-{uuid.uuid4().hex[:8]}") == 404
    from stations.models import ChargeStation

    assert await db(ChargeStation.objects.count)() == 0


@pytest.mark.parametrize("path", ["/ocpp/", "/ocpp", "/ocpp/a/b", "/ocpp/a%2Fb", "/", "/other/CP1", "/api/v1/stations/"])
async def test_other_paths_are_refused_with_404_not_500(node, make_station, path):
    await db(make_station)("a")
    assert await handshake_status(f"{node.ws}{path}") == 404


INVALID_IDS = ["x" * 129, "a%00b", "tab%09id", "%20", "%20%20", "del%7F"]


@pytest.mark.parametrize("encoded", INVALID_IDS)
async def test_ids_that_cannot_be_stations_are_404_not_500(node, auto_register_node, encoded):
    from stations.models import ChargeStation

    assert await handshake_status(f"{node.ws}/ocpp/{encoded}") == 404
    # Even where unknown ids are admitted: nothing stored, no 500.
    assert await handshake_status(f"{auto_register_node.ws}/ocpp/{encoded}") == 404
    assert await db(ChargeStation.objects.count)() == 0


async def test_longest_storable_id_is_auto_registered(auto_register_node):
    station_id = "L" * 128
    async with connect_station(auto_register_node, station_id) as cp:
        assert (await cp.boot())["status"] == "Pending"
    assert (await db(station_row)(station_id)).registration_status == "Pending"


async def test_charge_box_id_with_url_escaped_characters_connects(node, make_station):
    station = await db(make_station)("CP 1:ü")
    async with connect_station(node, station.id, boot=True):
        row = await db(station_row)(station.id)
        assert row.online is True


# --- credentials (security profiles 1 to 3) ---------------------------------------------------------


async def test_basic_auth_profile_1_needs_the_right_credentials(node, make_station):
    station = await db(make_station)(security_profile=1, password="s3cret-password-0001")
    url = f"{node.ws}/ocpp/{station.id}"
    assert await handshake_status(url) == 401
    assert await handshake_status(url, headers=basic(station.id, "wrong-password")) == 401
    assert await handshake_status(url, headers=basic("someone-else", "s3cret-password-0001")) == 401
    assert await handshake_status(url, headers={"Authorization": "Basic !!!not-base64"}) == 401
    async with connect_station(node, station.id, headers=basic(station.id, "s3cret-password-0001")) as cp:
        assert (await cp.boot())["status"] == "Accepted"


async def test_profile_2_without_tls_is_refused_even_with_the_right_password(node, make_station):
    """Profile 2 is TLS plus Basic: arriving without TLS is arriving under a weaker profile (the TLS
    tests, stations/tests/test_tls.py, connect it through the terminator)."""
    station = await db(make_station)(security_profile=2, password="s3cret-password-0002")
    assert await handshake_status(f"{node.ws}/ocpp/{station.id}", headers=basic(station.id, "s3cret-password-0002")) == 401
    reasons = await db(lambda: list(station.failed_authentications.values_list("reason", flat=True)))()
    assert reasons == ["security profile 2 needs TLS; the connection came without it"]


async def test_profile_0_ignores_credentials(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, headers=basic(station.id, "anything")) as cp:
        assert (await cp.boot())["status"] == "Accepted"


async def test_profile_3_ignores_a_client_certificate_header_from_an_untrusted_peer(node, make_station):
    """Only a trusted terminator's header counts (CSMS_TRUSTED_PROXIES; this node trusts nobody)."""
    station = await db(make_station)(security_profile=3)
    url = f"{node.ws}/ocpp/{station.id}"
    assert await handshake_status(url) == 401
    for header in ("X-Client-Cert", "X-Client-Cert-CN"):
        assert await handshake_status(url, headers={header: station.id, "X-Forwarded-Proto": "https"}) == 401
    assert await db(lambda: station.failed_authentications.count())() == 3


async def test_failed_authentications_are_recorded_without_the_password_and_limited_per_address(test_database_url,
                                                                                                  make_station):
    from csms.testing import Node

    limited = Node(test_database_url, env={"CSMS_AUTH_FAILURE_BURST": "3", "CSMS_AUTH_FAILURE_RATE": "1",
                                           "CSMS_TEST_NODE_LOG_LEVEL": "INFO", "CSMS_LOG_LEVEL": "INFO"}).start()
    try:
        station = await db(make_station)(security_profile=1, password="the-right-password-1")
        url = f"{limited.ws}/ocpp/{station.id}"
        for _ in range(3):
            assert await handshake_status(url, headers=basic(station.id, "guess-number-one-secret")) == 401
        # The address has spent its failures: refused before any database work, even with the right password.
        assert await handshake_status(url, headers=basic(station.id, "the-right-password-1")) == 429
        rows = await db(lambda: list(station.failed_authentications.values("remote_address", "reason", "security_profile")))()
        assert rows == [{"remote_address": "127.0.0.1", "reason": "wrong password", "security_profile": 1}] * 3
        log = limited.log()
        assert "refused" in log and "guess-number-one-secret" not in log and "the-right-password-1" not in log
    finally:
        limited.stop()


# --- CSMS_AUTO_REGISTER ------------------------------------------------------------------------------


async def test_auto_register_stores_pending_until_the_operator_accepts(auto_register_node):
    from stations.models import ChargeStation
    from stations.services import station_registration_set

    station_id = f"AUTO-{uuid.uuid4().hex[:8]}"
    async with connect_station(auto_register_node, station_id) as cp:
        row = await db(station_row)(station_id)
        assert row.registration_status == "Pending" and row.online is True
        boot = await cp.boot(vendor="NewVendor", model="NewModel")
        assert boot["status"] == "Pending" and boot["interval"] == 300
        for action, payload in [
            ("Heartbeat", {}),
            ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
            ("Authorize", {"idTag": "TAG1"}),
        ]:
            with pytest.raises(CallErrorReceived) as refused:
                await cp.send(action, payload)
            assert refused.value.code == "SecurityError", action
        row = await db(station_row)(station_id)
        assert (row.vendor, row.model) == ("NewVendor", "NewModel")
        assert not await db(row.connectors.exists)()

        await db(station_registration_set)(station=row, status="Accepted")
        assert (await cp.boot())["status"] == "Accepted"
        assert "currentTime" in await cp.send("Heartbeat", {})
    assert await db(ChargeStation.objects.filter(pk=station_id, registration_status="Accepted").exists)()


async def test_auto_register_node_still_refuses_bad_paths(auto_register_node):
    assert await handshake_status(f"{auto_register_node.ws}/ocpp/") == 404
    assert await handshake_status(f"{auto_register_node.ws}/ocpp/a/b") == 404


async def test_auto_registered_station_shows_pending_in_the_api(auto_register_node, api):
    station_id = f"AUTO-{uuid.uuid4().hex[:8]}"
    async with connect_station(auto_register_node, station_id):
        body = (await db(api.get)(f"/api/v1/stations/{station_id}/")).json()
    assert body["registration_status"] == "Pending"
    assert body["security_profile"] == 0


async def test_rejected_station_gets_rejected_boot_and_security_errors(node, make_station):
    station = await db(make_station)(registration_status="Rejected")
    async with connect_station(node, station.id) as cp:
        assert (await cp.boot())["status"] == "Rejected"
        with pytest.raises(CallErrorReceived) as refused:
            await cp.send("Heartbeat", {})
        assert refused.value.code == "SecurityError"


async def test_pending_station_accepted_mid_connection_may_send_without_new_boot(node, make_station):
    from stations.services import station_registration_set

    station = await db(make_station)(registration_status="Pending")
    async with connect_station(node, station.id) as cp:
        assert (await cp.boot())["status"] == "Pending"
        await db(station_registration_set)(station=station, status="Accepted")
        assert "currentTime" in await cp.send("Heartbeat", {})


async def test_station_set_back_to_pending_through_the_api_is_refused_at_once(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert "currentTime" in await cp.send("Heartbeat", {})
        response = await db(api.patch)(f"/api/v1/stations/{station.id}/", json={"registration_status": "Pending"})
        assert response.status_code == 200

        async def refused():
            try:
                await cp.send("Heartbeat", {})
            except CallErrorReceived as exc:
                return exc.code
            return None

        codes = [await refused() for _ in range(3)]
        assert codes[-1] == "SecurityError", codes
        assert (await cp.boot())["status"] == "Pending"


# --- a second connection for the same chargeBoxId --------------------------------------------------


async def test_new_connection_replaces_the_old_one(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as old:
        async with connect_station(node, station.id) as new:
            await asyncio.wait_for(old._connection.wait_closed(), 10)
            # No new BootNotification needed: the new connection may send at once.
            assert "currentTime" in await new.send("Heartbeat", {})
            await asyncio.sleep(0.5)  # let the old connection's disconnect be recorded
            row = await db(station_row)(station.id)
            assert row.online is True
            call = await db(api.call)(station.id, "ClearCache", {})
            assert call["status"] == "completed" and call["response"] == {"status": "Accepted"}
            assert new.received == [("ClearCache", {})]
            assert old.received == []
        await eventually(lambda: not station_row(station.id).online)
