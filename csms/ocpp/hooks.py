"""What the OCPP runtime tells the apps beyond the per-action result handlers (csms.hooks policy:
receivers run inside the completing transaction, each in a savepoint unless it writes nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from csms.hooks import Hook


@dataclass(frozen=True)
class CallFinished:
    call_id: int
    station_id: str
    action: str
    status: str  # completed, error or timeout
    response: dict | None
    error_code: str


# Every CSMS Call, whatever its action, once it has finished (after its result or failure handlers).
call_finished: Hook[CallFinished] = Hook("call_finished")
