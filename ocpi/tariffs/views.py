"""The Tariffs module, sender interface: the partner reads the tariffs it sees (docs/adr/0161)."""

from django.http import HttpRequest

from ..transport import ocpi_view, paginate
from . import selectors


@ocpi_view(methods=["GET"])
def tariff_list(request: HttpRequest):
    return paginate(request, selectors.visible_tariffs(request.ocpi_partner), to_document=selectors.ocpi_tariff,
                    date_field="last_updated")
