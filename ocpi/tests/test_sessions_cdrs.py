"""Sessions and CDRs sent to the eMSP whose driver charges: a station over a real WebSocket, the eMSP
over real HTTP, registered through the handshake."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, transaction as db_transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csms.hooks import Hook
from csms.testing import connect_station, db, eventually
from ocpi.models import OcpiCdr, OcpiPush, OcpiSession, OcpiToken
from ocpi.pushes import pushes_send_due
from ocpi.sessions import receivers, services
from ocpi.sessions.services import cdr_issue, sessions_publish_updates
from ocpi.tests.test_session_cdr_tariff_documents import (
    CDR,
    CDR_LOCATION,
    DATETIME,
    SESSION,
    TARIFF,
    assert_periods,
    assert_price,
    assert_shape,
)
from stations import services as station_services
from tariffs.services import tariff_assign, tariff_create
from transactions.hooks import TransactionStarted, transaction_started, transaction_stopped
from transactions.id_tags import id_tag_create
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

WHERE = {"location_name": "Gent Zuid", "address": "F.Rooseveltlaan 3A", "city": "Gent", "postal_code": "9000",
         "country": "BEL", "latitude": "51.047599", "longitude": "3.729944", "time_zone": "Europe/Brussels"}
SESSIONS = r"^/ocpi/2\.2\.1/sessions/"
CDRS = r"^/ocpi/2\.2\.1/cdrs$"


def iso(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_url(tx_id: int) -> str:
    return rf"^/ocpi/2\.2\.1/sessions/{settings.CSMS_OCPI_COUNTRY_CODE}/{settings.CSMS_OCPI_PARTY_ID}/{tx_id}$"


@pytest.fixture
def station():
    """A station with what a Location needs, its connectors reported, and an ENERGY+TIME+FLAT tariff."""
    station_id = f"CP-{uuid.uuid4().hex[:8].upper()}"
    station_services.station_create(charge_box_id=station_id, location=WHERE)
    tariff = tariff_create(name="Roaming AC", currency="EUR", elements=[{"price_components": [
        {"type": "FLAT", "price": "0.50", "vat": 21},
        {"type": "ENERGY", "price": "0.30", "vat": 21, "step_size": 1},
        {"type": "TIME", "price": "1.20", "vat": 21, "step_size": 60},
    ]}])
    tariff_assign(tariff=tariff, station_id=station_id)
    return station_id, tariff


@pytest.fixture
def partner_token(registered):
    """What the tokens module does with a pushed token: the OcpiToken and its idTag mirror, the tag
    belonging to the eMSP's partner organisation."""
    def make(uid=None, **fields):
        uid = uid or f"04{uuid.uuid4().hex[:8].upper()}"
        tag = id_tag_create(id_tag=uid, partner=registered.partner)
        return OcpiToken.objects.create(
            partner=registered, country_code="NL", party_id="EMS", uid=uid, type="RFID",
            contract_id=f"NL-EMS-C{uid[:8]}-X", issuer="Test eMSP", valid=True, whitelist="ALLOWED",
            last_updated=timezone.now(), id_tag=tag, **fields)

    return make


async def wait(emsp, method, pattern, count=1):
    return await asyncio.to_thread(emsp.wait_for, method, pattern, count=count)


async def report_connectors(cp):
    for connector_id in (0, 1, 2):
        await cp.send("StatusNotification", {"connectorId": connector_id, "status": "Available",
                                             "errorCode": "NoError"})


def cdr_token_of(token: OcpiToken) -> dict:
    return {"country_code": "NL", "party_id": "EMS", "uid": token.uid, "type": "RFID",
            "contract_id": token.contract_id}


def test_receivers_run_after_pricing():
    """ocpi is after tariffs in INSTALLED_APPS: the CDR is built from the final price."""
    from tariffs.receivers import pin_tariff, price_transaction

    stopped, started = transaction_stopped.receivers, transaction_started.receivers
    assert stopped.index(price_transaction) < stopped.index(receivers.close_session)
    assert started.index(pin_tariff) < started.index(receivers.open_session)


