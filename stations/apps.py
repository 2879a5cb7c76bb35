from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"

    def ready(self):
        from . import handlers, results  # noqa: F401  registers this app's OCPP handlers
