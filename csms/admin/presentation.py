"""How the admin shows things: coloured badges, links between records, JSON and frames for reading."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

BADGE_STYLE = ("display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:11px;"
               "font-weight:600;white-space:nowrap;background:{}")
GREEN, BLUE, TEAL, ORANGE, RED, GREY, PURPLE = "#2e7d32", "#1565c0", "#00838f", "#e65100", "#c62828", "#616161", "#6a1b9a"

CALL_COLOURS = {"pending": GREY, "sent": BLUE, "completed": GREEN, "error": RED, "timeout": ORANGE}
# Answers that mean the station did what was asked.
POSITIVE_ANSWERS = {"Accepted", "Unlocked"}
MESSAGE_TYPES = {2: "Call", 3: "CallResult", 4: "CallError"}


def live_watches(*watches: tuple[str, object]) -> str:
    """The data-live attribute of a fragment that depends on these (concern, key) things (keys as
    the console socket sends them: strings)."""
    return json.dumps([[concern, None if key is None else str(key)] for concern, key in watches])


def live_fragment(content, fragment_id: str, *watches: tuple[str, object]):
    """`content` in an element that static/console/live.js swaps in again when one of `watches` changes."""
    return format_html('<span id="{}" data-live="{}">{}</span>', fragment_id, live_watches(*watches), content)


def fragment_id(*parts) -> str:
    """An HTML id made of parts that may hold any character (a chargeBoxId)."""
    return "live-" + "-".join(re.sub(r"[^A-Za-z0-9_]", lambda m: f".{ord(m.group()):x}", str(part)) for part in parts)


def badge(text, colour: str):
    return format_html('<span style="' + BADGE_STYLE + '">{}</span>', colour, text or "—")


def online_badge(online: bool):
    return badge("online", GREEN) if online else badge("offline", GREY)


def admin_link(model_name: str, pk, text=None, app_label: str = "stations"):
    if pk is None:
        return "—"
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{app_label}_{model_name}_change", args=[quote(pk)]),
                       pk if text is None else text)


def _station_admin_name() -> tuple[str, str]:
    app_label, model_name = settings.CSMS_STATION_MODEL.lower().split(".")
    return app_label, model_name


def station_link(station_id: str):
    app_label, model_name = _station_admin_name()
    return admin_link(model_name, station_id, app_label=app_label)


def call_link(call_id, text=None):
    """A link to a CSMS Call's page ("call #12" unless told otherwise)."""
    if call_id is None:
        return "—"
    return admin_link("call", call_id, text or f"call #{call_id}", app_label="ocpp")


def changelist_url(model_name: str, app_label: str = "stations", **params) -> str:
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """"1 id tag", "2 id tags" (never "1 transactions")."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def number(value) -> str:
    """A reading without spurious decimals: 12713.000 -> "12713", 12713.500 -> "12713.5"."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def pretty_json(value):
    if value is None:
        return "—"
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>',
                       json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False))


def pretty_frame(frame: str) -> str:
    """A frame indented for reading; anything that is not JSON (a bad frame) is shown as received."""
    try:
        return json.dumps(json.loads(frame), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return frame


def call_status_badge(call):
    return badge(call.status, CALL_COLOURS.get(call.status, GREY))


def call_outcome(call):
    """What the station's answer means, in a few words."""
    if call.error_code:
        return format_html("{} {}", badge(call.error_code, RED), Truncator(call.error_description).chars(120))
    response = call.response
    if response is None:
        return "waiting for the station…" if not call.finished else "—"
    if call.action == "GetConfiguration":
        return f"{len(response.get('configurationKey') or [])} keys, {len(response.get('unknownKey') or [])} unknown"
    status = response.get("status") if isinstance(response, dict) else None
    if status:
        extra = f" {Truncator(json.dumps(response.get('data'))).chars(80)}" if response.get("data") is not None else ""
        return format_html("{}{}", badge(status, GREEN if status in POSITIVE_ANSWERS else ORANGE), extra)
    return Truncator(json.dumps(response, ensure_ascii=False)).chars(120) if response else "(empty answer)"