async def test_a_partners_session_from_start_to_cdr(ocpi_node, registered, emsp, partner_token, station):
    station_id, tariff = station
    token = await db(partner_token)()
    start_at = timezone.now().replace(microsecond=0) - timedelta(minutes=20)
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        tx_id = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 1000,
                                                     "timestamp": iso(start_at)}))["transactionId"]
        put = (await wait(emsp, "PUT", session_url(tx_id)))[0].body
        assert_shape(put, SESSION, "pushed session")
        assert (put["status"], put["id"], put["auth_method"]) == ("ACTIVE", str(tx_id), "WHITELIST")
        assert put["cdr_token"] == cdr_token_of(token)
        assert (put["location_id"], put["evse_uid"], put["connector_id"]) == (station_id, f"{station_id}-1", "1")
        assert (put["country_code"], put["party_id"]) == (settings.CSMS_OCPI_COUNTRY_CODE,
                                                         settings.CSMS_OCPI_PARTY_ID)
        assert put["start_date_time"] == iso(start_at) and put["kwh"] == 0 and put["currency"] == "EUR"
        assert_price(put["total_cost"], "session.total_cost")
        assert "charging_periods" not in put  # running pushes never carry them (a PATCH would append)

        await cp.send("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [
            {"timestamp": iso(start_at + timedelta(minutes=10)), "sampledValue": [{"value": "6000"}]}]})
        session = await db(OcpiSession.objects.get)(pk=tx_id)
        pushed_at = session.last_pushed_at
        # Within the minute: nothing, however much changed.
        assert await db(sessions_publish_updates)(now=pushed_at + timedelta(seconds=30)) == 0
        later = pushed_at + timedelta(seconds=61)
        assert await db(sessions_publish_updates)(now=later) == 1
        await db(pushes_send_due)()
        patch = (await wait(emsp, "PATCH", session_url(tx_id)))[0].body
        assert set(patch) == {"kwh", "total_cost", "last_updated"}
        assert patch["kwh"] == 5 and patch["last_updated"] == iso(later)
        assert patch["total_cost"]["excl_vat"] > put["total_cost"]["excl_vat"]
        assert_price(patch["total_cost"], "patch.total_cost")
        assert await db(sessions_publish_updates)(now=later + timedelta(seconds=59)) == 0
        # A minute on, with the same figures (same moment, nothing metered): no PATCH either.
        await db(OcpiSession.objects.filter(pk=tx_id).update)(last_pushed_at=later - timedelta(minutes=2))
        assert await db(sessions_publish_updates)(now=later) == 0

        stop_at = start_at + timedelta(minutes=20)
        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 13000, "timestamp": iso(stop_at),
                                          "idTag": token.uid})
        final = (await wait(emsp, "PUT", session_url(tx_id), count=2))[1].body
        posted = (await wait(emsp, "POST", CDRS))[0].body

    assert_shape(final, SESSION, "final session")
    assert (final["status"], final["end_date_time"], final["kwh"]) == ("COMPLETED", iso(stop_at), 12)
    assert_periods(final["charging_periods"], cdr=False, start=final["start_date_time"], end=final["end_date_time"])
    tx = await db(Transaction.objects.select_related("cost_record").get)(pk=tx_id)
    record = tx.cost_record
    assert record.final and final["total_cost"] == {"excl_vat": float(record.cost_excl_vat.quantize(Decimal("0.01"))),
                                                    "incl_vat": float(record.cost_incl_vat.quantize(Decimal("0.01")))}

    assert_shape(posted, CDR, "cdr")
    assert_shape(posted["cdr_location"], CDR_LOCATION, "cdr.cdr_location")
    assert (posted["id"], posted["session_id"]) == (str(tx_id), str(tx_id))
    assert posted["cdr_token"] == cdr_token_of(token) and posted["auth_method"] == "WHITELIST"
    assert posted["cdr_location"]["id"] == station_id and posted["cdr_location"]["evse_uid"] == f"{station_id}-1"
    assert posted["cdr_location"]["address"] == WHERE["address"]
    assert [t["id"] for t in posted["tariffs"]] == [str(tariff.pk)]
    for document in posted["tariffs"]:
        assert_shape(document, TARIFF, "cdr.tariffs")
    assert_periods(posted["charging_periods"], cdr=True, start=posted["start_date_time"], end=posted["end_date_time"])
    assert posted["total_cost"] == final["total_cost"] and posted["total_energy"] == 12
    assert posted["total_time"] == pytest.approx(20 / 60, abs=1e-4)
    for which in ("excl_vat", "incl_vat"):
        parts = [posted[name][which] for name in ("total_fixed_cost", "total_energy_cost", "total_time_cost",
                                                  "total_parking_cost") if name in posted]
        assert Decimal(str(sum(Decimal(str(p)) for p in parts))) == Decimal(str(posted["total_cost"][which]))
    # 0.50 + 12 kWh x 0.30 + 20 min at 1.20/h = 4.50 excl. VAT
    assert posted["total_cost"]["excl_vat"] == 4.5
    assert DATETIME.match(posted["last_updated"])

    # A CDR never changes: issuing again gives the same one, nothing more is sent.
    cdr = await db(OcpiCdr.objects.get)(transaction_id=tx_id)
    assert cdr.document == posted
    session = await db(OcpiSession.objects.select_related("partner").get)(pk=tx_id)
    tx = await db(Transaction.objects.select_related("station", "cost_record__tariff_version").get)(pk=tx_id)
    again = await db(cdr_issue)(session=session, transaction=tx)
    assert again.pk == cdr.pk and again.document == posted
    assert await db(OcpiPush.objects.filter(module="cdrs").count)() == 1
    # A stopped session gets no PATCH any more.
    assert await db(sessions_publish_updates)(now=timezone.now() + timedelta(minutes=5)) == 0


