"""The operator's console for stations: state, configuration, calls and the message log.

What stations report (status history, message log, configuration as read, calls) is shown, never
edited: it changes only through the station or through a Call (admin_actions.py).
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from csms.ocpp.schemas import ALL_ACTIONS, CSMS_ACTIONS

from . import services
from .admin_actions import (
    STATION_CALL_ACTIONS,
    CallActionsMixin,
    accept_registration,
    make_call_action,
    reject_registration,
    station_boot_request,
)
from .forms import ChargeStationAdminForm
from .models import (
    Call,
    CallStatus,
    ChargeStation,
    ConfigurationKey,
    Connector,
    ConnectorStatus,
    DataTransferRecord,
    Direction,
    MessageLog,
    Node,
    ProcessedCall,
    RegistrationStatus,
    SecurityEvent,
    StatusNotificationRecord,
)

# --- Presentation helpers (shared with the other apps' admins) -----------------------------------

BADGE_STYLE = ("display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:11px;"
               "font-weight:600;white-space:nowrap;background:{}")
GREEN, BLUE, TEAL, ORANGE, RED, GREY, PURPLE = "#2e7d32", "#1565c0", "#00838f", "#e65100", "#c62828", "#616161", "#6a1b9a"

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
CALL_COLOURS = {
    CallStatus.PENDING: GREY,
    CallStatus.SENT: BLUE,
    CallStatus.COMPLETED: GREEN,
    CallStatus.ERROR: RED,
    CallStatus.TIMEOUT: ORANGE,
}
REGISTRATION_COLOURS = {RegistrationStatus.ACCEPTED: GREEN, RegistrationStatus.PENDING: ORANGE, RegistrationStatus.REJECTED: RED}
# Answers that mean the station did what was asked.
POSITIVE_ANSWERS = {"Accepted", "Unlocked"}
MESSAGE_TYPES = {2: "Call", 3: "CallResult", 4: "CallError"}
ERROR_CODES = [
    "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature", "InternalError",
    "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "OverVoltage", "PowerMeterFailure",
    "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage", "WeakSignal",
]
# Calls refresh their page every so many seconds while one of them waits for its answer.
CALL_REFRESH_SECONDS = 2


def badge(text, colour: str):
    return format_html('<span style="' + BADGE_STYLE + '">{}</span>', colour, text or "—")


def connector_badge(status: str, error_code: str = ""):
    text = status or "unknown"
    if error_code and error_code != "NoError":
        return format_html("{} {}", badge(text, CONNECTOR_COLOURS.get(status, GREY)), badge(error_code, RED))
    return badge(text, CONNECTOR_COLOURS.get(status, GREY))


def online_badge(online: bool):
    return badge("online", GREEN) if online else badge("offline", GREY)


def admin_link(model_name: str, pk, text=None, app_label: str = "stations"):
    if pk is None:
        return "—"
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{app_label}_{model_name}_change", args=[quote(pk)]),
                       pk if text is None else text)


def station_link(station_id: str):
    return admin_link("chargestation", station_id)


def changelist_url(model_name: str, app_label: str = "stations", **params) -> str:
    from urllib.parse import urlencode

    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


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


def call_status_badge(call: Call):
    return badge(call.status, CALL_COLOURS.get(call.status, GREY))


def call_outcome(call: Call):
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


# --- Filters -----------------------------------------------------------------------------------------


class InputFilter(admin.SimpleListFilter):
    """A text box instead of a list of links: a fleet has too many stations to list them all."""

    template = "admin/csms/input_filter.html"
    placeholder = ""
    lookup = ""

    def lookups(self, request, model_admin):
        return [("", "")]  # a filter without lookups is not shown at all

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(**{self.lookup: value}) if value else queryset

    def choices(self, changelist):
        others = [(name, value) for name, values in changelist.filter_params.items()
                  if name != self.parameter_name for value in values]
        yield {
            "selected": bool(self.value()),
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "placeholder": self.placeholder,
            "hidden": others,
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": self.value() or "",
            "query_string": "",
        }


class StationFilter(InputFilter):
    title = "station (chargeBoxId)"
    parameter_name = "station"
    placeholder = "chargeBoxId"
    lookup = "station_id"


class StaticChoicesFilter(admin.SimpleListFilter):
    """Choices known in advance: no SELECT DISTINCT over a table of millions of rows."""

    field_name = ""
    values: list[str] = []

    def lookups(self, request, model_admin):
        return [(value, value) for value in self.values]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field_name: self.value()}) if self.value() else queryset


class OcppActionFilter(StaticChoicesFilter):
    title = "action"
    parameter_name = "action"
    field_name = "action"
    values = sorted(ALL_ACTIONS)


class CsmsActionFilter(OcppActionFilter):
    values = sorted(CSMS_ACTIONS)


class ErrorCodeFilter(StaticChoicesFilter):
    title = "error code"
    parameter_name = "error_code"
    field_name = "error_code"
    values = ERROR_CODES


# --- Read-only admins ----------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never added or edited by hand.

    Deletion keeps the model permission, so that deleting a station (which cascades here) stays
    possible for whoever may delete stations.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Charge stations --------------------------------------------------------------------------------


def station_page_context(station: ChargeStation) -> dict:
    """Everything the station's page shows below its form, read in a handful of queries."""
    calls = list(station.calls.select_related("requested_by").order_by("-created_at", "-id")[:20])
    frames = list(MessageLog.objects.filter(station_id=station.pk).order_by("-created_at", "-id")[:100])
    return {
        "connectors": [
            {"connector": connector, "badge": connector_badge(connector.status, connector.error_code)}
            for connector in station.connectors.order_by("connector_id")
        ],
        "configuration": list(station.configuration.order_by("-known", "key")),
        "recent_transactions": list(station.transactions.order_by("-id")[:20]),
        "recent_calls": [{"call": call, "badge": call_status_badge(call), "outcome": call_outcome(call)} for call in calls],
        "message_log": [
            {"frame": frame, "kind": MESSAGE_TYPES.get(frame.message_type, "?"), "pretty": pretty_frame(frame.frame),
             "excerpt": Truncator(frame.frame).chars(110)}
            for frame in frames
        ],
        "status_history": list(station.status_history.order_by("-received_at", "-id")[:10]),
        "links": {
            "calls": changelist_url("call", station=station.pk),
            "message_log": changelist_url("messagelog", station=station.pk),
            "status_history": changelist_url("statusnotificationrecord", station=station.pk),
            "configuration": changelist_url("configurationkey", station=station.pk),
            "transactions": changelist_url("transaction", app_label="transactions", station=station.pk),
        },
    }


