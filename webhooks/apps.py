from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from csms.nodeservices import on_node_start

        from . import receivers  # noqa: F401  turns the apps' hooks into deliveries
        from .pump import start_pump

        on_node_start(start_pump)
