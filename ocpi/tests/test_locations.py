"""OCPI Locations, we the sender: the list and the objects a registered eMSP reads over HTTP, and what
we push to it as stations change (a station over a real WebSocket, the API), retries included."""

import asyncio
import inspect
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csms.testing import connect_station, db
from ocpi import audience
from ocpi.locations.services import locations_push_all
from ocpi.models import HandshakeState, OcpiPartner, OcpiPush, PushStatus, Visibility
from ocpi.pushes import pushes_send_due
from ocpi.tests.test_location_documents import WHERE, check_connector, check_evse, check_location, make_station
from stations.hooks import ConnectorStatusChanged, connector_status_changed
from stations.models import ChargeStation, Connector

pytestmark = pytest.mark.django_db(transaction=True)

PARTY = "NL/CSM"  # CSMS_OCPI_COUNTRY_CODE / CSMS_OCPI_PARTY_ID of the test settings


@pytest.fixture
def partner(registered):
    """The registered eMSP, with this process's cached audience fresh (it registered on the node)."""
    audience.forget()
    yield registered
    audience.forget()


def locations_url(node, *parts):
    return "/".join([f"{node.http}/ocpi/2.2.1/locations", *parts])


def test_the_list_is_paginated_with_link_and_total(ocpi_node, partner, emsp):
    for number in range(3):
        make_station(f"LOC-{number}")
    make_station("HIDDEN", ocpi_publish=False)
    ChargeStation.objects.create(id="NOWHERE")  # no address: cannot be a Location

    first = emsp.get(locations_url(ocpi_node), limit=2)

    assert first["_http_status"] == 200 and first["status_code"] == 1000
    assert [location["id"] for location in first["data"]] == ["LOC-0", "LOC-1"]
    assert (first["_headers"]["X-Total-Count"], first["_headers"]["X-Limit"]) == ("3", "2")
    link = first["_headers"]["Link"]
    assert link.endswith('>; rel="next"')
    following = urlsplit(link[1:link.index(">")])
    assert parse_qs(following.query) == {"offset": ["2"], "limit": ["2"]}
    second = emsp.get(f"{ocpi_node.http}{following.path}", **{k: v[0] for k, v in parse_qs(following.query).items()})
    assert [location["id"] for location in second["data"]] == ["LOC-2"]
    assert "Link" not in second["_headers"]
    for location in first["data"] + second["data"]:
        check_location(location)
        assert (location["country_code"], location["party_id"]) == ("NL", "CSM")
        assert [evse["status"] for evse in location["evses"]] == ["AVAILABLE"]


def test_a_page_of_many_locations_takes_a_handful_of_queries(ocpi_node, partner, rf):
    from ocpi.locations import views

    for number in range(12):
        make_station(f"MANY-{number:02}", statuses={0: "Available", 1: "Available", 2: "Charging"})
    request = rf.get("/ocpi/2.2.1/locations")
    request.ocpi_partner = partner
    with CaptureQueriesContext(connection) as queries:
        page = inspect.unwrap(views.location_list)(request)
    assert len(page.items) == 12 and page.total == 12
    assert len(queries) <= 5, [q["sql"][:120] for q in queries]


def test_date_filters_on_last_updated(ocpi_node, partner, emsp):
    make_station("OLD")
    make_station("NEW")
    long_ago = timezone.now() - timedelta(days=3)
    ChargeStation.objects.filter(pk="OLD").update(updated_at=long_ago, connected_at=long_ago)
    Connector.objects.filter(station_id="OLD").update(updated_at=long_ago)
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    recent = emsp.get(locations_url(ocpi_node), date_from=since)
    older = emsp.get(locations_url(ocpi_node), date_to=since)

    assert [location["id"] for location in recent["data"]] == ["NEW"]
    assert [location["id"] for location in older["data"]] == ["OLD"]
    assert older["data"][0]["last_updated"] == long_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert emsp.get(locations_url(ocpi_node), date_from="yesterday")["status_code"] == 2001


