"""idTags are case-insensitive (OCPP 1.6 IdToken is a CiString20Type): readers send the hex of a card in
either case, and fleets migrated from another CSMS arrive in the other one. The stored spelling is
kept for display; every comparison ignores case (docs/adr/0015-case-insensitive-id-tags.md)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from csms.ocpp.schemas import format_datetime
from csms.testing import connect_station, db, eventually

pytestmark = pytest.mark.django_db(transaction=True)


def start(id_tag: str, connector_id: int = 1, **extra) -> dict:
    return {"connectorId": connector_id, "idTag": id_tag, "meterStart": 0,
            "timestamp": format_datetime(timezone.now()), **extra}


async def test_authorize_start_and_stop_see_one_tag_whatever_its_case(node, make_station, make_id_tag):
    from transactions.models import Transaction

    station = await db(make_station)()
    await db(make_id_tag)("TAG12300001", parent_id_tag="Fleet-7", max_active_transactions=1)
    async with connect_station(node, station.id, boot=True) as cp:
        info = (await cp.send("Authorize", {"idTag": "tag12300001"}))["idTagInfo"]
        assert info["status"] == "Accepted" and info["parentIdTag"] == "Fleet-7"  # the stored spelling

        first = await cp.send("StartTransaction", start("tag12300001", 1))
        assert first["idTagInfo"]["status"] == "Accepted"
        # The limit counts both spellings as one tag: a second session in the other case is concurrent.
        second = await cp.send("StartTransaction", start("TAG12300001", 2))
        assert second["idTagInfo"]["status"] == "ConcurrentTx"
        assert (await cp.send("Authorize", {"idTag": "Tag12300001"}))["idTagInfo"]["status"] == "ConcurrentTx"

        stop = await cp.send("StopTransaction", {"transactionId": first["transactionId"], "meterStop": 10,
                                                 "timestamp": format_datetime(timezone.now()), "idTag": "TAG12300001"})
        assert stop["idTagInfo"]["status"] == "Accepted"
    tx = await db(Transaction.objects.get)(pk=first["transactionId"])
    assert tx.stop_tag_mismatch is False and tx.id_tag == "tag12300001"  # as the station presented it


async def test_a_group_member_in_another_case_stops_its_group_s_session(node, make_station, make_id_tag):
    from transactions.models import Transaction

    station = await db(make_station)()
    await db(make_id_tag)("CASE-A", parent_id_tag="CASE-FLEET")
    await db(make_id_tag)("CASE-B", parent_id_tag="case-fleet")
    async with connect_station(node, station.id, boot=True) as cp:
        started = await cp.send("StartTransaction", start("case-a"))
        await cp.send("StopTransaction", {"transactionId": started["transactionId"], "meterStop": 5,
                                          "timestamp": format_datetime(timezone.now()), "idTag": "Case-B"})
    assert (await db(Transaction.objects.get)(pk=started["transactionId"])).stop_tag_mismatch is False


async def test_a_reservation_is_used_by_its_tag_in_another_case(node, api, make_station, make_id_tag):
    from reservations.models import Reservation

    station = await db(make_station)()
    await db(make_id_tag)("RES-CASE-1")
    async with connect_station(node, station.id, boot=True) as cp:
        body = (await db(api.post)("/api/v1/reservations/", json={
            "station": station.id, "connector_id": 1, "id_tag": "res-case-1",
            "expiry_date": format_datetime(timezone.now() + timedelta(minutes=30))})).json()
        await eventually(lambda: Reservation.objects.get(pk=body["id"]).status == "accepted")
        started = await cp.send("StartTransaction", start("Res-Case-1"))
    reservation = await db(Reservation.objects.get)(pk=body["id"])
    assert reservation.status == "used" and reservation.transaction_id == started["transactionId"]


async def test_a_remote_start_is_linked_to_the_start_in_another_case(node, api, make_station, make_id_tag):
    from transactions.models import Transaction

    station = await db(make_station)()
    await db(make_id_tag)("REMOTE-CASE")
    async with connect_station(node, station.id, boot=True) as cp:
        call = await db(api.call)(station.id, "RemoteStartTransaction", {"idTag": "REMOTE-CASE", "connectorId": 1})
        started = await cp.send("StartTransaction", start("remote-case"))
    tx = await db(Transaction.objects.get)(pk=started["transactionId"])
    assert tx.remote_start_call_id == call["id"]


async def test_a_local_list_holds_one_entry_per_tag_whatever_its_case(node, api, make_station, make_id_tag):
    from locallists.models import LocalListEntry
    from partners.models import Partner

    partner = await db(Partner.objects.create)(name="Case partner")
    station = await db(make_station)(partner=partner)
    await db(api.patch)(f"/api/v1/stations/{station.id}/local-list/", json={"auto_sync": False})
    await db(make_id_tag)("LIST-CASE", partner=partner)
    async with connect_station(node, station.id, boot=True) as cp:
        # Someone sent the tag by hand in the other case: the station holds it once.
        by_hand = {"listVersion": 3, "updateType": "Differential",
                   "localAuthorizationList": [{"idTag": "list-case", "idTagInfo": {"status": "Blocked"}}]}
        assert (await db(api.call)(station.id, "SendLocalList", by_hand))["status"] == "completed"
        assert (await db(api.post)(f"/api/v1/stations/{station.id}/local-list/sync/?wait=15")).status_code == 200
        sent = [payload for action, payload in cp.received if action == "SendLocalList"]
    # The sync updates the entry the station holds (same tag), it neither removes nor adds one.
    assert sent[-1]["localAuthorizationList"] == [{"idTag": "LIST-CASE", "idTagInfo": {"status": "Accepted"}}]
    entries = await db(lambda: list(LocalListEntry.objects.filter(local_list__station_id=station.id)
                                    .values_list("id_tag", "id_tag_info")))()
    assert entries == [("LIST-CASE", {"status": "Accepted"})]


def test_the_api_refuses_a_tag_differing_only_in_case_and_finds_tags_in_any_case(api, make_id_tag):
    make_id_tag("API-CASE-01")
    refused = api.post("/api/v1/id-tags/", json={"id_tag": "api-case-01"})
    assert refused.status_code == 400
    assert "API-CASE-01" in refused.json()["detail"] and "case" in refused.json()["detail"]
    assert api.post("/api/v1/id-tags/", json={"id_tag": "API-CASE-01"}).status_code == 400
    found = api.get("/api/v1/id-tags/api-case-01/")
    assert found.status_code == 200 and found.json()["id_tag"] == "API-CASE-01"
    assert api.patch("/api/v1/id-tags/Api-Case-01/", json={"id_tag": "api-case-01", "blocked": True}).status_code == 200
    assert api.get("/api/v1/transactions/?id_tag=api-case-01").status_code == 200


def test_the_admin_refuses_a_tag_differing_only_in_case(admin_client, make_id_tag):
    make_id_tag("ADMIN-CASE")
    response = admin_client.post("/admin/transactions/idtag/add/", {
        "id_tag": "admin-case", "parent_id_tag": "", "max_active_transactions": 1, "description": ""})
    assert response.status_code == 200 and "idTags are case-insensitive" in response.content.decode()


def test_the_migration_reports_case_only_duplicates_instead_of_failing(transactional_db):
    from transactions.models import IdTag

    executor = MigrationExecutor(connection)
    before = [("transactions", "0003_tariffs_move_to_tariffs_app")]
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        # The model as it was then: later migrations add columns the old table does not have.
        OldIdTag = executor.loader.project_state(before).apps.get_model("transactions", "IdTag")
        OldIdTag.objects.bulk_create([OldIdTag(id_tag="DUP-TAG"), OldIdTag(id_tag="dup-tag"), OldIdTag(id_tag="Other")])
        executor = MigrationExecutor(connection)
        report = io.StringIO()
        with redirect_stdout(report):
            executor.migrate(executor.loader.graph.leaf_nodes())
        assert "DUP-TAG, dup-tag" in report.getvalue()
        assert IdTag.objects.count() == 3  # nothing lost

        out = io.StringIO()
        call_command("id_tags_case_duplicates", stdout=out)
        assert "DUP-TAG, dup-tag" in out.getvalue()
        with pytest.raises(Exception, match="resolve the duplicates"):
            call_command("id_tags_case_duplicates", "--enforce", stdout=io.StringIO())
        IdTag.objects.filter(id_tag="dup-tag").delete()
        call_command("id_tags_case_duplicates", "--enforce", stdout=io.StringIO())
        with pytest.raises(IntegrityError), transaction.atomic():
            IdTag.objects.create(id_tag="other")  # now the database refuses it too
    finally:
        MigrationExecutor(connection).migrate(latest)
