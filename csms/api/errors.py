"""Errors under /api/ are JSON with `detail`: DRF's own, the domain's (mapped here, once) and Django's."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from csms.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

# A domain refusal's kind decides the HTTP status; the first match wins.
DOMAIN_STATUS = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (Forbidden, status.HTTP_403_FORBIDDEN),
    (Invalid, status.HTTP_400_BAD_REQUEST),
)


def domain_error_response(exc: DomainError) -> Response:
    code = next((code for kind, code in DOMAIN_STATUS if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST)
    body = {"detail": exc.message}
    if exc.details:
        body["details"] = exc.details
    return Response(body, status=code)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" not in data:
        response.data = {"detail": _first_message(data), "errors": data}
    elif isinstance(data, list):
        response.data = {"detail": _first_message(data), "errors": data}
    return response


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


# Whatever the method: a POST to an unknown URL is a 404 too, not a CSRF refusal, and no redirect to
# the URL with a slash added (it would lose the body).
@csrf_exempt
@no_append_slash
def json_not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: JSON under /api/ (a session-authenticated write without its token)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"CSRF verification failed: {reason}"}, status=status.HTTP_403_FORBIDDEN)
    from django.views.csrf import csrf_failure as html_csrf_failure

    return html_csrf_failure(request, reason=reason)


def json_server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    from django.views.defaults import server_error

    return server_error(request)