def test_one_location_evse_and_connector(ocpi_node, partner, emsp):
    make_station("ONE", statuses={0: "Available", 1: "Charging", 2: "Faulted"})

    location = emsp.get(locations_url(ocpi_node, "ONE"))["data"]
    evse = emsp.get(locations_url(ocpi_node, "ONE", "ONE-2"))["data"]
    connector = emsp.get(locations_url(ocpi_node, "ONE", "ONE-1", "1"))["data"]

    check_location(location)
    assert [e["status"] for e in location["evses"]] == ["CHARGING", "OUTOFORDER"]
    check_evse(evse)
    assert evse["uid"] == "ONE-2" and evse["status"] == "OUTOFORDER"
    check_connector(connector)
    assert connector["id"] == "1" and connector["standard"] == "IEC_62196_T2"


@pytest.mark.parametrize("parts", [("NOPE",), ("HIDDEN",), ("HIDDEN", "HIDDEN-1"), ("ONE", "ONE-9"),
                                   ("ONE", "ONE-1", "2")])
def test_unknown_or_not_visible_is_2003(ocpi_node, partner, emsp, parts):
    make_station("ONE")
    make_station("HIDDEN", ocpi_publish=False)
    answer = emsp.get(locations_url(ocpi_node, *parts))
    assert answer["_http_status"] == 404 and answer["status_code"] == 2003 and "data" not in answer


def test_a_partner_with_chosen_stations_sees_those_only(ocpi_node, partner, emsp):
    make_station("PUBLIC")
    chosen = make_station("PRIVATE", ocpi_publish=False)
    partner.visibility = Visibility.CHOSEN
    partner.save()
    partner.stations.add(chosen)

    listed = emsp.get(locations_url(ocpi_node))["data"]

    assert [(location["id"], location["publish"]) for location in listed] == [("PRIVATE", False)]
    assert emsp.get(locations_url(ocpi_node, "PUBLIC"))["status_code"] == 2003


def wait_status(emsp, pattern: str, status: str, timeout: float = 15) -> list:
    """Wait until the latest PATCH of `pattern` the eMSP received says `status`; all of them."""
    deadline = time.monotonic() + timeout
    while True:
        patches = emsp.requests_to("PATCH", pattern)
        if patches and patches[-1].body.get("status") == status:
            return patches
        assert time.monotonic() < deadline, [r.body for r in patches]
        time.sleep(0.05)


async def test_a_station_s_status_reaches_the_emsp_as_evse_patches(ocpi_node, partner, emsp):
    await db(make_station)("LIVE", online=False, statuses={0: "Available", 1: "Available", 2: "Available"})
    evse_1, evse_2 = rf"^/ocpi/2\.2\.1/locations/{PARTY}/LIVE/LIVE-1$", rf"^/ocpi/2\.2\.1/locations/{PARTY}/LIVE/LIVE-2$"

    async with connect_station(ocpi_node, "LIVE", boot=True) as cp:
        # Connected: every EVSE's status again (UNKNOWN while it was offline).
        await asyncio.to_thread(wait_status, emsp, evse_1, "AVAILABLE")
        await asyncio.to_thread(wait_status, emsp, evse_2, "AVAILABLE")
        before = len(emsp.requests_to("PATCH", evse_2))
        await cp.send("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"})
        patches = await asyncio.to_thread(wait_status, emsp, evse_1, "CHARGING")
        assert set(patches[-1].body) == {"status", "last_updated"}
        # Connector 0 Unavailable takes every EVSE down.
        await cp.send("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Unavailable"})
        await asyncio.to_thread(wait_status, emsp, evse_2, "INOPERATIVE")
        assert len(emsp.requests_to("PATCH", evse_2)) == before + 1, "connector 1's report did not touch EVSE 2"
        await asyncio.to_thread(wait_status, emsp, evse_1, "INOPERATIVE")

    await asyncio.to_thread(wait_status, emsp, evse_1, "UNKNOWN")
    await asyncio.to_thread(wait_status, emsp, evse_2, "UNKNOWN")
    pushed = await db(lambda: list(OcpiPush.objects.filter(object_key="LIVE").values_list("status", flat=True)))()
    assert set(pushed) <= {PushStatus.DELIVERED, PushStatus.SUPERSEDED} and PushStatus.DELIVERED in pushed


