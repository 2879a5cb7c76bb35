"""How OCPI follows transactions (csms.hooks: each receiver in its own savepoint). ocpi comes after
tariffs in INSTALLED_APPS, so a stopped transaction is priced before its CDR is made here."""

from transactions.hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped

from . import services


def _roaming(event) -> bool:
    # With no partner registered, a StartTransaction or StopTransaction costs OCPI no query.
    return services.partners_registered()


@transaction_started.connect(when=_roaming)
def open_session(event: TransactionStarted) -> None:
    services.session_open(transaction=event.transaction)


@transaction_stopped.connect(when=_roaming)
def close_session(event: TransactionStopped) -> None:
    services.session_close(transaction=event.transaction)
