"""OCPI Tokens, receiver side, over real HTTP, and real-time authorization at a station over a real
WebSocket: the eMSP is ocpi.testing.FakeEmsp, registered with us through the handshake."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from csms.ocpp.schemas import parse_datetime
from csms.testing import Node, connect_station, db
from ocpi.models import OcpiToken
from transactions.models import IdTag

pytestmark = pytest.mark.django_db(transaction=True)

AUTH_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def ocpi_node(test_database_url):
    """A node of our own: a short real-time authorization timeout, so that the fallback is seen quickly."""
    started = Node(test_database_url, env={"CSMS_OCPI_AUTH_TIMEOUT": str(AUTH_TIMEOUT),
                                           "CSMS_OCPI_AUTH_FALLBACK": "reject"}).start()
    yield started
    started.stop()


def new_uid() -> str:
    return f"T{uuid.uuid4().hex[:11].upper()}"


def token_doc(uid: str, **fields) -> dict:
    return {"country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID", "contract_id": f"NL-EMS-{uid}",
            "visual_number": "DF000-2001-8999-1", "issuer": "Test eMSP", "group_id": "GROUP-OF-MANY-TOKENS-0001",
            "valid": True, "whitelist": "ALWAYS", "language": "nl",
            "last_updated": "2026-01-02T03:04:05Z", **fields}


def tokens_url(node, uid: str, country="NL", party="EMS", type_=None) -> str:
    url = f"{node.http}/ocpi/2.2.1/tokens/{country}/{party}/{uid}"
    return url + (f"?type={type_}" if type_ else "")


def put(emsp, node, document, **url):
    return emsp.send("PUT", tokens_url(node, document["uid"], **url), document)


def authorization(allowed: str, document: dict, reference: str = "") -> dict:
    info = {"allowed": allowed, "token": document}
    if reference:
        info["authorization_reference"] = reference
    return info


async def authorize(cp, id_tag: str) -> dict:
    return (await cp.send("Authorize", {"idTag": id_tag}))["idTagInfo"]


def assert_expires_now(info: dict) -> None:
    assert abs(parse_datetime(info["expiryDate"]) - datetime.now(timezone.utc)) < timedelta(seconds=30)


# --- the receiver interface ----------------------------------------------------------------------------


def test_put_get_and_patch_a_token(ocpi_node, registered, emsp):
    uid = new_uid()
    answer = put(emsp, ocpi_node, token_doc(uid, energy_contract={"supplier_name": "Green", "contract_id": "42"}))
    assert answer["_http_status"] == 200 and answer["status_code"] == 1000

    got = emsp.get(tokens_url(ocpi_node, uid))
    assert got["status_code"] == 1000
    assert got["data"] == token_doc(uid, energy_contract={"supplier_name": "Green", "contract_id": "42"})
    # A CiString: the uid in another case is the same token; the type defaults to RFID.
    assert emsp.get(tokens_url(ocpi_node, uid.lower(), type_="RFID"))["data"]["uid"] == uid
    assert emsp.get(tokens_url(ocpi_node, uid, type_="APP_USER"))["_http_status"] == 404

    tag = IdTag.objects.get(id_tag=uid)
    assert (tag.blocked, tag.offline_allowed, tag.parent_id_tag) == (False, True, "GROUP-OF-MANY-TOKENS")
    assert tag.description == f"OCPI token RFID NL-EMS-{uid}" and tag.partner_id == registered.partner_id

    patched = emsp.send("PATCH", tokens_url(ocpi_node, uid), {"valid": False, "language": None,
                                                              "last_updated": "2026-02-01T00:00:00Z"})
    assert patched["status_code"] == 1000, patched
    document = emsp.get(tokens_url(ocpi_node, uid))["data"]
    assert document["valid"] is False and "language" not in document
    assert document["last_updated"] == "2026-02-01T00:00:00Z" and document["issuer"] == "Test eMSP"
    assert IdTag.objects.get(id_tag=uid).blocked

    no_date = emsp.send("PATCH", tokens_url(ocpi_node, uid), {"valid": True})
    assert no_date["status_code"] == 2001 and "last_updated" in no_date["status_message"]
    unknown = emsp.send("PATCH", tokens_url(ocpi_node, new_uid()), {"valid": True, "last_updated": "2026-02-01T00:00:00Z"})
    assert (unknown["_http_status"], unknown["status_code"]) == (404, 2004)
    renamed = emsp.send("PATCH", tokens_url(ocpi_node, uid), {"uid": "OTHER", "last_updated": "2026-02-01T00:00:00Z"})
    assert renamed["status_code"] == 2001 and "uid" in renamed["status_message"]


@pytest.mark.parametrize("change, field", [
    ({"issuer": None}, "issuer"),
    ({"whitelist": "SOMETIMES"}, "whitelist"),
    ({"type": "CARD"}, "type"),
    ({"valid": "yes"}, "valid"),
    ({"contract_id": "C" * 37}, "contract_id"),
    ({"language": "nld"}, "language"),
    ({"last_updated": "yesterday"}, "last_updated"),
    ({"energy_contract": {"contract_id": "1"}}, "energy_contract.supplier_name"),
    ({"default_profile_type": "SLOW"}, "default_profile_type"),
])
def test_a_malformed_token_is_2001_naming_the_field(ocpi_node, registered, emsp, change, field):
    uid = new_uid()
    document = {k: v for k, v in {**token_doc(uid), **change}.items() if v is not None}
    answer = put(emsp, ocpi_node, document)
    assert (answer["_http_status"], answer["status_code"]) == (400, 2001)
    assert f"token.{field}" in answer["status_message"]
    assert not OcpiToken.objects.exists() and not IdTag.objects.exists()


def test_the_url_must_name_the_token_pushed_and_the_party_must_be_the_partners(ocpi_node, registered, emsp):
    uid = new_uid()
    other_uid = emsp.send("PUT", tokens_url(ocpi_node, new_uid()), token_doc(uid))
    assert other_uid["status_code"] == 2001 and "token.uid" in other_uid["status_message"]
    other_type = emsp.send("PUT", tokens_url(ocpi_node, uid, type_="APP_USER"), token_doc(uid))
    assert other_type["status_code"] == 2001 and "token.type" in other_type["status_message"]
    # Another party's URL: not this client's objects.
    for method, body in (("PUT", token_doc(uid, country_code="DE", party_id="XXX")), ("GET", None)):
        refused = emsp.send(method, tokens_url(ocpi_node, uid, country="DE", party="XXX"), body)
        assert refused["_http_status"] == 404, refused
    # Its own URL with another party's token in the body.
    mixed = put(emsp, ocpi_node, token_doc(uid, country_code="DE", party_id="XXX"))
    assert mixed["status_code"] == 2001 and "country_code" in mixed["status_message"]
    assert not OcpiToken.objects.exists()


def test_a_uid_that_is_another_owners_id_tag_is_refused_whatever_its_case(ocpi_node, registered, emsp, make_id_tag):
    local = make_id_tag(id_tag="LOCALCARD01", description="ours")
    answer = put(emsp, ocpi_node, token_doc("localcard01"))
    assert answer["status_code"] == 2001
    assert "LOCALCARD01" in answer["status_message"] and "another owner" in answer["status_message"]
    local.refresh_from_db()
    assert (local.partner_id, local.description) == (None, "ours")
    assert not OcpiToken.objects.exists()
    # A uid longer than an idTag is stored without a mirror: no station can present it.
    long_uid = "L" * 30
    assert put(emsp, ocpi_node, token_doc(long_uid, contract_id="NL-EMS-LONG"))["status_code"] == 1000
    assert OcpiToken.objects.get(uid=long_uid).id_tag is None


# --- stations ------------------------------------------------------------------------------------------


async def test_a_pushed_token_is_accepted_in_any_case_and_blocked_once_invalid(ocpi_node, registered, emsp,
                                                                               make_station):
    uid = new_uid()
    assert put(emsp, ocpi_node, token_doc(uid))["status_code"] == 1000
    station = await db(make_station)()
    async with connect_station(ocpi_node, station.id, boot=True) as cp:
        info = await authorize(cp, uid.lower())
        assert info["status"] == "Accepted" and info["parentIdTag"] == "GROUP-OF-MANY-TOKENS"
        # A whitelisted token may be cached as usual (CSMS_AUTH_CACHE_HOURS).
        assert parse_datetime(info["expiryDate"]) > datetime.now(timezone.utc) + timedelta(hours=1)
        emsp.send("PATCH", tokens_url(ocpi_node, uid), {"valid": False, "last_updated": "2026-03-01T00:00:00Z"})
        assert (await authorize(cp, uid))["status"] == "Blocked"
    # ALWAYS: never asked in real time.
    assert not emsp.requests_to("POST", r"/authorize$")


async def test_a_never_token_is_accepted_only_in_real_time_and_never_offline(ocpi_node, registered, emsp,
                                                                               make_station):
    from locallists.models import LocalList, Selection
    from locallists.selectors import desired_entries
    from ocpi.tokens.realtime import realtime_result_for

    uid, plain = new_uid(), new_uid()
    document = token_doc(uid, whitelist="NEVER")
    assert put(emsp, ocpi_node, document)["status_code"] == 1000
    assert put(emsp, ocpi_node, token_doc(plain))["status_code"] == 1000
    tag = await db(IdTag.objects.get)(id_tag=uid)
    assert tag.blocked and not tag.offline_allowed
    station = await db(make_station)()
    async with connect_station(ocpi_node, station.id, boot=True) as cp:
        # The eMSP does not know it (404): refused.
        assert (await authorize(cp, uid))["status"] == "Blocked"
        emsp.authorizations[uid] = authorization("ALLOWED", document, reference="AUTH-REF-1")
        # The refusal stands for CSMS_OCPI_AUTH_CACHE_SECONDS: make it older.
        await db(OcpiToken.objects.filter(uid=uid).update)(realtime_checked_at=datetime.now(timezone.utc) - timedelta(hours=1))
        info = await authorize(cp, uid)
        assert info["status"] == "Accepted"
        assert_expires_now(info)  # the station must not cache it
    asked = emsp.requests_to("POST", rf"^/ocpi/2\.2\.1/tokens/{uid}/authorize$")
    assert len(asked) == 2
    assert asked[-1].query == "type=RFID" and asked[-1].body["location_id"] == station.id
    reference, checked_at = await db(realtime_result_for)(uid.lower())
    assert reference == "AUTH-REF-1" and checked_at is not None
    assert await db(realtime_result_for)(plain) is None

    # Not on a local list, even one that names it explicitly.
    def list_entries():
        local_list = LocalList.objects.create(station=station, selection=Selection.EXPLICIT)
        local_list.id_tags.set(IdTag.objects.filter(id_tag__in=[uid, plain]))
        return desired_entries(local_list)[0]

    assert set(await db(list_entries)()) == {plain}


async def test_an_unknown_tag_is_authorized_in_real_time_and_starts_a_transaction(ocpi_node, registered, emsp,
                                                                                    make_station):
    uid = new_uid()
    document = token_doc(uid, whitelist="ALLOWED", group_id="")
    emsp.authorizations[uid] = authorization("ALLOWED", document, reference="REF-START")
    station = await db(make_station)()
    async with connect_station(ocpi_node, station.id, boot=True) as cp:
        assert (await authorize(cp, uid))["status"] == "Accepted"
        started = await cp.send("StartTransaction", {"connectorId": 1, "idTag": uid, "meterStart": 0,
                                                     "timestamp": datetime.now(timezone.utc).isoformat()})
        assert started["idTagInfo"]["status"] == "Accepted" and started["transactionId"] > 0
    # The answer stands: StartTransaction did not ask again.
    assert len(emsp.requests_to("POST", rf"/tokens/{uid}/authorize$")) == 1
    token = await db(OcpiToken.objects.select_related("id_tag").get)(uid=uid)
    assert (token.realtime_allowed, token.authorization_reference) == ("ALLOWED", "REF-START")
    assert token.partner_id == registered.pk and token.id_tag.id_tag == uid and not token.id_tag.blocked


async def test_an_emsp_refusal_blocks_and_an_unknown_answer_is_invalid(ocpi_node, registered, emsp, make_station):
    refused, nobody = new_uid(), new_uid()
    emsp.authorizations[refused] = authorization("NOT_ALLOWED", token_doc(refused))
    station = await db(make_station)()
    async with connect_station(ocpi_node, station.id, boot=True) as cp:
        assert (await authorize(cp, refused))["status"] == "Blocked"
        assert (await authorize(cp, nobody))["status"] == "Invalid"
        assert (await authorize(cp, nobody))["status"] == "Invalid"
    assert (await db(OcpiToken.objects.get)(uid=refused)).realtime_allowed == "NOT_ALLOWED"
    # Nobody knows it: not asked again while that answer stands.
    assert len(emsp.requests_to("POST", rf"/tokens/{nobody}/authorize$")) == 1


async def test_no_answer_in_time_falls_back_to_reject(ocpi_node, registered, emsp, make_station):
    never, allowed_offline, unknown = new_uid(), new_uid(), new_uid()
    assert put(emsp, ocpi_node, token_doc(never, whitelist="NEVER"))["status_code"] == 1000
    assert put(emsp, ocpi_node, token_doc(allowed_offline, whitelist="ALLOWED_OFFLINE"))["status_code"] == 1000
    for uid in (never, allowed_offline, unknown):
        emsp.authorizations[uid] = authorization("ALLOWED", token_doc(uid))
    emsp.authorize_delay = AUTH_TIMEOUT + 1
    station = await db(make_station)()
    async with connect_station(ocpi_node, station.id, boot=True) as cp:
        began = asyncio.get_running_loop().time()
        assert (await authorize(cp, unknown))["status"] == "Invalid"
        assert asyncio.get_running_loop().time() - began < AUTH_TIMEOUT + 1
        assert (await authorize(cp, never))["status"] == "Blocked"
        # ALLOWED_OFFLINE: when the eMSP cannot be reached, the token is used as pushed.
        assert (await authorize(cp, allowed_offline))["status"] == "Accepted"
    assert len(emsp.requests_to("POST", r"/authorize$")) == 3


def test_the_station_path_runs_no_ocpi_query_without_a_partner_doing_real_time(monkeypatch, make_id_tag):
    """Counted on every connection (the preauthorizer's database work runs on run_db threads)."""
    from django.db.backends.utils import CursorWrapper

    from csms.ocpp.preauth import preauthorize
    from ocpi.models import OcpiPartner
    from ocpi.tokens import realtime
    from partners.models import Partner
    from transactions.services import id_tag_info

    make_id_tag(id_tag="LOCAL-ONLY")
    statements = []
    execute = CursorWrapper.execute

    def counting(self, sql, params=None):
        statements.append(sql)
        return execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counting)
    realtime.realtime_partners_refresh()  # what a node learns once every RECHECK_SECONDS
    statements.clear()
    asyncio.run(preauthorize("CP-QUIET", "Authorize", {"idTag": "LOCAL-ONLY"}))
    asyncio.run(preauthorize("CP-QUIET", "StartTransaction", {"idTag": "NOBODY", "connectorId": 1}))
    assert id_tag_info(id_tag="LOCAL-ONLY")["status"] == "Accepted"
    assert [sql for sql in statements if "ocpi" in sql] == []
    assert len(statements) == 1  # the handler's own read of the tag

    # A partner doing real-time authorization: one indexed lookup of a tag that is not a token.
    OcpiPartner.objects.create(partner=Partner.objects.create(name="rt"), state="registered",
                               realtime_authorization=True)
    statements.clear()
    assert realtime.realtime_plan("LOCAL-ONLY", station_id="CP-QUIET") is None
    assert len(statements) == 2 and "ocpi_ocpipartner" in statements[0]
    statements.clear()
    assert realtime.realtime_plan("LOCAL-ONLY", station_id="CP-QUIET") is None
    assert len(statements) == 1


def test_the_fallback_for_a_never_token_follows_the_setting(settings, ocpi_partner):
    from ocpi.tokens import realtime
    from ocpi.tokens.services import token_realtime_unanswered, token_store

    partner = ocpi_partner(country_code="NL", party_id="EMS", state="registered", realtime_authorization=False)
    token = token_store(partner=partner, document=token_doc("FALLBACK01", whitelist="NEVER"))
    assert token.id_tag.blocked
    # A partner we do not ask: its NEVER token goes by the fallback at once.
    plan = realtime.realtime_plan("fallback01", station_id="CP-1")
    assert plan.token_id == token.pk and plan.targets == []
    settings.CSMS_OCPI_AUTH_FALLBACK = "accept"
    realtime.realtime_record(plan, [], False)
    token.id_tag.refresh_from_db()
    assert not token.id_tag.blocked  # as last pushed
    settings.CSMS_OCPI_AUTH_FALLBACK = "reject"
    token_realtime_unanswered(token=token)
    token.id_tag.refresh_from_db()
    assert token.id_tag.blocked
