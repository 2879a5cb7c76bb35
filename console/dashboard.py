"""The console's front page: the fleet's figures, each linking to the list it counts, and the fleet's
power over the day (csms.admin.dashboard draws them; other apps add their own tiles)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from csms.admin.dashboard import Panel, Tile, dashboard_panel, dashboard_tile
from csms.admin.presentation import changelist_url
from stations.models import ChargeStation, ConnectorStatus
from stations.presentation import CONNECTOR_COLOURS
from transactions.models import Transaction

from . import selectors

VIEW_STATIONS = "stations.view_chargestation"
VIEW_CONNECTORS = "stations.view_connector"
VIEW_TRANSACTIONS = "transactions.view_transaction"


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _hour_ago():
    return timezone.now() - timedelta(hours=1)


def _day_ago():
    return timezone.now() - timedelta(hours=24)


def kilowatts(watts: float) -> str:
    return f"{watts / 1000:,.1f} kW"


def kilowatt_hours(wh: float) -> str:
    return f"{wh / 1000:,.1f} kWh"


def register() -> None:
    stations = [
        Tile("Stations", "online", lambda: ChargeStation.objects.filter(online=True).count(),
             lambda: changelist_url("chargestation", online__exact="1"), VIEW_STATIONS, 10, "good", key="stations-online"),
        Tile("Stations", "offline", lambda: ChargeStation.objects.filter(online=False).count(),
             lambda: changelist_url("chargestation", online__exact="0"), VIEW_STATIONS, 20, "bad", key="stations-offline"),
        Tile("Stations", "faulted", lambda: selectors.stations_faulted().count(),
             lambda: changelist_url("chargestation", faulted="1"), VIEW_STATIONS, 30, "bad",
             key="stations-faulted"),
    ]
    connectors = [
        Tile("Connectors", status, (lambda status=status: selectors.connectors_by_status().get(status, 0)),
             (lambda status=status: changelist_url("connector", status__exact=status)), VIEW_CONNECTORS, index,
             colour=CONNECTOR_COLOURS[status], key=f"connectors-{status}")
        for index, status in enumerate(ConnectorStatus.values)
    ]
    charging = [
        Tile("Charging", "transactions running", lambda: Transaction.objects.filter(stopped_at__isnull=True).count(),
             lambda: changelist_url("transaction", app_label="transactions", active="1"), VIEW_TRANSACTIONS, 10,
             key="transactions-running"),
        Tile("Charging", "power now", lambda: kilowatts(selectors.fleet_power_now()),
             lambda: changelist_url("transaction", app_label="transactions", active="1"), VIEW_TRANSACTIONS, 20,
             key="power-now"),
        Tile("Charging", "energy today", lambda: kilowatt_hours(selectors.energy_since(selectors.start_of_today())),
             lambda: changelist_url("transaction", app_label="transactions",
                                    started_at__gte=_iso(selectors.start_of_today())),
             VIEW_TRANSACTIONS, 30, key="energy-today"),
    ]
    operations = [
        Tile("Operations", "calls failed in the last hour", lambda: selectors.calls_failed_since(_hour_ago()),
             lambda: changelist_url("call", app_label="ocpp", status__in="error,timeout", created_at__gte=_iso(_hour_ago())),
             "ocpp.view_call", 10, "bad", key="calls-failed"),
        Tile("Firmware & diagnostics", "station updates under way", selectors.firmware_updates_under_way,
             lambda: changelist_url("firmwareupdatetarget", app_label="firmware",
                                    state__in=",".join(selectors.FIRMWARE_UNDER_WAY)),
             "firmware.view_firmwareupdate", 10, key="firmware-under-way"),
        Tile("Security", "critical security events (24 h)", lambda: selectors.security_events_critical_since(_day_ago()),
             lambda: changelist_url("securityevent", timestamp__gte=_iso(_day_ago())), "stations.view_securityevent", 10,
             "bad", key="security-critical"),
        Tile("Alerts", "open", lambda: selectors.alerts_open_count(), lambda: changelist_url("alert", app_label="alerts",
                                                                                           state="open"),
             "alerts.view_alert", 10, "bad", key="alerts-open"),
        Tile("Alerts", "critical", lambda: selectors.alerts_open_count(critical=True),
             lambda: changelist_url("alert", app_label="alerts", state="open", severity__exact="critical"),
             "alerts.view_alert", 20, "bad", key="alerts-critical"),
    ]
    for tile in [*stations, *connectors, *charging, *operations]:
        dashboard_tile(tile)
    dashboard_panel(Panel("Fleet power today", "console/chart_panel.html",
                          lambda: {"chart": {"kind": "power", "series": {"power": selectors.fleet_power_series()}}},
                          VIEW_TRANSACTIONS, 10, key="fleet-power"))
