"""Reads behind the Sessions sender interface."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, DateTimeField, F, QuerySet, Value, When

from ocpi.models import OcpiPartner, OcpiSession


def sessions_of(*, partner: OcpiPartner, now: datetime) -> QuerySet[OcpiSession]:
    """The partner's sessions, each with `listed_updated`: what its document's last_updated will say
    (a running session's is `now`, its estimate being as of the read; a stopped one's is stored)."""
    return (OcpiSession.objects.filter(partner=partner)
            .select_related("transaction__station", "transaction__cost_record__tariff_version")
            .annotate(listed_updated=Case(When(transaction__stopped_at__isnull=True, then=Value(now)),
                                          default=F("last_updated"), output_field=DateTimeField()))
            .order_by("transaction_id"))
