"""The versions and credentials modules (the only ones a token A opens)."""

from django.http import HttpRequest

from . import credentials
from .transport import CLIENT_ERROR, OcpiError, json_body, ocpi_view, public_base_url


@ocpi_view(methods=["GET"], token_a=True)
def versions(request: HttpRequest):
    return credentials.versions_document(public_base_url(request))


@ocpi_view(methods=["GET"], token_a=True)
def version_details(request: HttpRequest):
    return credentials.version_details_document(public_base_url(request))


@ocpi_view(methods=["GET", "POST", "PUT", "DELETE"], token_a=True)
def credentials_endpoint(request: HttpRequest):
    partner = request.ocpi_partner
    if request.method == "GET":
        # The credentials the client uses with us: the token it just presented.
        return credentials.our_credentials(request.ocpi_token, public_base_url(request))
    if request.method == "DELETE":
        credentials.registration_delete(partner=partner)
        return None
    return credentials.registration_accept(partner=partner, body=json_body(request), update=request.method == "PUT",
                                          base_url=public_base_url(request))


@ocpi_view(methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(request: HttpRequest, rest: str = ""):
    raise OcpiError(CLIENT_ERROR, f"no OCPI endpoint at {request.path}", http_status=404)
