"""How stations' states look in the admin of every app (connector badges)."""

from __future__ import annotations

from django.utils.html import format_html

from csms.admin.presentation import BLUE, GREEN, GREY, ORANGE, PURPLE, RED, TEAL, badge

from .models import ConnectorStatus, RegistrationStatus

CONNECTOR_COLOURS = {
    ConnectorStatus.AVAILABLE: GREEN,
    ConnectorStatus.PREPARING: TEAL,
    ConnectorStatus.CHARGING: BLUE,
    ConnectorStatus.SUSPENDED_EV: ORANGE,
    ConnectorStatus.SUSPENDED_EVSE: ORANGE,
    ConnectorStatus.FINISHING: TEAL,
    ConnectorStatus.RESERVED: PURPLE,
    ConnectorStatus.UNAVAILABLE: GREY,
    ConnectorStatus.FAULTED: RED,
}
REGISTRATION_COLOURS = {RegistrationStatus.ACCEPTED: GREEN, RegistrationStatus.PENDING: ORANGE,
                        RegistrationStatus.REJECTED: RED}


def connector_badge(status: str, error_code: str = ""):
    text = status or "unknown"
    if error_code and error_code != "NoError":
        return format_html("{} {}", badge(text, CONNECTOR_COLOURS.get(status, GREY)), badge(error_code, RED))
    return badge(text, CONNECTOR_COLOURS.get(status, GREY))


def registration_badge(status: str):
    return badge(status, REGISTRATION_COLOURS.get(status, GREY))
