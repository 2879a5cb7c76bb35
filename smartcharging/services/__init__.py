"""Writes of smart charging, one module per sub-domain:

- `library`: the charging profile library (docs/adr/0034-profile-library.md) and the OCPP
  ChargingProfile a library profile becomes;
- `commands`: what is sent to stations (SetChargingProfile, RemoteStartTransaction with a profile,
  ClearChargingProfile, GetCompositeSchedule), refused before sending when a station could only
  reject it, and what the answers mean for an assignment;
- `mirror`: what stations hold, changed only on their answers and by transactions
  (docs/adr/0031-installed-profile-mirror.md), and the composite schedules they report.

Import the function from the module that owns it.
"""
