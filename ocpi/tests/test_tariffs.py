"""OCPI Tariffs, we the sender: the tariffs a registered eMSP reads over HTTP (and on its Locations'
connectors), and what we push to it when a tariff changes or is deleted."""

import pytest

from ocpi import audience
from ocpi.tariffs.services import tariffs_push_all
from ocpi.tests.test_location_documents import check_location, make_station
from ocpi.tests.test_session_cdr_tariff_documents import DATETIME, TARIFF, assert_shape
from tariffs.services import tariff_assign, tariff_create, tariff_delete, tariff_update

pytestmark = pytest.mark.django_db(transaction=True)

PARTY = "NL/CSM"


def check_tariff(tariff: dict) -> None:
    """The spec's Tariff object table: keys allowed and required; our party; DateTimes."""
    assert_shape(tariff, TARIFF, "tariff")
    assert (tariff["country_code"], tariff["party_id"]) == ("NL", "CSM") and "name" not in tariff
    assert 0 < len(tariff["id"]) <= 36 and DATETIME.match(tariff["last_updated"])


def energy(price):
    return [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}]


@pytest.fixture
def partner(registered):
    audience.forget()
    yield registered
    audience.forget()


@pytest.fixture
def priced(partner):
    """Stations and tariffs: which of them the eMSP sees."""
    make_station("SEEN", statuses={0: "Available", 1: "Available", 2: "Available"})
    make_station("UNSEEN", ocpi_publish=False)
    tariffs = {name: tariff_create(name=name, currency="EUR", elements=energy(price))
               for name, price in (("default", 0.30), ("station", 0.25), ("connector", 0.40), ("hidden", 0.10),
                                   ("for-emsp", 0.20), ("unused", 0.99))}
    tariff_update(tariff=tariffs["default"], is_default=True)
    tariff_assign(tariff=tariffs["station"], station_id="SEEN")
    tariff_assign(tariff=tariffs["connector"], station_id="SEEN", connector_id=2)
    tariff_assign(tariff=tariffs["hidden"], station_id="UNSEEN")
    tariff_assign(tariff=tariffs["for-emsp"], partner=partner.partner)
    return tariffs


def test_the_list_holds_the_tariffs_the_partner_sees(ocpi_node, emsp, priced):
    answer = emsp.get(f"{ocpi_node.http}/ocpi/2.2.1/tariffs", limit=2)
    rest = emsp.get(f"{ocpi_node.http}/ocpi/2.2.1/tariffs", offset=2, limit=2)

    assert answer["status_code"] == 1000 and answer["_headers"]["X-Total-Count"] == "4"
    assert 'rel="next"' in answer["_headers"]["Link"] and "Link" not in rest["_headers"]
    listed = answer["data"] + rest["data"]
    expected = {str(priced[name].pk) for name in ("default", "station", "connector", "for-emsp")}
    assert {tariff["id"] for tariff in listed} == expected
    for tariff in listed:
        check_tariff(tariff)


def test_the_location_s_connectors_name_their_tariffs(ocpi_node, emsp, priced):
    location = emsp.get(f"{ocpi_node.http}/ocpi/2.2.1/locations/SEEN")["data"]
    check_location(location)
    assert [evse["connectors"][0].get("tariff_ids") for evse in location["evses"]] == [
        [str(priced["station"].pk)], [str(priced["connector"].pk)]]


def test_a_new_version_is_put_and_a_deleted_tariff_deleted(ocpi_node, emsp, partner, priced):
    station_tariff = priced["station"]
    path = rf"^/ocpi/2\.2\.1/tariffs/{PARTY}/{station_tariff.pk}$"

    tariff_update(tariff=station_tariff, elements=energy(0.27))
    put = emsp.wait_for("PUT", path)[-1].body
    check_tariff(put)
    assert put["elements"][0]["price_components"][0]["price"] == 0.27

    tariff_update(tariff=priced["unused"], elements=energy(1.5))  # nobody sees it
    tariff_delete(tariff=station_tariff)
    emsp.wait_for("DELETE", path)
    assert not emsp.requests_to("PUT", rf"/tariffs/{PARTY}/{priced['unused'].pk}$")


def test_push_all_puts_every_visible_tariff(ocpi_node, emsp, partner, priced):
    from django.db import transaction

    with transaction.atomic():
        assert tariffs_push_all(partner=partner) == 4
    for name in ("default", "station", "connector", "for-emsp"):
        check_tariff(emsp.wait_for("PUT", rf"/tariffs/{PARTY}/{priced[name].pk}$")[-1].body)
