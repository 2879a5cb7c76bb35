"""Partner REST API for webhooks: endpoints (the secret shown once), their deliveries, redelivery."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from csms.errors import Forbidden
from partners.selectors import is_staff, partner_of

from . import services
from .models import DeliveryStatus, Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .selectors import endpoints_visible_to


class WebhookEndpointSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="name", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), allow_empty=False)
    secret = serializers.CharField(write_only=True, required=False, min_length=16, max_length=128,
                                   help_text="Signs each delivery (HMAC-SHA256); generated when not given. "
                                             "Answered once, when the endpoint is created.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "secret", "description", "active", "partner", "failing_since", "disabled_at",
                  "disabled_reason", "created_at", "updated_at"]
        read_only_fields = ["failing_since", "disabled_at", "disabled_reason", "created_at", "updated_at"]

    def create(self, validated_data):
        user = self.context["request"].user
        endpoint, secret = services.endpoint_create(partner=partner_of(user), created_by=user, **validated_data)
        endpoint.created_secret = secret
        return endpoint

    def update(self, instance, validated_data):
        return services.endpoint_update(endpoint=instance, **validated_data)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The answer to creating an endpoint: the only time its secret is shown."""

    secret = serializers.CharField(source="created_secret", read_only=True)


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "attempted_at", "status_code", "latency_ms", "response_excerpt", "error", "succeeded"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    delivery_id = serializers.UUIDField(source="uuid", read_only=True, help_text="The X-CSMS-Delivery header.")
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "delivery_id", "event", "payload", "occurred_at", "status", "attempts", "next_attempt_at",
                  "last_attempt_at", "last_status_code", "last_error", "delivered_at", "redelivery_of", "created_at",
                  "attempt_log"]


class DeliveryFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event = filters.CharFilter()

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event"]


DELIVERY_ID = OpenApiParameter("delivery_id", int, OpenApiParameter.PATH)


class WebhookEndpointViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookEndpointSerializer
    filterset_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return endpoints_visible_to(self.request.user)

    @extend_schema(responses={201: WebhookEndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        if not is_staff(request.user) and partner_of(request.user) is None:
            raise Forbidden("Only staff and partner users register webhooks.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            endpoint = serializer.save()
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance)

    @extend_schema(responses=WebhookDeliverySerializer(many=True), parameters=[
        OpenApiParameter("status", str, enum=DeliveryStatus.values), OpenApiParameter("event", str)])
    @action(detail=True, methods=["get"], serializer_class=WebhookDeliverySerializer, filterset_class=None)
    def deliveries(self, request, pk=None):
        """This endpoint's deliveries, newest first, with every attempt."""
        endpoint = self.get_object()
        chosen = DeliveryFilter(request.query_params, queryset=endpoint.deliveries.prefetch_related("attempt_log"))
        if not chosen.is_valid():
            raise serializers.ValidationError(chosen.errors)
        page = self.paginate_queryset(chosen.qs)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer}, parameters=[DELIVERY_ID])
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9]+)/redeliver",
            serializer_class=WebhookDeliverySerializer, filterset_class=None)
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send a delivery's event again, as a new delivery."""
        endpoint = self.get_object()
        delivery = get_object_or_404(endpoint.deliveries.select_related("endpoint"), pk=delivery_id)
        with transaction.atomic():
            again = services.delivery_redeliver(delivery=delivery)
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"], serializer_class=WebhookDeliverySerializer, filterset_class=None)
    def ping(self, request, pk=None):
        """Send a `ping` event to this endpoint (to check the receiver's signature verification)."""
        endpoint = self.get_object()
        with transaction.atomic():
            delivery = services.endpoint_ping(endpoint=endpoint)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
