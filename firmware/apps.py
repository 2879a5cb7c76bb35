from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "firmware"

    def ready(self):
        from . import handlers  # noqa: F401  registers this app's OCPP handlers