async def test_the_lists_with_pagination_and_dates(ocpi_node, registered, emsp, partner_token, station):
    station_id, _ = station
    first, second = await db(partner_token)(), await db(partner_token)()
    start_at = timezone.now().replace(microsecond=0) - timedelta(minutes=30)
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        done = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": first.uid, "meterStart": 0,
                                                    "timestamp": iso(start_at)}))["transactionId"]
        running = (await cp.send("StartTransaction", {"connectorId": 2, "idTag": second.uid, "meterStart": 0,
                                                       "timestamp": iso(start_at)}))["transactionId"]
        await cp.send("StopTransaction", {"transactionId": done, "meterStop": 4000,
                                          "timestamp": iso(start_at + timedelta(minutes=15))})
        await wait(emsp, "POST", CDRS)
    sessions_url = f"{ocpi_node.http}/ocpi/2.2.1/sessions"
    page = await asyncio.to_thread(emsp.get, sessions_url, limit=1)
    assert page["_http_status"] == 200 and page["status_code"] == 1000
    assert (page["_headers"]["X-Total-Count"], page["_headers"]["X-Limit"]) == ("2", "1")
    assert [s["id"] for s in page["data"]] == [str(done)] and 'rel="next"' in page["_headers"]["Link"]
    assert "offset=1" in page["_headers"]["Link"]
    rest = await asyncio.to_thread(emsp.get, sessions_url, limit=1, offset=1)
    assert [s["id"] for s in rest["data"]] == [str(running)] and "Link" not in rest["_headers"]
    assert rest["data"][0]["status"] == "ACTIVE" and page["data"][0]["status"] == "COMPLETED"
    for document in page["data"] + rest["data"]:
        assert_shape(document, SESSION, "listed session")
    # A running session is as of now: after any past date_from; the stopped one by when it stopped.
    completed_at = page["data"][0]["last_updated"]
    await asyncio.sleep(2)  # so that a moment after the stop is past
    after = await asyncio.to_thread(emsp.get, sessions_url,
                                    date_from=iso(datetime.fromisoformat(completed_at) + timedelta(seconds=1)))
    assert [s["id"] for s in after["data"]] == [str(running)]
    before = await asyncio.to_thread(emsp.get, sessions_url, date_to=completed_at)
    assert before["data"] == [] and before["_headers"]["X-Total-Count"] == "0"
    assert (await asyncio.to_thread(emsp.get, sessions_url, date_from="yesterday"))["status_code"] == 2001

    cdrs = await asyncio.to_thread(emsp.get, f"{ocpi_node.http}/ocpi/2.2.1/cdrs")
    assert [c["id"] for c in cdrs["data"]] == [str(done)] and cdrs["_headers"]["X-Total-Count"] == "1"
    assert cdrs["data"][0] == (await db(OcpiCdr.objects.get)(pk=str(done))).document
    none = await asyncio.to_thread(emsp.get, f"{ocpi_node.http}/ocpi/2.2.1/cdrs",
                                   date_from=iso(timezone.now() + timedelta(hours=1)))
    assert none["data"] == [] and none["_headers"]["X-Total-Count"] == "0"


