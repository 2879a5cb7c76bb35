"""Requests to a partner's OCPI platform: our token in `Authorization: Token` (base64), request and
correlation ids, the envelope read back. Never called on the station path or inside a transaction
that a station waits for: partners may be slow."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import requests
from django.conf import settings

from .transport import authorization_header

logger = logging.getLogger(__name__)

USER_AGENT = "csms-ocpi/2.2.1"


class OcpiClientError(Exception):
    """The partner could not be reached, or did not answer with a usable OCPI envelope."""

    def __init__(self, message: str, *, http_status: int | None = None, ocpi_status: int | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.ocpi_status = ocpi_status


@dataclass
class OcpiAnswer:
    http_status: int
    status_code: int | None
    status_message: str
    data: object
    headers: dict

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and self.status_code is not None and 1000 <= self.status_code < 2000


def ocpi_request(method: str, url: str, *, token: str, body: dict | list | None = None,
                 correlation_id: str | None = None, timeout: float | None = None,
                 routing: dict | None = None) -> OcpiAnswer:
    """One request; raises OcpiClientError when there is no envelope to read (network error, not JSON).
    An envelope with an error status is returned: the caller decides (see `OcpiAnswer.ok`)."""
    request_id = str(uuid.uuid4())
    headers = {"Authorization": authorization_header(token), "X-Request-ID": request_id,
               "X-Correlation-ID": correlation_id or request_id, "User-Agent": USER_AGENT,
               "Accept": "application/json"}
    if routing:  # OCPI-to/from-* when a hub sits between us
        headers.update(routing)
    try:
        response = requests.request(method, url, json=body, headers=headers, allow_redirects=False,
                                    timeout=timeout or settings.CSMS_OCPI_TIMEOUT)
    except requests.Timeout:
        raise OcpiClientError(f"{method} {url}: no answer within {timeout or settings.CSMS_OCPI_TIMEOUT} s") from None
    except requests.RequestException as exc:
        raise OcpiClientError(f"{method} {url}: {type(exc).__name__}: {exc}"[:500]) from None
    try:
        payload = response.json()
    except ValueError:
        raise OcpiClientError(f"{method} {url}: HTTP {response.status_code}, not JSON: {response.text[:200]!r}",
                              http_status=response.status_code) from None
    if not isinstance(payload, dict):
        raise OcpiClientError(f"{method} {url}: HTTP {response.status_code}, no OCPI envelope",
                              http_status=response.status_code)
    status = payload.get("status_code")
    return OcpiAnswer(response.status_code, status if isinstance(status, int) else None,
                      str(payload.get("status_message") or ""), payload.get("data"), dict(response.headers))


def ocpi_get_data(url: str, *, token: str) -> object:
    """GET and return `data`, or raise OcpiClientError naming what went wrong."""
    answer = ocpi_request("GET", url, token=token)
    if not answer.ok:
        raise OcpiClientError(f"GET {url}: HTTP {answer.http_status}, OCPI {answer.status_code} "
                              f"{answer.status_message}".strip(), http_status=answer.http_status,
                              ocpi_status=answer.status_code)
    return answer.data
