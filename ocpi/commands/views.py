"""POST {commands}/{command}: the eMSP asks for a command; the CommandResponse says whether it went to
the station (the CommandResult follows at its response_url)."""

from ..transport import json_body, ocpi_view
from .requests import command_request_parse
from .services import command_receive


@ocpi_view(methods=["POST"])
def command(request, command: str):
    partner = request.ocpi_partner
    parsed = command_request_parse(partner=partner, command=command, body=json_body(request))
    return command_receive(partner=partner, request=parsed)
