"""Partner REST API for stations' local authorization lists: views are one call into a service."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from csms.api.calls import CallSerializer, command_response
from csms.api.permissions import SENDING_VIEW_PERMISSIONS
from csms.api.waiting import parse_wait, poll_until
from stations.selectors import station_for
from transactions.selectors import id_tags_visible_to

from . import services
from .models import LocalList, LocalListSync, Selection

WAIT_PARAMETER = OpenApiParameter("wait", float, description="seconds to wait for the sync to finish (max 30)")


class LocalListSyncSerializer(serializers.ModelSerializer):
    class Meta:
        model = LocalListSync
        fields = ["id", "trigger", "status", "full_retry", "calls_sent", "updates_sent", "current_call", "detail", "started_at", "finished_at"]


class LocalListEntrySerializer(serializers.Serializer):
    id_tag = serializers.CharField()
    id_tag_info = serializers.JSONField(help_text="The OCPP idTagInfo the station holds for it.")


class LocalListSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    entries = serializers.SerializerMethodField()
    id_tags = serializers.SerializerMethodField(help_text="The explicit selection (used when selection is `explicit`).")
    last_sync = serializers.SerializerMethodField()
    last_sync_status = serializers.SerializerMethodField(
        help_text="The station's answer to the last SendLocalList of a sync (Accepted, Failed, NotSupported, "
                  "VersionMismatch) or why it got none; null before any sync."
    )

    class Meta:
        model = LocalList
        fields = ["station", "version", "entries", "entries_known", "last_sync_status", "last_sync_at",
                  "last_sync_detail", "outdated", "supported", "omitted", "last_version_sent", "selection", "id_tags",
                  "auto_sync", "last_sync"]

    def get_last_sync_status(self, local_list: LocalList) -> str | None:
        return local_list.last_sync_status or None

    @extend_schema_field(LocalListEntrySerializer(many=True))
    def get_entries(self, local_list: LocalList) -> list[dict]:
        if local_list._state.adding:
            return []
        rows = local_list.entries.order_by("id_tag").values("id_tag", "id_tag_info")
        return LocalListEntrySerializer(rows, many=True).data

    def get_id_tags(self, local_list: LocalList) -> list[str]:
        if local_list._state.adding:
            return []
        return list(local_list.id_tags.order_by("id_tag").values_list("id_tag", flat=True))

    @extend_schema_field(LocalListSyncSerializer(allow_null=True))
    def get_last_sync(self, local_list: LocalList) -> dict | None:
        if local_list._state.adding:
            return None
        latest = local_list.syncs.order_by("-started_at", "-id").first()
        return LocalListSyncSerializer(latest).data if latest else None


class LocalListChangeSerializer(serializers.Serializer):
    selection = serializers.ChoiceField(choices=Selection.choices, required=False)
    id_tags = serializers.ListField(child=serializers.CharField(max_length=20), required=False)
    auto_sync = serializers.BooleanField(required=False)


def local_list_of(station) -> LocalList:
    """The station's list record, or an unsaved blank one (nothing known yet) for display."""
    return LocalList.objects.filter(station=station).first() or LocalList(station=station, outdated=False)


class StationLocalListView(APIView):
    @extend_schema(responses=LocalListSerializer)
    def get(self, request, station_id: str):
        """What the station holds as far as the CSMS knows, and how the last sync went."""
        station = station_for(request.user, station_id)
        return Response(LocalListSerializer(local_list_of(station)).data)

    @extend_schema(request=LocalListChangeSerializer, responses=LocalListSerializer)
    def patch(self, request, station_id: str):
        """Choose which tags belong on the list; the list becomes out of date."""
        station = station_for(request.user, station_id)
        body = LocalListChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        tags = None
        if "id_tags" in data:
            wanted = Q()
            for value in data["id_tags"]:
                wanted |= Q(id_tag__iexact=value)
            tags = list(id_tags_visible_to(request.user).filter(wanted)) if data["id_tags"] else []
            known = {tag.id_tag.upper() for tag in tags}
            missing = sorted(value for value in set(data["id_tags"]) if value.upper() not in known)
            if missing:
                raise serializers.ValidationError({"id_tags": f"unknown id tags: {', '.join(missing)}"})
        local_list = services.local_list_configure(
            station=station, selection=data.get("selection"), id_tags=tags, auto_sync=data.get("auto_sync")
        )
        return Response(LocalListSerializer(local_list).data)


class StationLocalListSyncView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=None, responses={202: LocalListSerializer, 200: LocalListSerializer}, parameters=[WAIT_PARAMETER])
    def post(self, request, station_id: str):
        """Bring the station's list up to date (Differential when possible, Full otherwise): 202."""
        station = station_for(request.user, station_id)
        wait = parse_wait(request)
        sync = services.local_list_sync(station=station, trigger="api", requested_by=request.user)
        finished = wait_for_sync(sync, wait) if wait else False
        code = status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED
        return Response(LocalListSerializer(local_list_of(station)).data, status=code)


class StationLocalListReconcileView(APIView):
    permission_classes = SENDING_VIEW_PERMISSIONS
    @extend_schema(request=None, responses={202: CallSerializer, 200: CallSerializer},
                   parameters=[OpenApiParameter("wait", float, description="seconds to wait for the answer (max 30)")])
    def post(self, request, station_id: str):
        """Ask the station its list version (GetLocalListVersion); its answer reconciles the CSMS's view."""
        station = station_for(request.user, station_id)
        return command_response(request, lambda: services.local_list_reconcile(
            station=station, requested_by=request.user, source="api"))


def wait_for_sync(sync: LocalListSync, seconds: float) -> bool:
    """Poll until the sync has finished or `seconds` pass (works whichever node holds the station)."""
    def finished() -> bool:
        sync.refresh_from_db(fields=["finished_at"])
        return sync.finished_at is not None

    return poll_until(finished, seconds)
