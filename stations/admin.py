from django.contrib import admin

from .models import (
    Call,
    ChargeStation,
    ConfigurationKey,
    Connector,
    DataTransferRecord,
    MessageLog,
    Node,
    SecurityEvent,
    StatusNotificationRecord,
)


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    readonly_fields = ["connector_id", "status", "error_code", "info", "vendor_id", "vendor_error_code", "status_timestamp", "updated_at"]
    can_delete = False


@admin.register(ChargeStation)
class ChargeStationAdmin(admin.ModelAdmin):
    list_display = ["id", "registration_status", "online", "vendor", "model", "firmware_version", "last_heartbeat", "last_seen", "node"]
    list_filter = ["online", "registration_status", "security_profile", "vendor", "model"]
    search_fields = ["id", "vendor", "model", "serial_number", "description"]
    inlines = [ConnectorInline]


for model in (Connector, StatusNotificationRecord, ConfigurationKey, MessageLog, DataTransferRecord, SecurityEvent, Node, Call):
    admin.site.register(model)
