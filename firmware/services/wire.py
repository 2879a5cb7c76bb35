"""What firmware updates and diagnostics share about OCPP payloads."""

from __future__ import annotations

# Idle is only ever a reply to a trigger: "nothing going on", never news about an update or upload.
IDLE = "Idle"


def int32_or_none(value) -> int | None:
    """A requestId chosen by someone else, as far as our 32-bit columns (and stations) hold it."""
    return value if isinstance(value, int) and -2**31 <= value < 2**31 else None


def count_or_none(value) -> int | None:
    """A retries or retryInterval someone else sent, when it is a count the CSMS can store."""
    return value if isinstance(value, int) and value >= 0 else None


def optional(**values) -> dict:
    """The given fields that have a value: OCPP leaves an absent optional field out."""
    return {key: value for key, value in values.items() if value is not None}
