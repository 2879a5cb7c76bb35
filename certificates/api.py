"""Partner REST API of certificates: each station's CA certificates (M03-M05) and its charge point
certificate requests (A02/A03). Views are thin: a scoped station, one service call."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from csms.api.calls import CallSerializer, command_response
from csms.api.permissions import SENDING_VIEW_PERMISSIONS
from stations.selectors import station_for

from . import selectors
from .services import installed, signing
from .models import CertificateRequest, CertificateUse, HashAlgorithm, InstalledCertificate, RequestStatus

MAX_LISTED = 500


# --- Serializers -------------------------------------------------------------------------------------------


class InstalledCertificateSerializer(serializers.ModelSerializer):
    certificate_hash_data = serializers.SerializerMethodField(help_text="As OCPP writes it (for DeleteCertificate).")

    class Meta:
        model = InstalledCertificate
        fields = ["id", "certificate_type", "hash_algorithm", "issuer_name_hash", "issuer_key_hash", "serial_number",
                  "certificate_hash_data", "subject", "not_after", "certificate", "source", "updated_at"]

    def get_certificate_hash_data(self, entry: InstalledCertificate) -> dict:
        return entry.hash_data()


class CertificateRequestSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)

    class Meta:
        model = CertificateRequest
        fields = ["id", "station", "status", "detail", "trigger_call", "csr", "received_at", "subject", "common_name",
                  "organization", "key_type", "public_key_sha256", "certificate_chain", "certificate_serial",
                  "certificate_not_before", "certificate_not_after", "signed_by", "signed_at", "delivery_call",
                  "answered_at", "created_at", "updated_at"]


class InstallSerializer(serializers.Serializer):
    certificate_type = serializers.ChoiceField(choices=CertificateUse.choices)
    certificate = serializers.CharField(max_length=5500, trim_whitespace=False, help_text="One PEM X.509 certificate.")


class HashDataSerializer(serializers.Serializer):
    hashAlgorithm = serializers.ChoiceField(choices=HashAlgorithm.choices)  # noqa: N815  (OCPP's own names)
    issuerNameHash = serializers.CharField(max_length=128)  # noqa: N815
    issuerKeyHash = serializers.CharField(max_length=128)  # noqa: N815
    serialNumber = serializers.CharField(max_length=40)  # noqa: N815


class DeleteSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, help_text="An installed certificate of this station.")
    certificate_hash_data = HashDataSerializer(required=False, help_text="Or the OCPP hash data to send.")
    force = serializers.BooleanField(default=False, help_text="Also delete the last CentralSystemRootCertificate.")

    def validate(self, attrs):
        if ("id" in attrs) == ("certificate_hash_data" in attrs):
            raise serializers.ValidationError("give either id or certificate_hash_data")
        return attrs


class RefreshSerializer(serializers.Serializer):
    certificate_type = serializers.ChoiceField(choices=CertificateUse.choices)


class UploadSerializer(serializers.Serializer):
    certificate_chain = serializers.CharField(max_length=10000, trim_whitespace=False,
                                              help_text="PEM: the station's certificate first, then its sub-CAs.")


# --- Installed CA certificates -----------------------------------------------------------------------------------


class StationCertificatesView(APIView):
    @extend_schema(responses=InstalledCertificateSerializer(many=True),
                   parameters=[OpenApiParameter("certificate_type", str, enum=CertificateUse.values)])
    def get(self, request, station_id: str):
        station = station_for(request.user, station_id)
        rows = selectors.installed_certificates(station.pk, request.query_params.get("certificate_type") or None)
        return Response(InstalledCertificateSerializer(rows[:MAX_LISTED], many=True).data)


class StationCertificateInstallView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=InstallSerializer, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        body = InstallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return command_response(request, lambda: installed.certificate_install(
            station=station, certificate_type=body.validated_data["certificate_type"],
            certificate=body.validated_data["certificate"], requested_by=request.user, source="api"))


class StationCertificateDeleteView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=DeleteSerializer, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        body = DeleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "id" in data:
            hash_data = get_object_or_404(selectors.installed_certificates(station.pk), pk=data["id"]).hash_data()
        else:
            hash_data = dict(data["certificate_hash_data"])
        return command_response(request, lambda: installed.certificate_delete(
            station=station, hash_data=hash_data, force=data["force"], requested_by=request.user, source="api"))


class StationCertificateRefreshView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=RefreshSerializer, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return command_response(request, lambda: installed.installed_certificates_refresh(
            station=station, certificate_type=body.validated_data["certificate_type"], requested_by=request.user,
            source="api"))


# --- Charge point certificate requests ----------------------------------------------------------------------------


class StationCertificateRequestsView(APIView):
    @extend_schema(responses=CertificateRequestSerializer(many=True),
                   parameters=[OpenApiParameter("status", str, enum=RequestStatus.values)])
    def get(self, request, station_id: str):
        station = station_for(request.user, station_id)
        rows = selectors.certificate_requests(station.pk, request.query_params.get("status") or None)
        return Response(CertificateRequestSerializer(rows[:MAX_LISTED], many=True).data)


class StationCertificateRequestView(APIView):
    @extend_schema(responses=CertificateRequestSerializer)
    def get(self, request, station_id: str, pk: int):
        station = station_for(request.user, station_id)
        row = get_object_or_404(selectors.certificate_requests(station.pk), pk=pk)
        return Response(CertificateRequestSerializer(row).data)


class StationCertificateTriggerView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    """A02: ask the station for a new key pair and its CSR (ExtendedTriggerMessage SignChargePointCertificate)."""

    @extend_schema(request=None, responses={202: CallSerializer, 200: CallSerializer})
    def post(self, request, station_id: str):
        station = station_for(request.user, station_id)
        return command_response(request, lambda: signing.signing_trigger_send(
            station=station, requested_by=request.user, source="api"))


class _RequestActionView(APIView):
    """One step on a certificate request; answers the request as it stands afterwards."""

    def act(self, request, station_id: str, pk: int, perform) -> Response:
        station = station_for(request.user, station_id)
        row = get_object_or_404(selectors.certificate_requests(station.pk), pk=pk)
        row = perform(row)
        return Response(CertificateRequestSerializer(row).data)


class CertificateRequestSignView(_RequestActionView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    """Sign with the configured CA and send CertificateSigned."""

    @extend_schema(request=None, responses=CertificateRequestSerializer)
    def post(self, request, station_id: str, pk: int):
        return self.act(request, station_id, pk, lambda row: signing.certificate_request_sign(
            request_id=row.pk, requested_by=request.user, source="api"))


class CertificateRequestUploadView(_RequestActionView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    """Attach a chain signed by the CPO's CA elsewhere and send CertificateSigned."""

    @extend_schema(request=UploadSerializer, responses=CertificateRequestSerializer)
    def post(self, request, station_id: str, pk: int):
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.act(request, station_id, pk, lambda row: signing.certificate_request_upload(
            request_id=row.pk, certificate_chain=body.validated_data["certificate_chain"], requested_by=request.user,
            source="api"))


class CertificateRequestDeliverView(_RequestActionView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    """Send the stored chain again."""

    @extend_schema(request=None, responses=CertificateRequestSerializer)
    def post(self, request, station_id: str, pk: int):
        return self.act(request, station_id, pk, lambda row: signing.certificate_request_deliver(
            request_id=row.pk, requested_by=request.user, source="api"))


class CertificateRequestCancelView(_RequestActionView):
    @extend_schema(request=None, responses=CertificateRequestSerializer)
    def post(self, request, station_id: str, pk: int):
        return self.act(request, station_id, pk, lambda row: signing.certificate_request_cancel(
            request_id=row.pk, requested_by=request.user))
