"""Partner REST API for reservations: views are one call into a service."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from csms.api.permissions import SENDING_VIEW_PERMISSIONS
from csms.api.waiting import parse_wait, wait_for_call
from stations.models import Connector
from stations.selectors import stations_visible_to
from transactions.selectors import id_tags_visible_to
from transactions.models import IdTag

from . import services
from .models import ACTIVE_STATUSES, Reservation, ReservationStatus
from .selectors import connector_status, reservations_visible_to

WAIT_PARAMETER = OpenApiParameter("wait", float, description="seconds to wait for the station's answer (max 30)")


class ReservationSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    active = serializers.BooleanField(read_only=True)
    connector_status = serializers.SerializerMethodField(help_text="The connector's state as last reported.")

    class Meta:
        model = Reservation
        fields = ["id", "station", "connector_id", "id_tag", "parent_id_tag", "expiry_date", "status", "active",
                  "detail", "connector_status", "transaction", "reserve_call", "cancel_call", "source",
                  "created_at", "updated_at", "ended_at"]
        read_only_fields = fields

    def get_connector_status(self, reservation: Reservation) -> str:
        annotated = getattr(reservation, "current_connector_status", None)
        if annotated is not None:
            return annotated
        return connector_status(station_id=reservation.station_id, connector_id=reservation.connector_id)


class ReservationCreateSerializer(serializers.Serializer):
    station = serializers.CharField(max_length=128, help_text="chargeBoxId")
    connector_id = serializers.IntegerField(min_value=0, help_text="0: any connector (if the station supports it)")
    id_tag = serializers.CharField(max_length=20)
    expiry_date = serializers.DateTimeField()
    id = serializers.IntegerField(
        required=False, min_value=1, help_text="Optional: an active reservation of this station to replace under the same id."
    )


class ReservationFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="station_id")
    status = filters.MultipleChoiceFilter(choices=ReservationStatus.choices)
    active = filters.BooleanFilter(method="filter_active")

    class Meta:
        model = Reservation
        fields = ["station", "status", "connector_id", "id_tag", "active"]

    def filter_active(self, queryset, name, value):
        return queryset.filter(status__in=ACTIVE_STATUSES) if value else queryset.exclude(status__in=ACTIVE_STATUSES)


class ReservationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = SENDING_VIEW_PERMISSIONS
    call_actions = {"create", "cancel"}  # the others send nothing
    queryset = Reservation.objects.none()  # for the schema; requests use get_queryset
    serializer_class = ReservationSerializer
    filterset_class = ReservationFilter

    def get_queryset(self):
        status_now = Connector.objects.filter(station_id=OuterRef("station_id"), connector_id=OuterRef("connector_id"))
        return reservations_visible_to(self.request.user).annotate(
            current_connector_status=Subquery(status_now.values("status")[:1])
        )

    @extend_schema(request=ReservationCreateSerializer, responses={201: ReservationSerializer}, parameters=[WAIT_PARAMETER])
    def create(self, request):
        """Send ReserveNow; answers 201 with the reservation (`requested` until the station answers)."""
        wait = parse_wait(request)
        body = ReservationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        station = get_object_or_404(stations_visible_to(request.user), pk=data["station"])
        self._check_tag(data["id_tag"])
        reservation = services.reservation_create(
            station=station, connector_id=data["connector_id"], id_tag=data["id_tag"],
            expiry_date=data["expiry_date"], requested_by=request.user, source="api", reservation_id=data.get("id"),
        )
        if wait:
            wait_for_call(reservation.reserve_call, wait)
            reservation.refresh_from_db()
        return Response(ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)

    def _check_tag(self, id_tag: str) -> None:
        """A tag of another partner is as unknown as a station of another partner."""
        if IdTag.objects.filter(id_tag__iexact=id_tag).exists() and not id_tags_visible_to(self.request.user).filter(id_tag__iexact=id_tag).exists():
            raise NotFound(f"id tag {id_tag} not found")

    @extend_schema(request=None, responses={202: ReservationSerializer, 200: ReservationSerializer}, parameters=[WAIT_PARAMETER])
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Send CancelReservation; the reservation becomes `cancelled` once the station accepts."""
        wait = parse_wait(request)
        reservation = get_object_or_404(self.get_queryset(), pk=pk)
        reservation = services.reservation_cancel(reservation=reservation, requested_by=request.user, source="api")
        finished = False
        if wait:
            finished = wait_for_call(reservation.cancel_call, wait).finished
            reservation.refresh_from_db()
        code = status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED
        return Response(ReservationSerializer(reservation).data, status=code)