async def test_another_partners_sessions_are_not_listed(ocpi_node, registered, emsp, partner_token, station,
                                                        ocpi_partner):
    station_id, _ = station
    token = await db(partner_token)()
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        await cp.send("StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 0,
                                           "timestamp": iso(timezone.now())})
        await wait(emsp, "PUT", SESSIONS)
    other = await db(ocpi_partner)()
    await db(OcpiSession.objects.update)(partner=other)
    listed = await asyncio.to_thread(emsp.get, f"{ocpi_node.http}/ocpi/2.2.1/sessions")
    assert listed["data"] == [] and listed["_headers"]["X-Total-Count"] == "0"


async def test_charging_preferences_are_refused_as_the_spec_says(ocpi_node, registered, emsp, partner_token, station):
    station_id, _ = station
    token = await db(partner_token)()
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        tx_id = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 0,
                                                     "timestamp": iso(timezone.now())}))["transactionId"]
    url = f"{ocpi_node.http}/ocpi/2.2.1/sessions/{tx_id}/charging_preferences"
    preferences = {"profile_type": "FAST", "departure_time": iso(timezone.now() + timedelta(hours=2)),
                   "energy_need": 20}
    # Our EVSEs do not advertise CHARGING_PREFERENCES_CAPABLE: HTTP 404 with 2001.
    answer = await asyncio.to_thread(emsp.send, "PUT", url, preferences)
    assert (answer["_http_status"], answer["status_code"]) == (404, 2001)
    # One an operator marked capable cannot meet them all the same.
    from stations.models import ChargeStation

    await db(ChargeStation.objects.filter(pk=station_id).update)(capabilities=["CHARGING_PREFERENCES_CAPABLE"])
    answer = await asyncio.to_thread(emsp.send, "PUT", url, preferences)
    assert (answer["_http_status"], answer["status_code"], answer["data"]) == (200, 1000, "NOT_POSSIBLE")
    bad = await asyncio.to_thread(emsp.send, "PUT", url, {"profile_type": "TURBO"})
    assert (bad["_http_status"], bad["status_code"]) == (400, 2001) and "profile_type" in bad["status_message"]
    bad = await asyncio.to_thread(emsp.send, "PUT", url, {"profile_type": "FAST", "energy_need": "lots"})
    assert bad["status_code"] == 2001 and "energy_need" in bad["status_message"]
    unknown = await asyncio.to_thread(emsp.send, "PUT", url.replace(f"/{tx_id}/", "/999999/"), preferences)
    assert (unknown["_http_status"], unknown["status_code"]) == (404, 2001)
    # The sender interface takes no PUT of a Session itself.
    refused = await asyncio.to_thread(emsp.send, "PUT", f"{ocpi_node.http}/ocpi/2.2.1/sessions", {})
    assert refused["_http_status"] == 405


async def test_a_session_authorized_in_real_time_says_so(ocpi_node, registered, emsp, partner_token, station):
    station_id, _ = station
    token = await db(partner_token)(realtime_allowed="ALLOWED", authorization_reference="AUTH-REF-1",
                                    realtime_checked_at=timezone.now())
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        tx_id = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 0,
                                                     "timestamp": iso(timezone.now())}))["transactionId"]
        put = (await wait(emsp, "PUT", session_url(tx_id)))[0].body
    assert (put["auth_method"], put["authorization_reference"]) == ("AUTH_REQUEST", "AUTH-REF-1")


