"""Reservations per station and connector; creating one sends ReserveNow, cancelling sends
CancelReservation. Admin code is one call into a service; sending needs the permission to send
Calls like every admin Call (csms/admin/actions.py, docs/adr/0010-admin-call-actions.md)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.urls import path
from django.utils.html import format_html

from csms.admin.actions import AdminAction, AdminActionsMixin, admin_action, each_call
from csms.admin.filters import StationFilter
from csms.admin.presentation import GREEN, GREY, ORANGE, PURPLE, RED, badge, call_link
from csms.admin.records import StationColumnMixin
from csms.errors import DomainError
from stations.models import Connector
from stations.presentation import connector_badge

from . import services
from .models import Reservation, ReservationStatus

EDITABLE = ["station", "connector_id", "id_tag", "expiry_date"]
SHOWN = ["station", "connector_id", "connector_state", "id_tag", "parent_id_tag", "expiry_date", "status", "detail",
         "transaction", "reserve_call", "cancel_call", "source", "requested_by", "created_at", "updated_at", "ended_at"]
STATUS_COLOURS = {
    ReservationStatus.REQUESTED: GREY, ReservationStatus.ACCEPTED: PURPLE, ReservationStatus.USED: GREEN,
    ReservationStatus.CANCELLED: GREY, ReservationStatus.EXPIRED: GREY, ReservationStatus.FAILED: RED,
}


CANCEL = AdminAction(
    name="cancel_reservations", description="Cancel selected reservations (CancelReservation)",
    permissions=("change", "send_call"), applies=lambda reservation: reservation.active,
    run=each_call(label=lambda reservation, data: f"Reservation {reservation.pk}", told="{label}: {call} sent.",
                  send=lambda reservation, data, user: services.reservation_cancel(
                      reservation=reservation, requested_by=user, source="admin").cancel_call))


class ReservationForm(forms.ModelForm):
    """Refuses up front what the service would refuse, so the operator sees it on the form."""

    class Meta:
        model = Reservation
        fields = EDITABLE

    def clean(self):
        data = super().clean()
        if self.errors or (self.instance.pk and not self.changed_data):
            return data

        def value(name: str):  # fields read-only on this page keep the reservation's own value
            return data[name] if name in data else getattr(self.instance, name)

        station = value("station")
        try:
            services.reservation_validate(
                station=station, connector_id=value("connector_id"), id_tag=value("id_tag"),
                expiry_date=value("expiry_date"), replacing=self.instance.pk,
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        if not station.online:
            raise forms.ValidationError(f"station {station.pk} is not connected")
        return data


@admin.register(Reservation)
class ReservationAdmin(StationColumnMixin, AdminActionsMixin, admin.ModelAdmin):
    form = ReservationForm
    list_display = ["id", "station_id_link", "connector_id", "connector_state", "id_tag", "expiry_date", "status_badge",
                    "detail", "created_at"]
    list_filter = ["status", StationFilter, "connector_id", "source"]
    search_fields = ["=id", "id_tag", "=station__id"]
    ordering = ["station_id", "connector_id", "-created_at"]
    autocomplete_fields = ["station"]
    object_actions = [CANCEL]
    actions = [admin_action(CANCEL)]

    def get_queryset(self, request):
        state = Connector.objects.filter(station_id=OuterRef("station_id"), connector_id=OuterRef("connector_id"))
        return super().get_queryset(request).annotate(current_connector_status=Subquery(state.values("status")[:1]))

    @admin.display(description="status", ordering="status")
    def status_badge(self, reservation: Reservation):
        return badge(reservation.status, STATUS_COLOURS.get(reservation.status, ORANGE))

    @admin.display(description="connector now")
    def connector_state(self, reservation: Reservation):
        status = getattr(reservation, "current_connector_status", None)
        if status is None:
            status = Connector.objects.filter(
                station_id=reservation.station_id, connector_id=reservation.connector_id
            ).values_list("status", flat=True).first()
        return connector_badge(status or "")

    def get_fields(self, request, obj=None):
        return EDITABLE if obj is None else SHOWN

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # An active reservation may be changed: the new one replaces it under the same id.
        editable = ["connector_id", "id_tag", "expiry_date"] if obj.active and self.has_send_call_permission(request) else []
        return [name for name in SHOWN if name not in editable]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self.has_send_call_permission(request)

    def save_model(self, request, obj, form, change):
        if change and not form.changed_data:
            return  # nothing to send: an ended reservation, or an unchanged one
        reservation = services.reservation_create(
            station=obj.station, connector_id=obj.connector_id, id_tag=obj.id_tag, expiry_date=obj.expiry_date,
            requested_by=request.user, source="admin", reservation_id=obj.pk if change else None,
        )
        obj.pk = reservation.pk
        obj._state.adding = False
        obj.refresh_from_db()
        self.message_user(request, format_html(
            "Reservation {} sent to {}: {}; its status follows the station's answer.",
            reservation.pk, reservation.station_id, call_link(reservation.reserve_call_id, f"ReserveNow #{reservation.reserve_call_id}")),
            messages.SUCCESS)

    def get_urls(self):
        # The cancel button on a reservation's page (its template) posts here.
        cancel = path("<int:object_id>/cancel/", self.admin_site.admin_view(self.object_action_view),
                      {"action_name": CANCEL.name}, name="reservations_reservation_cancel")
        return [cancel, *super().get_urls()]

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_send"] = self.has_action_permission(request, CANCEL)
        return super().render_change_form(request, context, *args, **kwargs)
