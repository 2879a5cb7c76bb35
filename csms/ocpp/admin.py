"""The OCPP runtime's records in the admin: CSMS Calls, the message log and the answers kept to
recognise retried station Calls. All are records: shown, never edited."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import Truncator

from csms.admin.filters import CsmsActionFilter, OcppActionFilter, StationFilter
from csms.admin.outcomes import call_led_to
from csms.admin.presentation import (
    MESSAGE_TYPES,
    call_outcome,
    call_status_badge,
    live_watches,
    pretty_frame,
    pretty_json,
    station_link,
)
from csms.admin.records import ReadOnlyAdmin, StationColumnMixin

from .models import Call, Direction, MessageLog, ProcessedCall


@admin.register(Call)
class CallAdmin(StationColumnMixin, ReadOnlyAdmin):
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
        """What the call led to, as the app that follows its action tells (csms.admin.outcomes)."""
        return call_led_to(call)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            # The list updates itself (csms.admin.live) as long as a call shown waits for its answer.
            in_flight = [call.pk for call in response.context_data["cl"].result_list if not call.finished]
            response.context_data["live"] = live_watches(*(("call", pk) for pk in in_flight)) if in_flight else None
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        call = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if call is not None:
            # Live until it has finished and, for an action that leads somewhere, beyond (a remote
            # start's transaction arrives after its answer).
            extra["live"] = live_watches(("call", call.pk))
            extra["waiting"] = not call.finished
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
class MessageLogAdmin(StationColumnMixin, ReadOnlyAdmin):
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




@admin.register(ProcessedCall)
class ProcessedCallAdmin(StationColumnMixin, ReadOnlyAdmin):
    """The answers kept so that a Call a station retries is answered, not processed, again."""

    list_display = ["created_at", "station_id_link", "action", "message_id"]
    list_display_links = ["created_at"]
    list_filter = [StationFilter, OcppActionFilter]
    search_fields = ["=message_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["created_at", "station_id_link", "action", "message_id", "payload_digest", "response_pretty"]
    readonly_fields = fields


    @admin.display(description="response")
    def response_pretty(self, record):
        return pretty_json(record.response)
