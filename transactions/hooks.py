"""What the transactions app tells other apps, inside the transaction that made the change
(csms.hooks: each receiver in a savepoint of its own; a failing one is logged and rolled back)."""

from __future__ import annotations

from dataclasses import dataclass

from csms.hooks import Hook

from .models import Transaction


@dataclass(frozen=True)
class TransactionStarted:
    transaction: Transaction
    id_tag_status: str  # the authorization status StartTransaction was answered with
    parent_id_tag: str  # the tag's group as answered ("" when it has none)


@dataclass(frozen=True)
class TransactionStopped:
    transaction: Transaction


@dataclass(frozen=True)
class MeterValuesStored:
    station_id: str
    connector_id: int
    transaction_id: int | None  # as the station sent it (None: outside a transaction)


@dataclass(frozen=True)
class IdTagChanged:
    id_tag: str
    deleted: bool


transaction_started: Hook[TransactionStarted] = Hook("transaction_started")
transaction_stopped: Hook[TransactionStopped] = Hook("transaction_stopped")
# Every MeterValues (and StopTransaction's transactionData) once stored: on the station path, so its
# receivers must write and query nothing (`database=False`).
meter_values_stored: Hook[MeterValuesStored] = Hook("meter_values_stored")
# Every write to an IdTag goes through transactions.id_tags, which emits this.
id_tag_changed: Hook[IdTagChanged] = Hook("id_tag_changed")
