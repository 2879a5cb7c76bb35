"""Partner REST API for stations, their configuration and CSMS-initiated calls."""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.services import partner_of

from . import calls, services
from .models import Call, ChargeStation, ConfigurationKey, Connector, RegistrationStatus, SecurityEvent

MAX_WAIT_SECONDS = 30


# --- Scoping: a partner user sees only its partner's stations ------------------------------------


def stations_visible_to(user):
    queryset = ChargeStation.objects.all()
    if user.is_staff or user.is_superuser:
        return queryset
    partner = partner_of(user)
    return queryset.filter(partner=partner) if partner else queryset.none()


def station_for(request, station_id: str) -> ChargeStation:
    return get_object_or_404(stations_visible_to(request.user), pk=station_id)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."


def raise_refused(exc: calls.CallRefused):
    if exc.status == 409:
        raise Conflict(exc.reason)
    raise serializers.ValidationError({"detail": exc.reason, **({"details": exc.details} if exc.details else {})})


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
            "online", "node", "last_seen", "connected_at", "disconnected_at",
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
        if not value.strip() or "/" in value or any(ord(c) < 32 for c in value):
            raise serializers.ValidationError("chargeBoxId must be non-empty, without '/' or control characters")
        if self.instance is None and ChargeStation.objects.filter(pk=value).exists():
            raise serializers.ValidationError("a station with this chargeBoxId already exists")
        return value

    def validate(self, attrs):
        profile = attrs.get("security_profile", getattr(self.instance, "security_profile", 0))
        has_password = bool(attrs.get("password")) or bool(self.instance and self.instance.password_hash and "password" not in attrs)
        if profile in (1, 2) and not has_password:
            raise serializers.ValidationError({"password": "security profiles 1 and 2 need a password"})
        return attrs

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        station = ChargeStation(**validated_data)
        station.set_password(password)
        station.partner = partner_of(self.context["request"].user)
        station.save()
        return station

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if password is not None:
            instance.set_password(password)
        instance.save()
        services.station_notify_changed(station_id=instance.pk)
        return instance


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
        station = station_for(request, station_id)
        keys = ConfigurationKey.objects.filter(station=station).order_by("key")
        return Response(ConfigurationKeySerializer(keys, many=True).data)


class SecurityEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = ["id", "type", "timestamp", "tech_info", "received_at"]


class StationSecurityEventsView(APIView):
    @extend_schema(responses=SecurityEventSerializer(many=True))
    def get(self, request, station_id: str):
        station = station_for(request, station_id)
        events = SecurityEvent.objects.filter(station=station).order_by("-timestamp", "-id")[:1000]
        return Response(SecurityEventSerializer(events, many=True).data)


# --- Calls ------------------------------------------------------------------------------------------


class CallErrorField(serializers.Field):
    def to_representation(self, call: Call):
        if not call.error_code:
            return None
        return {"code": call.error_code, "description": call.error_description, "details": call.error_details or {}}


class CallSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    error = CallErrorField(source="*", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Call
        fields = ["id", "station", "action", "payload", "status", "response", "error", "source", "requested_by",
                  "context", "created_at", "sent_at", "completed_at"]


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


def poll_until(done, seconds: float) -> bool:
    """Poll `done()` until it is true or `seconds` pass; works whichever node holds the station.

    Between polls the request's database connection goes back to the pool, so that partners
    waiting on slow stations never starve the station path of connections.
    """
    deadline = time.monotonic() + seconds
    delay = 0.01  # most answers come within tens of milliseconds; back off from there
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if not connection.in_atomic_block:
            connection.close()
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.5)
    return True


def wait_for_call(call: Call, seconds: float) -> Call:
    def finished() -> bool:
        call.refresh_from_db()
        return call.finished

    if not call.finished:
        poll_until(finished, seconds)
    return call


def parse_wait(request) -> float:
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return 0
    try:
        value = float(raw)
    except ValueError:
        raise serializers.ValidationError({"wait": "must be a number of seconds"}) from None
    if value < 0:
        raise serializers.ValidationError({"wait": "must not be negative"})
    return min(value, MAX_WAIT_SECONDS)


def respond_with_call(request, call: Call, serializer_class=CallSerializer) -> Response:
    """202 with the call as it stands, or, with ?wait=N, 200 once it has finished within N s."""
    wait = parse_wait(request)
    if wait:
        call = wait_for_call(call, wait)
    code = status.HTTP_200_OK if call.finished and wait else status.HTTP_202_ACCEPTED
    return Response(serializer_class(call).data, status=code)


def command_response(request, send) -> Response:
    """Run a service that sends one call: refusals become 400/409, the call is answered as the calls
    API answers (202, or 200 once finished with ?wait=N)."""
    parse_wait(request)  # refuse a bad ?wait before sending anything
    try:
        call = send()
    except calls.CallRefused as exc:
        raise_refused(exc)
    return respond_with_call(request, call)


class StationCallsView(APIView):
    @extend_schema(
        request=CallRequestSerializer,
        responses={202: CallSerializer, 200: CallSerializer},
        parameters=[OpenApiParameter("wait", float, description="seconds to wait for the result (max 30)")],
    )
    def post(self, request, station_id: str):
        station = station_for(request, station_id)
        parse_wait(request)  # refuse a bad ?wait before sending anything
        body = CallRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                call = calls.call_enqueue(
                    station=station,
                    action=body.validated_data["action"],
                    payload=body.validated_data["payload"],
                    requested_by=request.user,
                    source="api",
                )
        except calls.CallRefused as exc:
            raise_refused(exc)
        return respond_with_call(request, call)
