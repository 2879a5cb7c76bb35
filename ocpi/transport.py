"""OCPI's transport, for every module we serve: the `Authorization: Token` check, the response
envelope and status codes, request/correlation ids, pagination with Link and X-Total-Count.

A view is `@ocpi_view(modules=...)`: it gets `request.ocpi_partner` (the party the token belongs to)
and returns data (or `Page`); failures are `OcpiError`, answered in the envelope.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from .models import HandshakeState, OcpiPartner, token_digest

logger = logging.getLogger(__name__)

VERSION = "2.2.1"

# OCPI status codes (status_codes.asciidoc)
SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class OcpiError(Exception):
    """A request we refuse: answered with this OCPI status code and HTTP status, in the envelope."""

    def __init__(self, status_code: int, message: str, http_status: int = 400):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status


def ocpi_datetime(value: datetime) -> str:
    """An OCPI DateTime: UTC, whole seconds, `Z` (a naive value is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(data=None, *, status_code: int = SUCCESS, message: str = "") -> dict:
    body = {"status_code": status_code, "timestamp": ocpi_datetime(timezone.now())}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def ocpi_response(data=None, *, status_code: int = SUCCESS, message: str = "", http_status: int = 200,
                  headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(envelope(data, status_code=status_code, message=message)),
                            content_type="application/json", status=http_status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def encode_token(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


def authorization_header(token: str) -> str:
    return f"Token {encode_token(token)}"


def presented_tokens(request: HttpRequest) -> list[str]:
    """The credentials token of `Authorization: Token ...`: base64 as 2.2.1 requires, or as written
    (2.1.1 and 2.2 implementations that do not encode it). Both candidates are tried."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return []
    value = value.strip()
    candidates = []
    try:
        decoded = base64.b64decode(value, validate=True).decode()
        if decoded:
            candidates.append(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    candidates.append(value)
    return candidates


def partner_for_token(tokens: Sequence[str]) -> tuple[OcpiPartner | None, str]:
    """The party a presented token belongs to (any state but unregistered), and the token as matched."""
    for token in tokens:
        partner = (OcpiPartner.objects.select_related("partner").exclude(state=HandshakeState.UNREGISTERED)
                   .filter(incoming_token_digest=token_digest(token)).first())
        if partner is not None:
            return partner, token
    return None, ""


@dataclass
class Page:
    """A list answer: the page's items and the filtered total (for Link and X-Total-Count)."""

    items: list
    total: int
    offset: int
    limit: int


def parse_ocpi_datetime(value, *, field: str) -> datetime:
    """An OCPI DateTime as a client sent it (UTC when no offset is written), or 2001 naming the field."""
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise OcpiError(INVALID_PARAMETERS, f"{field} is not a DateTime: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)


def page_params(request: HttpRequest) -> tuple[datetime | None, datetime | None, int, int]:
    """date_from (inclusive), date_to (exclusive), offset and limit of a list request (2001 if bad)."""
    def when(name):
        raw = request.GET.get(name)
        return None if raw in (None, "") else parse_ocpi_datetime(raw, field=name)

    def number(name, default):
        raw = request.GET.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise OcpiError(INVALID_PARAMETERS, f"{name} is not an integer: {raw!r}") from None
        if value < 0:
            raise OcpiError(INVALID_PARAMETERS, f"{name} must not be negative")
        return value

    limit = min(number("limit", DEFAULT_LIMIT), MAX_LIMIT)
    return when("date_from"), when("date_to"), number("offset", 0), limit


def paginate(request: HttpRequest, queryset, *, to_document: Callable, date_field: str = "last_updated") -> Page:
    """One page of a queryset filtered by date_from/date_to on `date_field`, in a stable order."""
    date_from, date_to, offset, limit = page_params(request)
    if date_from is not None:
        queryset = queryset.filter(**{f"{date_field}__gte": date_from})
    if date_to is not None:
        queryset = queryset.filter(**{f"{date_field}__lt": date_to})
    total = queryset.count()
    rows = list(queryset[offset:offset + limit]) if limit else []
    return Page([to_document(row) for row in rows], total, offset, limit)


def _page_headers(request: HttpRequest, page: Page) -> dict:
    headers = {"X-Total-Count": str(page.total), "X-Limit": str(page.limit)}
    following = page.offset + len(page.items)
    if page.items and following < page.total:
        params = {k: v for k, v in request.GET.items() if k not in ("offset", "limit")}
        params.update(offset=following, limit=page.limit)
        headers["Link"] = f'<{public_url(request.path, request)}?{urlencode(params)}>; rel="next"'
    return headers


def public_base_url(request: HttpRequest | None = None) -> str:
    """Where partners reach us: CSMS_OCPI_BASE_URL, else CSMS_PUBLIC_URL, else where this request
    came to (behind a proxy: as the trusted proxy said)."""
    configured = settings.CSMS_OCPI_BASE_URL or settings.CSMS_PUBLIC_URL
    if configured:
        return configured.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return f"http://{settings.HOST}:{settings.PORT}"  # no request to go by: this node's own address


def public_url(path: str, request: HttpRequest | None = None) -> str:
    return public_base_url(request) + path


def json_body(request: HttpRequest) -> dict:
    """The request's JSON object (2001 when it is not one)."""
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise OcpiError(INVALID_PARAMETERS, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise OcpiError(INVALID_PARAMETERS, "the body must be a JSON object")
    return body


def ocpi_view(*, methods: Sequence[str], token_a: bool = False):
    """An OCPI endpoint: authenticated by the credentials token (a token A only where `token_a`: the
    versions and credentials modules), answered in the envelope, ids echoed. The view returns data,
    a `Page`, or an HttpResponse of its own."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
            headers = {"X-Request-ID": request_id,
                       "X-Correlation-ID": request.headers.get("X-Correlation-ID") or request_id}
            if request.method not in methods:
                response = ocpi_response(status_code=CLIENT_ERROR, http_status=405,
                                         message=f"{request.method} is not supported here", headers=headers)
                response["Allow"] = ", ".join(methods)
                return response
            partner, token = partner_for_token(presented_tokens(request))
            if partner is None or (partner.incoming_token_is_a and not token_a):
                return ocpi_response(status_code=CLIENT_ERROR, http_status=401, headers=headers,
                                     message="unknown credentials token" if partner is None else
                                     "a token A only opens the versions and credentials modules")
            request.ocpi_partner = partner
            request.ocpi_token = token
            try:
                result = view(request, *args, **kwargs)
            except OcpiError as exc:
                return ocpi_response(status_code=exc.status_code, message=exc.message,
                                     http_status=exc.http_status, headers=headers)
            except Exception:
                logger.exception("OCPI %s %s failed", request.method, request.path)
                return ocpi_response(status_code=SERVER_ERROR, message="internal error", http_status=500,
                                     headers=headers)
            if isinstance(result, HttpResponse):
                for name, value in headers.items():
                    result.setdefault(name, value)
                return result
            if isinstance(result, Page):
                headers.update(_page_headers(request, result))
                return ocpi_response(result.items, headers=headers)
            return ocpi_response(result, headers=headers)

        return wrapper

    return decorate
