"""Alerts in the operator's console: the open ones first, acknowledged with one action."""

from django.contrib import admin, messages

from csms.admin.filters import StationFilter
from csms.admin.presentation import GREY, ORANGE, RED, badge, plural
from csms.admin.records import StationColumnMixin

from . import services
from .models import Alert, Severity

SEVERITY_COLOURS = {Severity.CRITICAL: RED, Severity.WARNING: ORANGE, Severity.INFO: GREY}


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("acknowledged", "acknowledged"), ("resolved", "resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(acknowledged_at__isnull=True, resolved_at__isnull=True)
        if self.value() == "acknowledged":
            return queryset.filter(acknowledged_at__isnull=False)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(StationColumnMixin, admin.ModelAdmin):
    list_display = ["raised_at", "severity_badge", "kind", "station_id_link", "message", "occurrences",
                    "last_seen_at", "acknowledged_at", "resolved_at"]
    list_display_links = ["raised_at"]
    list_filter = [OpenFilter, "severity", "kind", StationFilter]
    search_fields = ["message", "=station__id"]
    date_hierarchy = "raised_at"
    actions = ["acknowledge"]
    readonly_fields = [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, alert):
        return badge(alert.severity, SEVERITY_COLOURS.get(alert.severity, GREY))

    @admin.action(description="Acknowledge", permissions=["change"])
    def acknowledge(self, request, queryset):
        count = 0
        for alert in queryset.filter(acknowledged_at__isnull=True):
            services.alert_acknowledge(alert=alert, user=request.user)
            count += 1
        self.message_user(request, f"{plural(count, 'alert')} acknowledged.", messages.SUCCESS)
