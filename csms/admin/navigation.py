"""One navigation, grouped by what an operator does, whatever app a model lives in.

Models are named by "app_label.model_name" strings: the kernel imports no app. A model of an app
not named here goes to its app's group, or to "System"; a hidden model (a mirror of what stations
hold, a station's internal records) stays registered and is reached from its station's or its
parent's page, not from the sidebar.
"""

from __future__ import annotations

GROUPS = [
    ("stations", "Stations"),
    ("sessions", "Charging sessions"),
    ("smart-charging", "Smart charging"),
    ("firmware", "Firmware & diagnostics"),
    ("security", "Security"),
    ("partners", "Partners & tariffs"),
    ("roaming", "Roaming"),
    ("system", "System"),
]

APP_GROUPS = {
    "stations": "stations",
    "alerts": "stations",
    "transactions": "sessions",
    "reservations": "sessions",
    "locallists": "sessions",
    "smartcharging": "smart-charging",
    "firmware": "firmware",
    "certificates": "security",
    "partners": "partners",
    "tariffs": "partners",
    "ocpi": "roaming",
    "webhooks": "system",
    "ocpp": "system",
    "auth": "system",
    "authtoken": "system",
}

MODEL_GROUPS = {
    "ocpp.call": "stations",
    "stations.securityevent": "security",
    "stations.node": "system",
    "transactions.tariff": "partners",
}

# Order inside a group (unlisted models follow, alphabetically).
MODEL_ORDER = [
    "stations.chargestation", "alerts.alert", "ocpp.call",
    "transactions.transaction", "transactions.idtag", "reservations.reservation", "locallists.locallist",
    "transactions.unmatchedstoptransaction",
    "smartcharging.chargingprofile", "smartcharging.chargingprofileassignment", "smartcharging.stationsmartcharging",
    "firmware.firmwarerollout", "firmware.firmwareupdate", "firmware.firmware", "firmware.diagnosticsrequest",
    "stations.securityevent", "certificates.certificaterequest", "certificates.stationcertificates",
    "partners.partner", "partners.partnermember", "transactions.tariff",
    "ocpi.ocpipartner", "ocpi.ocpipush", "ocpi.ocpitoken", "ocpi.ocpisession", "ocpi.ocpicdr", "ocpi.ocpicommand",
]

HIDDEN = {
    "stations.connector",
    "stations.statusnotificationrecord",
    "stations.configurationkey",
    "stations.datatransferrecord",
    "ocpp.processedcall",
    "transactions.metervalue",
    "smartcharging.installedchargingprofile",
    "smartcharging.stationcompositeschedule",
    "firmware.firmwarestatusreport",
    "firmware.diagnosticsstatusreport",
    "firmware.firmwareupdatetarget",
    "certificates.installedcertificate",
    "certificates.certificateinventory",
}


def group_of(app_label: str, model_name: str) -> str:
    return MODEL_GROUPS.get(f"{app_label}.{model_name}") or APP_GROUPS.get(app_label, "system")


def hidden(app_label: str, model_name: str) -> bool:
    return f"{app_label}.{model_name}" in HIDDEN


def order_key(app_label: str, model_name: str, name: str) -> tuple:
    key = f"{app_label}.{model_name}"
    return (MODEL_ORDER.index(key), "") if key in MODEL_ORDER else (len(MODEL_ORDER), str(name).lower())
