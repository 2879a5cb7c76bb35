"""The console in a real headless Chromium against a real node with simulated stations: the dashboard's
figures, pages that follow the stations without reloading, a chart drawn from meter values, a form
that refuses a connector the station does not have, and the API docs without internet."""

from __future__ import annotations

import asyncio

import pytest
from django.utils import timezone
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from csms.ocpp.models import Call
from csms.ocpp.schemas import format_datetime
from csms.testing import connect_station, db
from stations.models import ChargeStation, Connector
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)


def in_browser(func, *args):
    return asyncio.to_thread(func, *args)


def wait_until(driver, condition, timeout: float = 10):
    """`condition(driver)` once truthy; an element swapped by a live update meanwhile is looked up again."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=[NoSuchElementException, StaleElementReferenceException]).until(condition)


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def open_live(driver, path: str) -> None:
    """Open a page, wait for its socket, and mark the window: a reload would lose the mark."""
    driver.get(driver.base_url + path)
    # Subscribed, and the catch-up fetch of what changed meanwhile is in.
    wait_until(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live-state") == "open"
               and d.find_element(By.TAG_NAME, "body").get_attribute("data-live-updates"))
    driver.execute_script("window.consoleMark = 'not reloaded';")


def not_reloaded(driver) -> bool:
    return driver.execute_script("return window.consoleMark") == "not reloaded"


def status(connector_id: int, value: str, error_code: str = "NoError") -> dict:
    return {"connectorId": connector_id, "errorCode": error_code, "status": value,
            "timestamp": format_datetime(timezone.now())}


def meter_values(transaction_id: int, wh: int, watts: int, soc: int) -> dict:
    return {"connectorId": 1, "transactionId": transaction_id, "meterValue": [{
        "timestamp": format_datetime(timezone.now()),
        "sampledValue": [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                         {"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"},
                         {"value": str(soc), "measurand": "SoC", "unit": "Percent"}]}]}


def tile(driver, key: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#tile-{key} .value").text


async def test_dashboard_counts_link_and_follow_the_fleet(node, browser, make_station):
    first, second = await db(make_station)(), await db(make_station)()
    await db(make_station)()  # never connects
    async with connect_station(node, first.id, boot=True) as one:
        async with connect_station(node, second.id, boot=True) as two:
            await one.send("StatusNotification", status(1, "Charging"))
            await two.send("StatusNotification", status(1, "Faulted", "GroundFailure"))
            await in_browser(open_live, browser, "/admin/")
            counts = await db(lambda: (ChargeStation.objects.filter(online=True).count(),
                                       ChargeStation.objects.filter(online=False).count()))()
            assert counts[0] >= 2
            expected = (str(counts[0]), str(counts[1]), "1", "1")
            assert await in_browser(wait_until, browser, lambda d: (
                tile(d, "stations-online"), tile(d, "stations-offline"), tile(d, "stations-faulted"),
                tile(d, "connectors-Charging")) == expected)
            href = await in_browser(wait_until, browser, lambda d: d.find_element(
                By.ID, "tile-stations-faulted").get_attribute("href"))
            assert href.endswith("/admin/stations/chargestation/?faulted=1")
        # The second station went away: the open dashboard counts it offline, without a reload.
        await in_browser(wait_until, browser, lambda d: tile(d, "stations-online") == str(counts[0] - 1))
        assert await in_browser(tile, browser, "stations-offline") == str(counts[1] + 1)
        assert await in_browser(not_reloaded, browser)
    # Each figure opens the list it counts.
    await in_browser(lambda: browser.find_element(By.ID, "tile-stations-faulted").click())
    await in_browser(wait_until, browser, lambda d: "faulted=1" in d.current_url)
    rows = await in_browser(lambda: [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody th")])
    assert rows == [second.id]


async def test_a_station_going_offline_shows_on_its_open_page(node, browser, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        await cp.send("StatusNotification", status(1, "Available"))
        await in_browser(open_live, browser, f"/admin/stations/chargestation/{station.id}/change/")
        assert await in_browser(wait_until, browser, lambda d: "online" in text(d, "station-summary"))
        await cp.send("StatusNotification", status(1, "Preparing"))
        await in_browser(wait_until, browser, lambda d: "Preparing" in text(d, "station-summary"))
    await in_browser(wait_until, browser, lambda d: "offline" in text(d, "station-summary"))
    assert await in_browser(not_reloaded, browser)


async def test_a_transaction_page_follows_its_energy_and_draws_its_charts(node, browser, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        started = await cp.send("StartTransaction", {"connectorId": 1, "idTag": tag.id_tag, "meterStart": 12668,
                                                     "timestamp": format_datetime(timezone.now())})
        tx = started["transactionId"]
        await cp.send("MeterValues", meter_values(tx, 12713, 7200, 41))
        await in_browser(open_live, browser, f"/admin/transactions/transaction/{tx}/change/")
        assert await in_browser(wait_until, browser, lambda d: text(d, "transaction-energy") == "45 Wh")
        # The meter reading without spurious decimals.
        assert "12713.000" not in await in_browser(lambda: browser.page_source)
        await in_browser(wait_until, browser, lambda d: d.find_element(By.ID, "chart-transaction").get_attribute(
            "data-rendered") == "3")
        await cp.send("MeterValues", meter_values(tx, 13841, 11000, 44))
        await in_browser(wait_until, browser, lambda d: text(d, "transaction-energy") == "1173 Wh")
        # The charts were drawn again from the stored values: energy, power and SoC, two points more.
        def charts_drawn(d):
            boxes = d.find_elements(By.CSS_SELECTOR, "#chart-transaction .console-chart-one")
            points = {box.get_attribute("data-series"): box.get_attribute("data-points") for box in boxes}
            return points if points.get("power") == "2" else None

        points = await in_browser(wait_until, browser, charts_drawn)
        assert points == {"energy": "3", "power": "2", "soc": "2"}  # energy starts at 0 Wh when the transaction starts
        assert await in_browser(wait_until, browser, lambda d: len(d.find_elements(
            By.CSS_SELECTOR, "#chart-transaction canvas")) == 3)
        assert await in_browser(not_reloaded, browser)
    assert await db(lambda: Transaction.objects.get(pk=tx).energy_wh)() == 1173


async def test_an_out_of_range_connector_is_refused_in_the_form(node, browser, make_station):
    stations = [await db(make_station)(), await db(make_station)()]
    async with connect_station(node, stations[0].id, boot=True) as one, \
            connect_station(node, stations[1].id, boot=True) as two:
        for cp in (one, two):
            await cp.send("StatusNotification", status(1, "Available"))
            await cp.send("StatusNotification", status(2, "Available"))

        def choose_action():
            browser.get(browser.base_url + "/admin/stations/chargestation/?q=" + stations[0].id[:3])
            for station in stations:
                browser.find_element(By.CSS_SELECTOR, f"input.action-select[value='{station.id}']").click()
            Select(browser.find_element(By.NAME, "action")).select_by_value("change_availability")
            browser.find_element(By.NAME, "index").click()
            wait_until(browser, lambda d: d.find_elements(By.ID, "action-form"))

        await in_browser(choose_action)
        help_text = await in_browser(lambda: browser.find_element(By.CSS_SELECTOR, ".field-connector_id .help").text)
        assert f"{stations[0].id}: 1, 2" in help_text

        def submit(connector: str):
            field = browser.find_element(By.NAME, "connector_id")
            field.clear()
            field.send_keys(connector)
            Select(browser.find_element(By.NAME, "type")).select_by_value("Inoperative")
            browser.find_element(By.CSS_SELECTOR, "#action-form input[type=submit]").click()
            wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".errorlist, .messagelist"))
            return browser.find_element(By.ID, "content").text

        page = await in_browser(submit, "77")
        assert f"station {stations[0].id} has no connector 77: its connectors are 1, 2" in page
        assert await db(Call.objects.filter(action="ChangeAvailability").count)() == 0
        # One station selected: its connectors are the only choices.
        await in_browser(lambda: browser.get(
            f"{browser.base_url}/admin/stations/chargestation/{stations[0].id}/send/change_availability/"))
        options = await in_browser(lambda: [o.get_attribute("value") for o in
                                            Select(browser.find_element(By.NAME, "connector_id")).options])
        assert options == ["0", "1", "2"]
        await in_browser(lambda: Select(browser.find_element(By.NAME, "connector_id")).select_by_value("2"))
        await in_browser(lambda: browser.find_element(By.CSS_SELECTOR, "#action-form input[type=submit]").click())
        assert await one.wait_for_call("ChangeAvailability") == {"connectorId": 2, "type": "Operative"}
    assert await db(lambda: list(Connector.objects.filter(station=stations[1]).values_list("connector_id", flat=True)))() \
        == [1, 2]


async def test_api_docs_render_without_internet(node, browser):
    await in_browser(lambda: browser.get(browser.base_url + "/api/docs/"))
    title = await in_browser(wait_until, browser, lambda d: next(
        (e.text for e in d.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title") if e.text), None), 20)
    assert title.startswith("CSMS partner API")
    operations = await in_browser(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".opblock")))
    assert operations > 20
    sources = await in_browser(lambda: browser.execute_script(
        "return Array.from(document.scripts).map(s => s.src).filter(Boolean)"))
    assert sources and all(src.startswith(node.http) for src in sources)
