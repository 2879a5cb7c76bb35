"""Partner REST API for id tags, transactions and their meter values."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound

from partners.selectors import partner_of
from stations.selectors import stations_visible_to

from . import id_tags
from .models import IdTag, MeterValue, Transaction
from .selectors import id_tags_visible_to


class IdTagSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    parent_id_tag = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)

    class Meta:
        model = IdTag
        fields = ["id_tag", "parent_id_tag", "expiry_date", "blocked", "max_active_transactions", "description",
                  "partner", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_id_tag(self, value: str) -> str:
        if self.instance is not None and not id_tags.same_id_tag(value, self.instance.id_tag):
            raise serializers.ValidationError("an idTag cannot be renamed; create a new one")
        if not value.strip():
            raise serializers.ValidationError("must not be blank")
        return value

    def validate_parent_id_tag(self, value):
        value = value or ""
        own = self.initial_data.get("id_tag") or getattr(self.instance, "id_tag", None)
        if value and id_tags.same_id_tag(value, own):
            raise serializers.ValidationError("a tag cannot be its own parent")
        return value

    def create(self, validated_data):
        return id_tags.id_tag_create(partner=partner_of(self.context["request"].user), **validated_data)

    def update(self, instance, validated_data):
        validated_data.pop("id_tag", None)  # the same tag (checked above): its stored spelling stays
        return id_tags.id_tag_update(id_tag=instance, **validated_data)


class IdTagFilter(filters.FilterSet):
    class Meta:
        model = IdTag
        fields = ["blocked", "parent_id_tag"]


class IdTagViewSet(viewsets.ModelViewSet):
    serializer_class = IdTagSerializer
    filterset_class = IdTagFilter
    lookup_field = "id_tag"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return id_tags_visible_to(self.request.user).select_related("partner")

    def get_object(self):
        # /id-tags/abcd01/ is the stored ABCD01: idTags are case-insensitive.
        tag = self.get_queryset().filter(id_tag__iexact=self.kwargs[self.lookup_field]).first()
        if tag is None:
            raise NotFound("No IdTag matches the given query.")
        self.check_object_permissions(self.request, tag)
        return tag

    def perform_destroy(self, instance):
        id_tags.id_tag_delete(id_tag=instance)


class TransactionSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    energy_wh = serializers.SerializerMethodField()
    active = serializers.BooleanField(read_only=True)
    stop_reason = serializers.SerializerMethodField()

    class Meta:
        model = Transaction
        fields = ["id", "station", "connector_id", "id_tag", "id_tag_status", "meter_start", "meter_stop",
                  "started_at", "stopped_at", "stop_reason", "stop_id_tag", "stop_tag_mismatch", "energy_wh",
                  "cost", "currency", "reservation_id", "active", "remote_start_call"]

    def get_energy_wh(self, tx: Transaction) -> float:
        return tx.energy_wh

    def get_stop_reason(self, tx: Transaction) -> str | None:
        return tx.stop_reason or None


class MeterValueSerializer(serializers.ModelSerializer):
    transaction_id = serializers.IntegerField(source="reported_transaction_id", read_only=True)

    class Meta:
        model = MeterValue
        fields = ["id", "connector_id", "transaction_id", "timestamp", "value", "measurand", "phase", "unit",
                  "context", "location", "format", "source", "received_at"]


class TransactionFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="station_id")
    id_tag = filters.CharFilter(field_name="id_tag", lookup_expr="iexact")  # idTags are case-insensitive
    active = filters.BooleanFilter(field_name="stopped_at", lookup_expr="isnull")

    class Meta:
        model = Transaction
        fields = ["station", "id_tag", "active", "connector_id"]


class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter

    def get_queryset(self):
        return Transaction.objects.filter(station__in=stations_visible_to(self.request.user))

    @action(detail=True, methods=["get"], url_path="meter-values", serializer_class=MeterValueSerializer,
            filterset_class=None)
    def meter_values(self, request, pk=None):
        tx = get_object_or_404(self.get_queryset(), pk=pk)
        page = self.paginate_queryset(MeterValue.objects.filter(transaction=tx).order_by("timestamp", "id"))
        return self.get_paginated_response(MeterValueSerializer(page, many=True).data)
