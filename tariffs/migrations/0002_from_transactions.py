"""The tariffs of transactions.Tariff (a price per kWh and a session fee) become OCPI-shaped tariffs
with one element, version 1 and their station assignments; the costs stored on transactions become
their priced records; running transactions are pinned to the tariff the old code would have priced
them with. What the new rules refuse is kept visible, never dropped:
- a negative price becomes 0 and the tariff's alt text says what it was;
- of several defaults, the first by name (the one the old code used) stays the default;
- a currency that is not ISO 4217 is kept as it was: the admin asks for a real one on the next save.
"""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

BATCH = 1000


def _number(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value)


def _document(tariff, element_components, last_updated) -> dict:
    document = {"id": str(tariff.pk), "name": tariff.name, "currency": tariff.currency}
    if tariff.alt_text:
        document["tariff_alt_text"] = tariff.alt_text
    document["elements"] = [{"price_components": element_components}]
    document["last_updated"] = last_updated.isoformat().replace("+00:00", "Z")
    return document


def forward(apps, schema_editor):
    OldTariff = apps.get_model("transactions", "Tariff")
    Transaction = apps.get_model("transactions", "Transaction")
    Tariff = apps.get_model("tariffs", "Tariff")
    TariffElement = apps.get_model("tariffs", "TariffElement")
    TariffVersion = apps.get_model("tariffs", "TariffVersion")
    TariffAssignment = apps.get_model("tariffs", "TariffAssignment")
    TransactionCost = apps.get_model("tariffs", "TransactionCost")
    now = timezone.now()

    versions = {}  # old tariff id -> (new tariff, version)
    default_taken = False
    assigned = set()
    for old in OldTariff.objects.order_by("name", "id"):
        notes = []
        energy, fee = old.price_per_kwh, old.session_fee
        if energy < 0:
            notes.append(f"price per kWh was {energy}")
            energy = Decimal(0)
        if fee < 0:
            notes.append(f"session fee was {fee}")
            fee = Decimal(0)
        is_default = old.is_default and not default_taken
        default_taken = default_taken or is_default
        if old.is_default and not is_default:
            notes.append("was a second default tariff")
        alt_text = [{"language": "en", "text": "Migrated: " + "; ".join(notes) + "."}] if notes else []
        tariff = Tariff.objects.create(name=old.name, currency=old.currency.strip().upper()[:3] or "EUR",
                                       alt_text=alt_text, is_default=is_default, last_updated=now)
        components = [{"type": "ENERGY", "price": _number(energy), "step_size": 1}]
        element = TariffElement(tariff=tariff, position=0, energy_price=energy, energy_step=1)
        if fee:
            components.insert(0, {"type": "FLAT", "price": _number(fee), "step_size": 1})
            element.flat_price = fee
        element.save()
        version = TariffVersion.objects.create(tariff=tariff, number=1, created_at=now,
                                               document=_document(tariff, components, now))
        Tariff.objects.filter(pk=tariff.pk).update(current_version=version)
        versions[old.pk] = (tariff, version)
        for station_id in old.stations.values_list("pk", flat=True):
            if station_id not in assigned:  # the old code priced a station by its first tariff by name
                TariffAssignment.objects.create(tariff=tariff, station_id=station_id)
                assigned.add(station_id)

    default = next((pair for pair in versions.values() if pair[0].is_default), None)
    version_of_tariff = {tariff.pk: version for tariff, version in versions.values()}
    by_station = {a.station_id: version_of_tariff[a.tariff_id] for a in TariffAssignment.objects.all()}
    tariffs_by_version = {version.pk: tariff for tariff, version in versions.values()}

    records = []
    for tx in Transaction.objects.order_by("pk").iterator(chunk_size=BATCH):
        if tx.stopped_at is not None:
            duration = Decimal((tx.stopped_at - tx.started_at).total_seconds()) if tx.stopped_at >= tx.started_at else None
            energy = Decimal(tx.meter_stop - tx.meter_start) if tx.meter_stop is not None else None
            # What was charged stays what it was; no breakdown was ever kept for it.
            records.append(TransactionCost(transaction_id=tx.pk, currency=tx.currency or "", final=True,
                                           energy_wh=energy, duration_s=duration, cost_excl_vat=tx.cost,
                                           cost_incl_vat=tx.cost, priced_at=now))
        else:
            version = by_station.get(tx.station_id) or (default[1] if default else None)
            if version is not None:
                tariff = tariffs_by_version[version.pk]
                records.append(TransactionCost(transaction_id=tx.pk, tariff_version=version, tariff=tariff,
                                               currency=tariff.currency))
        if len(records) >= BATCH:
            TransactionCost.objects.bulk_create(records)
            records = []
    TransactionCost.objects.bulk_create(records)


def backward(apps, schema_editor):
    """Back to a price per kWh and a session fee (the first element's), and costs on transactions."""
    OldTariff = apps.get_model("transactions", "Tariff")
    Transaction = apps.get_model("transactions", "Transaction")
    Tariff = apps.get_model("tariffs", "Tariff")
    TariffAssignment = apps.get_model("tariffs", "TariffAssignment")
    TransactionCost = apps.get_model("tariffs", "TransactionCost")
    for tariff in Tariff.objects.order_by("name"):
        element = tariff.elements.order_by("position", "id").first()
        old = OldTariff.objects.create(
            name=tariff.name, currency=tariff.currency, is_default=tariff.is_default,
            price_per_kwh=(element.energy_price if element and element.energy_price is not None else Decimal(0)),
            session_fee=(element.flat_price if element and element.flat_price is not None else Decimal(0)))
        old.stations.set(TariffAssignment.objects.filter(tariff=tariff, station__isnull=False, connector_id__isnull=True)
                         .values_list("station_id", flat=True))
    for record in TransactionCost.objects.filter(final=True).exclude(cost_incl_vat=None).iterator(chunk_size=BATCH):
        Transaction.objects.filter(pk=record.transaction_id).update(
            cost=record.cost_incl_vat.quantize(Decimal("0.01")), currency=record.currency)


class Migration(migrations.Migration):

    dependencies = [
        ("tariffs", "0001_initial"),
        ("transactions", "0002_call_in_ocpp_runtime"),
        ("stations", "0003_runtime_moves_to_ocpp"),
    ]

    operations = [migrations.RunPython(forward, backward)]
