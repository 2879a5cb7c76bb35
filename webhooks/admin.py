"""Webhooks in the operator's console: endpoints (the secret shown once), deliveries with every
attempt, redelivery and a ping."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from csms.admin.presentation import GREEN, GREY, ORANGE, RED, badge, changelist_url, pretty_json
from csms.admin.records import ReadOnlyAdmin
from csms.errors import DomainError

from . import services
from .models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint

DELIVERY_COLOURS = {DeliveryStatus.PENDING: ORANGE, DeliveryStatus.DELIVERED: GREEN, DeliveryStatus.FAILED: RED}


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    secret = forms.CharField(required=False, min_length=16, max_length=128,
                             help_text="Signs every delivery. Empty: one is generated and shown once after saving.")

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "events", "description", "active"]

    def clean_url(self):
        return self._checked(services.url_validate, self.cleaned_data["url"])

    def clean_events(self):
        return self._checked(services.events_validate, list(self.cleaned_data["events"]))

    @staticmethod
    def _checked(rule, value):
        try:
            return rule(value)
        except DomainError as exc:
            raise forms.ValidationError(exc.message.split(": ", 1)[-1]) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["id", "url", "partner_name", "event_list", "state", "failing_since", "deliveries_link"]
    list_filter = ["active", "partner"]
    search_fields = ["url", "description", "partner__name"]
    readonly_fields = ["failing_since", "disabled_at", "disabled_reason", "created_by", "created_at", "updated_at"]
    actions = ["send_ping", "enable", "disable"]

    def get_fields(self, request, obj=None):
        fields = ["partner", "url", "events", "description", "active"]
        return (["secret"] + fields if obj is None else fields) + self.readonly_fields

    @admin.display(description="partner")
    def partner_name(self, endpoint):
        return endpoint.partner.name if endpoint.partner_id else badge("staff: every event", GREY)

    @admin.display(description="events")
    def event_list(self, endpoint):
        return ", ".join(endpoint.events)

    @admin.display(description="state", ordering="active")
    def state(self, endpoint):
        if not endpoint.active:
            return badge("disabled", RED if endpoint.disabled_at else GREY)
        return badge("failing", ORANGE) if endpoint.failing_since else badge("active", GREEN)

    @admin.display(description="deliveries")
    def deliveries_link(self, endpoint):
        return format_html('<a href="{}">deliveries</a>',
                           changelist_url("webhookdelivery", app_label="webhooks", endpoint__id__exact=endpoint.pk))

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.endpoint_update(endpoint=obj, url=data["url"], events=data["events"],
                                     description=data["description"], active=data["active"], partner=data["partner"])
            return
        endpoint, secret = services.endpoint_create(url=data["url"], events=data["events"], partner=data["partner"],
                                                    secret=data.get("secret") or None, description=data["description"],
                                                    active=data["active"], created_by=request.user)
        obj.pk, obj.created_at, obj.updated_at = endpoint.pk, endpoint.created_at, endpoint.updated_at
        obj._state.adding = False
        if not data.get("secret"):
            self.message_user(request, f"The endpoint's secret, shown this once: {secret}", messages.WARNING)

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint)

    @admin.action(description="Send a ping to the selected endpoints", permissions=["change"])
    def send_ping(self, request, queryset):
        sent = 0
        for endpoint in queryset:
            try:
                services.endpoint_ping(endpoint=endpoint)
                sent += 1
            except DomainError as exc:
                self.message_user(request, f"{endpoint}: {exc.message}", messages.ERROR)
        if sent:
            self.message_user(request, f"Ping queued for {sent} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Enable the selected endpoints", permissions=["change"])
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_update(endpoint=endpoint, active=True)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Disable the selected endpoints", permissions=["change"])
    def disable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_update(endpoint=endpoint, active=False)
        self.message_user(request, f"Disabled {queryset.count()} endpoint(s).", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "endpoint", "event", "status_badge", "attempts", "last_status_code",
                    "last_error", "next_attempt_at"]
    list_filter = ["status", "event", "endpoint"]
    search_fields = ["=uuid"]
    date_hierarchy = "created_at"
    list_select_related = ["endpoint"]
    fields = ["uuid", "endpoint", "event", "status_badge", "occurred_at", "created_at", "attempts", "next_attempt_at",
              "delivered_at", "redelivery_of", "payload_pretty", "attempt_table"]
    readonly_fields = fields
    actions = ["redeliver"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery):
        return badge(delivery.status, DELIVERY_COLOURS.get(delivery.status, GREY))

    @admin.display(description="data")
    def payload_pretty(self, delivery):
        return pretty_json(delivery.payload)

    @admin.display(description="attempts")
    def attempt_table(self, delivery):
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td><td><code>{}</code></td></tr>", (
            (a.number, a.attempted_at, a.status_code or "—", a.latency_ms, a.error or "ok", a.response_excerpt[:200])
            for a in delivery.attempt_log.all()))
        return format_html("<table><tr><th>#</th><th>at</th><th>HTTP</th><th>latency</th><th>outcome</th>"
                           "<th>response</th></tr>{}</table>", rows) if rows else "—"

    def has_redeliver_permission(self, request):
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                services.delivery_redeliver(delivery=delivery)
                sent += 1
            except DomainError as exc:
                self.message_user(request, f"Delivery {delivery.pk}: {exc.message}", messages.ERROR)
        if sent:
            self.message_user(request, f"Queued {sent} redelivery(ies).", messages.SUCCESS)
