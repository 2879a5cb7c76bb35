from django.apps import AppConfig


class LocalListsConfig(AppConfig):
    name = "locallists"

    def ready(self):
        from . import handlers  # noqa: F401  registers this app's OCPP result handlers and hook receivers
