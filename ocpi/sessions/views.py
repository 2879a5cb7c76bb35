"""The Sessions sender interface: the partner's sessions (GET, paginated) and its drivers' charging
preferences (PUT), which our stations cannot act on."""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ocpi.models import OcpiSession
from ocpi.transport import INVALID_PARAMETERS, OcpiError, json_body, ocpi_view, paginate

from .selectors import sessions_of
from .services import session_build

PROFILE_TYPES = ("CHEAP", "FAST", "GREEN", "REGULAR")
CAPABLE = "CHARGING_PREFERENCES_CAPABLE"


@ocpi_view(methods=["GET"])
def sessions_list(request):
    now = timezone.now()
    return paginate(request, sessions_of(partner=request.ocpi_partner, now=now),
                    to_document=lambda session: session_build(session, session.transaction, now=now),
                    date_field="listed_updated")


def _preferences_check(body: dict) -> None:
    if body.get("profile_type") not in PROFILE_TYPES:
        raise OcpiError(INVALID_PARAMETERS, f"profile_type must be one of {', '.join(PROFILE_TYPES)}")
    departure = body.get("departure_time")
    if departure is not None and (not isinstance(departure, str) or parse_datetime(departure) is None):
        raise OcpiError(INVALID_PARAMETERS, "departure_time must be a DateTime")
    need = body.get("energy_need")
    if need is not None and (isinstance(need, bool) or not isinstance(need, int | float) or need < 0):
        raise OcpiError(INVALID_PARAMETERS, "energy_need must be a number of kWh")
    if body.get("discharge_allowed") is not None and not isinstance(body["discharge_allowed"], bool):
        raise OcpiError(INVALID_PARAMETERS, "discharge_allowed must be a boolean")


@ocpi_view(methods=["PUT"])
def charging_preferences(request, session_id: str):
    _preferences_check(json_body(request))
    session = (OcpiSession.objects.select_related("transaction__station")
               .filter(partner=request.ocpi_partner, transaction_id=int(session_id)).first()
               if session_id.isdigit() else None)
    if session is None:
        raise OcpiError(INVALID_PARAMETERS, f"unknown session {session_id!r}", http_status=404)
    # No EVSE of ours advertises the capability (we have no preference-based smart charging): the
    # spec's answer is 404 with 2001. One an operator marked capable all the same cannot meet any.
    if CAPABLE not in (session.transaction.station.capabilities or ()):
        raise OcpiError(INVALID_PARAMETERS, "the EVSE of this session does not take charging preferences",
                        http_status=404)
    return "NOT_POSSIBLE"
