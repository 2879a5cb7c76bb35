"""Tariffs in the admin, over HTTP as an operator's browser: prices refused when negative, one
default, elements saved as a version, the preview, and a transaction's cost breakdown."""

import re

import pytest

from csms.testing import connect_station, db
from stations.tests.admin_helpers import page_messages

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/tariffs/tariff/add/"


def tariff_form(name="Admin tariff", currency="EUR", is_default=False, **element):
    data = {
        "name": name, "currency": currency, "type": "", "alt_text": "[]", "alt_url": "", "energy_mix": "null",
        "elements-TOTAL_FORMS": "1", "elements-INITIAL_FORMS": "0", "elements-MIN_NUM_FORMS": "1",
        "elements-MAX_NUM_FORMS": "1000", "elements-0-position": "0", "elements-0-energy_step": "1",
        "elements-0-time_step": "1", "elements-0-parking_step": "1",
        "assignments-TOTAL_FORMS": "0", "assignments-INITIAL_FORMS": "0", "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }
    if is_default:
        data["is_default"] = "on"
    data.update({f"elements-0-{key}": value for key, value in element.items()})
    return data


def test_admin_refuses_what_the_issue_found_and_saves_a_version(admin_session):
    from tariffs.models import Tariff

    refused = admin_session.post(ADD, tariff_form(currency="zz1", energy_price="-3", flat_price="-1"))
    assert refused.status_code == 200 and not Tariff.objects.exists()
    assert "ISO 4217" in refused.text and "greater than or equal to 0" in refused.text

    saved = admin_session.post(ADD, tariff_form(is_default=True, energy_price="0.25", energy_vat="10", flat_price="0.5"))
    assert saved.status_code == 200 and saved.url.endswith("/admin/tariffs/tariff/"), saved.text[:500]
    tariff = Tariff.objects.get()
    assert tariff.current_version.number == 1
    assert tariff.current_version.document["elements"] == [{"price_components": [
        {"type": "FLAT", "price": 0.5, "step_size": 1}, {"type": "ENERGY", "price": 0.25, "vat": 10, "step_size": 1}]}]
    assert any("version 1" in text for _, text in page_messages(saved.text))

    second = admin_session.post(ADD, tariff_form(name="Second", is_default=True, energy_price="0.3"))
    assert second.status_code == 200 and "already the default" in second.text
    assert Tariff.objects.count() == 1


def test_preview_says_what_a_session_costs(admin_session):
    from tariffs.services import tariff_create

    tariff = tariff_create(name="Preview", currency="EUR", elements=[{"price_components": [
        {"type": "ENERGY", "price": "0.30", "vat": "20", "step_size": 1}, {"type": "TIME", "price": "1.20", "step_size": 60}]}])
    page = admin_session.get(f"/admin/tariffs/tariff/{tariff.pk}/change/?minutes=45&kwh=22&parked_minutes=0")
    assert page.status_code == 200
    sentence = re.sub(r"\s+", " ", re.search(r'id="tariff-preview-sentence">(.*?)</p>', page.text, re.S).group(1))
    # 22 kWh x 0.30 = 6.60 (+20 % = 7.92) and 0.75 h x 1.20 = 0.90 -> 7.50 excl., 8.82 incl.
    assert "A 45 min, 22 kWh session" in sentence and "8.82 EUR" in sentence and "7.50 EUR excl. VAT" in sentence


async def test_transaction_page_shows_the_cost_breakdown(node, admin_session, make_station, make_id_tag):
    from tariffs.services import tariff_create

    await db(tariff_create)(name="Shown", currency="EUR", is_default=True, elements=[
        {"price_components": [{"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}]}])
    station = await db(make_station)()
    tag = (await db(make_id_tag)()).id_tag
    async with connect_station(node, station.id, boot=True) as cp:
        tx = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": tag, "meterStart": 0,
                                                 "timestamp": "2024-05-01T10:00:00Z"}))["transactionId"]
        listing = await db(admin_session.get)("/admin/transactions/transaction/")
        assert "0.00 EUR (so far)" in listing.text
        await cp.send("StopTransaction", {"transactionId": tx, "meterStop": 20000, "timestamp": "2024-05-01T11:00:00Z"})
    page = await db(admin_session.get)(f"/admin/transactions/transaction/{tx}/change/")
    assert page.status_code == 200
    assert "5.50 EUR" in page.text and "<td>ENERGY</td><td>20000 Wh</td><td>5.00</td><td>5.50</td>" in page.text
    assert "version 1" in page.text
