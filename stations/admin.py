"""The operator's console for stations: state, configuration, calls and the message log.

What stations report (status history, message log, configuration as read, calls) is shown, never
edited: it changes only through the station or through a Call (admin_actions.py).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from csms.admin.actions import SOURCE, AdminActionsMixin, admin_action, station_list_actions
from csms.admin.filters import ErrorCodeFilter, StationFilter
from csms.admin.presentation import (
    MESSAGE_TYPES,
    ORANGE,
    badge,
    call_link,
    call_outcome,
    call_status_badge,
    changelist_url,
    fragment_id,
    live_fragment,
    live_watches,
    online_badge,
    pretty_frame,
    station_link,
)
from csms.admin.records import ConnectionColumnMixin, ReadOnlyAdmin, StationColumnMixin
from csms.ocpp.models import Call, MessageLog
from console.selectors import station_power_now, station_power_series

from . import services
from .admin_actions import ACCEPT_REGISTRATION, REJECT_REGISTRATION, STATION_CALL_ACTIONS
from .forms import ChargeStationAdminForm, ConnectorAdminForm, ConnectorFormSet
from .location import CONNECTOR_SPEC_FIELDS
from .models import (
    FailedAuthentication,
    ChargeStation,
    ConfigurationKey,
    Connector,
    DataTransferRecord,
    Node,
    SecurityEvent,
    StatusNotificationRecord,
)
from .presentation import connector_badge, registration_badge

# --- Charge stations --------------------------------------------------------------------------------


def station_page_context(station: ChargeStation) -> dict:
    """Everything the station's page shows below its form, read in a handful of queries."""
    calls = list(Call.objects.filter(station_id=station.pk).select_related("requested_by")
                 .order_by("-created_at", "-id")[:20])
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
        "live": live_watches(("station", station.pk)),
        "online_badge": online_badge(station.online),
        "power_now": station_power_now(station.pk),
        "power_chart": {"series": {"power": station_power_series(station.pk)}},
        "running_transactions": [tx for tx in station.transactions.filter(stopped_at__isnull=True).order_by("connector_id")],
        "links": {
            "calls": changelist_url("call", app_label="ocpp", station=station.pk),
            "message_log": changelist_url("messagelog", app_label="ocpp", station=station.pk),
            "status_history": changelist_url("statusnotificationrecord", station=station.pk),
            "configuration": changelist_url("configurationkey", station=station.pk),
            "transactions": changelist_url("transaction", app_label="transactions", station=station.pk),
        },
    }


class FaultedFilter(admin.SimpleListFilter):
    title = "faulted"
    parameter_name = "faulted"

    def lookups(self, request, model_admin):
        return [("1", "a connector is Faulted")]

    def queryset(self, request, queryset):
        return queryset.filter(connectors__status="Faulted").distinct() if self.value() == "1" else queryset


class ConnectorInline(admin.TabularInline):
    """What each connector is (for roaming partners); its state stays the station's to report. A
    connector the station has not reported yet may be added (numbered from 1), never removed here."""

    model = Connector
    form = ConnectorAdminForm
    formset = ConnectorFormSet
    fields = ["connector_id", "reported_status", *CONNECTOR_SPEC_FIELDS]
    readonly_fields = ["reported_status"]
    extra = 0
    can_delete = False
    verbose_name = "connector"
    verbose_name_plural = "Connectors (what they are, for roaming)"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(connector_id__gte=1)

    @admin.display(description="status")
    def reported_status(self, connector):
        return connector_badge(connector.status, connector.error_code) if connector.pk else "—"

    # Whoever may change the station describes its connectors (Connector rows are otherwise read-only).
    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("stations.change_chargestation")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("stations.change_chargestation")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChargeStation)
