"""Partner REST API for stations, their configuration and CSMS-initiated calls."""

from __future__ import annotations

from django.db import transaction
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from csms.api.calls import CallSerializer, respond_with_call
from csms.api.permissions import SENDING_VIEW_PERMISSIONS
from csms.api.waiting import parse_wait
from csms.errors import Forbidden, Invalid
from csms.ocpp import calls
from csms.ocpp.models import Call
from csms.ocpp.permissions import require_send_calls
from partners.selectors import is_staff, partner_of
from tariffs.models import Tariff
from tariffs.selectors import station_tariff_id
from tariffs.services import tariff_assign

from . import services
from .location import CONNECTOR_SPEC_FIELDS, STATION_LOCATION_FIELDS
from .models import (
    ChargeStation,
    ConfigurationKey,
    Connector,
    FailedAuthentication,
    RegistrationStatus,
    SecurityEvent,
)
from .selectors import station_for, stations_visible_to


# --- Stations -----------------------------------------------------------------------------------


class ConnectorSerializer(serializers.ModelSerializer):
    """A connector as it reports itself (read-only) and what it is (standard, format... staff set them
    through the station's `connectors`: only the connectors listed change, and a connector the
    station has not reported yet is added)."""

    class Meta:
        model = Connector
        fields = ["connector_id", "status", "error_code", "info", "vendor_id", "vendor_error_code", "status_timestamp",
                  "updated_at", *CONNECTOR_SPEC_FIELDS]
        read_only_fields = ["status", "error_code", "info", "vendor_id", "vendor_error_code", "status_timestamp",
                            "updated_at"]
        extra_kwargs = {"connector_id": {"min_value": 1}}


class StationTariffField(serializers.PrimaryKeyRelatedField):
    """The tariff assigned to the station as a whole (null: its partner's or the default applies)."""

    def get_attribute(self, station):
        return station_tariff_id(station)

    def to_representation(self, value):
        return value


class StationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(max_length=128)
    tariff = StationTariffField(queryset=Tariff.objects.all(), allow_null=True, required=False,
                                help_text="Tariff id for this station's sessions (staff); null: the partner's or "
                                          "the default tariff.")
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=64,
        help_text=f"{services.PASSWORD_RULE} \"{services.GENERATE_PASSWORD}\": the CSMS generates a strong one and "
                  "answers it once, in this field of the response. Empty removes it (profiles 0 and 3).")
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    connectors = ConnectorSerializer(many=True, required=False)
    registration_status = serializers.ChoiceField(choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED)
    security_profile = serializers.IntegerField(min_value=0, max_value=3, default=0)

    class Meta:
        model = ChargeStation
        fields = [
            "id", "partner", "description", "security_profile", "password", "registration_status",
            "file_transfer_protocol", "online", "node", "last_seen", "connected_at", "disconnected_at",
            "vendor", "model", "serial_number", "charge_box_serial_number", "firmware_version",
            "iccid", "imsi", "meter_type", "meter_serial_number", "last_boot_at", "last_heartbeat",
            "reset_required", "connectors", "tariff", *STATION_LOCATION_FIELDS, "created_at", "updated_at",
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
    def validate_tariff(self, value):
        if not is_staff(self.context["request"].user):
            raise Forbidden("Only staff choose a station's tariff.")
        return value

    def validate(self, attrs):
        # Where a station is and what its connectors are is published to roaming partners: staff set it.
        roaming = [name for name in (*STATION_LOCATION_FIELDS, "connectors") if name in attrs]
        if roaming and not is_staff(self.context["request"].user):
            raise Forbidden(f"Only staff set a station's location and connectors ({', '.join(roaming)}).")
        for item in attrs.get("connectors", []):
            if "connector_id" not in item:
                raise Invalid("connectors: each entry names its connector_id", details={"field": "connectors"})
        return attrs

    @staticmethod
    def _roaming_data(validated_data: dict) -> tuple[dict, list[dict]]:
        location = {name: validated_data.pop(name) for name in STATION_LOCATION_FIELDS if name in validated_data}
        return location, validated_data.pop("connectors", [])

    @staticmethod
    def _connectors_set(station, connectors: list[dict]) -> None:
        for item in connectors:
            values = dict(item)
            connector_id = values.pop("connector_id")
            try:
                services.connector_specs_set(station=station, connector_id=connector_id, values=values)
            except Invalid as exc:
                raise Invalid(f"connector {connector_id}: {exc.message}", details={
                    "field": f"connectors.{exc.details.get('field', '')}".rstrip("."), "connector_id": connector_id})

    @transaction.atomic
    def create(self, validated_data):
        tariff = validated_data.pop("tariff", None)
        location, connectors = self._roaming_data(validated_data)
        generated = self._generate_password(validated_data)
        station = services.station_create(charge_box_id=validated_data.pop("id"),
                                          partner=partner_of(self.context["request"].user), location=location,
                                          **validated_data)
        self._connectors_set(station, connectors)
        if tariff is not None:
            tariff_assign(tariff=tariff, station_id=station.pk)
        station.generated_password = generated
        return station

    @transaction.atomic
    def update(self, instance, validated_data):
        validated_data.pop("id", None)
        request = self.context["request"]
        if services.station_update_sends_call(station=instance, registration_status=validated_data.get("registration_status")):
            require_send_calls(request.user, instance)
        choose_tariff = "tariff" in validated_data
        tariff = validated_data.pop("tariff", None)
        location, connectors = self._roaming_data(validated_data)
        generated = self._generate_password(validated_data)
        station = services.station_update(station=instance, **validated_data, location=location,
                                          requested_by=request.user, source="api").station
        self._connectors_set(station, connectors)
        if choose_tariff:
            tariff_assign(tariff=tariff, station_id=station.pk)
        station.generated_password = generated
        return station

    @staticmethod
    def _generate_password(validated_data: dict) -> str | None:
        if validated_data.get("password") != services.GENERATE_PASSWORD:
            return None
        validated_data["password"] = services.station_password_generate()
        return validated_data["password"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if getattr(instance, "generated_password", None):
            data["password"] = instance.generated_password  # shown this once; only its hash is stored
        return data


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
        return (stations_visible_to(self.request.user).prefetch_related("connectors", "tariff_assignments")
                .select_related("partner"))

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
        fields = ["id", "type", "timestamp", "tech_info", "critical", "received_at"]


class SecurityEventQuerySerializer(serializers.Serializer):
    critical = serializers.BooleanField(required=False, allow_null=True, default=None)


class StationSecurityEventsView(APIView):
    @extend_schema(responses=SecurityEventSerializer(many=True), parameters=[
        OpenApiParameter("critical", bool, description="only critical (true) or non-critical (false) events")])
    def get(self, request, station_id: str):
        """The station's latest 1000 security events, newest first."""
        station = station_for(request.user, station_id)
        query = SecurityEventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = SecurityEvent.objects.filter(station=station)
        if query.validated_data["critical"] is not None:
            events = events.filter(critical=query.validated_data["critical"])
        events = events.order_by("-timestamp", "-id")[:1000]
        return Response(SecurityEventSerializer(events, many=True).data)


class FailedAuthenticationSerializer(serializers.ModelSerializer):
    class Meta:
        model = FailedAuthentication
        fields = ["id", "occurred_at", "remote_address", "security_profile", "reason"]


class StationFailedAuthenticationsView(APIView):
    @extend_schema(responses=FailedAuthenticationSerializer(many=True))
    def get(self, request, station_id: str):
        """Handshakes refused for bad credentials (HTTP 401), newest first (at most 1000)."""
        station = station_for(request.user, station_id)
        rows = FailedAuthentication.objects.filter(station=station).order_by("-occurred_at", "-id")[:1000]
        return Response(FailedAuthenticationSerializer(rows, many=True).data)


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
    permission_classes = SENDING_VIEW_PERMISSIONS
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
