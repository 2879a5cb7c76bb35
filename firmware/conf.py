"""This app's settings: a Django setting of the same name wins, else the environment, else the default.

Read on every use, so that tests can override them and a node picks them up from its environment.
"""

from __future__ import annotations

import os

from django.conf import settings


def _int(name: str, default: int) -> int:
    if hasattr(settings, name):
        return int(getattr(settings, name))
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def public_url() -> str:
    """Base URL stations reach the CSMS at (CSMS_PUBLIC_URL); empty: derived from the request."""
    value = getattr(settings, "CSMS_PUBLIC_URL", None) or os.environ.get("CSMS_PUBLIC_URL", "")
    return value.strip().rstrip("/")


def upload_max_bytes() -> int:
    return _int("CSMS_UPLOAD_MAX_MB", 200) * 1024 * 1024


def firmware_send_window_hours() -> int:
    """How long an update waits for an offline station to connect before it expires."""
    return _int("CSMS_FIRMWARE_SEND_WINDOW_HOURS", 168)


def firmware_stuck_minutes() -> int:
    """Silence after which the CSMS asks for the status (half of it) and then calls an update stuck."""
    return _int("CSMS_FIRMWARE_STUCK_MINUTES", 360)


def firmware_send_attempts() -> int:
    return _int("CSMS_FIRMWARE_SEND_ATTEMPTS", 3)


def diagnostics_timeout_minutes() -> int:
    """An accepted diagnostics/log request with no upload for this long is expired."""
    return _int("CSMS_DIAGNOSTICS_TIMEOUT_MINUTES", 360)


def diagnostics_upload_days() -> int:
    """How long a request's upload location accepts files."""
    return _int("CSMS_DIAGNOSTICS_UPLOAD_DAYS", 7)


def diagnostics_retention_days() -> int:
    """Uploaded files older than this are deleted by the pruning job (0 keeps them)."""
    return _int("CSMS_DIAGNOSTICS_RETENTION_DAYS", 90)