@admin.register(ChargeStation)
class ChargeStationAdmin(CallActionsMixin, admin.ModelAdmin):
    form = ChargeStationAdminForm
    call_action_specs = STATION_CALL_ACTIONS
    actions = [*(make_call_action(spec) for spec in STATION_CALL_ACTIONS), accept_registration, reject_registration]
    list_display = ["id", "description", "registration", "connection", "connector_states", "vendor", "model",
                    "firmware_version", "last_heartbeat", "last_seen", "reset_required", "partner"]
    list_filter = ["online", "registration_status", "reset_required", "security_profile", "partner", "vendor"]
    search_fields = ["id", "description", "vendor", "model", "serial_number", "charge_box_serial_number"]
    list_select_related = ["partner"]
    readonly_fields = [
        "password_set", "reset_required", "online", "node", "connected_at", "disconnected_at", "last_seen",
        "last_heartbeat", "subprotocol", "remote_address", "vendor", "model", "serial_number",
        "charge_box_serial_number", "firmware_version", "iccid", "imsi", "meter_type", "meter_serial_number",
        "last_boot_at", "created_at", "updated_at",
    ]
    identity_fieldsets = [
        (None, {"fields": ["id", "description", "partner", "registration_status", "reset_required"]}),
        ("Security", {"fields": ["security_profile", "password", "clear_password", "password_set"]}),
    ]
    state_fieldsets = [
        ("Connection", {"fields": ["online", "node", "connected_at", "disconnected_at", "last_seen",
                                   "last_heartbeat", "subprotocol", "remote_address"]}),
        ("As reported at boot", {"fields": ["vendor", "model", "serial_number", "charge_box_serial_number",
                                            "firmware_version", "iccid", "imsi", "meter_type",
                                            "meter_serial_number", "last_boot_at"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        return self.identity_fieldsets + (self.state_fieldsets if obj else [])

    def get_readonly_fields(self, request, obj=None):
        # The chargeBoxId is the primary key: changing it would create another station.
        return ["id", *self.readonly_fields] if obj else self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(description="registration", ordering="registration_status")
    def registration(self, station):
        return badge(station.registration_status, REGISTRATION_COLOURS.get(station.registration_status, GREY))

    @admin.display(description="connection", ordering="online")
    def connection(self, station):
        return online_badge(station.online)

    @admin.display(description="connectors")
    def connector_states(self, station):
        return format_html_join(
            " ", "<span title=\"{}\">{}:&nbsp;{}</span>",
            ((c.info or c.error_code, c.connector_id, connector_badge(c.status, c.error_code)) for c in station.connectors.all()),
        ) or "—"

    @admin.display(description="password set", boolean=True)
    def password_set(self, station):
        return bool(station.password_hash)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            return
        services.station_notify_changed(station_id=obj.pk)
        accepted_now = ("registration_status" in form.changed_data
                        and obj.registration_status == RegistrationStatus.ACCEPTED)
        if accepted_now:
            trigger = station_boot_request(station=obj, requested_by=request.user)
            if trigger is not None:
                self.message_user(request, format_html(
                    'Accepted: asked {} to boot again (<a href="{}">TriggerMessage #{}</a>).', obj.pk,
                    reverse("admin:stations_call_change", args=[trigger.pk]), trigger.pk), messages.SUCCESS)

    def delete_model(self, request, obj):
        services.station_delete(station=obj)

    def delete_queryset(self, request, queryset):
        for station in queryset:
            services.station_delete(station=station)

    def get_deleted_objects(self, objs, request):
        # Listing every meter value and log frame of a station would build a page of millions of rows:
        # count them instead.
        stations = list(objs)
        ids = [station.pk for station in stations]
        counts = {
            "connectors": Connector.objects.filter(station_id__in=ids).count(),
            "status notifications": StatusNotificationRecord.objects.filter(station_id__in=ids).count(),
            "configuration keys": ConfigurationKey.objects.filter(station_id__in=ids).count(),
            "calls": Call.objects.filter(station_id__in=ids).count(),
            "message log frames": MessageLog.objects.filter(station_id__in=ids).count(),
            "transactions": sum(station.transactions.count() for station in stations),
            "meter values": sum(station.meter_values.count() for station in stations),
        }
        model_count = {"charge stations": len(stations), **{name: n for name, n in counts.items() if n}}
        perms_needed = set() if self.has_delete_permission(request) else {"charge station"}
        return [station_link(station.pk) for station in stations], model_count, perms_needed, []

    def change_view(self, request, object_id, form_url="", extra_context=None):
        station = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if station is not None:
            extra.update(station_page_context(station))
            extra["call_action_links"] = self.call_action_links(request, station)
        return super().change_view(request, object_id, form_url, extra_context=extra)


# --- Calls -------------------------------------------------------------------------------------------------


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = ["id", "station_id_link", "action", "status_badge", "outcome", "source", "requested_by",
                    "created_at", "completed_at"]
    list_display_links = ["id", "action"]
    list_filter = [StationFilter, "status", CsmsActionFilter, "source"]
    search_fields = ["=station__id"]
    search_help_text = "Exact chargeBoxId"
    date_hierarchy = "created_at"
    list_select_related = ["requested_by"]
    fields = ["id", "station_id_link", "action", "status_badge", "outcome", "source", "requested_by", "payload_pretty",
              "response_pretty", "error_code", "error_description", "error_details_pretty", "context_pretty",
              "led_to", "created_at", "sent_at", "completed_at"]
    readonly_fields = fields

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, call):
        return station_link(call.station_id)

    @admin.display(description="status", ordering="status")
    def status_badge(self, call):
        return call_status_badge(call)

    @admin.display(description="outcome")
    def outcome(self, call):
        return call_outcome(call)

    @admin.display(description="payload")
    def payload_pretty(self, call):
        return pretty_json(call.payload)

    @admin.display(description="response")
    def response_pretty(self, call):
        return pretty_json(call.response)

    @admin.display(description="error details")
    def error_details_pretty(self, call):
        return pretty_json(call.error_details) if call.error_details else "—"

    @admin.display(description="context")
    def context_pretty(self, call):
        return pretty_json(call.context) if call.context else "—"

    @admin.display(description="led to")
    def led_to(self, call):
        """The transaction a RemoteStartTransaction started, once the station reported it."""
        if call.action != "RemoteStartTransaction":
            return "—"
        from transactions.models import Transaction

        started = Transaction.objects.filter(remote_start_call_id=call.pk).first()
        if started is None:
            return "no transaction started yet"
        return admin_link("transaction", started.pk, f"transaction #{started.pk}", app_label="transactions")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            in_flight = any(not call.finished for call in response.context_data["cl"].result_list)
            response.context_data["refresh_seconds"] = CALL_REFRESH_SECONDS if in_flight else None
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        call = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        extra["refresh_seconds"] = CALL_REFRESH_SECONDS if call is not None and not call.finished else None
        return super().change_view(request, object_id, form_url, extra_context=extra)


# --- Message log ----------------------------------------------------------------------------------------------


class MessageTypeFilter(admin.SimpleListFilter):
    title = "message type"
    parameter_name = "message_type"

    def lookups(self, request, model_admin):
        return [(str(number), name) for number, name in MESSAGE_TYPES.items()]

    def queryset(self, request, queryset):
        return queryset.filter(message_type=int(self.value())) if self.value() in ("2", "3", "4") else queryset


@admin.register(MessageLog)
class MessageLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "station_id_link", "arrow", "kind", "action", "message_id", "excerpt"]
    list_display_links = ["created_at"]
    list_filter = [StationFilter, "direction", OcppActionFilter, MessageTypeFilter]
    search_fields = ["=message_id"]
    search_help_text = "Exact OCPP message id"
    date_hierarchy = "created_at"
    # Counting a table of millions of frames on every page costs more than it tells.
    show_full_result_count = False
    fields = ["created_at", "station_id_link", "direction", "kind", "action", "message_id", "frame_pretty"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False  # the retention job prunes it

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, frame):
        return station_link(frame.station_id)

    @admin.display(description="dir", ordering="direction")
    def arrow(self, frame):
        return "→ CSMS" if frame.direction == Direction.IN else "→ station"

    @admin.display(description="type", ordering="message_type")
    def kind(self, frame):
        return MESSAGE_TYPES.get(frame.message_type, "?")

    @admin.display(description="frame")
    def excerpt(self, frame):
        return format_html("<code>{}</code>", Truncator(frame.frame).chars(120))

    @admin.display(description="frame")
    def frame_pretty(self, frame):
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', pretty_frame(frame.frame))


# --- Station state and history ------------------------------------------------------------------------------


@admin.register(Connector)
class ConnectorAdmin(ReadOnlyAdmin):
    list_display = ["station_id_link", "connector_id", "state", "info", "vendor_error_code", "status_timestamp", "updated_at"]
    list_filter = [StationFilter, "status", ErrorCodeFilter]
    search_fields = ["=station__id"]
    list_display_links = ["connector_id"]

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, connector):
        return station_link(connector.station_id)

    @admin.display(description="status", ordering="status")
    def state(self, connector):
        return connector_badge(connector.status, connector.error_code)


@admin.register(StatusNotificationRecord)
class StatusNotificationRecordAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "station_id_link", "connector_id", "state", "info", "vendor_id",
                    "vendor_error_code", "timestamp"]
    list_display_links = ["received_at"]
    list_filter = [StationFilter, "status", ErrorCodeFilter]
    search_fields = ["=station__id"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, record):
        return station_link(record.station_id)

    @admin.display(description="status", ordering="status")
    def state(self, record):
        return connector_badge(record.status, record.error_code)


