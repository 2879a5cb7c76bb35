"""How the tariffs app follows transactions (csms.hooks: each receiver in its own savepoint)."""

from transactions.hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped

from . import services


@transaction_started.connect
def pin_tariff(event: TransactionStarted) -> None:
    services.transaction_tariff_pin(transaction=event.transaction)


@transaction_stopped.connect
def price_transaction(event: TransactionStopped) -> None:
    services.transaction_price(transaction=event.transaction)
