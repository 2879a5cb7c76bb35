"""Transactions, meter values and id tags in the admin, rendered in-process."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from csms.ocpp.models import Call

from stations.models import ChargeStation
from stations.tests.admin_helpers import page_messages
from transactions.models import IdTag, MeterValue, Transaction
from transactions.hooks import id_tag_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def station():
    return ChargeStation.objects.create(id="CP-TX", online=False)


def make_transaction(station, **fields):
    defaults = {"connector_id": 1, "id_tag": "TAG1", "id_tag_status": "Accepted", "meter_start": 1000,
                "started_at": timezone.now()}
    return Transaction.objects.create(station=station, **{**defaults, **fields})


def test_transaction_list_filters(admin_client, station):
    running = make_transaction(station)
    ended = make_transaction(station, id_tag="TAG2", meter_stop=5000, stopped_at=timezone.now(), stop_reason="Local")
    url = reverse("admin:transactions_transaction_changelist")

    def shown(params):
        page = admin_client.get(url, params).content.decode()
        return {tx.pk for tx in (running, ended) if f"/admin/transactions/transaction/{tx.pk}/change/" in page}

    assert shown({}) == {running.pk, ended.pk}
    assert shown({"active": "1"}) == {running.pk}
    assert shown({"active": "0"}) == {ended.pk}
    assert shown({"id_tag": "TAG2"}) == {ended.pk}
    assert shown({"station": "CP-TX"}) == {running.pk, ended.pk}
    assert shown({"q": str(running.pk)}) == {running.pk}
    assert shown({"q": "TAG2"}) == {ended.pk}


def test_transaction_page_shows_meter_values_and_remote_stop_while_running(admin_client, station):
    tx = make_transaction(station, meter_last=Decimal("1500"))
    for n in range(60):
        MeterValue.objects.create(station=station, connector_id=1, transaction=tx, timestamp=timezone.now(),
                                  value=str(1000 + n), numeric_value=1000 + n)
    url = reverse("admin:transactions_transaction_change", args=[tx.pk])
    page = admin_client.get(url).content.decode()
    assert 'id="remote-stop-link"' in page
    assert reverse("admin:transactions_transaction_send_call", args=[tx.pk, "remote_stop_transaction"]) in page
    assert "latest 50 of 60" in page
    assert re.search(r'field-energy.*?<div class="readonly">500</div>', page, re.S)  # so far: 1500 - 1000

    tx.stopped_at, tx.meter_stop = timezone.now(), 2000
    tx.save()
    page = admin_client.get(url).content.decode()
    assert 'id="remote-stop-link"' not in page


def test_remote_stop_of_an_ended_transaction_is_refused(admin_client, station):
    station.online = True
    station.save()
    tx = make_transaction(station, meter_stop=2000, stopped_at=timezone.now())
    response = admin_client.post(reverse("admin:transactions_transaction_changelist"),
                                 {"action": "remote_stop_transaction", "_selected_action": [tx.pk]}, follow=True)
    assert ("error", f"RemoteStopTransaction not sent to transaction #{tx.pk} on CP-TX: it has already ended") in \
        page_messages(response.content.decode())
    assert not Call.objects.exists()


def test_transactions_are_read_only(admin_client, station):
    tx = make_transaction(station)
    url = reverse("admin:transactions_transaction_change", args=[tx.pk])
    assert admin_client.post(url, {"meter_start": "0"}).status_code == 403
    assert admin_client.get(reverse("admin:transactions_transaction_add")).status_code == 403


def test_id_tag_admin_writes_through_the_service(admin_client):
    changes = []

    def record(event):
        changes.append((event.id_tag, event.deleted))

    id_tag_changed.connect(record)
    try:
        form = {"id_tag": "CARD-1", "parent_id_tag": "", "blocked": "", "max_active_transactions": "1",
                "description": "", "expiry_date_0": "", "expiry_date_1": ""}
        response = admin_client.post(reverse("admin:transactions_idtag_add"), form)
        assert response.status_code == 302
        tag = IdTag.objects.get(id_tag="CARD-1")
        response = admin_client.post(reverse("admin:transactions_idtag_change", args=[tag.pk]),
                                     {**form, "blocked": "on", "max_active_transactions": "2"})
        assert response.status_code == 302
        tag.refresh_from_db()
        assert tag.blocked and tag.max_active_transactions == 2
        admin_client.post(reverse("admin:transactions_idtag_changelist"),
                          {"action": "unblock", "_selected_action": [tag.pk]})
        tag.refresh_from_db()
        assert not tag.blocked
        admin_client.post(reverse("admin:transactions_idtag_delete", args=[tag.pk]), {"post": "yes"})
        assert not IdTag.objects.filter(id_tag="CARD-1").exists()
    finally:
        id_tag_changed.disconnect(record)
    assert changes == [("CARD-1", False), ("CARD-1", False), ("CARD-1", False), ("CARD-1", True)]


def test_meter_values_filter_by_transaction(admin_client, station):
    one, two = make_transaction(station), make_transaction(station)
    MeterValue.objects.create(station=station, connector_id=1, transaction=one, timestamp=timezone.now(), value="111")
    MeterValue.objects.create(station=station, connector_id=1, transaction=two, timestamp=timezone.now(), value="222")
    page = admin_client.get(reverse("admin:transactions_metervalue_changelist"), {"transaction": one.pk}).content.decode()
    assert ">111 Wh<" in page and ">222 Wh<" not in page  # the reading with its unit