@admin.register(ConfigurationKey)
class ConfigurationKeyAdmin(ReadOnlyAdmin):
    """As last read from the station; change a key with the stations' "Change a configuration key" action."""

    list_display = ["station_id_link", "key", "value", "readonly", "known", "updated_at"]
    list_display_links = ["key"]
    list_filter = [StationFilter, "readonly", "known"]
    search_fields = ["key", "=station__id"]

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, key):
        return station_link(key.station_id)


@admin.register(DataTransferRecord)
class DataTransferRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "station_id_link", "direction", "vendor_id", "message_id", "status", "data_excerpt"]
    list_display_links = ["created_at"]
    list_filter = [StationFilter, "direction", "status"]
    search_fields = ["vendor_id", "message_id", "=station__id"]
    date_hierarchy = "created_at"

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, record):
        return station_link(record.station_id)

    @admin.display(description="data")
    def data_excerpt(self, record):
        return Truncator(record.data or "").chars(80)


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "station_id_link", "type", "tech_info", "received_at"]
    list_display_links = ["timestamp"]
    list_filter = [StationFilter, "type"]
    search_fields = ["type", "=station__id"]
    date_hierarchy = "timestamp"

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, event):
        return station_link(event.station_id)


@admin.register(ProcessedCall)
class ProcessedCallAdmin(ReadOnlyAdmin):
    """The answers kept so that a Call a station retries is answered, not processed, again."""

    list_display = ["created_at", "station_id_link", "action", "message_id"]
    list_display_links = ["created_at"]
    list_filter = [StationFilter, OcppActionFilter]
    search_fields = ["=message_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["created_at", "station_id_link", "action", "message_id", "payload_digest", "response_pretty"]
    readonly_fields = fields

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, record):
        return station_link(record.station_id)

    @admin.display(description="response")
    def response_pretty(self, record):
        return pretty_json(record.response)


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ["name", "alive", "station_count", "started_at", "last_seen"]

    @admin.display(description="alive", boolean=True)
    def alive(self, node):
        return node.last_seen >= timezone.now() - timedelta(seconds=settings.CSMS_NODE_TIMEOUT)

    @admin.display(description="stations online")
    def station_count(self, node):
        count = ChargeStation.objects.filter(node=node.name, online=True).count()
        return format_html('<a href="{}">{}</a>', changelist_url("chargestation", node=node.name, online__exact="1"), count)

