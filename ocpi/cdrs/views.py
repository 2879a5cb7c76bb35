"""The CDRs sender interface: the partner's CDRs as issued (GET, paginated by last_updated, which for
a CDR is when it was made). OCPI 2.2.1 offers no GET of one CDR on the sender side."""

from ocpi.models import OcpiCdr
from ocpi.transport import ocpi_view, paginate


@ocpi_view(methods=["GET"])
def cdrs_list(request):
    cdrs = OcpiCdr.objects.filter(partner=request.ocpi_partner).order_by("last_updated", "id")
    return paginate(request, cdrs, to_document=lambda cdr: cdr.document)
