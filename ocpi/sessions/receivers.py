"""How OCPI follows transactions (csms.hooks: each receiver in its own savepoint). ocpi comes after
tariffs in INSTALLED_APPS, so a stopped transaction is priced before its CDR is made here."""

from django.db.models.signals import post_delete, post_save

from transactions.hooks import TransactionStarted, TransactionStopped, transaction_started, transaction_stopped

from ocpi.models import OcpiPartner

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


def _partners_changed(sender, **kwargs) -> None:
    services.partners_registered_forget()


post_save.connect(_partners_changed, sender=OcpiPartner, dispatch_uid="ocpi-sessions-partners-saved")
post_delete.connect(_partners_changed, sender=OcpiPartner, dispatch_uid="ocpi-sessions-partners-deleted")
