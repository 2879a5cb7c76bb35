"""Authorize and the idTagInfo the CSMS answers (OCPP 1.6 sections 4.1, 7.17, 7.2): statuses, parent tag,
expiry and max_active_transactions."""

from datetime import datetime, timedelta, timezone

import pytest

from csms.ocpp.schemas import parse_datetime
from csms.testing import connect_station, db

pytestmark = pytest.mark.django_db(transaction=True)


def start_payload(id_tag, connector_id=1, meter_start=0):
    return {"connectorId": connector_id, "idTag": id_tag, "meterStart": meter_start,
            "timestamp": datetime.now(timezone.utc).isoformat()}


async def authorize(cp, id_tag) -> dict:
    answer = await cp.send("Authorize", {"idTag": id_tag})
    assert set(answer) == {"idTagInfo"}
    return answer["idTagInfo"]


async def test_unknown_tag_is_invalid(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert await authorize(cp, "NOBODY") == {"status": "Invalid"}


async def test_accepted_tag_carries_parent_and_expiry(node, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)(parent_id_tag="FLEET-1")
    plain = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        info = await authorize(cp, tag.id_tag)
        assert info["status"] == "Accepted"
        assert info["parentIdTag"] == "FLEET-1"
        # Without an expiry of its own, a station may cache the authorization for CSMS_AUTH_CACHE_HOURS (24).
        expiry = parse_datetime(info["expiryDate"])
        assert abs(expiry - (datetime.now(timezone.utc) + timedelta(hours=24))) < timedelta(minutes=1)
        info = await authorize(cp, plain.id_tag)
        assert info["status"] == "Accepted" and "parentIdTag" not in info


async def test_tag_expiry_before_the_cache_limit_is_answered(node, make_station, make_id_tag):
    station = await db(make_station)()
    expires = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(microsecond=0)
    tag = await db(make_id_tag)(expiry_date=expires)
    async with connect_station(node, station.id, boot=True) as cp:
        info = await authorize(cp, tag.id_tag)
    assert info["status"] == "Accepted"
    assert parse_datetime(info["expiryDate"]) == expires


async def test_expired_tag(node, make_station, make_id_tag):
    station = await db(make_station)()
    expired = (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0)
    tag = await db(make_id_tag)(expiry_date=expired, parent_id_tag="FLEET-2")
    async with connect_station(node, station.id, boot=True) as cp:
        info = await authorize(cp, tag.id_tag)
    assert info["status"] == "Expired"
    assert info["parentIdTag"] == "FLEET-2"
    assert parse_datetime(info["expiryDate"]) == expired


async def test_blocked_tag_and_max_active_zero(node, make_station, make_id_tag):
    station = await db(make_station)()
    blocked = await db(make_id_tag)(blocked=True)
    zero = await db(make_id_tag)(max_active_transactions=0)
    # Blocked wins over expired.
    both = await db(make_id_tag)(blocked=True, expiry_date=datetime.now(timezone.utc) - timedelta(days=1))
    async with connect_station(node, station.id, boot=True) as cp:
        assert (await authorize(cp, blocked.id_tag))["status"] == "Blocked"
        assert (await authorize(cp, zero.id_tag))["status"] == "Blocked"
        assert (await authorize(cp, both.id_tag))["status"] == "Blocked"


async def test_concurrent_tx_counts_open_accepted_transactions(node, make_station, make_id_tag):
    station = await db(make_station)()
    one = await db(make_id_tag)()  # default max_active_transactions = 1
    two = await db(make_id_tag)(max_active_transactions=2)
    async with connect_station(node, station.id, boot=True) as cp:
        started = await cp.send("StartTransaction", start_payload(one.id_tag, 1))
        assert started["idTagInfo"]["status"] == "Accepted"
        assert (await authorize(cp, one.id_tag))["status"] == "ConcurrentTx"

        await cp.send("StartTransaction", start_payload(two.id_tag, 2))
        assert (await authorize(cp, two.id_tag))["status"] == "Accepted"
        second = await cp.send("StartTransaction", start_payload(two.id_tag, 3))
        assert second["idTagInfo"]["status"] == "Accepted"
        assert (await authorize(cp, two.id_tag))["status"] == "ConcurrentTx"

        # Once stopped, the tag is free again.
        await cp.send("StopTransaction", {"transactionId": started["transactionId"], "meterStop": 10,
                                          "timestamp": datetime.now(timezone.utc).isoformat()})
        assert (await authorize(cp, one.id_tag))["status"] == "Accepted"


async def test_negative_max_active_is_unlimited(node, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)(max_active_transactions=-1)
    async with connect_station(node, station.id, boot=True) as cp:
        for connector in (1, 2, 3, 4):
            answer = await cp.send("StartTransaction", start_payload(tag.id_tag, connector))
            assert answer["idTagInfo"]["status"] == "Accepted"
        assert (await authorize(cp, tag.id_tag))["status"] == "Accepted"


async def test_transactions_not_accepted_do_not_count(node, make_station, make_id_tag):
    from transactions.id_tags import id_tag_update

    station = await db(make_station)()
    tag = await db(make_id_tag)(blocked=True)
    async with connect_station(node, station.id, boot=True) as cp:
        refused = await cp.send("StartTransaction", start_payload(tag.id_tag, 1))
        assert refused["idTagInfo"]["status"] == "Blocked" and refused["transactionId"] > 0
        await db(id_tag_update)(id_tag=tag, blocked=False)
        assert (await authorize(cp, tag.id_tag))["status"] == "Accepted"


async def test_authorize_answers_change_with_the_tag_through_the_api(node, api, make_station, make_id_tag):
    station = await db(make_station)()
    tag = await db(make_id_tag)()
    async with connect_station(node, station.id, boot=True) as cp:
        assert (await authorize(cp, tag.id_tag))["status"] == "Accepted"
        assert (await db(api.patch)(f"/api/v1/id-tags/{tag.id_tag}/", json={"blocked": True})).status_code == 200
        assert (await authorize(cp, tag.id_tag))["status"] == "Blocked"
        assert (await db(api.delete)(f"/api/v1/id-tags/{tag.id_tag}/")).status_code == 204
        assert (await authorize(cp, tag.id_tag)) == {"status": "Invalid"}


async def test_a_tag_checked_online_at_every_use_expires_at_once(node, make_station, api):
    station = await db(make_station)()
    created = await db(api.post)("/api/v1/id-tags/", json={"id_tag": "ONLINE-ONLY-1", "offline_allowed": False})
    assert created.status_code == 201 and created.json()["offline_allowed"] is False
    async with connect_station(node, station.id, boot=True) as cp:
        info = await authorize(cp, "online-only-1")
    # Accepted now, and not to be cached by the station (OCPP 1.6 Authorization Cache).
    assert info["status"] == "Accepted"
    assert abs(parse_datetime(info["expiryDate"]) - datetime.now(timezone.utc)) < timedelta(seconds=30)
