from django.dispatch import Signal

# Sent inside the StatusNotification transaction: connector, previous_status, reported_status.
connector_status_changed = Signal()
