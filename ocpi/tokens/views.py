"""The Tokens receiver interface: GET, PUT and PATCH {country_code}/{party_id}/{token_uid}[?type=]."""

from __future__ import annotations

from ..transport import INVALID_PARAMETERS, UNKNOWN_TOKEN, OcpiError, json_body, ocpi_view
from . import services


def _token_type(request) -> str:
    value = request.GET.get("type") or "RFID"
    if value not in services.TOKEN_TYPES:
        raise OcpiError(INVALID_PARAMETERS, f"type must be one of {', '.join(services.TOKEN_TYPES)}, not {value!r}")
    return value


@ocpi_view(methods=["GET", "PUT", "PATCH"])
def token(request, country_code: str, party_id: str, token_uid: str):
    partner = request.ocpi_partner
    # Another party's objects are not this client's to read or write (transport: 404).
    if not services.partner_owns(partner, country_code, party_id):
        raise OcpiError(UNKNOWN_TOKEN, f"{country_code}*{party_id} is not a party of this client", http_status=404)
    token_type = _token_type(request)
    if request.method == "GET":
        found = services.token_find(partner=partner, country_code=country_code, party_id=party_id, uid=token_uid,
                                    type=token_type)
        if found is None:
            raise OcpiError(UNKNOWN_TOKEN, f"unknown token {token_uid} ({token_type})", http_status=404)
        return services.token_document(found)
    body = json_body(request)
    if request.method == "PATCH":
        services.token_patch(partner=partner, country_code=country_code, party_id=party_id, uid=token_uid,
                             type=token_type, changes=body)
        return None
    # The object pushed must be the one the URL names (CiStrings: whatever the case).
    named = {"country_code": country_code, "party_id": party_id, "uid": token_uid, "type": token_type}
    for name, value in named.items():
        if body.get(name) is not None and str(body[name]).upper() != value.upper():
            raise OcpiError(INVALID_PARAMETERS, f"token.{name} {body.get(name)!r} is not the {value!r} of the URL")
    services.token_store(partner=partner, document=body)
    return None
