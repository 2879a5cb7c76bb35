"""Partner REST API for firmware updates and diagnostics/log uploads: views are one call into a service."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from csms.api.permissions import SENDING_VIEW_PERMISSIONS
from csms.api.waiting import parse_wait, wait_for_call
from partners.models import Partner
from partners.selectors import is_staff
from stations.models import FileTransferProtocol
from stations.selectors import station_for, stations_visible_to

from . import selectors
from .services import diagnostics, files, locations, rollouts, updates
from .models import (
    DiagnosticsKind,
    DiagnosticsRequest,
    DiagnosticsState,
    Firmware,
    FirmwareRollout,
    FirmwareUpdate,
    FirmwareUpdateTarget,
    FirmwareVersionRecord,
    LogType,
    RolloutOutcome,
    RolloutStation,
    TargetState,
)
from .views import serve_file

WAIT_PARAMETER = OpenApiParameter("wait", float, description="seconds to wait for the station's answer (max 30)")
STATION_DIAGNOSTICS_LIMIT = 100


# --- Firmware files ---------------------------------------------------------------------------------


class FirmwareSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    signed = serializers.BooleanField(read_only=True)
    filename = serializers.CharField(read_only=True)
    model = serializers.CharField(source="charge_point_model", read_only=True)
    url = serializers.SerializerMethodField(help_text="Where stations download it (HTTP(S)); each firmware update "
                                                      "gives every station a URL of its own.")

    class Meta:
        model = Firmware
        fields = ["id", "name", "version", "vendor", "model", "charge_point_model", "description", "filename", "size",
                  "sha256", "url", "external_location", "signed", "partner", "created_at"]
        read_only_fields = fields

    def get_url(self, firmware) -> str | None:
        if not firmware.file:
            return firmware.external_location or None
        return locations.firmware_download_url(base_url=locations.public_base_url(self.context.get("request")),
                                               token=firmware.token, filename=firmware.filename)


class FirmwareCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    version = serializers.CharField(max_length=50, help_text="What stations report once they run it.")
    vendor = serializers.CharField(max_length=20, required=False, allow_blank=True)
    model = serializers.CharField(max_length=20, required=False, allow_blank=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    signing_certificate = serializers.CharField(required=False, allow_blank=True, max_length=files.SIGNING_CERTIFICATE_MAX)
    signature = serializers.CharField(required=False, allow_blank=True, max_length=files.SIGNATURE_MAX)


class FirmwareViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    """Firmware files; use an `id` as `firmware` in a firmware update or rollout. Staff upload them."""

    queryset = Firmware.objects.none()
    serializer_class = FirmwareSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.firmware_files_visible_to(self.request.user).select_related("partner")

    @extend_schema(request={"multipart/form-data": FirmwareCreateSerializer}, responses={201: FirmwareSerializer})
    def create(self, request):
        """Upload a firmware file (staff): the CSMS serves it to stations and records its size and SHA-256."""
        body = FirmwareCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        firmware = files.firmware_create(
            file=data["file"], version=data["version"], name=data.get("name", ""), vendor=data.get("vendor", ""),
            charge_point_model=data.get("model", ""), description=data.get("description", ""),
            signing_certificate=data.get("signing_certificate", ""), signature=data.get("signature", ""),
            uploaded_by=request.user,
        )
        return Response(self.get_serializer(firmware).data, status=status.HTTP_201_CREATED)


# --- Firmware updates ------------------------------------------------------------------------------------


class FirmwareUpdateTargetSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    status = serializers.CharField(allow_null=True, read_only=True,
                                   help_text="The last FirmwareStatusNotification status (null: none yet).")
    firmware_version = serializers.CharField(source="station.firmware_version", read_only=True,
                                             help_text="What the station reported at its last boot.")

    class Meta:
        model = FirmwareUpdateTarget
        fields = ["station", "status", "state", "detail", "status_at", "request_id", "location", "answer", "call",
                  "attempts", "sent_at", "probed_at", "firmware_version_before", "firmware_version",
                  "download_count", "last_download_at"]
        read_only_fields = fields

    def to_representation(self, target):
        data = super().to_representation(target)
        data["status"] = target.status or None
        return data


class FirmwareUpdateSerializer(serializers.ModelSerializer):
    stations = FirmwareUpdateTargetSerializer(source="targets", many=True, read_only=True)
    state = serializers.SerializerMethodField(help_text="`active` while a station may still act on it, else `finished`.")
    summary = serializers.SerializerMethodField(help_text="How many stations are in each state.")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    action = serializers.CharField(source="ocpp_action", read_only=True)

    class Meta:
        model = FirmwareUpdate
        fields = ["id", "firmware", "location", "retrieve_date", "retries", "retry_interval", "signed", "action",
                  "install_date", "state", "summary", "stations", "source", "rollout", "requested_by", "created_at"]
        read_only_fields = fields

    def get_state(self, update) -> str:
        return selectors.firmware_update_state(update)

    def get_summary(self, update) -> dict[str, int]:
        return selectors.firmware_update_summary(update)


class FirmwareUpdateCreateSerializer(serializers.Serializer):
    stations = serializers.ListField(child=serializers.CharField(max_length=128), allow_empty=False, max_length=10000,
                                     help_text="chargeBoxIds")
    location = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                     help_text="Where stations download the firmware (or give `firmware`).")
    firmware = serializers.IntegerField(required=False, allow_null=True, help_text="A stored firmware's id.")
    retrieve_date = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")
    retries = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    retry_interval = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="seconds")
    signed = serializers.BooleanField(required=False, allow_null=True, default=None,
                                      help_text="SignedUpdateFirmware; default: when a certificate and signature are known.")
    install_date = serializers.DateTimeField(required=False, allow_null=True)
    signing_certificate = serializers.CharField(required=False, allow_blank=True, max_length=files.SIGNING_CERTIFICATE_MAX)
    signature = serializers.CharField(required=False, allow_blank=True, max_length=files.SIGNATURE_MAX)

    def validate(self, attrs):
        if bool(attrs.get("location")) == (attrs.get("firmware") is not None):
            raise serializers.ValidationError({"location": "give either a location or a stored firmware id"})
        return attrs


class FirmwareUpdateFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="targets__station_id", distinct=True)
    target_state = filters.MultipleChoiceFilter(field_name="targets__state", choices=TargetState.choices, distinct=True)

    class Meta:
        model = FirmwareUpdate
        fields = ["station", "target_state", "signed", "firmware"]


class FirmwareUpdateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                            viewsets.GenericViewSet):
    permission_classes = SENDING_VIEW_PERMISSIONS
    call_actions = {"create", "retry"}  # the others send nothing
    queryset = FirmwareUpdate.objects.none()
    serializer_class = FirmwareUpdateSerializer
    filterset_class = FirmwareUpdateFilter

    def get_queryset(self):
        targets = FirmwareUpdateTarget.objects.select_related("station").order_by("station_id")
        return (selectors.firmware_updates_visible_to(self.request.user).select_related("requested_by")
                .prefetch_related(Prefetch("targets", queryset=targets)))

    def _fresh(self, pk) -> FirmwareUpdate:
        return self.get_queryset().get(pk=pk)

    @extend_schema(request=FirmwareUpdateCreateSerializer, responses={201: FirmwareUpdateSerializer})
    def create(self, request):
        """(Signed)UpdateFirmware to each station: connected ones now, the others once they connect."""
        body = FirmwareUpdateCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        stations = self._stations(data["stations"])
        firmware = None
        if data.get("firmware") is not None:
            firmware = selectors.firmware_files_visible_to(request.user).filter(pk=data["firmware"]).first()
            if firmware is None:
                raise serializers.ValidationError({"firmware": f"no firmware {data['firmware']}"})
        update = updates.firmware_update_create(
            stations=stations, firmware=firmware, location=data.get("location") or "",
            retrieve_date=data.get("retrieve_date"), retries=data.get("retries"),
            retry_interval=data.get("retry_interval"), signed=data.get("signed"), install_date=data.get("install_date"),
            signing_certificate=data.get("signing_certificate") or "", signature=data.get("signature") or "",
            base_url=locations.public_base_url(request), requested_by=request.user, source="api",
        )
        return Response(self.get_serializer(self._fresh(update.pk)).data, status=status.HTTP_201_CREATED)

    def _stations(self, station_ids: list[str]):
        visible = {station.pk: station for station in stations_visible_to(self.request.user).filter(pk__in=station_ids)}
        unknown = [station_id for station_id in dict.fromkeys(station_ids) if station_id not in visible]
        if unknown:
            raise serializers.ValidationError({"stations": f"unknown station(s): {', '.join(unknown[:20])}"})
        return [visible[station_id] for station_id in dict.fromkeys(station_ids)]

    @extend_schema(request=None, responses={200: FirmwareUpdateSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Stations it has not been sent to yet will not get it."""
        update = get_object_or_404(self.get_queryset(), pk=pk)
        updates.firmware_update_cancel(update=update)
        return Response(self.get_serializer(self._fresh(update.pk)).data)

    @extend_schema(request=None, responses={200: FirmwareUpdateSerializer},
                   parameters=[OpenApiParameter("station", str, many=True, description="only these stations")])
    @action(detail=True, methods=["post"], filterset_class=None)
    def retry(self, request, pk=None):
        """Send again to the stations that did not install it and are not working on it."""
        update = get_object_or_404(self.get_queryset(), pk=pk)
        station_ids = request.query_params.getlist("station") or None
        updates.firmware_update_retry(update=update, station_ids=station_ids, requested_by=request.user, source="api")
        return Response(self.get_serializer(self._fresh(update.pk)).data)


