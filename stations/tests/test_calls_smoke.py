import pytest

from csms.testing import connect_station, db

pytestmark = pytest.mark.django_db(transaction=True)


async def test_get_configuration_through_api_is_stored(node, api, make_station):
    station = await db(make_station)()
    async with connect_station(node, station.id, boot=True) as cp:
        cp.answers["GetConfiguration"] = {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": [],
        }
        response = await db(api.post)(f"/api/v1/stations/{station.id}/calls/?wait=10",
                                      json={"action": "GetConfiguration", "payload": {}})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed"
    config = (await db(api.get)(f"/api/v1/stations/{station.id}/configuration/")).json()
    assert config[0]["key"] == "HeartbeatInterval" and config[0]["value"] == "300"
