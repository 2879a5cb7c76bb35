import pytest
from csms.testing import db

from csms.testing import connect_station

pytestmark = pytest.mark.django_db(transaction=True)


async def test_boot_is_answered_and_stored(node, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id) as cp:
        result = await cp.boot(vendor="ACME", model="X1")
    assert result["status"] == "Accepted"
    await db(station.refresh_from_db)()
    assert station.vendor == "ACME"
