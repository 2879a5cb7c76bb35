"""Partner REST API for stations, their configuration and CSMS-initiated calls."""

from __future__ import annotations

from django.db import transaction
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from csms.api.calls import CallSerializer, respond_with_call
from csms.api.waiting import parse_wait
from csms.ocpp import calls
from csms.ocpp.models import Call
from partners.selectors import partner_of

from . import services
from .models import ChargeStation, ConfigurationKey, Connector, RegistrationStatus, SecurityEvent
from .selectors import station_for, stations_visible_to


# --- Stations -----------------------------------------------------------------------------------


class ConnectorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = ["connector_id", "status", "error_code", "info", "vendor_id", "vendor_error_code", "status_timestamp", "updated_at"]


class StationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(max_length=128)
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=64)
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    connectors = ConnectorSerializer(many=True, read_only=True)
    registration_status = serializers.ChoiceField(choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED)
    security_profile = serializers.IntegerField(min_value=0, max_value=3, default=0)

    class Meta:
        model = ChargeStation
        fields = [
            "id", "partner", "description", "security_profile", "password", "registration_status",
            "file_transfer_protocol", "online", "node", "last_seen", "connected_at", "disconnected_at",
            "vendor", "model", "serial_number", "charge_box_serial_number", "firmware_version",
            "iccid", "imsi", "meter_type", "meter_serial_number", "last_boot_at", "last_heartbeat",
            "reset_required", "connectors", "created_at", "updated_at",
        ]
        read_only_fields = [
            "online", "node", "last_seen", "connected_at", "disconnected_at", "vendor", "model", "serial_number",
            "charge_box_serial_number", "firmware_version", "iccid", "imsi", "meter_type", "meter_serial_number",
            "last_boot_at", "last_heartbeat", "reset_required", "created_at", "updated_at",
        ]

    def validate_id(self, value: str) -> str:
        if self.instance is not None and value != self.instance.pk:
            raise serializers.ValidationError("a station's chargeBoxId cannot change")
        return value

    # The rules (chargeBoxId, password for profiles 1 and 2, registration) are the services'; their
    # refusals (csms.errors.Invalid) answer 400 through csms/api/errors.py.
    def create(self, validated_data):
        return services.station_create(charge_box_id=validated_data.pop("id"),
                                       partner=partner_of(self.context["request"].user), **validated_data)

    def update(self, instance, validated_data):
        validated_data.pop("id", None)
        request = self.context["request"]
        return services.station_update(station=instance, **validated_data, requested_by=request.user,
                                       source="api").station


class StationFilter(filters.FilterSet):
    class Meta:
        model = ChargeStation
        fields = ["online", "registration_status", "vendor", "model"]


class StationViewSet(viewsets.ModelViewSet):
    serializer_class = StationSerializer
    filterset_class = StationFilter
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return stations_visible_to(self.request.user).prefetch_related("connectors").select_related("partner")

    def perform_destroy(self, instance):
        services.station_delete(station=instance)


class ConfigurationKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ConfigurationKey
        fields = ["key", "value", "readonly", "known", "updated_at"]


class StationConfigurationView(APIView):
    @extend_schema(responses=ConfigurationKeySerializer(many=True))
    def get(self, request, station_id: str):
        station = station_for(request.user, station_id)
        keys = ConfigurationKey.objects.filter(station=station).order_by("key")
        return Response(ConfigurationKeySerializer(keys, many=True).data)


class SecurityEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = ["id", "type", "timestamp", "tech_info", "received_at"]


class StationSecurityEventsView(APIView):
    @extend_schema(responses=SecurityEventSerializer(many=True))
    def get(self, request, station_id: str):
        station = station_for(request.user, station_id)
        events = SecurityEvent.objects.filter(station=station).order_by("-timestamp", "-id")[:1000]
        return Response(SecurityEventSerializer(events, many=True).data)


# --- Calls ------------------------------------------------------------------------------------------


class CallRequestSerializer(serializers.Serializer):
    action = serializers.CharField()
    payload = serializers.JSONField(default=dict)


class CallFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="station_id")

    class Meta:
        model = Call
        fields = ["station", "action", "status"]


class CallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CallSerializer
    filterset_class = CallFilter

    def get_queryset(self):
        return Call.objects.filter(station__in=stations_visible_to(self.request.user)).select_related("requested_by")


class StationCallsView(APIView):
    @extend_schema(
        request=CallRequestSerializer,
        responses={202: CallSerializer, 200: CallSerializer},
        parameters=[OpenApiParameter("wait", float, description="seconds to wait for the result (max 30)")],
    )
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        parse_wait(request)  # refuse a bad ?wait before sending anything
        body = CallRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            call = calls.call_enqueue(
                station=station,
                action=body.validated_data["action"],
                payload=body.validated_data["payload"],
                requested_by=request.user,
                source="api",
            )
        return respond_with_call(request, call)
