"""Who may send Calls to stations: one rule for every path (admin action, admin page, API, job)."""

from __future__ import annotations

# "Can add call" on the runtime's Call model: sending a Call is adding one.
SEND_CALLS = "ocpp.add_call"


def may_send_calls(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_perm(SEND_CALLS))
