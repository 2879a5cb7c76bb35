"""Partner REST API of smart charging: the library, what stations hold, and composite schedules."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from partners.selectors import is_staff, partner_of
from csms.api.calls import CallSerializer, command_response
from csms.api.permissions import SENDING_VIEW_PERMISSIONS
from stations.selectors import station_for

from . import selectors
from .services import commands, library
from .models import (
    ChargingProfile,
    ChargingProfileAssignment,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    InstalledChargingProfile,
    RecurrencyKind,
    StationCompositeSchedule,
)

MAX_COMPOSITE_SECONDS = 31 * 86400
DEFAULT_COMPOSITE_SECONDS = 86400


def profiles_visible_to(user):
    """Staff see the whole library; a partner sees CSMS-wide profiles and its own."""
    queryset = ChargingProfile.objects.all()
    if is_staff(user):
        return queryset
    partner = partner_of(user)
    return queryset.filter(Q(partner__isnull=True) | Q(partner=partner)) if partner else queryset.filter(partner__isnull=True)


def profiles_writable_by(user):
    if is_staff(user):
        return ChargingProfile.objects.all()
    partner = partner_of(user)
    return ChargingProfile.objects.filter(partner=partner) if partner else ChargingProfile.objects.none()


# --- The library -----------------------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    start_period = serializers.IntegerField(min_value=0)
    # Decimal, never float: 0.3 must stay 0.3 for the multiple-of-0.1 rule (ADR 0033).
    limit = serializers.DecimalField(max_digits=12, decimal_places=None, coerce_to_string=False)
    number_phases = serializers.IntegerField(min_value=1, max_value=3, required=False, allow_null=True)


class ChargingProfileSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    purpose = serializers.ChoiceField(choices=ChargingProfilePurpose.choices)
    kind = serializers.ChoiceField(choices=ChargingProfileKind.choices, default=ChargingProfileKind.ABSOLUTE)
    recurrency_kind = serializers.ChoiceField(choices=RecurrencyKind.choices, required=False, allow_null=True)
    charging_rate_unit = serializers.ChoiceField(choices=ChargingRateUnit.choices)
    min_charging_rate = serializers.DecimalField(
        max_digits=12, decimal_places=None, coerce_to_string=False, required=False, allow_null=True
    )
    periods = PeriodSerializer(many=True)

    class Meta:
        model = ChargingProfile
        fields = [
            "id", "name", "partner", "stack_level", "purpose", "kind", "recurrency_kind", "valid_from", "valid_to",
            "duration", "start_schedule", "charging_rate_unit", "min_charging_rate", "periods",
            "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"name": {"required": False, "allow_blank": True}}

    # A refused profile (library.ProfileInvalid) is a domain error: csms/api/errors.py answers 400.
    def create(self, validated_data):
        return library.charging_profile_create(partner=partner_of(self.context["request"].user), **validated_data)

    def update(self, instance, validated_data):
        return library.charging_profile_update(profile=instance, **validated_data)


class ChargingProfileViewSet(viewsets.ModelViewSet):
    serializer_class = ChargingProfileSerializer
    filterset_fields = ["purpose", "kind", "charging_rate_unit", "stack_level"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ChargingProfile.objects.none()
        user = self.request.user
        visible = profiles_writable_by(user) if self.request.method not in ("GET", "HEAD", "OPTIONS") else profiles_visible_to(user)
        return visible.select_related("partner").prefetch_related("periods")

    def perform_create(self, serializer):
        if not is_staff(self.request.user) and partner_of(self.request.user) is None:
            raise PermissionDenied("only staff or a partner's users manage charging profiles")
        serializer.save()


# --- What a station holds, and commands ------------------------------------------------------------


class InstalledProfileSerializer(serializers.ModelSerializer):
    profile = serializers.PrimaryKeyRelatedField(read_only=True)
    transaction_id = serializers.IntegerField(read_only=True, allow_null=True)
    call = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = InstalledChargingProfile
        fields = ["charging_profile_id", "profile", "connector_id", "transaction_id", "stack_level", "purpose",
                  "kind", "charging_profile", "call", "installed_at"]


class AssignmentSerializer(serializers.ModelSerializer):
    charging_profile_id = serializers.IntegerField(source="id", read_only=True)
    profile = serializers.PrimaryKeyRelatedField(read_only=True)
    transaction_id = serializers.IntegerField(read_only=True, allow_null=True)
    call = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = ChargingProfileAssignment
        fields = ["charging_profile_id", "profile", "connector_id", "transaction_id", "via", "call", "status",
                  "detail", "created_at", "updated_at"]


class AssignRequestSerializer(serializers.Serializer):
    profile = serializers.IntegerField(help_text="Library profile id.")
    connector_id = serializers.IntegerField(min_value=0)
    transaction_id = serializers.IntegerField(required=False, allow_null=True,
                                              help_text="TxProfile: the running transaction (default: the connector's).")


class RemoteStartRequestSerializer(serializers.Serializer):
    profile = serializers.IntegerField(help_text="Library TxProfile id.")
    id_tag = serializers.CharField(max_length=20)
    connector_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class ClearRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, help_text="chargingProfileId")
    connector_id = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    purpose = serializers.ChoiceField(choices=ChargingProfilePurpose.choices, required=False, allow_null=True)
    stack_level = serializers.IntegerField(required=False, allow_null=True, min_value=0)


def _library_profile(request, profile_id: int) -> ChargingProfile:
    profile = profiles_visible_to(request.user).filter(pk=profile_id).first()
    if profile is None:
        raise serializers.ValidationError({"profile": f"no charging profile {profile_id} in the library"})
    return profile


class StationChargingProfilesView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(responses=InstalledProfileSerializer(many=True))
    def get(self, request, station_id: str):
        station = station_for(request.user, station_id)
        return Response(InstalledProfileSerializer(selectors.installed_profiles(station.pk), many=True).data)

    @extend_schema(request=AssignRequestSerializer, responses={202: CallSerializer, 200: CallSerializer},
                   parameters=[OpenApiParameter("wait", float, description="seconds to wait for the answer (max 30)")])
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        body = AssignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile = _library_profile(request, body.validated_data["profile"])
        return command_response(request, lambda: commands.charging_profile_assign(
            station=station, profile=profile, connector_id=body.validated_data["connector_id"],
            transaction_id=body.validated_data.get("transaction_id"), requested_by=request.user, source="api",
        ))


class StationChargingProfilesClearView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=ClearRequestSerializer, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        body = ClearRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return command_response(request, lambda: commands.charging_profiles_clear(
            station=station, charging_profile_id=data.get("id"), connector_id=data.get("connector_id"),
            purpose=data.get("purpose"), stack_level=data.get("stack_level"), requested_by=request.user, source="api",
        ))


class StationRemoteStartView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=RemoteStartRequestSerializer, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        body = RemoteStartRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile = _library_profile(request, body.validated_data["profile"])
        return command_response(request, lambda: commands.charging_profile_remote_start(
            station=station, profile=profile, id_tag=body.validated_data["id_tag"],
            connector_id=body.validated_data.get("connector_id"), requested_by=request.user, source="api",
        ))


class StationAssignmentsView(APIView):
    @extend_schema(responses=AssignmentSerializer(many=True))
    def get(self, request, station_id: str):
        station = station_for(request.user, station_id)
        rows = ChargingProfileAssignment.objects.filter(station=station).order_by("-id")[:500]
        return Response(AssignmentSerializer(rows, many=True).data)


# --- Composite schedules ---------------------------------------------------------------------------


class CompositeQuerySerializer(serializers.Serializer):
    connector_id = serializers.IntegerField(min_value=0, default=0)
    duration = serializers.IntegerField(min_value=1, max_value=MAX_COMPOSITE_SECONDS, default=DEFAULT_COMPOSITE_SECONDS)
    charging_rate_unit = serializers.ChoiceField(choices=ChargingRateUnit.choices, required=False, allow_blank=True)


COMPOSITE_RESPONSE = inline_serializer("CompositeSchedule", {
    "station": serializers.CharField(),
    "connector_id": serializers.IntegerField(),
    "schedule_start": serializers.DateTimeField(),
    "duration": serializers.IntegerField(),
    "charging_rate_unit": serializers.CharField(),
    "periods": inline_serializer("CompositePeriod", {
        "start_period": serializers.IntegerField(),
        "limit": serializers.FloatField(allow_null=True, help_text="null: no installed profile limits this interval"),
        "number_phases": serializers.IntegerField(allow_null=True),
    }, many=True),
})


class StationCompositeScheduleView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(
        parameters=[
            OpenApiParameter("connector_id", int, description="0 (default): the station's ChargePointMaxProfile cap"),
            OpenApiParameter("duration", int, description=f"seconds from now (default {DEFAULT_COMPOSITE_SECONDS})"),
            OpenApiParameter("charging_rate_unit", str, enum=["A", "W"]),
        ],
        responses=COMPOSITE_RESPONSE,
    )
    def get(self, request, station_id: str):
        """The composite schedule the CSMS computes from what the station holds, from now."""
        station = station_for(request.user, station_id)
        query = CompositeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        schedule = selectors.composite_schedule(
            station_id=station.pk,
            connector_id=query.validated_data["connector_id"],
            duration=query.validated_data["duration"],
            charging_rate_unit=query.validated_data.get("charging_rate_unit") or None,
        )
        return Response({"station": station.pk, "connector_id": query.validated_data["connector_id"],
                         **selectors.schedule_as_dict(schedule)})

    @extend_schema(request=CompositeQuerySerializer, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        """Ask the station (GetCompositeSchedule); its answer appears under reports/."""
        station = station_for(request.user, station_id)
        body = CompositeQuerySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return command_response(request, lambda: commands.composite_schedule_request(
            station=station, connector_id=data["connector_id"], duration=data["duration"],
            charging_rate_unit=data.get("charging_rate_unit") or None, requested_by=request.user, source="api",
        ))


class CompositeReportSerializer(serializers.ModelSerializer):
    call = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = StationCompositeSchedule
        fields = ["id", "call", "connector_id", "duration", "requested_unit", "status", "schedule_start",
                  "charging_schedule", "csms_schedule", "agrees", "received_at"]


class StationCompositeReportsView(APIView):
    @extend_schema(responses=CompositeReportSerializer(many=True))
    def get(self, request, station_id: str):
        """The station's answers to GetCompositeSchedule, each beside the CSMS's own computation."""
        station = station_for(request.user, station_id)
        rows = StationCompositeSchedule.objects.filter(station=station).order_by("-received_at", "-id")[:200]
        return Response(CompositeReportSerializer(rows, many=True).data)
