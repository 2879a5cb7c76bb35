from django.dispatch import Signal

# Sent inside the StartTransaction transaction: transaction, id_tag_info.
transaction_started = Signal()
# Sent inside the StopTransaction transaction: transaction.
transaction_stopped = Signal()
# Sent inside the transaction that created, changed or deleted a tag: id_tag (str), deleted (bool).
id_tag_changed = Signal()