class ChargeStationAdmin(ConnectionColumnMixin, AdminActionsMixin, admin.ModelAdmin):
    form = ChargeStationAdminForm
    object_actions = STATION_CALL_ACTIONS
    inlines = [ConnectorInline]
    own_actions = [admin_action(action) for action in [*STATION_CALL_ACTIONS, ACCEPT_REGISTRATION, REJECT_REGISTRATION]]

    @property
    def actions(self):
        # Other apps add theirs (firmware, diagnostics...) through csms.admin.actions.station_list_action.
        return [*self.own_actions, *station_list_actions()]

    # Few enough columns for a 1,400 px screen: what the station is, in one column.
    list_display = ["station", "state", "connector_states", "hardware", "last_seen", "partner"]
    list_display_links = ["station"]
    list_filter = ["online", FaultedFilter, "registration_status", "reset_required", "security_profile",
                   "file_transfer_protocol", "partner", "vendor"]
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
        ("Security", {"fields": ["security_profile", "password", "generate_password", "clear_password",
                                 "password_set"]}),
        ("File transfers", {"fields": ["file_transfer_protocol"]}),
        ("Location (roaming)", {
            "fields": ["ocpi_publish", "location_name", "address", "postal_code", "city", "state", "country",
                       ("latitude", "longitude"), "time_zone", "parking_type", "facilities", "capabilities",
                       "opening_hours", "physical_reference"],
            "description": "Where the station is, as roaming partners see it (OCPI Locations). A station is "
                           "published only with an address, city, country, coordinates and time zone.",
        }),
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
        if obj is None:
            return self.readonly_fields
        # The chargeBoxId is the primary key: changing it would create another station. Accepting a
        # connected station sends it a Call, which needs the permission to send Calls.
        registration = [] if self.has_send_call_permission(request) else ["registration_status"]
        return ["id", *registration, *self.readonly_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(description="registration", ordering="registration_status")
    def registration(self, station):
        return registration_badge(station.registration_status)

    @admin.display(description="chargeBoxId", ordering="id")
    def station(self, station):
        if not station.description:
            return station.pk
        return format_html('{}<br><span class="quiet">{}</span>', station.pk, Truncator(station.description).chars(60))

    @admin.display(description="state", ordering="online")
    def state(self, station):
        """Connection (live), and the registration and a pending reset when they need attention."""
        parts = [self.connection(station)]
        if station.registration_status != "Accepted":
            parts.append(registration_badge(station.registration_status))
        if station.reset_required:
            parts.append(badge("reset required", ORANGE))
        return format_html_join(" ", "{}", ((part,) for part in parts))

    @admin.display(description="connection", ordering="online")
    def connection(self, station):
        return live_fragment(online_badge(station.online), fragment_id("connection", station.pk), ("station", station.pk))

    @admin.display(description="connectors")
    def connector_states(self, station):
        badges = format_html_join(
            " ", "<span title=\"{}\">{}:&nbsp;{}</span>",
            ((c.info or c.error_code, c.connector_id, connector_badge(c.status, c.error_code)) for c in station.connectors.all()),
        ) or "—"
        return live_fragment(badges, fragment_id("connectors", station.pk), ("station", station.pk))

    @admin.display(description="hardware", ordering="vendor")
    def hardware(self, station):
        if not (station.vendor or station.model):
            return "—"
        firmware = f" · firmware {station.firmware_version}" if station.firmware_version else ""
        return f"{station.vendor} {station.model}{firmware}".strip()

    @admin.display(description="password set", boolean=True)
    def password_set(self, station):
        return bool(station.password_hash)

    def save_model(self, request, obj, form, change):
        # The form has copied its values onto obj; the services write them (read-only fields keep theirs).
        values = {"description": obj.description, "partner": obj.partner, "security_profile": obj.security_profile,
                  "registration_status": obj.registration_status, "password": form.password_change(),
                  "file_transfer_protocol": obj.file_transfer_protocol, "location": form.location_values()}
        if form.generated_password:
            self.message_user(request, format_html(
                "The password generated for {} is <code>{}</code>: set it as the station's AuthorizationKey now; it is "
                "stored only as a hash and shown this once.", obj.pk, form.generated_password), messages.WARNING)
        if not change:
            services.station_create(charge_box_id=obj.pk, **values)
            obj._state.adding = False
            obj.refresh_from_db()
            return
        trigger = services.station_update(station=obj, **values, requested_by=request.user, source=SOURCE).boot_trigger
        if trigger is not None:
            self.message_user(request, format_html("Accepted: asked {} to boot again ({}).", obj.pk,
                                                   call_link(trigger.pk, f"TriggerMessage #{trigger.pk}")),
                              messages.SUCCESS)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Connector:
            return super().save_formset(request, form, formset, change)
        for connector_form in formset.forms:
            if connector_form.has_changed() and connector_form.cleaned_data:
                cleaned = connector_form.cleaned_data
                connector_id = connector_form.instance.connector_id if connector_form.instance.pk else cleaned["connector_id"]
                services.connector_specs_set(station=form.instance, connector_id=connector_id,
                                             values={name: cleaned.get(name) for name in CONNECTOR_SPEC_FIELDS})
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

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
            extra["call_action_links"] = self.object_action_links(request, station)
        return super().change_view(request, object_id, form_url, extra_context=extra)


# --- Station state and history ------------------------------------------------------------------------------


@admin.register(Connector)
class ConnectorAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["station_id_link", "connector_id", "state", "info", "vendor_error_code", "status_timestamp", "updated_at"]
    list_filter = [StationFilter, "status", ErrorCodeFilter]
    search_fields = ["=station__id"]
    list_display_links = ["connector_id"]

    @admin.display(description="status", ordering="status")
    def state(self, connector):
        return connector_badge(connector.status, connector.error_code)


@admin.register(StatusNotificationRecord)
class StatusNotificationRecordAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["received_at", "station_id_link", "connector_id", "state", "info", "vendor_id",
                    "vendor_error_code", "timestamp"]
    list_display_links = ["received_at"]
    list_filter = [StationFilter, "status", ErrorCodeFilter]
    search_fields = ["=station__id"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    @admin.display(description="status", ordering="status")
    def state(self, record):
        return connector_badge(record.status, record.error_code)


@admin.register(ConfigurationKey)
class ConfigurationKeyAdmin(StationColumnMixin, ReadOnlyAdmin):
    """As last read from the station; change a key with the stations' "Change a configuration key" action."""

    list_display = ["station_id_link", "key", "value", "readonly", "known", "updated_at"]
    list_display_links = ["key"]
    list_filter = [StationFilter, "readonly", "known"]
    search_fields = ["key", "=station__id"]


@admin.register(DataTransferRecord)
class DataTransferRecordAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["created_at", "station_id_link", "direction", "vendor_id", "message_id", "status", "data_excerpt"]
    list_display_links = ["created_at"]
    list_filter = [StationFilter, "direction", "status"]
    search_fields = ["vendor_id", "message_id", "=station__id"]
    date_hierarchy = "created_at"

    @admin.display(description="data")
    def data_excerpt(self, record):
        return Truncator(record.data or "").chars(80)


@admin.register(SecurityEvent)
class SecurityEventAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["timestamp", "station_id_link", "type", "critical", "tech_info", "received_at"]
    list_display_links = ["timestamp"]
    list_filter = [StationFilter, "critical", "type"]
    search_fields = ["type", "=station__id"]
    date_hierarchy = "timestamp"


@admin.register(FailedAuthentication)
class FailedAuthenticationAdmin(StationColumnMixin, ReadOnlyAdmin):
    list_display = ["occurred_at", "station_id_link", "remote_address", "security_profile", "reason"]
    list_display_links = ["occurred_at"]
    list_filter = [StationFilter, "security_profile"]
    search_fields = ["=station__id", "remote_address", "reason"]
    date_hierarchy = "occurred_at"


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
