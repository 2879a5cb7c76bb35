"""How every endpoint that sends a Call answers: the call as it stands (202), or once it has
finished (200) with `?wait=N`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from csms.ocpp.models import Call

from .waiting import parse_wait, wait_for_call


@extend_schema_field({
    "type": "object", "nullable": True,
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}, "details": {"type": "object"}},
})
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


def respond_with_call(request, call: Call, serializer_class=CallSerializer) -> Response:
    """202 with the call as it stands, or, with ?wait=N, 200 once it has finished within N s."""
    wait = parse_wait(request)
    if wait:
        call = wait_for_call(call, wait)
    code = status.HTTP_200_OK if call.finished and wait else status.HTTP_202_ACCEPTED
    return Response(serializer_class(call).data, status=code)


def command_response(request, send) -> Response:
    """Run a service that sends one call (its refusals are mapped like any domain error) and answer
    as the calls API answers (202, or 200 once finished with ?wait=N)."""
    parse_wait(request)  # refuse a bad ?wait before sending anything
    return respond_with_call(request, send())