def test_location_data_changed_through_the_api_is_put(ocpi_node, partner, emsp, api):
    make_station("MOVED")
    path = rf"^/ocpi/2\.2\.1/locations/{PARTY}/MOVED$"

    response = api.patch("/api/v1/stations/MOVED/", json={"city": "Brugge", "address": "Markt 1",
                                                          "connectors": [{"connector_id": 1, "standard": "CHADEMO",
                                                                          "format": "CABLE", "power_type": "DC"}]})
    assert response.status_code == 200, response.text

    put = emsp.wait_for("PUT", path)[-1].body
    check_location(put)
    assert (put["city"], put["address"]) == ("Brugge", "Markt 1")
    assert put["evses"][0]["connectors"][0]["standard"] == "CHADEMO"

    # No longer published: hidden (Locations are never deleted), and no more EVSE patches.
    assert api.patch("/api/v1/stations/MOVED/", json={"ocpi_publish": False}).status_code == 200
    hidden = emsp.wait_for("PATCH", path)[-1].body
    assert hidden["publish"] is False and set(hidden) == {"publish", "last_updated"}
    assert api.patch("/api/v1/stations/MOVED/", json={"city": "Gent"}).status_code == 200
    time.sleep(3)  # two pump rounds
    assert len(emsp.requests_to("PATCH", path)) == 1 and len(emsp.requests_to("PUT", path)) == 1


def test_a_failing_receiver_is_retried_and_its_error_recorded(ocpi_node, partner, emsp):
    make_station("RETRY")
    emsp.failures[("PUT", r"/locations/")] = (503, {"status_code": 3000, "status_message": "busy",
                                                    "timestamp": "2026-01-01T00:00:00Z"})
    with transaction.atomic():
        assert locations_push_all(partner=partner) == 1
    push = OcpiPush.objects.filter(partner=partner, module="locations", object_key="RETRY", method="PUT").latest("id")

    deadline = time.monotonic() + 15
    while OcpiPush.objects.get(pk=push.pk).attempts < 1 and time.monotonic() < deadline:
        pushes_send_due()
        time.sleep(0.2)
    push.refresh_from_db()
    assert push.status == PushStatus.PENDING and push.last_http_status == 503
    assert "503" in push.last_error and push.next_attempt_at > timezone.now()

    emsp.failures.clear()
    OcpiPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    while OcpiPush.objects.get(pk=push.pk).status == PushStatus.PENDING and time.monotonic() < deadline:
        pushes_send_due()
        time.sleep(0.2)
    push.refresh_from_db()
    assert push.status == PushStatus.DELIVERED and push.attempts >= 2
    check_location(emsp.wait_for("PUT", rf"/locations/{PARTY}/RETRY$")[-1].body)


def test_the_status_path_asks_nothing_of_ocpi_without_partners(transactional_db):
    station = make_station("QUIET")
    connector = Connector.objects.get(station=station, connector_id=1)
    event = ConnectorStatusChanged(connector, "Charging", connector.status)
    audience.forget()
    audience.listeners()  # the cache, as a busy node has it

    with CaptureQueriesContext(connection) as queries:
        connector_status_changed.emit(event)
    assert len(queries) == 0, [q["sql"] for q in queries]

    # A partner registering clears this process's cache: the next report is pushed.
    OcpiPartner.objects.create(partner=_organisation(), state=HandshakeState.REGISTERED, endpoints=[
        {"identifier": "locations", "role": "RECEIVER", "url": "http://127.0.0.1:9/locations"}])
    with transaction.atomic():
        connector_status_changed.emit(event)
    patch = OcpiPush.objects.get(object_key="QUIET")
    assert (patch.method, patch.path, patch.body["status"]) == ("PATCH", "/NL/CSM/QUIET/QUIET-1", "AVAILABLE")
    audience.forget()