# --- Diagnostics and logs ---------------------------------------------------------------------------------


class DiagnosticsSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    action = serializers.CharField(source="ocpp_action", read_only=True)
    status = serializers.CharField(allow_null=True, read_only=True,
                                   help_text="The last Diagnostics/LogStatusNotification status (null: none yet).")
    file_url = serializers.SerializerMethodField(help_text="Download (authenticated), once the file was uploaded.")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DiagnosticsRequest
        fields = ["id", "station", "kind", "action", "log_type", "request_id", "start_time", "stop_time", "retries",
                  "retry_interval", "location", "served_by_csms", "call", "answer", "file_name", "status", "status_at",
                  "state", "detail", "file_url", "file_size", "file_sha256", "uploaded_at", "source", "requested_by",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, request_row):
        data = super().to_representation(request_row)
        data["status"] = request_row.status or None
        return data

    def get_file_url(self, request_row) -> str | None:
        if not request_row.file:
            return None
        path = reverse("diagnostics-file", args=[request_row.pk])
        http_request = self.context.get("request")
        return http_request.build_absolute_uri(path) if http_request is not None else path


class DiagnosticsCreateSerializer(serializers.Serializer):
    log_type = serializers.ChoiceField(choices=LogType.choices, required=False, allow_blank=True, allow_null=True,
                                       help_text="GetLog (Security Whitepaper) with this log; absent: GetDiagnostics.")
    start_time = serializers.DateTimeField(required=False, allow_null=True)
    stop_time = serializers.DateTimeField(required=False, allow_null=True)
    retries = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    retry_interval = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    location = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                     help_text="Your own upload location; default: one the CSMS serves.")
    protocol = serializers.ChoiceField(choices=FileTransferProtocol.choices, required=False, allow_blank=True,
                                       help_text="How the station uploads to the CSMS this time (default: the "
                                                 "station's file_transfer_protocol); ftp: one-time credentials.")