async def test_a_local_tag_sends_nothing_and_costs_one_query(ocpi_node, registered, emsp, station, make_id_tag):
    station_id, _ = station
    tag = await db(make_id_tag)()
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        tx_id = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": tag.id_tag, "meterStart": 0,
                                                     "timestamp": iso(timezone.now())}))["transactionId"]
        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 3000, "timestamp": iso(timezone.now())})
    await eventually(lambda: Transaction.objects.filter(pk=tx_id, stopped_at__isnull=False).exists())
    assert not await db(OcpiSession.objects.filter(pk=tx_id).exists)()
    assert not await db(OcpiCdr.objects.filter(transaction_id=tx_id).exists)()
    assert await db(OcpiPush.objects.filter(module__in=["sessions", "cdrs"]).count)() == 0

    def queries_of_open_session(event) -> list[str]:
        """The queries OCPI's StartTransaction receiver adds, run as the hook runs it (its savepoint aside)."""
        (entry,) = [e for e in transaction_started._receivers if e[0] is receivers.open_session]
        probe = Hook("probe")
        probe.connect(entry[0], database=entry[1], when=entry[2])
        with db_transaction.atomic(), CaptureQueriesContext(connection) as captured:  # as in a station's Call
            probe.emit(event)
        return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]

    def check():
        event = TransactionStarted(Transaction.objects.get(pk=tx_id), "Accepted", "")
        services.partners_registered_forget()
        services.partners_registered()  # as in steady state: known for a few seconds
        assert len(queries_of_open_session(event)) == 1  # a partner is registered: the token lookup only
        registered.state = "unregistered"
        registered.save()  # forgets what this process knew
        services.partners_registered()
        assert queries_of_open_session(event) == []  # none registered: no query at all

    await db(check)()


async def test_a_session_started_by_a_command_says_so(ocpi_node, registered, emsp, partner_token, station):
    from csms.ocpp.models import Call, CallStatus
    from ocpi.models import OcpiCommand

    station_id, _ = station
    token = await db(partner_token)()

    def remote_start():
        call = Call.objects.create(station_id=station_id, action="RemoteStartTransaction",
                                   payload={"connectorId": 1, "idTag": token.uid}, status=CallStatus.COMPLETED,
                                   response={"status": "Accepted"})
        OcpiCommand.objects.create(partner=registered, command="START_SESSION", call=call,
                                   response_url=f"{emsp.url}/ocpi/2.2.1/commands/START_SESSION/1",
                                   request={"token": cdr_token_of(token), "location_id": station_id,
                                            "evse_uid": f"{station_id}-1", "authorization_reference": "CMD-REF-7"},
                                   expires_at=timezone.now() + timedelta(minutes=1))

    await db(remote_start)()
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        tx_id = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 0,
                                                     "timestamp": iso(timezone.now())}))["transactionId"]
        put = (await wait(emsp, "PUT", session_url(tx_id)))[0].body
    assert (put["auth_method"], put["authorization_reference"]) == ("COMMAND", "CMD-REF-7")
    assert put["cdr_token"] == cdr_token_of(token)


async def test_an_unpriced_session_completes_without_a_cdr(ocpi_node, registered, emsp, partner_token):
    from alerts.models import Alert

    station_id = f"CP-{uuid.uuid4().hex[:8].upper()}"
    await db(station_services.station_create)(charge_box_id=station_id, location=WHERE)  # no tariff anywhere
    token = await db(partner_token)()
    start_at = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    async with connect_station(ocpi_node, station_id, boot=True) as cp:
        await report_connectors(cp)
        tx_id = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 0,
                                                     "timestamp": iso(start_at)}))["transactionId"]
        await cp.send("StopTransaction", {"transactionId": tx_id, "meterStop": 2500, "timestamp": iso(timezone.now())})
        # The start's PUT may not have left yet: the final one then replaces it (one PUT in all).
        final = (await wait(emsp, "PUT", session_url(tx_id)))[-1].body
        if final["status"] != "COMPLETED":
            final = (await wait(emsp, "PUT", session_url(tx_id), count=2))[-1].body
    assert final["status"] == "COMPLETED" and final["kwh"] == 2.5 and "total_cost" not in final
    assert_shape(final, SESSION, "unpriced session")
    # No CDR with made-up money: an alert for the operator instead.
    assert not await db(OcpiCdr.objects.filter(transaction_id=tx_id).exists)()
    alert = await db(Alert.objects.get)(key=f"ocpi_cdr:{tx_id}")
    assert alert.kind == "ocpi_cdr" and alert.station_id == station_id and "priced" in alert.message
    await asyncio.sleep(0.5)
    assert not emsp.requests_to("POST", CDRS)
