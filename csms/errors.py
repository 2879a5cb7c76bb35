"""The one exception hierarchy of the domain: what a rule refused, said once, mapped at each edge.

Services raise these; they carry a machine `code` and a `message` for people, never a transport
status. Each edge maps them once: the REST API (csms/api/errors.py: 400, 403, 404, 409), the admin
(csms/admin/actions.py: an error message) and the OCPP runtime (csms/ocpp/processing.py: a CallError).
"""

from __future__ import annotations


class DomainError(Exception):
    """A request that a rule of the domain refuses; nothing was changed or sent."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class Invalid(DomainError):
    """The request itself is wrong (a value, a combination of values, a missing part)."""

    code = "invalid"


class NotFound(DomainError):
    """What the request names does not exist (or is not visible to whoever asks)."""

    code = "not_found"


class Conflict(DomainError):
    """The request is well formed but the current state does not allow it."""

    code = "conflict"


class Forbidden(DomainError):
    """Whoever asks may not do this."""

    code = "forbidden"
