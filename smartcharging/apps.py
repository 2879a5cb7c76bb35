from django.apps import AppConfig


class SmartchargingConfig(AppConfig):
    name = "smartcharging"

    def ready(self):
        from . import handlers  # noqa: F401  registers this app's OCPP handlers and hook receivers
