"""Writes about tariffs: tariffs and their versions, where each applies, and pricing transactions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from csms.errors import Conflict, Invalid
from partners.models import Partner
from transactions.models import Transaction

from . import selectors
from .engine import DIMENSIONS, WEEKDAYS, cost_compute, seconds
from .hooks import TariffAssignmentChanged, TariffChanged, tariff_assignment_changed, tariff_changed
from .models import ReservationRestriction, Tariff, TariffAssignment, TariffElement, TariffVersion, TransactionCost

CLOCK = re.compile(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
DAY = re.compile(r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
PREFIX = {"FLAT": "flat", "ENERGY": "energy", "TIME": "time", "PARKING_TIME": "parking"}
RESTRICTIONS = ("start_time", "end_time", "start_date", "end_date", "min_kwh", "max_kwh", "min_current",
                "max_current", "min_power", "max_power", "min_duration", "max_duration", "day_of_week",
                "reservation")


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()  # "leave as it is", where None is a value of its own


# --- Validation ---------------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", details={"field": field})


def _validated(instance, *, prefix: str = "", exclude: Sequence[str] = ()) -> None:
    """Run the model's rules (fields, clean, constraints); refusals become Invalid naming the field."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = exc.message_dict
        field, messages = next(iter(errors.items()))
        name = prefix + ("" if field == "__all__" else field)
        raise Invalid(f"{name.rstrip('.') or 'tariff'}: {messages[0]}",
                      details={"field": name.rstrip(".") or "non_field_errors", "errors": errors}) from None


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool):
        raise _invalid(field, "must be a number")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _invalid(field, "must be a number") from None
    if not number.is_finite():
        raise _invalid(field, "must be a number")
    return number


