"""Partner REST API for id tags, transactions and their meter values."""

from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer

from csms.api.export import CSVRenderer, ErrorsAsJsonMixin, csv_response, wants_csv
from partners.selectors import partner_of
from stations.selectors import stations_visible_to
from tariffs.selectors import CDR_COLUMNS, TransactionCostView, charge_detail_record, transaction_cost, \
    transactions_with_cost

from . import id_tags
from .models import IdTag, MeterValue, Transaction
from .selectors import id_tags_visible_to


class IdTagSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    parent_id_tag = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)

    class Meta:
        model = IdTag
        fields = ["id_tag", "parent_id_tag", "expiry_date", "blocked", "max_active_transactions", "offline_allowed",
                  "description", "partner", "created_at", "updated_at"]
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


@extend_schema_field({
    "type": "object", "nullable": True,
    "description": "Per dimension (FLAT, ENERGY, TIME, PARKING_TIME, RESERVATION): quantity billed, unit and "
                   "cost excl. and incl. VAT (amounts as decimal strings); the min/max price adjustment; and "
                   "the priced lines in time order.",
    "properties": {"currency": {"type": "string"}, "cost_excl_vat": {"type": "string"},
                   "cost_incl_vat": {"type": "string"}, "dimensions": {"type": "object"},
                   "adjustment": {"type": "object", "nullable": True},
                   "lines": {"type": "array", "items": {"type": "object"}}},
})
class CostBreakdownField(serializers.Field):
    def to_representation(self, breakdown):
        return breakdown


class TransactionSerializer(serializers.ModelSerializer):
    station = serializers.CharField(source="station_id", read_only=True)
    energy_wh = serializers.SerializerMethodField()
    active = serializers.BooleanField(read_only=True)
    stop_reason = serializers.SerializerMethodField()
    tariff = serializers.SerializerMethodField(help_text="The tariff pricing this session (pinned at its start).")
    tariff_version = serializers.SerializerMethodField(help_text="The tariff's version the session is priced by.")
    currency = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField(
        help_text="Total incl. VAT (equal to excl. VAT where no VAT is set); while running, the cost so far.")
    cost_excl_vat = serializers.SerializerMethodField()
    cost_final = serializers.SerializerMethodField(help_text="True once StopTransaction priced the session.")
    cost_breakdown = serializers.SerializerMethodField()

    class Meta:
        model = Transaction
        fields = ["id", "station", "connector_id", "id_tag", "id_tag_status", "meter_start", "meter_stop",
                  "started_at", "stopped_at", "stop_reason", "stop_id_tag", "stop_tag_mismatch", "energy_wh",
                  "tariff", "tariff_version", "currency", "cost", "cost_excl_vat", "cost_final", "cost_breakdown",
                  "reservation_id", "active", "remote_start_call"]

    def _cost(self, tx: Transaction) -> TransactionCostView:
        # One estimate per transaction and response, whichever fields read it.
        if not hasattr(tx, "_cost_view"):
            tx._cost_view = transaction_cost(tx)
        return tx._cost_view

    def get_energy_wh(self, tx: Transaction) -> float:
        return tx.energy_wh

    def get_stop_reason(self, tx: Transaction) -> str | None:
        return tx.stop_reason or None

    def get_tariff(self, tx: Transaction) -> int | None:
        return self._cost(tx).tariff_id

    def get_tariff_version(self, tx: Transaction) -> int | None:
        return self._cost(tx).tariff_version

    def get_currency(self, tx: Transaction) -> str | None:
        return self._cost(tx).currency

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_cost(self, tx: Transaction) -> Decimal | None:
        return self._cost(tx).cost_incl_vat

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_cost_excl_vat(self, tx: Transaction) -> Decimal | None:
        return self._cost(tx).cost_excl_vat

    def get_cost_final(self, tx: Transaction) -> bool:
        return self._cost(tx).final

    @extend_schema_field(CostBreakdownField)
    def get_cost_breakdown(self, tx: Transaction) -> dict | None:
        return self._cost(tx).breakdown


class ChargeDetailRecordSerializer(serializers.Serializer):
    """One finished session, as the CDR export writes it (`?format=csv`: the same columns)."""

    transaction_id = serializers.IntegerField()
    station = serializers.CharField()
    connector_id = serializers.IntegerField()
    id_tag = serializers.CharField()
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField()
    stop_reason = serializers.CharField()
    energy_wh = serializers.DecimalField(max_digits=16, decimal_places=3)
    duration_s = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    idle_s = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True,
                                      help_text="Seconds the EV was connected but not requesting energy.")
    tariff = serializers.IntegerField(allow_null=True)
    tariff_name = serializers.CharField(allow_null=True)
    tariff_version = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    flat_excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    flat_incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    energy_excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    energy_incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    time_excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    time_incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    parking_excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    parking_incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reservation_excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reservation_incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    cost_excl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    cost_incl_vat = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)

    def to_representation(self, tx: Transaction):
        return super().to_representation(charge_detail_record(tx))


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


class ChargeDetailRecordFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="station_id")
    id_tag = filters.CharFilter(field_name="id_tag")
    stopped_after = filters.IsoDateTimeFilter(field_name="stopped_at", lookup_expr="gte")
    stopped_before = filters.IsoDateTimeFilter(field_name="stopped_at", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = ["station", "id_tag", "stopped_after", "stopped_before", "connector_id"]


class TransactionViewSet(ErrorsAsJsonMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter

    def get_queryset(self):
        return transactions_with_cost(Transaction.objects.filter(station__in=stations_visible_to(self.request.user)))

    @extend_schema(
        responses=ChargeDetailRecordSerializer(many=True),
        parameters=[OpenApiParameter("format", str, enum=["json", "csv"],
                                     description="csv: every matching record as CSV (not paginated)")],
    )
    @action(detail=False, methods=["get"], url_path="cdrs", serializer_class=ChargeDetailRecordSerializer,
            filterset_class=ChargeDetailRecordFilter, renderer_classes=[JSONRenderer, CSVRenderer])
    def cdrs(self, request):
        """Charge detail records of finished sessions, oldest stop first."""
        records = self.filter_queryset(self.get_queryset().filter(stopped_at__isnull=False)).order_by("stopped_at", "id")
        if wants_csv(request):
            rows = (charge_detail_record(tx) for tx in records.iterator(chunk_size=500))
            return csv_response(rows, CDR_COLUMNS, "cdrs.csv")
        page = self.paginate_queryset(records)
        return self.get_paginated_response(ChargeDetailRecordSerializer(page, many=True).data)

    @action(detail=True, methods=["get"], url_path="meter-values", serializer_class=MeterValueSerializer,
            filterset_class=None)
    def meter_values(self, request, pk=None):
        tx = get_object_or_404(self.get_queryset(), pk=pk)
        page = self.paginate_queryset(MeterValue.objects.filter(transaction=tx).order_by("timestamp", "id"))
        return self.get_paginated_response(MeterValueSerializer(page, many=True).data)
