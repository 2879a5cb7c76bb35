"""What the CSMS refuses to send a station, whoever asks (stations/rules.py): through the calls API here;
the admin's forms use the same functions (console/tests/test_browser.py)."""

from __future__ import annotations

import pytest

from csms.errors import Invalid
from csms.ocpp.models import Call
from stations.models import ConfigurationKey, Connector
from stations.rules import configuration_change_validate, connector_validate

pytestmark = pytest.mark.django_db(transaction=True)


def two_connectors(station) -> None:
    for number in (1, 2):
        Connector.objects.create(station=station, connector_id=number, status="Available")


@pytest.mark.parametrize("action, payload", [
    ("RemoteStartTransaction", {"idTag": "T1", "connectorId": 99999999999}),
    ("SetChargingProfile", {"connectorId": 42, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "A",
                                                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}}),
    ("ReserveNow", {"connectorId": 99, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T1", "reservationId": 1}),
    ("ChangeAvailability", {"connectorId": 77, "type": "Inoperative"}),
    ("UnlockConnector", {"connectorId": 3}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 5}),
])
def test_a_connector_the_station_does_not_have_is_refused_by_the_api(api, make_station, action, payload):
    station = make_station()
    two_connectors(station)
    response = api.post(f"/api/v1/stations/{station.id}/calls/", json={"action": action, "payload": payload})
    assert response.status_code == 400, response.text
    assert "has no connector" in response.json()["detail"] or "beyond OCPP's integer range" in response.json()["detail"]
    assert not Call.objects.exists()


def test_connectors_come_from_number_of_connectors_before_status_notifications(make_station):
    station = make_station()
    connector_validate(station_id=station.id, connector_id=7, allow_zero=False)  # nothing reported: OCPP's range
    two_connectors(station)
    with pytest.raises(Invalid, match="its connectors are 1, 2"):
        connector_validate(station_id=station.id, connector_id=3, allow_zero=False)
    ConfigurationKey.objects.create(station=station, key="NumberOfConnectors", value="4", readonly=True)
    connector_validate(station_id=station.id, connector_id=3, allow_zero=False)
    with pytest.raises(Invalid, match="its connectors are 1 to 4"):
        connector_validate(station_id=station.id, connector_id=5, allow_zero=False)
    connector_validate(station_id=station.id, connector_id=0, allow_zero=True)
    with pytest.raises(Invalid, match="at least 1"):
        connector_validate(station_id=station.id, connector_id=0, allow_zero=False)


@pytest.mark.parametrize("key, value, problem", [
    ("HeartbeatInterval", "-99999999999999999999", "between 0 and"),
    ("HeartbeatInterval", "ten", "whole number"),
    ("LocalAuthorizeOffline", "yes", "true or false"),
    ("MeterValuesSampledData", "Energy.Active.Import.Register,Volts", "Volts"),
    ("NumberOfConnectors", "4", "read-only in OCPP 1.6"),
    ("LightIntensity", "150", "between 0 and 100"),
])
def test_configuration_values_are_checked_against_ocpp_types_by_the_api(api, make_station, key, value, problem):
    station = make_station()
    response = api.post(f"/api/v1/stations/{station.id}/calls/",
                        json={"action": "ChangeConfiguration", "payload": {"key": key, "value": value}})
    assert response.status_code == 400 and problem in response.json()["detail"], response.text
    assert not Call.objects.exists()


def test_what_the_station_reported_decides_for_its_own_keys(make_station):
    station = make_station()
    ConfigurationKey.objects.create(station=station, key="AuthorizeRemoteTxRequests", value="true", readonly=True)
    ConfigurationKey.objects.create(station=station, key="MeterValuesSampledDataMaxLength", value="2", readonly=True)
    ConfigurationKey.objects.create(station=station, key="VendorThing", value="x", readonly=True)
    with pytest.raises(Invalid, match="read-only on station"):
        configuration_change_validate(station_id=station.id, key="AuthorizeRemoteTxRequests", value="false")
    with pytest.raises(Invalid, match="read-only on station"):
        configuration_change_validate(station_id=station.id, key="VendorThing", value="y")
    with pytest.raises(Invalid, match="at most 2"):
        configuration_change_validate(station_id=station.id, key="MeterValuesSampledData",
                                      value="Energy.Active.Import.Register,Power.Active.Import,SoC")
    configuration_change_validate(station_id=station.id, key="MeterValuesSampledData",
                                  value="Energy.Active.Import.Register,Voltage.L1")
    configuration_change_validate(station_id=station.id, key="HeartbeatInterval", value="300")
    configuration_change_validate(station_id=station.id, key="VendorOther", value="anything at all")
