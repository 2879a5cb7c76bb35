from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "firmware"
    verbose_name = "Firmware and diagnostics"

    def ready(self):
        from csms.nodeservices import on_node_start

        from . import handlers, receivers  # noqa: F401  registers OCPP handlers and hook receivers
        from .node import start

        on_node_start(start)
