"""What the firmware app tells other apps, inside the transaction that made the change
(csms.hooks: each receiver in a savepoint of its own unless it writes nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from csms.hooks import Hook


@dataclass(frozen=True)
class FirmwareStatusReported:
    station_id: str
    status: str
    request_id: int | None  # SignedFirmwareStatusNotification's requestId
    signed: bool  # SignedFirmwareStatusNotification (Security Whitepaper) rather than FirmwareStatusNotification


# Every (Signed)FirmwareStatusNotification, once stored.
firmware_status_reported: Hook[FirmwareStatusReported] = Hook("firmware_status_reported")