def _element_from_document(document: dict, index: int) -> TariffElement:
    """An unsaved TariffElement from an OCPI TariffElement; Invalid names what is wrong."""
    where = f"elements[{index}]"
    if not isinstance(document, dict):
        raise _invalid(where, "must be an object with price_components")
    unknown = set(document) - {"price_components", "restrictions"}
    if unknown:
        raise _invalid(where, f"unknown field(s) {', '.join(sorted(unknown))}")
    components = document.get("price_components")
    if not isinstance(components, list) or not components:
        raise _invalid(f"{where}.price_components", "at least one price component is needed")
    row = TariffElement()
    for number, component in enumerate(components):
        field = f"{where}.price_components[{number}]"
        if not isinstance(component, dict) or component.get("type") not in DIMENSIONS:
            raise _invalid(f"{field}.type", f"one of {', '.join(DIMENSIONS)}")
        unknown = set(component) - {"type", "price", "vat", "step_size"}
        if unknown:
            raise _invalid(field, f"unknown field(s) {', '.join(sorted(unknown))}")
        prefix = PREFIX[component["type"]]
        if getattr(row, f"{prefix}_price") is not None:
            # Only the first component of a dimension in an element can ever apply (OCPI).
            raise _invalid(f"{field}.type", f"{component['type']} is already priced in this element")
        if "price" not in component:
            raise _invalid(f"{field}.price", "required")
        price = _decimal(component["price"], f"{field}.price")
        if price < 0:
            raise _invalid(f"{field}.price", "must not be negative")
        setattr(row, f"{prefix}_price", price)
        if component.get("vat") is not None:
            vat = _decimal(component["vat"], f"{field}.vat")
            if not 0 <= vat <= 100:
                raise _invalid(f"{field}.vat", "a percentage from 0 to 100")
            setattr(row, f"{prefix}_vat", vat)
        step = component.get("step_size", 1)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise _invalid(f"{field}.step_size", "a whole number, 0 or more")
        if prefix != "flat":
            setattr(row, f"{prefix}_step", step)
    restrictions = document.get("restrictions") or {}
    if not isinstance(restrictions, dict):
        raise _invalid(f"{where}.restrictions", "must be an object")
    unknown = set(restrictions) - set(RESTRICTIONS)
    if unknown:
        raise _invalid(f"{where}.restrictions", f"unknown field(s) {', '.join(sorted(unknown))}")
    for name, value in restrictions.items():
        field = f"{where}.restrictions.{name}"
        if value is None:
            continue
        if name in ("start_time", "end_time"):
            if not isinstance(value, str) or not CLOCK.match(value):
                raise _invalid(field, "HH:MM, 24-hour, with leading zeros")
            setattr(row, name, time(int(value[:2]), int(value[3:])))
        elif name in ("start_date", "end_date"):
            try:
                if not isinstance(value, str) or not DAY.match(value):
                    raise ValueError
                setattr(row, name, date.fromisoformat(value))
            except ValueError:
                raise _invalid(field, "YYYY-MM-DD") from None
        elif name in ("min_duration", "max_duration"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _invalid(field, "whole seconds, 0 or more")
            setattr(row, name, value)
        elif name == "day_of_week":
            if not isinstance(value, list) or any(day not in WEEKDAYS for day in value):
                raise _invalid(field, f"a list of {', '.join(WEEKDAYS)}")
            row.day_of_week = value
        elif name == "reservation":
            if value not in ReservationRestriction.values:
                raise _invalid(field, f"one of {', '.join(ReservationRestriction.values)}")
            row.reservation = value
        else:
            number = _decimal(value, field)
            if number < 0:
                raise _invalid(field, "must not be negative")
            setattr(row, name, number)
    _validated(row, prefix=f"{where}.", exclude=["tariff"])
    return row


def elements_from_documents(documents) -> list[TariffElement]:
    if not isinstance(documents, list) or not documents:
        raise _invalid("elements", "a tariff needs at least one element")
    return [_element_from_document(document, index) for index, document in enumerate(documents)]


def _prices_set(tariff: Tariff, name: str, price: dict | None) -> None:
    """OCPI Price (`min_price`, `max_price`): {"excl_vat": ..., "incl_vat": ... (optional)} or null."""
    if price is None:
        setattr(tariff, f"{name}_excl_vat", None)
        setattr(tariff, f"{name}_incl_vat", None)
        return
    if not isinstance(price, dict) or "excl_vat" not in price or set(price) - {"excl_vat", "incl_vat"}:
        raise _invalid(name, 'an object {"excl_vat": ..., "incl_vat": ...}')
    for part in ("excl_vat", "incl_vat"):
        value = None if price.get(part) is None else _decimal(price[part], f"{name}.{part}")
        if value is not None and value < 0:
            raise _invalid(f"{name}.{part}", "must not be negative")
        setattr(tariff, f"{name}_{part}", value)


# --- Tariffs ----------------------------------------------------------------------------------------------


def _default_check(tariff: Tariff) -> None:
    if tariff.is_default:
        other = Tariff.objects.filter(is_default=True).exclude(pk=tariff.pk).values_list("name", flat=True).first()
        if other is not None:
            raise Invalid(f"is_default: {other!r} is already the default tariff; unset it first.",
                          details={"field": "is_default"})


def _save(tariff: Tariff, rows: list[TariffElement] | None) -> Tariff:
    _default_check(tariff)
    _validated(tariff, exclude=["current_version"])
    try:
        with transaction.atomic():
            tariff.save()
            if rows is not None:
                tariff.elements.all().delete()
                for position, row in enumerate(rows):
                    row.tariff, row.position = tariff, position
                TariffElement.objects.bulk_create(rows)
    except IntegrityError as exc:  # a concurrent write won: the same name, or a second default
        raise Conflict(f"The tariff could not be saved: {exc}".splitlines()[0]) from None
    tariff_version_record(tariff=tariff)
    return tariff


@transaction.atomic
def tariff_create(*, name: str, currency: str, elements: list[dict], type: str = "", alt_text: list | None = None,
                  alt_url: str = "", min_price: dict | None = None, max_price: dict | None = None,
                  start_date_time: datetime | None = None, end_date_time: datetime | None = None,
                  energy_mix: dict | None = None, is_default: bool = False) -> Tariff:
    """A new tariff from OCPI-shaped parts (elements as OCPI TariffElements), and its version 1."""
    tariff = Tariff(name=name, currency=currency, type=type or "", alt_text=alt_text or [], alt_url=alt_url or "",
                    start_date_time=start_date_time, end_date_time=end_date_time, energy_mix=energy_mix,
                    is_default=is_default, last_updated=timezone.now())
    _prices_set(tariff, "min_price", min_price)
    _prices_set(tariff, "max_price", max_price)
    return _save(tariff, elements_from_documents(elements))


@transaction.atomic
def tariff_update(*, tariff: Tariff, name: str | _Keep = KEEP, currency: str | _Keep = KEEP,
                  elements: list[dict] | _Keep = KEEP, type: str | _Keep = KEEP, alt_text: list | _Keep = KEEP,
                  alt_url: str | _Keep = KEEP, min_price: dict | None | _Keep = KEEP,
                  max_price: dict | None | _Keep = KEEP, start_date_time: datetime | None | _Keep = KEEP,
                  end_date_time: datetime | None | _Keep = KEEP, energy_mix: dict | None | _Keep = KEEP,
                  is_default: bool | _Keep = KEEP) -> Tariff:
    """Change what is given (KEEP: as it is). A change makes a new version; sessions already
    running keep the version they started with."""
    stored = Tariff.objects.select_for_update().get(pk=tariff.pk)
    plain = {"name": name, "currency": currency, "type": type, "alt_text": alt_text, "alt_url": alt_url,
             "start_date_time": start_date_time, "end_date_time": end_date_time, "energy_mix": energy_mix,
             "is_default": is_default}
    blank = {"type": "", "alt_url": "", "alt_text": []}  # null clears these text fields
    for field, value in plain.items():
        if value is not KEEP:
            setattr(stored, field, blank[field] if value is None and field in blank else value)
    for field, value in (("min_price", min_price), ("max_price", max_price)):
        if value is not KEEP:
            _prices_set(stored, field, value)
    return _save(stored, None if elements is KEEP else elements_from_documents(elements))


@transaction.atomic
def tariff_delete(*, tariff: Tariff) -> None:
    """Delete a tariff and where it was assigned; its versions stay, pricing the sessions that used them."""
    tariff_changed.emit(TariffChanged(tariff.pk, deleted=True))
    tariff.delete()


def tariff_version_record(*, tariff: Tariff) -> TariffVersion:
    """Write a new version when the tariff's OCPI document changed (its last_updated moves then)."""
    current = tariff.current_version
    document = selectors.tariff_document(tariff)
    if current is not None and _same(current.document, document):
        return current
    tariff.last_updated = timezone.now()
    document = selectors.tariff_document(tariff)
    number = (TariffVersion.objects.filter(tariff=tariff).aggregate(last=Max("number"))["last"] or 0) + 1
    version = TariffVersion.objects.create(tariff=tariff, number=number, document=document)
    tariff.current_version = version
    Tariff.objects.filter(pk=tariff.pk).update(current_version=version, last_updated=tariff.last_updated)
    tariff_changed.emit(TariffChanged(tariff.pk))
    return version


def _same(stored: dict, document: dict) -> bool:
    return {k: v for k, v in stored.items() if k != "last_updated"} == {
        k: v for k, v in document.items() if k != "last_updated"}


# --- Where a tariff applies -------------------------------------------------------------------------------


@transaction.atomic
def tariff_assign(*, tariff: Tariff | None, station_id: str | None = None, connector_id: int | None = None,
                  partner: Partner | None = None) -> TariffAssignment | None:
    """Price a station (or one of its connectors), or every station of a partner, with `tariff`;
    None removes the assignment, and the next scope (then the default) applies again. Sessions
    already running keep their tariff."""
    if (station_id is None) == (partner is None) or (partner is not None and connector_id is not None):
        raise Invalid("A tariff is assigned to a station (perhaps one connector of it) or to a partner.")
    if connector_id is not None and connector_id < 1:
        raise _invalid("connector_id", "a connector is numbered from 1")
    scope = {"partner": partner} if partner is not None else {"station_id": station_id, "connector_id": connector_id}
    changed = TariffAssignmentChanged(station_id=station_id, partner_id=partner.pk if partner is not None else None,
                                      tariff_id=tariff.pk if tariff is not None else None)
    with transaction.atomic():
        if tariff is None:
            TariffAssignment.objects.filter(**scope).delete()
            assignment = None
        else:
            assignment, _ = TariffAssignment.objects.update_or_create(**scope, defaults={"tariff": tariff})
        tariff_assignment_changed.emit(changed)
    return assignment


# --- Pricing transactions -----------------------------------------------------------------------------------


def transaction_tariff_pin(*, transaction: Transaction) -> TransactionCost | None:
    """At StartTransaction: the tariff version that prices this session from now on, whatever later
    changes to the tariff or to where it applies (docs/adr/0100-tariff-model.md)."""
    found = selectors.tariff_version_for(station_id=transaction.station_id, connector_id=transaction.connector_id,
                                         at=transaction.started_at)
    if found is None:
        return None
    version_id, tariff_id, currency = found
    return TransactionCost.objects.create(transaction=transaction, tariff_version_id=version_id, tariff_id=tariff_id,
                                          currency=currency)


def transaction_price(*, transaction: Transaction) -> TransactionCost:
    """At StopTransaction: what the session used, as its station reported it, and its final cost under
    the pinned version (none pinned: usage only, no cost). Written once; never recomputed."""
    record = (TransactionCost.objects.select_related("tariff_version").filter(transaction=transaction).first()
              or TransactionCost(transaction=transaction))
    if record.final:
        return record
    document = record.tariff_version.document if record.tariff_version is not None else None
    usage = selectors.usage_recorded(
        transaction, readings=document is not None and selectors.needs_readings(document),
        reservation=document is not None and selectors.needs_reservation(document))
    record.energy_wh = usage.energy_wh
    record.duration_s = seconds(usage.end - usage.start)
    record.parking_s = usage.parked_s
    if document is not None:
        cost = cost_compute(document, usage, selectors.transaction_zone(transaction))
        record.currency = cost.currency
        record.cost_excl_vat, record.cost_incl_vat = cost.excl_vat, cost.incl_vat
        record.breakdown = cost.as_dict()
    record.final = True
    record.priced_at = timezone.now()
    record.save(force_insert=record._state.adding)
    return record
