from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "firmware"
    verbose_name = "Firmware and diagnostics"

    def ready(self):
        from . import handlers, receivers  # noqa: F401  registers OCPP handlers and file clean-up