def _organisation():
    from partners.models import Partner

    return Partner.objects.create(name="Roaming partner")


def test_the_location_s_last_updated_follows_the_connection(ocpi_node, partner, emsp):
    make_station("FLIP", **{k: v for k, v in WHERE.items() if k != "location_name"})
    later = timezone.now() + timedelta(minutes=5)
    ChargeStation.objects.filter(pk="FLIP").update(online=False, disconnected_at=later)
    location = emsp.get(locations_url(ocpi_node, "FLIP"))["data"]
    assert location["last_updated"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [evse["status"] for evse in location["evses"]] == ["UNKNOWN"]


def test_a_partner_that_registers_is_sent_every_location_it_sees(ocpi_node, emsp, ocpi_partner):
    from ocpi.credentials import token_a_issue

    make_station("SEEN-AT-ONCE")
    make_station("NOT-SEEN", ocpi_publish=False)
    partner = ocpi_partner()
    emsp.register_with(f"{ocpi_node.http}/ocpi/versions", token_a_issue(partner=partner))

    (put,) = emsp.wait_for("PUT", rf"/locations/{PARTY}/SEEN-AT-ONCE$")
    check_location(put.body)
    assert not emsp.requests_to("PUT", r"/locations/.*/NOT-SEEN$")


def test_a_deleted_station_has_its_evses_removed(ocpi_node, partner, emsp, api):
    make_station("GOING")
    assert api.patch("/api/v1/stations/GOING/", json={"city": "Brugge"}).status_code == 200
    emsp.wait_for("PUT", rf"/locations/{PARTY}/GOING$")
    assert api.delete("/api/v1/stations/GOING/").status_code == 204
    (removed,) = emsp.wait_for("PATCH", rf"/locations/{PARTY}/GOING/GOING-1$")
    assert removed.body["status"] == "REMOVED"


def test_a_new_tariff_on_a_station_is_sent_with_its_location(ocpi_node, partner, emsp):
    from tariffs.services import tariff_assign, tariff_create

    make_station("PRICED")
    tariff = tariff_create(name="Priced here", currency="EUR", elements=[{"price_components": [
        {"type": "ENERGY", "price": "0.40", "step_size": 1}]}])
    tariff_assign(tariff=tariff, station_id="PRICED")
    put = emsp.wait_for("PUT", rf"/locations/{PARTY}/PRICED$")[-1].body
    assert put["evses"][0]["connectors"][0]["tariff_ids"] == [str(tariff.pk)]
    assert emsp.wait_for("PUT", rf"/tariffs/{PARTY}/{tariff.pk}$")[-1].body["id"] == str(tariff.pk)


def test_a_partner_that_sees_other_stations_gets_them_and_loses_the_rest(ocpi_node, partner, emsp):
    from ocpi.republish import partner_audience_changed

    make_station("PUBLIC-ONE")
    chosen = make_station("CHOSEN-ONE", ocpi_publish=False)
    with transaction.atomic():
        locations_push_all(partner=partner)
    emsp.wait_for("PUT", rf"/locations/{PARTY}/PUBLIC-ONE$")

    partner.visibility = Visibility.CHOSEN
    partner.save()
    partner.stations.set([chosen])
    partner_audience_changed(partner=partner)

    assert emsp.wait_for("PUT", rf"/locations/{PARTY}/CHOSEN-ONE$")[-1].body["publish"] is False
    hidden = emsp.wait_for("PATCH", rf"/locations/{PARTY}/PUBLIC-ONE$")[-1].body
    assert hidden["publish"] is False