class StationDiagnosticsView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(responses=DiagnosticsSerializer(many=True))
    def get(self, request, station_id: str):
        """This station's latest diagnostics/log requests (all of them: /api/v1/diagnostics/?station=)."""
        station = station_for(request.user, station_id)
        rows = DiagnosticsRequest.objects.filter(station=station).order_by("-created_at", "-id")[:STATION_DIAGNOSTICS_LIMIT]
        return Response(DiagnosticsSerializer(rows, many=True, context={"request": request}).data)

    @extend_schema(request=DiagnosticsCreateSerializer, responses={202: DiagnosticsSerializer, 200: DiagnosticsSerializer},
                   parameters=[WAIT_PARAMETER])
    def post(self, request, station_id: str):
        """GetDiagnostics, or GetLog with `log_type`: 202 (409 when the station is not connected)."""
        station = station_for(request.user, station_id)
        wait = parse_wait(request)
        body = DiagnosticsCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        row = diagnostics.diagnostics_request_create(
            station=station, log_type=data.get("log_type") or "", start_time=data.get("start_time"),
            stop_time=data.get("stop_time"), retries=data.get("retries"), retry_interval=data.get("retry_interval"),
            location=data.get("location") or "", protocol=data.get("protocol") or "",
            base_url=locations.public_base_url(request), requested_by=request.user, source="api",
        )
        finished = False
        if wait:
            finished = wait_for_call(row.call, wait).finished
            row.refresh_from_db()
        code = status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED
        return Response(DiagnosticsSerializer(row, context={"request": request}).data, status=code)


class DiagnosticsFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="station_id")
    state = filters.MultipleChoiceFilter(choices=DiagnosticsState.choices)
    kind = filters.ChoiceFilter(choices=DiagnosticsKind.choices)

    class Meta:
        model = DiagnosticsRequest
        fields = ["station", "state", "kind", "log_type", "status"]


class DiagnosticsViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = DiagnosticsRequest.objects.none()
    serializer_class = DiagnosticsSerializer
    filterset_class = DiagnosticsFilter

    def get_queryset(self):
        return selectors.diagnostics_visible_to(self.request.user).select_related("requested_by")

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="file", url_name="file", filterset_class=None)
    def file(self, request, pk=None):
        """The uploaded file itself."""
        row = get_object_or_404(self.get_queryset(), pk=pk)
        if not row.file:
            raise Http404("no file has been uploaded for this request")
        return serve_file(request, row.file, row.stored_name)


# --- Firmware versions a station ran ------------------------------------------------------------------


class FirmwareVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = FirmwareVersionRecord
        fields = ["version", "booted_at"]
        read_only_fields = fields


class StationFirmwareVersionsView(APIView):
    @extend_schema(responses=FirmwareVersionSerializer(many=True))
    def get(self, request, station_id: str):
        """The firmware versions this station booted with, newest first (from its BootNotifications)."""
        station = station_for(request.user, station_id)
        rows = FirmwareVersionRecord.objects.filter(station=station).order_by("-booted_at", "-id")[:1000]
        return Response(FirmwareVersionSerializer(rows, many=True).data)


# --- Rollouts -------------------------------------------------------------------------------------------


class RolloutSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="firmware.version", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField(
        help_text="Stations per outcome, overall and per wave (`waves`: number, size, state, counts...).")

    class Meta:
        model = FirmwareRollout
        fields = ["id", "name", "firmware", "version", "state", "detail", "selection", "current_wave",
                  "failure_threshold_percent", "wave_timeout_minutes", "retries", "retry_interval", "progress",
                  "source", "requested_by", "created_at", "updated_at", "finished_at"]
        read_only_fields = fields

    def get_progress(self, rollout) -> dict:
        return selectors.rollout_progress(rollout)


class RolloutCreateSerializer(serializers.Serializer):
    firmware = serializers.IntegerField(help_text="A stored firmware's id (it must have a version).")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    stations = serializers.ListField(child=serializers.CharField(max_length=128), required=False, allow_empty=False,
                                     max_length=20000, help_text="chargeBoxIds; the first ones make the canary.")
    vendor = serializers.CharField(max_length=20, required=False, allow_blank=True)
    model = serializers.CharField(max_length=20, required=False, allow_blank=True)
    firmware_versions = serializers.ListField(child=serializers.CharField(max_length=50), required=False,
                                              allow_empty=False, help_text="Only stations running one of these.")
    partner = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                    help_text="Staff: only this partner's stations (its name).")
    canary = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                      help_text="Stations in the first wave (default 1)…")
    canary_percent = serializers.FloatField(min_value=0.01, max_value=100, required=False, allow_null=True,
                                            help_text="…or this share of them, rounded up.")
    growth_factor = serializers.FloatField(min_value=1, required=False, allow_null=True,
                                           help_text="Each next wave this many times the last (default 2)…")
    wave_sizes = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, allow_empty=False,
                                       max_length=rollouts.MAX_WAVES,
                                       help_text="…or these sizes after the canary (the last one repeated).")
    failure_threshold_percent = serializers.IntegerField(min_value=0, max_value=100, default=10)
    wave_timeout_minutes = serializers.IntegerField(min_value=1, default=120)
    retries = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    retry_interval = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="seconds")

    def validate(self, attrs):
        if not any(attrs.get(name) for name in ("stations", "vendor", "model", "firmware_versions", "partner")):
            raise serializers.ValidationError(
                {"stations": "choose the stations: stations, vendor, model, firmware_versions or partner"})
        return attrs


class RolloutStationSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    wave = serializers.IntegerField(source="wave.number", allow_null=True, read_only=True)
    firmware_version = serializers.CharField(source="station.firmware_version", read_only=True)
    online = serializers.BooleanField(source="station.online", read_only=True)
    firmware_update = serializers.IntegerField(source="target.update_id", allow_null=True, read_only=True)
    update_state = serializers.CharField(source="target.state", allow_null=True, read_only=True)
    reported_status = serializers.CharField(source="target.status", allow_null=True, read_only=True)

    class Meta:
        model = RolloutStation
        fields = ["station", "wave", "outcome", "detail", "version_before", "firmware_version", "online",
                  "firmware_update", "update_state", "reported_status", "updated_at"]
        read_only_fields = fields


