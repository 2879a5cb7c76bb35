"""OCPI 2.2.1 Tariff objects as a CPO serves them, from our stored tariff documents
(tariffs.selectors.tariff_document, TariffVersion.document)."""

from __future__ import annotations

import copy

from ocpi.sessions.documents import cistring, ocpi_datetime, parse_datetime, party

# What an OCPI Tariff holds besides the owner's country_code and party_id, in the spec's order.
TARIFF_FIELDS = ("id", "currency", "type", "tariff_alt_text", "tariff_alt_url", "min_price", "max_price",
                 "elements", "start_date_time", "end_date_time", "energy_mix", "last_updated")
DATETIME_FIELDS = ("start_date_time", "end_date_time", "last_updated")


def tariff_ocpi_document(document: dict, *, country_code: str, party_id: str) -> dict:
    """The OCPI Tariff for a stored tariff document: the CPO's country_code and party_id added, our own
    fields (`name`) left out, DateTimes in OCPI's form. ValueError when a required field is missing."""
    missing = [name for name in ("id", "currency", "elements", "last_updated") if not document.get(name)]
    if missing:
        raise ValueError(f"a tariff document needs {', '.join(missing)}")
    tariff = {**party(country_code=country_code, party_id=party_id)}
    for name in TARIFF_FIELDS:
        value = document.get(name)
        if value is None or value == [] or value == "":
            continue
        if name in DATETIME_FIELDS:
            value = ocpi_datetime(parse_datetime(value))
        tariff[name] = copy.deepcopy(value)
    tariff["id"] = cistring(tariff["id"], field="id", max_length=36)
    return tariff
