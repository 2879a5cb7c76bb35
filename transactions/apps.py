from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"

    def ready(self):
        from . import handlers  # noqa: F401  registers this app's OCPP handlers