class RolloutStationFilter(filters.FilterSet):
    wave = filters.NumberFilter(field_name="wave__number")
    outcome = filters.MultipleChoiceFilter(choices=RolloutOutcome.choices)

    class Meta:
        model = RolloutStation
        fields = ["wave", "outcome"]


class RolloutFilter(filters.FilterSet):
    class Meta:
        model = FirmwareRollout
        fields = ["state", "firmware"]


class FirmwareRolloutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                             viewsets.GenericViewSet):
    """Firmware rollouts: waves that must succeed one after the other, halting on failures."""

    permission_classes = SENDING_VIEW_PERMISSIONS
    call_actions = {"create", "resume", "retry_failed"}  # pausing and cancelling send nothing
    queryset = FirmwareRollout.objects.none()
    serializer_class = RolloutSerializer
    filterset_class = RolloutFilter

    def get_queryset(self):
        return selectors.firmware_rollouts_visible_to(self.request.user).select_related("firmware", "requested_by")

    @extend_schema(request=RolloutCreateSerializer, responses={201: RolloutSerializer})
    def create(self, request):
        """Plan the waves and send the canary wave (connected stations now, the others when they connect)."""
        body = RolloutCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        firmware = selectors.firmware_files_visible_to(request.user).filter(pk=data["firmware"]).first()
        if firmware is None:
            raise serializers.ValidationError({"firmware": f"no firmware {data['firmware']}"})
        rollout = rollouts.firmware_rollout_create(
            firmware=firmware, candidates=stations_visible_to(request.user), station_ids=data.get("stations"),
            vendor=data.get("vendor", ""), model=data.get("model", ""),
            firmware_versions=data.get("firmware_versions"), partner=self._partner(data.get("partner")),
            canary=data.get("canary"), canary_percent=data.get("canary_percent"),
            growth_factor=data.get("growth_factor"), wave_sizes=data.get("wave_sizes"),
            failure_threshold_percent=data["failure_threshold_percent"],
            wave_timeout_minutes=data["wave_timeout_minutes"], retries=data.get("retries"),
            retry_interval=data.get("retry_interval"), name=data.get("name", ""),
            base_url=locations.public_base_url(request), requested_by=request.user, source="api",
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=rollout.pk)).data, status=status.HTTP_201_CREATED)

    def _partner(self, name: str | None):
        if not name:
            return None
        if not is_staff(self.request.user):
            raise serializers.ValidationError({"partner": "only staff choose stations by partner"})
        partner = Partner.objects.filter(name=name).first()
        if partner is None:
            raise serializers.ValidationError({"partner": f"no partner {name!r}"})
        return partner

    def _act(self, pk, operation):
        rollout = get_object_or_404(self.get_queryset(), pk=pk)
        operation(rollout=rollout)
        return Response(self.get_serializer(self.get_queryset().get(pk=rollout.pk)).data)

    @extend_schema(request=None, responses={200: RolloutSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def pause(self, request, pk=None):
        """No further wave; updates not sent yet are held back (409 unless running)."""
        return self._act(pk, rollouts.firmware_rollout_pause)

    @extend_schema(request=None, responses={200: RolloutSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def resume(self, request, pk=None):
        """Go on; a halted rollout goes on with the next wave, its failed wave accepted (409 unless paused or halted)."""
        return self._act(pk, rollouts.firmware_rollout_resume)

    @extend_schema(request=None, responses={200: RolloutSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Stop for good: nothing more is sent (409 once cancelled or completed)."""
        return self._act(pk, rollouts.firmware_rollout_cancel)

    @extend_schema(request=None, responses={200: RolloutSerializer})
    @action(detail=True, methods=["post"], url_path="retry-failed", url_name="retry-failed", filterset_class=None)
    def retry_failed(self, request, pk=None):
        """Send the update again to the stations that failed."""
        return self._act(pk, rollouts.firmware_rollout_retry_failed)

    @extend_schema(responses=RolloutStationSerializer(many=True), parameters=[
        OpenApiParameter("wave", int, description="only this wave"),
        OpenApiParameter("outcome", str, many=True, enum=RolloutOutcome.values, description="only these outcomes")])
    @action(detail=True, methods=["get"], filterset_class=None)
    def stations(self, request, pk=None):
        """Each station of the rollout: its wave, outcome and update (`wave`, `outcome` filters)."""
        rollout = get_object_or_404(self.get_queryset(), pk=pk)
        rows = rollout.stations.select_related("wave", "station", "target").order_by("wave__number", "station_id")
        rows = RolloutStationFilter(request.query_params, queryset=rows).qs
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RolloutStationSerializer(page, many=True).data)
